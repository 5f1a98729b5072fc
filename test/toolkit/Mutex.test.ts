/**
 * Mutex — Go's sync.Mutex behaviours (mutex_test.go's ideas): mutual exclusion under contention, release on every
 * way out, TryLock, FIFO hand-off, interrupted waiters, no reentrancy.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Latch, Option, Ref } from "effect"
import * as Mutex from "../../src/toolkit/Mutex.ts"
import { endings, settle } from "../support/endings.ts"
import { verifyNone } from "../support/goleak.ts"

describe("Mutex", () => {
  const exclusion: ReadonlyArray<{
    readonly name: string
    readonly guard: (mu: Mutex.Mutex) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    readonly peak: number
  }> = [
    { name: "withLock: one fiber at a time", guard: (mu) => Mutex.withLock(mu), peak: 1 },
    {
      name: "lock (scoped): one fiber at a time",
      guard: (mu) => (effect) => Effect.scoped(Effect.andThen(Mutex.lock(mu), effect)),
      peak: 1
    },
    { name: "no lock (control): all 20 inside together", guard: () => (effect) => effect, peak: 20 }
  ]
  for (const c of exclusion) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.gen(function* () {
          const mu = yield* Mutex.make()
          let inside = 0
          let peak = 0
          const critical = Effect.gen(function* () {
            peak = Math.max(peak, ++inside)
            yield* settle(3) // yields inside the critical section: the others run meanwhile
            inside--
          })
          yield* Effect.forEach(Array.from({ length: 20 }), () => c.guard(mu)(critical), { concurrency: "unbounded" })
          expect(peak).toBe(c.peak)
        })
      )
    )
  }

  for (const c of endings) {
    it.effect(`withLock releases the lock on ${c.name}`, () =>
      verifyNone(
        Effect.gen(function* () {
          const mu = yield* Mutex.make()
          const exit = yield* Effect.exit(Mutex.withLock(mu, c.body))
          expect(c.check(exit)).toBe(true)
          expect(yield* Mutex.tryLock(mu, Effect.succeed("free"))).toStrictEqual(Option.some("free"))
        })
      )
    )
  }

  it.effect("withLock releases the lock when the holder is interrupted from outside", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const holder = yield* Effect.forkChild(Mutex.withLock(mu, Effect.never), { startImmediately: true })
        expect(yield* Mutex.tryLock(mu, Effect.void)).toStrictEqual(Option.none())
        yield* Fiber.interrupt(holder)
        expect(yield* Mutex.tryLock(mu, Effect.succeed(1))).toStrictEqual(Option.some(1))
      })
    )
  )

  it.effect("tryLock never waits: None without running the effect while held, Some when free", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        let ran = false
        const attempt = Mutex.tryLock(
          mu,
          Effect.sync(() => {
            ran = true
          })
        )
        expect(yield* Mutex.withLock(mu, attempt)).toStrictEqual(Option.none())
        expect(ran).toBe(false)
        expect(yield* attempt).toStrictEqual(Option.some(undefined))
        expect(ran).toBe(true)
      })
    )
  )

  it.effect("waiters acquire in FIFO order; the unlocking fiber asking again queues behind them", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const order: Array<string> = []
        const release = yield* Latch.make(false)
        const holder = yield* Effect.forkChild(
          Effect.gen(function* () {
            yield* Mutex.withLock(
              mu,
              Effect.andThen(
                release.await,
                Effect.sync(() => order.push("holder"))
              )
            )
            yield* Mutex.withLock(
              mu,
              Effect.sync(() => order.push("holder again"))
            ) // Go would often let it barge
          }),
          { startImmediately: true }
        )
        const waiters: Array<Fiber.Fiber<number>> = []
        for (const name of ["w1", "w2", "w3", "w4"]) {
          waiters.push(
            yield* Effect.forkChild(
              Mutex.withLock(
                mu,
                Effect.sync(() => order.push(name))
              )
            )
          )
          yield* Effect.yieldNow // each one starts waiting before the next is forked
        }
        yield* release.open
        yield* Fiber.join(holder)
        yield* Fiber.joinAll(waiters)
        expect(order).toStrictEqual(["holder", "w1", "w2", "w3", "w4", "holder again"])
      })
    )
  )

  it.effect("an interrupted waiter leaves the queue without taking the lock", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const order: Array<string> = []
        const release = yield* Latch.make(false)
        const holder = yield* Effect.forkChild(Mutex.withLock(mu, release.await), { startImmediately: true })
        const w1 = yield* Effect.forkChild(
          Mutex.withLock(
            mu,
            Effect.sync(() => order.push("w1"))
          )
        )
        const w2 = yield* Effect.forkChild(
          Mutex.withLock(
            mu,
            Effect.sync(() => order.push("w2"))
          )
        )
        yield* settle()
        yield* Fiber.interrupt(w1)
        yield* release.open
        yield* Fiber.join(holder)
        yield* Fiber.join(w2)
        expect(order).toStrictEqual(["w2"])
        expect(yield* Mutex.tryLock(mu, Effect.succeed("free"))).toStrictEqual(Option.some("free"))
      })
    )
  )

  it.effect("is not reentrant: locking again in the same fiber waits forever (until interrupted)", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const nested = yield* Effect.forkChild(Mutex.withLock(mu, Mutex.withLock(mu, Effect.void)))
        yield* settle()
        expect(nested.pollUnsafe()).toBeUndefined() // deadlocked on itself
        yield* Fiber.interrupt(nested)
        expect(yield* Mutex.tryLock(mu, Effect.succeed("free"))).toStrictEqual(Option.some("free"))
      })
    )
  )

  it.effect("lock holds the lock until its Scope closes", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const inside = yield* Effect.scoped(Effect.andThen(Mutex.lock(mu), Mutex.tryLock(mu, Effect.void)))
        expect(inside).toStrictEqual(Option.none())
        expect(yield* Mutex.tryLock(mu, Effect.succeed("free"))).toStrictEqual(Option.some("free"))
      })
    )
  )

  it.effect("lock's unlock releases early, hands the lock to the next waiter, and is idempotent", () =>
    verifyNone(
      Effect.gen(function* () {
        const mu = yield* Mutex.make()
        const log: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            const unlock = yield* Mutex.lock(mu)
            const waiter = yield* Effect.forkChild(
              Mutex.withLock(
                mu,
                Effect.sync(() => log.push("waiter"))
              ),
              { startImmediately: true }
            )
            yield* settle()
            expect(log).toStrictEqual([]) // waits for the holder
            yield* unlock // mu.Unlock() before the function ends
            yield* Fiber.join(waiter)
            expect(log).toStrictEqual(["waiter"])
            const other = yield* Effect.forkChild(Effect.scoped(Effect.andThen(Mutex.lock(mu), Effect.never)), {
              startImmediately: true
            })
            yield* unlock // a second unlock releases nothing: the other holder keeps the lock
            expect(yield* Mutex.tryLock(mu, Effect.void)).toStrictEqual(Option.none())
            yield* Fiber.interrupt(other)
          })
        ) // nor does the Scope's close
        expect(yield* Mutex.tryLock(mu, Mutex.tryLock(mu, Effect.void))).toStrictEqual(Option.some(Option.none()))
      })
    )
  )

  it.effect("README example: sync.Mutex", () =>
    verifyNone(
      Effect.gen(function* () {
        const [mu, total] = yield* Effect.all([Mutex.make(), Ref.make(0)])
        const add = (n: number) =>
          Mutex.withLock(
            mu,
            Effect.flatMap(Ref.get(total), (t) => Ref.set(total, t + n))
          )
        yield* Effect.forEach([1, 2, 3], add, { concurrency: "unbounded" }) // total: 6, none lost
        expect(yield* Ref.get(total)).toBe(6)
      })
    )
  )
})
