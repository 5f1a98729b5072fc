/**
 * JobPool — the pool on in-process lanes (`JobExecutor.layerTest`): a job "works" for `rounds` milliseconds of
 * TestClock time and answers `r:<input>`; input `fail` fails the work, `crash` crashes the lane. Each lane reports a
 * job's start in `started`, so the tests know what runs without sleeping. The shutdown runs through a fresh
 * `Lifecycle` with a fake server whose budget the tests choose.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Metric, Option, Queue, Scope } from "effect"
import { TestClock } from "effect/testing"
import { JobFailed, type Request, WorkerCrashed } from "../../src/jobs/Job.ts"
import { JobExecutor } from "../../src/jobs/JobExecutor.ts"
import * as JobMetrics from "../../src/jobs/JobMetrics.ts"
import { JobPool } from "../../src/jobs/JobPool.ts"
import { JobsConfig, type JobsConfigValues } from "../../src/jobs/JobsConfig.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { recordSpans } from "../http/support.ts"
import { captureLogs, fakeServer, type LogLine } from "../support/lifecycle.ts"

const job = (input: string, millis: number): Request => ({ kind: "hash", input, rounds: millis })

interface Harness {
  readonly pool: JobPool["Service"]
  readonly lifecycle: Lifecycle["Service"]
  /** the ids of jobs as lanes start them */
  readonly started: Queue.Queue<string>
  /** the ids of jobs whose work was interrupted */
  readonly interrupted: Array<string>
  readonly logs: Array<LogLine>
  /** releases the pool (and the lifecycle) now */
  readonly release: Effect.Effect<void>
}

/** harness — a pool on test lanes, built in a scope of its own (released by `release` or at the test's end) */
const harness = (config: Partial<JobsConfigValues>) =>
  Effect.gen(function* () {
    const started = yield* Queue.unbounded<string>()
    const interrupted: Array<string> = []
    const logs: Array<LogLine> = []
    const work = JobExecutor.layerTest((task) =>
      Queue.offer(started, task.id).pipe(
        Effect.andThen(Effect.sleep(task.request.rounds)),
        Effect.andThen(
          (task.request.input === "fail"
            ? Effect.fail(new JobFailed({ id: task.id, reason: "bad input" }))
            : task.request.input === "crash"
              ? Effect.fail(new WorkerCrashed({ id: task.id, worker: 1, reason: "exited with code 7" }))
              : Effect.succeed(`r:${task.request.input}`)) as Effect.Effect<string, JobFailed | WorkerCrashed>
        ),
        Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(task.id)))
      )
    )
    const layer = JobPool.layer.pipe(
      Layer.provideMerge(Layer.mergeAll(work, JobsConfig.layerTest(config), Lifecycle.layerTest)),
      Layer.provide(captureLogs(logs))
    )
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      pool: Context.get(context, JobPool),
      lifecycle: Context.get(context, Lifecycle),
      started,
      interrupted,
      logs,
      release: Scope.close(scope, Exit.void)
    } satisfies Harness
  })

const count = (metric: Metric.Metric<number, Metric.CounterState<number>>) =>
  Effect.map(Metric.value(metric), (state) => Number(state.count))

/** test — `it.effect` with a metric registry of the test's own */
const test = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.effect(name, () => Effect.provideService(body(), Metric.MetricRegistry, new Map()))

