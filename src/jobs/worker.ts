/**
 * worker — the entry point of a job worker thread (bundled as `dist/worker.js`; run from source as this file).
 *
 * It serves Effect's worker protocol (`NodeWorkerRunner`): each `Task` from the pool is worked synchronously
 * (`HashWork.run`) and answered with one `Reply`. An error the work throws is answered as `ok: false` and the thread
 * lives on; anything that ends the thread (an exit, an uncaught error, running out of memory) is seen by the pool as a
 * crash. The pool's close message ends the runner and with it the thread. Modules are imported one by one, not through
 * the barrels: a thread started from source (`node src/program.ts`) loads what it uses and no more.
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Effect from "effect/Effect"
import { WorkerRunnerPlatform } from "effect/workers/WorkerRunner"
import * as HashWork from "./HashWork.ts"
import type { Reply, Task } from "./Job.ts"

const answer = (task: Task): Reply => {
  try {
    return { id: task.id, ok: true, result: HashWork.run(task.request) }
  } catch (error) {
    return { id: task.id, ok: false, error: error instanceof Error ? error.message : String(error) }
  }
}

const serve = Effect.gen(function* () {
  const runner = yield* (yield* WorkerRunnerPlatform).start<Reply, Task>()
  yield* runner.run<void, never, never>((port, task) => runner.sendUnsafe(port, answer(task)))
})

Effect.runFork(serve.pipe(Effect.provide(NodeWorkerRunner.layer)))
