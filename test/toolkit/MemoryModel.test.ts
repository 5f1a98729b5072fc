/**
 * The memory model, made concrete (README: "The memory model").
 *
 * 1. Fibers share one thread: every step is atomic, but check-then-act across a yield is a race — N fibers doing
 *    get → yield → set lose updates, deterministically, while `Ref.update` and a `Mutex` lose none.
 * 2. Real parallelism is `worker_threads` + `SharedArrayBuffer`: two workers doing `Atomics.add` reach the exact
 *    total; plain `view[i] = view[i] + 1` increments race (the lost updates are reported, never asserted); and the
 *    happens-before edges JavaScript has — an `Atomics.store` read by an `Atomics.load`, a `postMessage` received —
 *    make plain writes made before them visible after them.
 */

import { Worker } from "node:worker_threads"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Ref, type Scope } from "effect"
import * as Mutex from "../../src/toolkit/Mutex.ts"
import { type Job, Slot } from "../support/atomics-worker.ts"
import { verifyNone } from "../support/goleak.ts"

const N = 50

/** the lesson's counter: read, let others run, write back what was read plus one */
const checkThenAct = (ref: Ref.Ref<number>) =>
  Effect.gen(function* () {
    const n = yield* Ref.get(ref)
    yield* Effect.yieldNow // any `yield*` that may suspend: a receive, a sleep, an HTTP call, a lock
    yield* Ref.set(ref, n + 1)
  })

const increments: ReadonlyArray<{
  readonly name: string
  readonly increment: (ref: Ref.Ref<number>, mu: Mutex.Mutex) => Effect.Effect<void>
  readonly total: number
}> = [
  // every fiber reads 0 before any of them writes, so all N write 1: Effect's scheduler runs the forked fibers in
  // order, each up to its yield, then each again from its yield — a fixed interleaving, hence an exact total
  { name: "get → yield → set (check-then-act across a yield) loses updates", increment: checkThenAct, total: 1 },
  { name: "Ref.update is one atomic step: none lost", increment: (ref) => Ref.update(ref, (n) => n + 1), total: N },
  {
    name: "Ref.modify is one atomic step: none lost",
    increment: (ref) => Ref.modify(ref, (n) => [undefined, n + 1] as const),
    total: N
  },
  {
    name: "Mutex.withLock around get → yield → set: none lost",
    increment: (ref, mu) => Mutex.withLock(mu, checkThenAct(ref)),
    total: N
  }
]

describe("memory model: fibers on one thread", () => {
  for (const c of increments) {
    it.effect(`${N} fibers — ${c.name}`, () =>
      verifyNone(
        Effect.gen(function* () {
          const ref = yield* Ref.make(0)
          const mu = yield* Mutex.make()
          yield* Effect.forEach(Array.from({ length: N }), () => c.increment(ref, mu), { concurrency: "unbounded" })
          expect(yield* Ref.get(ref)).toBe(c.total)
        })
      )
    )
  }
})

describe("memory model: README example", () => {
  it.effect("README example: sync/atomic counter (atomic.Int64 Add/Load)", () =>
    verifyNone(
      Effect.gen(function* () {
        const hits = yield* Ref.make(0) // var hits atomic.Int64
        yield* Effect.forEach(Array(100).fill(1), (k) => Ref.update(hits, (n) => n + k), { concurrency: "unbounded" })
        const total = yield* Ref.get(hits) // 100: each update is one atomic step (hits.Add(1); hits.Load())
        expect(total).toBe(100)
      })
    )
  )
})

/** a worker running `job`, terminated when the Scope closes; `done` completes when it posts "done" */
const startWorker = (job: Omit<Job, "kind">): Effect.Effect<Effect.Effect<void, Error>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<void, Error>()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const workerData: Job = { kind: "atomics-worker", ...job }
        const worker = new Worker(new URL("../support/atomics-worker.ts", import.meta.url), { workerData })
        worker.once("message", () => Deferred.doneUnsafe(done, Exit.void))
        worker.once("error", (error) => Deferred.doneUnsafe(done, Exit.fail(error)))
        return worker
      }),
      (worker) => Effect.promise(() => worker.terminate())
    )
    return Deferred.await(done)
  })

/** waits, without blocking the main thread, until `view[index]` holds `expected` (read with `Atomics.load`) */
const awaitValue = (view: Int32Array, index: number, expected: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    const current = Atomics.load(view, index)
    if (current === expected) return Effect.void
    const wait = Atomics.waitAsync(view, index, current, 1_000) // main thread: Atomics.wait would throw
    return Effect.andThen(
      wait.async ? Effect.promise(() => wait.value) : Effect.void,
      awaitValue(view, index, expected)
    )
  })

const K = 1_000_000

/** starts two workers in `mode`, releases them together, and gives the counter once both are done */
const race = (mode: "add" | "plain") =>
  Effect.scoped(
    Effect.gen(function* () {
      const shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * Slot.data)
      const view = new Int32Array(shared)
      const job = { mode, shared, iterations: K, first: [], second: [] }
      const done = [yield* startWorker(job), yield* startWorker(job)]
      yield* awaitValue(view, Slot.ready, 2) // both are blocked in Atomics.wait at the barrier
      Atomics.store(view, Slot.go, 1)
      Atomics.notify(view, Slot.go)
      yield* Effect.all(done, { concurrency: "unbounded" })
      return Atomics.load(view, Slot.counter)
    })
  )

describe("memory model: worker_threads and SharedArrayBuffer", () => {
  it.live(`two workers doing Atomics.add ${K} times each reach exactly ${2 * K}`, () =>
    verifyNone(Effect.map(race("add"), (total) => expect(total).toBe(2 * K))).pipe(Effect.timeout("20 seconds"))
  )

  it.live("two workers doing plain increments race: the lost updates are reported, not asserted", (ctx) =>
    verifyNone(
      Effect.gen(function* () {
        const total = yield* race("plain")
        expect(total).toBeGreaterThan(0)
        expect(total).toBeLessThanOrEqual(2 * K)
        const lost = 2 * K - total
        yield* Effect.promise(() =>
          ctx.annotate(`plain view[i] = view[i] + 1: ${total} of ${2 * K} (${lost} updates lost to the race)`)
        )
      })
    ).pipe(Effect.timeout("20 seconds"))
  )

  it.live(
    "happens-before: plain writes before an Atomics.store / a postMessage are seen after its load / receipt",
    () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const first = [1, 4, 9, 16, 25, 36, 49, 64]
            const second = [2, 3, 5, 7, 11, 13, 17, 19]
            const shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (Slot.data + 16))
            const view = new Int32Array(shared)
            const done = yield* startWorker({ mode: "publish", shared, iterations: 0, first, second })
            yield* awaitValue(view, Slot.flag, 1) // this Atomics.load reads the worker's Atomics.store: synchronizes-with
            expect(Array.from(view.subarray(Slot.data, Slot.data + 8))).toStrictEqual(first)
            yield* done // the message was received: its postMessage happens-before this point
            expect(Array.from(view.subarray(Slot.data + 8, Slot.data + 16))).toStrictEqual(second)
          })
        )
      ).pipe(Effect.timeout("20 seconds"))
  )
})
