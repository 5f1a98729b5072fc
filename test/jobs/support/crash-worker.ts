/**
 * crash-worker — a job worker thread (`JobWorker.serve`, the real work) with inputs that break it on purpose:
 * - `exit` — the thread exits with code 7 when the task arrives;
 * - `throw` — the work returns what cannot be posted back: the runner throws outside the work (an uncaught error,
 *   the thread dies) before any answer is sent;
 * - `fail` — the work throws (the job fails, the thread lives);
 * - `hang` — the work never returns (a synchronous loop: only terminating the thread stops it);
 * any other input is worked normally.
 */
import { parentPort } from "node:worker_threads"
import * as HashWork from "../../../src/jobs/HashWork.ts"
import type { Request } from "../../../src/jobs/Job.ts"
import * as JobWorker from "../../../src/jobs/JobWorker.ts"

// registered before the runner's listener, so it sees each task first
parentPort?.on("message", (message: unknown) => {
  if (!Array.isArray(message) || message[0] !== 0) return
  const input = (message[1] as { readonly request: Request }).request.input
  if (input === "exit") process.exit(7)
})

JobWorker.serve((request) => {
  if (request.input === "fail") throw new Error("the work failed on purpose")
  if (request.input === "hang") for (;;) {}
  if (request.input === "throw") return (() => "a function cannot be cloned") as unknown as string
  return HashWork.run(request)
})