describe("JobPool", () => {
  test("jobs start in submission order on free lanes; GET shows queued → running → done", () =>
    Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 2, queueSize: 4 })
      const a = yield* pool.submit(job("a", 100))
      const b = yield* pool.submit(job("b", 100))
      const c = yield* pool.submit(job("c", 100))
      expect([yield* Queue.take(started), yield* Queue.take(started)]).toEqual([a, b])
      expect([pool.get(a)?.status, pool.get(b)?.status, pool.get(c)?.status]).toEqual(["running", "running", "queued"])
      expect(pool.counts()).toEqual({ queued: 1, running: 2 })
      yield* TestClock.adjust(100)
      expect(yield* Queue.take(started)).toBe(c)
      expect(pool.get(a)).toEqual({ id: a, kind: "hash", rounds: 100, status: "done", result: "r:a" })
      yield* TestClock.adjust(100)
      expect(pool.get(c)?.result).toBe("r:c")
      expect(pool.counts()).toEqual({ queued: 0, running: 0 })
      expect(pool.get("unknown")).toBeUndefined()
    }))

  test("a full queue refuses at once with QueueFull (counted); room again once a job starts", () =>
    Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 1, queueSize: 1 })
      yield* pool.submit(job("a", 100))
      yield* Queue.take(started)
      yield* pool.submit(job("b", 100))
      const refused = yield* pool.submit(job("c", 100)).pipe(Effect.flip)
      expect(refused).toEqual(expect.objectContaining({ _tag: "QueueFull", capacity: 1 }))
      expect(yield* count(Metric.withAttributes(JobMetrics.rejected, { reason: "full" }))).toBe(1)
      expect(pool.counts()).toEqual({ queued: 1, running: 1 })
      yield* TestClock.adjust(100)
      yield* Queue.take(started)
      expect(yield* pool.submit(job("d", 100)).pipe(Effect.map((id) => pool.get(id)?.status))).toBe("queued")
    }))

  test("JOB_QUEUE_SIZE=0 accepts a job only while a lane waits for one", () =>
    Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 1, queueSize: 0 })
      yield* Effect.yieldNow
      yield* pool.submit(job("a", 100))
      yield* Queue.take(started)
      expect((yield* pool.submit(job("b", 100)).pipe(Effect.flip))._tag).toBe("QueueFull")
      yield* TestClock.adjust(100)
      yield* Effect.yieldNow
      yield* pool.submit(job("c", 100))
      yield* Queue.take(started)
    }))

  test("a job whose work fails or whose lane crashes is failed with the message; the lane goes on", () =>
    Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 1, queueSize: 4 })
      const bad = yield* pool.submit(job("fail", 10))
      const crashed = yield* pool.submit(job("crash", 10))
      const good = yield* pool.submit(job("ok", 10))
      yield* Queue.take(started)
      yield* TestClock.adjust(10)
      yield* Queue.take(started)
      yield* TestClock.adjust(10)
      yield* Queue.take(started)
      yield* TestClock.adjust(10)
      expect(pool.get(bad)).toEqual(
        expect.objectContaining({ status: "failed", error: `job ${bad} failed: bad input` })
      )
      expect(pool.get(crashed)?.error).toBe(`worker thread 1 crashed while running job ${crashed}: exited with code 7`)
      expect(pool.get(good)?.status).toBe("done")
      expect(yield* count(Metric.withAttributes(JobMetrics.failed, { reason: "error" }))).toBe(1)
      expect(yield* count(Metric.withAttributes(JobMetrics.failed, { reason: "crash" }))).toBe(1)
      expect(yield* count(JobMetrics.done)).toBe(1)
    }))

  test("retention keeps the last JOB_RETENTION finished jobs; older ones answer as unknown", () =>
    Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 1, queueSize: 8, retention: 2 })
      const ids = []
      for (const input of ["a", "b", "c"]) ids.push(yield* pool.submit(job(input, 10)))
      for (const _ of ids) {
        yield* Queue.take(started)
        yield* TestClock.adjust(10)
      }
      expect(ids.map((id) => pool.get(id)?.status)).toEqual([undefined, "done", "done"])
    }))

  test("shutdown: refused from its first moment; queued and running jobs finish within the budget", () =>
    Effect.gen(function* () {
      const { pool, lifecycle, started, logs } = yield* harness({ workerThreads: 2, queueSize: 4 })
      yield* lifecycle.register(fakeServer([], "api", { budget: "10 seconds" }))
      const ids = [yield* pool.submit(job("a", 1000)), yield* pool.submit(job("b", 1000))]
      ids.push(yield* pool.submit(job("c", 1000)))
      yield* Queue.take(started)
      yield* Queue.take(started)
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test").pipe(Effect.provide(captureLogs(logs))), {
        startImmediately: true
      })
      const refused = yield* pool.submit(job("late", 1)).pipe(Effect.flip)
      expect(refused._tag).toBe("PoolStopping")
      expect(yield* count(Metric.withAttributes(JobMetrics.rejected, { reason: "stopping" }))).toBe(1)
      yield* TestClock.adjust(1000)
      yield* Queue.take(started)
      expect(shutdown.pollUnsafe()).toBeUndefined() // still waiting for c
      yield* TestClock.adjust(1000)
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })
      expect(ids.map((id) => pool.get(id)?.status)).toEqual(["done", "done", "done"])
      expect(logs.map((l) => l.message)).toContain("waiting for 1 queued and 2 running jobs")
    }))

  test("budget exhausted: the shutdown is forced; at release each unfinished job is logged by id and counted", () =>
    Effect.gen(function* () {
      const { pool, lifecycle, started, logs, interrupted, release } = yield* harness({
        workerThreads: 1,
        queueSize: 4
      })
      yield* lifecycle.register(fakeServer([], "api", { budget: "2 seconds" }))
      const done = yield* pool.submit(job("quick", 500))
      const running = yield* pool.submit(job("long", 3_600_000))
      const queued = yield* pool.submit(job("never", 10))
      yield* Queue.take(started)
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust(500)
      yield* Queue.take(started)
      yield* TestClock.adjust(1500)
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })
      yield* release
      expect(pool.get(done)?.status).toBe("done")
      expect(interrupted).toEqual([running])
      const abandoned = logs.filter((l) => l.message.startsWith("job abandoned"))
      expect(abandoned.map((l) => [l.level, l.annotations.job, l.annotations.status])).toEqual([
        ["Warn", running, "running"],
        ["Warn", queued, "queued"]
      ])
      expect(yield* count(JobMetrics.abandoned)).toBe(2)
    }))

  test("each job runs in a span JobPool.job, child of the span that submitted it, with the job's attributes", () => {
    const { spans, layer } = recordSpans()
    return Effect.gen(function* () {
      const { pool, started } = yield* harness({ workerThreads: 1, queueSize: 4 })
      const id = yield* pool.submit(job("a", 10)).pipe(Effect.withSpan("POST /api/jobs"))
      yield* Queue.take(started)
      yield* TestClock.adjust(10)
      const request = spans.find((span) => span.name === "POST /api/jobs")
      const run = spans.find((span) => span.name === "JobPool.job")
      expect(run?.parent).toEqual(Option.some(request))
      expect(run?.kind).toBe("consumer")
      expect(Object.fromEntries(run?.attributes ?? [])).toEqual(
        expect.objectContaining({ "job.id": id, "job.kind": "hash", "job.rounds": 10, "job.lane": 1 })
      )
      expect(run?.status._tag).toBe("Ended")
    }).pipe(Effect.provide(layer))
  })
})
