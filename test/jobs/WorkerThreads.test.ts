/**
 * WorkerThreads — lanes on real worker threads (Effect's worker platform, NodeWorker): the work's results against
 * values computed elsewhere (Python's hashlib), and what happens when a thread dies, when the work throws, when a job
 * hangs and is interrupted, and when the entry cannot start. The test worker (`support/crash-worker.ts`) is the real
 * one plus inputs that break it on purpose. Real threads, so real time: every wait is bounded.
 */
import { readdirSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, type Scope } from "effect"
import type { Task } from "../../src/jobs/Job.ts"
import { JobExecutor } from "../../src/jobs/JobExecutor.ts"
import * as JobMetrics from "../../src/jobs/JobMetrics.ts"

const crashWorker = new URL("./support/crash-worker.ts", import.meta.url)

const task = (id: string, input: string, rounds = 1): Task => ({ id, request: { kind: "hash", input, rounds } })

/** lanes — `n` lanes on `entry`, for the test's scope, with a fresh metric registry */
const lanes = (n: number, entry = crashWorker) =>
  JobExecutor.use((executor) => executor.start(n)).pipe(Effect.provide(JobExecutor.layerThreads(entry)))

/** threadCount — this process's threads now (Linux: /proc/self/task) */
const threadCount = () => readdirSync("/proc/self/task").length

const restarts = Effect.map(Metric.value(JobMetrics.restarts), (state) => Number(state.count))

const live = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())), 30_000)

describe("WorkerThreads", () => {
  live("a lane answers with iterated SHA-256 (values from Python's hashlib)", () =>
    Effect.gen(function* () {
      const [lane] = yield* lanes(1)
      expect(yield* lane!.run(task("a", "hello", 1))).toBe(
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      )
      expect(yield* lane!.run(task("b", "hello", 1000))).toBe(
        "f6eec10c841b542f37ffb4ca00f82c5b6b4b11b79636d20201078b667ac37159"
      )
      expect(yield* lane!.run(task("c", "héllo ✓", 3))).toBe(
        "ff9fbdc30c278a0088fbdf3d2f3b284cc73b249925c79a1d257a01c0e955aaca"
      )
    })
  )

  live("a thread that exits fails its own job only; the other lane's job finishes; the thread is replaced", () =>
    Effect.gen(function* () {
      const [one, two] = yield* lanes(2)
      const long = yield* Effect.forkChild(two!.run(task("long", "x", 100_000)), { startImmediately: true })
      const crash = yield* one!.run(task("doomed", "exit")).pipe(Effect.flip)
      expect(crash._tag).toBe("WorkerCrashed")
      expect(crash.message).toMatch(/worker thread 1 crashed while running job doomed: .*exited with code: 7/)
      expect(yield* Fiber.join(long)).toMatch(/^[0-9a-f]{64}$/)
      expect(yield* restarts).toBe(1)
      expect(yield* one!.run(task("after", "hello", 1))).toBe(
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      )
    })
  )

  live("a thread whose answer cannot be sent (an uncaught error in the thread) crashes, and is replaced", () =>
    Effect.gen(function* () {
      const [lane] = yield* lanes(1)
      const crash = yield* lane!.run(task("t", "throw")).pipe(Effect.flip)
      expect(crash._tag).toBe("WorkerCrashed")
      expect(crash.message).toMatch(/worker thread 1 crashed while running job t: .*could not be cloned/)
      expect(yield* lane!.run(task("next", "hello", 1))).toMatch(/^2cf24dba/)
      expect(yield* restarts).toBe(1)
    })
  )

  live("work that throws fails the job with JobFailed; the thread lives on", () =>
    Effect.gen(function* () {
      const [lane] = yield* lanes(1)
      const failure = yield* lane!.run(task("f", "fail")).pipe(Effect.flip)
      expect(failure._tag).toBe("JobFailed")
      expect(failure.message).toBe("job f failed: the work failed on purpose")
      expect(yield* lane!.run(task("next", "hello", 1))).toMatch(/^2cf24dba/)
      expect(yield* restarts).toBe(0)
    })
  )

  live("interrupting a job that never returns terminates its thread; the lane runs the next job", () =>
    Effect.gen(function* () {
      const [lane] = yield* lanes(1)
      const hung = yield* Effect.forkChild(lane!.run(task("h", "hang")), { startImmediately: true })
      yield* Effect.sleep("200 millis")
      const exit = yield* Fiber.interrupt(hung).pipe(Effect.andThen(Fiber.await(hung)), Effect.timeout("5 seconds"))
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(yield* lane!.run(task("next", "hello", 1)).pipe(Effect.timeout("10 seconds"))).toMatch(/^2cf24dba/)
    })
  )

  live("a thread starts with its lane's first job; one that cannot start fails that job, naming the cause", () =>
    Effect.gen(function* () {
      const [lane] = yield* lanes(1, new URL("./support/no-such-worker.ts", import.meta.url))
      const error = yield* lane!.run(task("first", "hello")).pipe(Effect.flip)
      expect(error._tag).toBe("WorkerCrashed")
      expect(error.message).toMatch(
        /worker thread 1 crashed while running job first: the thread could not start: .*no-such-worker/
      )
      expect((yield* lane!.run(task("second", "hello")).pipe(Effect.flip))._tag).toBe("WorkerCrashed")
      expect(yield* restarts).toBe(0)
    })
  )

  live("no thread runs before the first job", () =>
    Effect.gen(function* () {
      const before = threadCount()
      yield* lanes(2)
      expect(threadCount()).toBe(before)
    })
  )
})
