/**
 * JobWorker — what a job worker thread runs (its entry point is `worker.ts`, bundled as `dist/worker.js`).
 *
 * `serve(work)` serves Effect's worker protocol (`NodeWorkerRunner`): each `Task` from the pool is worked synchronously
 * (`work`, `HashWork.run` in the service) and answered with one `Reply`. An error the work throws is answered as `ok: false` and the thread
 * lives on; anything that ends the thread (an exit, an uncaught error, running out of memory) is seen by the pool as a
 * crash. The pool's close message ends the runner and with it the thread. Modules are imported one by one, not through
 * the barrels: a thread started from source (`node src/program.ts`) loads what it uses and no more.
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Effect from "effect/Effect"
import { WorkerRunnerPlatform } from "effect/workers/WorkerRunner"
import type { Reply, Request, Task } from "./Job.ts"

const answer = (work: Work, task: Task): Reply => {
  try {
    return { id: task.id, ok: true, result: work(task.request) }
  } catch (error) {
    return { id: task.id, ok: false, error: error instanceof Error ? error.message : String(error) }
  }
}

/** JobWorker.Work — the synchronous work of one job: its result, or a throw. */
export type Work = (request: Request) => string

/** JobWorker.serve — serves the pool from this thread until the pool closes it; call once, in a worker thread. */
export const serve = (work: Work) =>
  Effect.gen(function* () {
    const runner = yield* (yield* WorkerRunnerPlatform).start<Reply, Task>()
    yield* runner.run<void, never, never>((port, task) => runner.sendUnsafe(port, answer(work, task)))
  }).pipe(Effect.provide(NodeWorkerRunner.layer), Effect.runFork)
