/**
 * WaitGroup — Go's sync.WaitGroup tests (TestWaitGroup, TestWaitGroupMisuse) as tables: each case is a sequence of
 * `add` deltas and the outcome — the counter it ends at, or the `NegativeCounter` defect of the delta that breaks it.
 * Then the waiters: released together at zero, not before; zero value; reuse; interruption; `go`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import * as WaitGroup from "../../src/toolkit/WaitGroup.ts"
import { verifyNone } from "../support/goleak.ts"

interface Case {
  readonly name: string
  readonly deltas: ReadonlyArray<number>
  /** the counter at the end, or the defect of the last delta */
  readonly want:
    | { readonly counter: number }
    | { readonly negative: { readonly counter: number; readonly delta: number } }
}

const cases: ReadonlyArray<Case> = [
  { name: "zero value", deltas: [], want: { counter: 0 } },
  { name: "add then done each", deltas: [3, -1, -1, -1], want: { counter: 0 } },
  { name: "add in steps, done in one", deltas: [1, 2, -3], want: { counter: 0 } },
  { name: "done on a zero counter (TestWaitGroupMisuse)", deltas: [-1], want: { negative: { counter: 0, delta: -1 } } },
  { name: "one done too many", deltas: [2, -1, -1, -1], want: { negative: { counter: 0, delta: -1 } } },
  { name: "a negative add past zero", deltas: [2, -3], want: { negative: { counter: 2, delta: -3 } } },
  { name: "a fractional delta", deltas: [1.5], want: { negative: { counter: 0, delta: 1.5 } } }
]

describe("WaitGroup", () => {
  for (const c of cases) {
    it.effect(`counter: ${c.name}`, () =>
      verifyNone(
        Effect.gen(function* () {
          const wg = yield* WaitGroup.make()
          const exit = yield* Effect.exit(Effect.forEach(c.deltas, (delta) => WaitGroup.add(wg, delta)))
          if ("counter" in c.want) {
            assert.isTrue(Exit.isSuccess(exit))
            assert.strictEqual(wg.counter, c.want.counter)
          } else {
            const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
            assert.deepStrictEqual(defect, new WaitGroup.NegativeCounter(c.want.negative))
            assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
            assert.strictEqual(wg.counter, c.want.negative.counter) // unchanged by the bad delta
          }
          if (wg.counter === 0) yield* WaitGroup.wait(wg) // returns at once on zero
        })
      )
    )
  }

  it.effect("the defect's message names Go's panic", () =>
    Effect.gen(function* () {
      const error = new WaitGroup.NegativeCounter({ counter: 0, delta: -1 })
      assert.strictEqual(error.message, "sync: negative WaitGroup counter (add(-1) on a counter of 0)")
      const wg = yield* WaitGroup.make()
      const cause = yield* Effect.sandbox(WaitGroup.done(wg)).pipe(Effect.flip)
      assert.match(Cause.pretty(cause), /sync: negative WaitGroup counter/)
    })
  )

  it.effect("TestWaitGroup: every waiter is released when the last done comes, not before", () =>
    verifyNone(
      Effect.gen(function* () {
        const n = 3
        const wg = yield* WaitGroup.make()
        yield* WaitGroup.add(wg, n)
        const waiters = yield* Effect.forEach([1, 2], () => Effect.forkChild(WaitGroup.wait(wg)))
        for (let i = 0; i < n; i++) {
          yield* Effect.yieldNow
          assert.isTrue(
            waiters.every((w) => w.pollUnsafe() === undefined),
            `released after ${i} of ${n} done`
          )
          yield* WaitGroup.done(wg)
        }
        yield* Fiber.joinAll(waiters)
      })
    )
  )

  it.effect("reuse after zero: a new add makes wait suspend again", () =>
    verifyNone(
      Effect.gen(function* () {
        const wg = yield* WaitGroup.make()
        for (let round = 0; round < 2; round++) {
          yield* WaitGroup.add(wg, 1)
          const waiter = yield* Effect.forkChild(WaitGroup.wait(wg))
          yield* Effect.yieldNow
          assert.isUndefined(waiter.pollUnsafe())
          yield* WaitGroup.done(wg)
          yield* Fiber.join(waiter)
        }
      })
    )
  )

  it.effect("interrupting one waiter leaves the others waiting", () =>
    verifyNone(
      Effect.gen(function* () {
        const wg = yield* WaitGroup.make()
        yield* WaitGroup.add(wg, 1)
        const a = yield* Effect.forkChild(WaitGroup.wait(wg))
        const b = yield* Effect.forkChild(WaitGroup.wait(wg))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(a)
        assert.isUndefined(b.pollUnsafe())
        yield* WaitGroup.done(wg)
        yield* Fiber.join(b)
      })
    )
  )

  it.effect("go counts the fiber until it ends, however it ends; closing the Scope interrupts it", () =>
    verifyNone(
      Effect.gen(function* () {
        const wg = yield* WaitGroup.make()
        const gate = yield* Deferred.make<void>()
        const scope = yield* Scope.make()
        const ok = yield* Scope.provide(WaitGroup.go(wg, Effect.as(Deferred.await(gate), "ok")), scope)
        const bad = yield* Scope.provide(
          WaitGroup.go(wg, Effect.andThen(Deferred.await(gate), Effect.fail("bad"))),
          scope
        )
        yield* Scope.provide(WaitGroup.go(wg, Effect.never), scope)
        assert.strictEqual(wg.counter, 3) // counted before go returned
        const waiter = yield* Effect.forkChild(WaitGroup.wait(wg))
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(ok), "ok")
        assert.deepStrictEqual(yield* Fiber.await(bad), Exit.fail("bad"))
        assert.strictEqual(wg.counter, 1)
        assert.isUndefined(waiter.pollUnsafe())
        yield* Scope.close(scope, Exit.void) // interrupts the `never` fiber, which counts done
        yield* Fiber.join(waiter)
        // on a closed Scope nothing runs and nothing is counted
        const late = yield* Scope.provide(WaitGroup.go(wg, Effect.void), scope)
        assert.isTrue(Exit.isFailure(yield* Fiber.await(late)))
        assert.strictEqual(wg.counter, 0)
      })
    )
  )
})

describe("README examples", () => {
  it.effect("sync.WaitGroup", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const fetched: Array<string> = []
          const fetch = (url: string) =>
            Effect.andThen(
              Effect.yieldNow,
              Effect.sync(() => fetched.push(url))
            )
          const urls = ["a.example", "b.example"]
          // README: three lines (WaitGroup.go needs a Scope: Effect.scoped here)
          const wg = yield* WaitGroup.make()
          for (const url of urls) yield* WaitGroup.go(wg, fetch(url)) // wg.Go(func() { fetch(url) }): Add(1) … Done()
          yield* WaitGroup.wait(wg) // wg.Wait(): every fetch has ended
          assert.deepStrictEqual(fetched.sort(), urls)
        })
      )
    )
  )
})
