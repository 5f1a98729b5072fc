/**
 * WorkerThreads — a lane of the pool on a `node:worker_threads` thread, through Effect's worker platform
 * (`effect/workers` `WorkerPlatform` with `@effect/platform-node`'s `NodeWorker`): the thread serves Effect's worker
 * protocol (`worker.ts`), the platform starts it, buffers messages until it is ready, and asks it to close (then
 * terminates it after 5 s) when the lane's scope closes.
 *
 * A lane owns one thread and runs one job at a time on it. Guarantees:
 * - The thread starts with the lane's first job (the job waits for the platform's handshake), not with the lane:
 *   threads started with the service cost ~17 MiB of RSS each and made start-up to the first 200 3.1× the raw
 *   baseline instead of 1.33×, RSS 1.66× instead of 1.15× (`npm run bench`, 2026-11-29); a service that never gets a
 *   job pays nothing. A thread
 *   that cannot start (a missing or broken entry) fails that job with `WorkerCrashed` naming the cause; the next job
 *   tries again.
 * - A thread that dies while running a job (it exits, throws outside the work, runs out of its 256 MiB heap, is
 *   terminated) fails that job, and only that job, with `WorkerCrashed` naming the reason; a new thread is started at
 *   once (`job_worker_restarts_total`). One that died while idle is replaced before it gets a job.
 * - Interrupting `run` (the shutdown budget ran out) terminates the thread: a synchronous loop cannot be interrupted
 *   from outside, and the lane's close would otherwise wait for it.
 *
 * Why not Effect's RPC worker pool (`RpcClient.layerProtocolWorker`): when one of its workers dies it fails every
 * call in flight on every worker of the pool (its `ClientProtocolError` clears all of the client's requests:
 * `makeProtocolWorker` and the client's `ClientProtocolError` case in `RpcClient.ts`, effect 4.1; measured by
 * `test/jobs/RpcWorkerPool.test.ts`: a call waiting on a live worker fails with the other's exit), and it starts the replacement after a fixed second. A job here fails only with its
 * own thread. The queue in front (`JobPool`) does what the RPC pool's `Pool` would: hand each job to a free lane.
 */

import { Worker } from "node:worker_threads"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Deferred, Effect, Fiber, Metric, Scope } from "effect"
import { Spawner, WorkerPlatform } from "effect/workers/Worker"
import type { WorkerError } from "effect/workers/WorkerError"
import { JobFailed, type Reply, type Task, WorkerCrashed } from "./Job.ts"
import type { Lane } from "./JobExecutor.ts"
import * as JobMetrics from "./JobMetrics.ts"

/**
 * WorkerThreads.entry — the job worker's module: `worker.ts` beside this file when running from source (`node
 * src/program.ts`, tsx, tests), `worker.js` beside the bundle (`dist/worker.js`) or the compiled library.
 */
export const entry = new URL(`./worker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url)

/** the heap a worker thread may use: a job that needs more crashes its thread, not the process */
const maxOldGenerationSizeMb = 256

const reasonOf = (error: WorkerError): string => {
  const cause = (error.reason as { readonly cause?: unknown }).cause
  // an error thrown in the thread arrives serialized: a DOMException's message survives only in its stack
  const { message, stack } = (typeof cause === "object" && cause !== null ? cause : {}) as Partial<Error>
  const detail = message || stack?.split("\n")[0] || (cause === undefined ? "" : String(cause))
  return detail === "" ? error.message : `${error.message}: ${detail}`
}

/** WorkerThreads.lane — lane `id` on its own thread running `entry`; see the module comment. Scoped. */
export const lane = (id: number, entry: URL): Effect.Effect<Lane, never, Scope.Scope> =>
  Effect.gen(function* () {
    // the thread's own scope, registered now: whatever the owner adds to its scope later (the pool's abandonment)
    // is released before the thread is asked to close
    const scope = yield* Scope.fork(yield* Effect.scope)
    let thread: Worker | undefined
    const spawn = () => {
      thread = new Worker(entry, { name: `job-worker-${id}`, resourceLimits: { maxOldGenerationSizeMb } })
      return thread
    }
    const backing = yield* (yield* WorkerPlatform)
      .spawn<Reply, Task>(id)
      .pipe(Effect.provideService(Spawner, spawn), Effect.orDie) // builds the client only: never fails

    let pending: { readonly id: string; readonly reply: Deferred.Deferred<Reply> } | undefined
    const onReply = (reply: Reply) =>
      pending !== undefined && pending.id === reply.id ? Deferred.succeed(pending.reply, reply) : Effect.void

    /** the running thread's protocol fiber: fails with the platform's error when the thread dies */
    let running: Fiber.Fiber<never, WorkerError> | undefined
    let starts = 0
    const start = Effect.gen(function* () {
      const ready = yield* Deferred.make<void>()
      const fiber = yield* backing
        .run(onReply, { onSpawn: Deferred.succeed(ready, undefined) })
        .pipe(Effect.forkIn(scope, { startImmediately: true }))
      yield* Effect.raceFirst(Deferred.await(ready), Fiber.join(fiber))
      running = fiber
      // every start after the first replaces a thread that died or was terminated
      if (starts++ > 0) yield* Metric.update(JobMetrics.restarts, 1)
    }).pipe(
      Effect.tapError((error) => Effect.logError(`job worker thread ${id} could not start: ${reasonOf(error)}`)),
      Effect.withSpan("WorkerThreads.start", { attributes: { "worker.id": id } })
    )

    const crashed = (task: Task, error: WorkerError) =>
      Effect.gen(function* () {
        running = undefined
        const reason = reasonOf(error)
        yield* Effect.logError(`job worker thread ${id} died running job ${task.id}: ${reason}; replacing it`)
        yield* Effect.ignore(start)
        return yield* new WorkerCrashed({ id: task.id, worker: id, reason })
      })

    const run = (task: Task): Effect.Effect<string, JobFailed | WorkerCrashed> =>
      Effect.gen(function* () {
        // the first job starts the thread; a thread that died while idle is replaced before it is given a job
        if (running === undefined || running.pollUnsafe() !== undefined) {
          yield* start.pipe(
            Effect.mapError(
              (error) =>
                new WorkerCrashed({ id: task.id, worker: id, reason: `the thread could not start: ${reasonOf(error)}` })
            )
          )
        }
        const fiber = running as Fiber.Fiber<never, WorkerError>
        const reply = yield* Deferred.make<Reply>()
        pending = { id: task.id, reply }
        const answer = yield* backing.send(task).pipe(
          Effect.andThen(Effect.raceFirst(Deferred.await(reply), Fiber.join(fiber))),
          Effect.catch((error) => crashed(task, error))
        )
        return answer.ok ? answer.result : yield* new JobFailed({ id: task.id, reason: answer.error })
      }).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            // the job is abandoned: stop the thread now; the next run starts a new one
            running = undefined
            void thread?.terminate()
          })
        ),
        Effect.ensuring(
          Effect.sync(() => {
            pending = undefined
          })
        )
      )

    return { run }
  }).pipe(Effect.provide(NodeWorker.layerPlatform))
