/**
 * JobPool — the worker pool: a bounded `Channel` of jobs between HTTP and `WORKER_THREADS` lanes (`JobExecutor`),
 * Go's worker-pool shape — one fiber per lane ranging over the channel — with Go's `select { case ch <- job: default: }`
 * for back-pressure.
 *
 * - `submit` never waits: the job enters the queue (`JOB_QUEUE_SIZE` places) or is refused at once with `QueueFull`
 *   (HTTP 503 + `Retry-After`), so memory is bounded by the queue, the lanes and `JobRegistry`'s retention.
 * - Jobs start in submission order (FIFO), each on the first free lane; a lane runs one job at a time.
 * - A job that fails — its work threw (`JobFailed`) or its thread died (`WorkerCrashed`) — is `failed` with the error's
 *   message; the lane goes on with the next job. Each job runs in a span `JobPool.job` (child of the `POST`'s span).
 *
 * Shutdown ("incomplete work"), with the process's `Lifecycle`:
 * 1. `beforeDrain` hook `jobs: refuse new` — from the first moment of the shutdown, `submit` fails with
 *    `PoolStopping` (HTTP 503); the channel is closed.
 * 2. `afterDrain` hook `jobs: finish` — waits until every queued and running job has finished (the lanes drain the
 *    closed channel, then stop). It runs under the shutdown budget: a budget that runs out forces the shutdown, and
 *    the exit code is 2.
 * 3. Release of the layer — any job still queued or running is abandoned: its lane is interrupted (its thread
 *    terminated), and each such job is logged by id (`job abandoned`) and counted in `jobs_abandoned_total`.
 */
import { randomUUID } from "node:crypto"
import { Cause, Clock, Context, Effect, Exit, Fiber, Layer, Metric, type Tracer } from "effect"
import { Lifecycle } from "../services/Lifecycle.ts"
import * as Channel from "../toolkit/Channel.ts"
import { PoolStopping, QueueFull, type Request, type Task, type View } from "./Job.ts"
import { JobExecutor, type Lane } from "./JobExecutor.ts"
import * as JobMetrics from "./JobMetrics.ts"
import * as JobRegistry from "./JobRegistry.ts"
import { JobsConfig } from "./JobsConfig.ts"

/** a queued job: the task for the lane, and the span of the request that submitted it */
interface Entry {
  readonly task: Task
  readonly parent: Tracer.AnySpan | undefined
  readonly queuedAt: number
}

/** JobPool — submit jobs, read their state; see the module comment. */
export class JobPool extends Context.Service<
  JobPool,
  {
    /** submit — queues `request` and returns its id at once; `QueueFull` / `PoolStopping` when it cannot. */
    readonly submit: (request: Request) => Effect.Effect<string, QueueFull | PoolStopping>
    /** get — the job's view now; undefined for an unknown id or one retention has forgotten. */
    readonly get: (id: string) => View | undefined
    /** counts — jobs queued and running now. */
    readonly counts: () => JobRegistry.Counts
    /** threads, capacity — the lanes and the queue's places. */
    readonly threads: number
    readonly capacity: number
  }
>()("jobs/JobPool") {
  /** JobPool.layer — the pool on the given `JobExecutor` and `JobsConfig`, its hooks in the current lifecycle. */
  static readonly layer = Layer.effect(
    JobPool,
    Effect.suspend(() => make)
  )
}

const make = Effect.gen(function* () {
  const config = yield* JobsConfig
  const lifecycle = yield* Lifecycle.current
  const registry = JobRegistry.make(config.retention)
  const queue = yield* Channel.make<Entry>(config.queueSize)
  const lanes = yield* (yield* JobExecutor).start(config.workerThreads)
  let stopping = false

  const gauges = Effect.suspend(() => {
    const counts = registry.counts()
    return Metric.update(JobMetrics.queued, counts.queued).pipe(
      Effect.andThen(Metric.update(JobMetrics.running, counts.running))
    )
  })

  const runOne = (lane: Lane, index: number, entry: Entry) =>
    Effect.gen(function* () {
      const { task } = entry
      registry.start(task.id)
      yield* gauges
      const started = yield* Clock.currentTimeMillis
      const exit = yield* lane.run(task).pipe(
        Effect.withSpan("JobPool.job", {
          kind: "consumer",
          parent: entry.parent,
          attributes: {
            "job.id": task.id,
            "job.kind": task.request.kind,
            "job.rounds": task.request.rounds,
            "job.lane": index,
            "job.queued_ms": started - entry.queuedAt
          }
        }),
        Effect.exit
      )
      // interrupted: the pool is being released and the job is abandoned (logged and counted there)
      if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return
      yield* Metric.update(JobMetrics.duration, ((yield* Clock.currentTimeMillis) - started) / 1000)
      if (Exit.isSuccess(exit)) {
        registry.finish(task.id, { result: exit.value })
        yield* Metric.update(JobMetrics.done, 1)
      } else {
        const error = Cause.findErrorOption(exit.cause)
        const message = error._tag === "Some" ? error.value.message : Cause.pretty(exit.cause)
        registry.finish(task.id, { error: message })
        const reason = error._tag === "Some" && error.value._tag === "WorkerCrashed" ? "crash" : "error"
        yield* Metric.update(Metric.withAttributes(JobMetrics.failed, { reason }), 1)
        yield* Effect.logWarning(message).pipe(Effect.annotateLogs({ job: task.id }))
      }
      yield* gauges
    })

  /** a lane's fiber: `for entry := range queue { run it }` — ends once the queue is closed and drained */
  const work = (lane: Lane, index: number) =>
    Effect.gen(function* () {
      while (true) {
        const next = yield* Channel.receive(queue)
        if (next._tag === "None") return
        yield* runOne(lane, index, next.value)
      }
    }).pipe(Effect.annotateLogs({ lane: index }))
  const workers = yield* Effect.forEach(lanes, (lane, i) => Effect.forkScoped(work(lane, i + 1)))

  const refuseNew = Effect.sync(() => {
    stopping = true
    Channel.closeUnsafe(queue)
  })
  yield* lifecycle.addHook("beforeDrain", { name: "jobs: refuse new", run: refuseNew })
  yield* lifecycle.addHook("afterDrain", {
    name: "jobs: finish",
    run: Effect.suspend(() => {
      const { queued, running } = registry.counts()
      return Effect.logInfo(`waiting for ${queued} queued and ${running} running jobs`).pipe(
        Effect.andThen(Fiber.awaitAll(workers))
      )
    })
  })
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      yield* refuseNew
      yield* Fiber.interruptAll(workers)
      const left = registry.unfinished()
      for (const job of left) {
        yield* Effect.logWarning(`job abandoned: ${job.id} (${job.status})`).pipe(
          Effect.annotateLogs({ job: job.id, status: job.status })
        )
      }
      if (left.length > 0) yield* Metric.update(JobMetrics.abandoned, left.length)
    })
  )

  const submit = (request: Request): Effect.Effect<string, QueueFull | PoolStopping> =>
    Effect.gen(function* () {
      if (stopping) return yield* rejected("stopping", new PoolStopping())
      const parent = yield* Effect.currentParentSpan.pipe(Effect.orElseSucceed(() => undefined))
      const task: Task = { id: randomUUID(), request }
      registry.add(task.id, request)
      const entry: Entry = { task, parent, queuedAt: yield* Clock.currentTimeMillis }
      // Go's `select { case queue <- entry: default: }` — never waits
      const sent = yield* Channel.select([Channel.onSend(queue, entry, () => Effect.succeed(true))], {
        default: Effect.succeed(false)
      }).pipe(Effect.catchTag("ChannelClosed", () => Effect.succeed(false)))
      if (!sent) {
        registry.remove(task.id)
        return yield* stopping
          ? rejected("stopping", new PoolStopping())
          : rejected("full", new QueueFull({ capacity: config.queueSize }))
      }
      yield* Metric.update(JobMetrics.submitted, 1)
      yield* gauges
      return task.id
    })

  return JobPool.of({
    submit,
    get: registry.get,
    counts: registry.counts,
    threads: lanes.length,
    capacity: config.queueSize
  })
})

const rejected = <E>(reason: "full" | "stopping", error: E) =>
  Metric.update(Metric.withAttributes(JobMetrics.rejected, { reason }), 1).pipe(Effect.andThen(Effect.fail(error)))
