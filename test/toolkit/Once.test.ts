/**
 * Once — Go's sync.Once tests (TestOnce, TestOncePanic) as a table: each case is how the first body ends, and the
 * outcomes expected for the caller that ran it, a caller waiting meanwhile, and a later caller; then interruption
 * and `Once.value` (sync.OnceValues).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Exit, Fiber } from "effect"
import * as Once from "../../src/toolkit/Once.ts"
import { verifyNone } from "../support/goleak.ts"

class InitError extends Data.TaggedError("InitError")<{ readonly reason: string }> {}

type Ending = "Succeed" | "Fail" | "Die"

interface Case {
  readonly name: string
  readonly ending: Ending
  /** the first caller's exit */
  readonly first: "Void" | "Error" | "Defect"
  /** after the first body ended: how many times a body has run once a later caller has called */
  readonly runs: number
}

const cases: ReadonlyArray<Case> = [
  { name: "a body that returns runs once (TestOnce)", ending: "Succeed", first: "Void", runs: 1 },
  { name: "a failing body counts as done: only its caller sees the failure", ending: "Fail", first: "Error", runs: 1 },
  {
    name: "a dying body counts as done, like Go's panicking f (TestOncePanic)",
    ending: "Die",
    first: "Defect",
    runs: 1
  }
]

const end = (ending: Ending): Effect.Effect<void, InitError> =>
  ending === "Succeed"
    ? Effect.void
    : ending === "Fail"
      ? Effect.fail(new InitError({ reason: "no config" }))
      : Effect.die(new Error("boom"))

const kind = (exit: Exit.Exit<void, InitError>) =>
  Exit.isSuccess(exit) ? "Void" : Cause.hasDies(exit.cause) ? "Defect" : Cause.hasFails(exit.cause) ? "Error" : "?"

describe("Once.do", () => {
  for (const c of cases) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.gen(function* () {
          let runs = 0
          const gate = yield* Deferred.make<void>()
          const once = yield* Once.make()
          const body = Effect.andThen(
            Effect.sync(() => runs++),
            Effect.andThen(Deferred.await(gate), end(c.ending))
          )
          const first = yield* Effect.forkChild(Effect.exit(Once.do(once, body)), { startImmediately: true })
          const waiter = yield* Effect.forkChild(Effect.exit(Once.do(once, body)), { startImmediately: true })
          yield* Effect.yieldNow
          assert.isUndefined(waiter.pollUnsafe()) // waits for the running body
          yield* Deferred.succeed(gate, undefined)
          assert.strictEqual(kind(yield* Fiber.join(first)), c.first)
          assert.strictEqual(kind(yield* Fiber.join(waiter)), "Void")
          assert.deepStrictEqual(yield* Effect.exit(Once.do(once, body)), Exit.void)
          assert.strictEqual(runs, c.runs)
          assert.isTrue(once.done)
        })
      )
    )
  }

  it.effect("only the first body runs, whichever body each caller passes", () =>
    verifyNone(
      Effect.gen(function* () {
        const ran: Array<string> = []
        const once = yield* Once.make()
        yield* Effect.forEach(
          ["a", "b", "c"],
          (name) =>
            Once.do(
              once,
              Effect.sync(() => ran.push(name))
            ),
          {
            concurrency: "unbounded"
          }
        )
        assert.deepStrictEqual(ran, ["a"])
      })
    )
  )

  it.effect("interrupting the caller running the body interrupts it; not done, so a waiter runs its own", () =>
    verifyNone(
      Effect.gen(function* () {
        const log: Array<string> = []
        const once = yield* Once.make()
        const first = yield* Effect.forkChild(
          Once.do(once, Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => log.push("first interrupted"))))),
          { startImmediately: true }
        )
        const waiter = yield* Effect.forkChild(
          Once.do(
            once,
            Effect.sync(() => log.push("waiter ran"))
          ),
          {
            startImmediately: true
          }
        )
        yield* Effect.yieldNow
        assert.isFalse(once.done)
        yield* Fiber.interrupt(first)
        yield* Fiber.join(waiter)
        yield* Once.do(
          once,
          Effect.sync(() => log.push("later ran"))
        )
        assert.deepStrictEqual(log, ["first interrupted", "waiter ran"])
        assert.isTrue(once.done)
      })
    )
  )

  it.effect("interrupting a waiter leaves the body running", () =>
    verifyNone(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const once = yield* Once.make()
        const first = yield* Effect.forkChild(Once.do(once, Deferred.await(gate)), { startImmediately: true })
        const waiter = yield* Effect.forkChild(Once.do(once, Effect.void), { startImmediately: true })
        yield* Effect.yieldNow
        yield* Fiber.interrupt(waiter)
        assert.isUndefined(first.pollUnsafe())
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(first)
        assert.isTrue(once.done)
      })
    )
  )
})

describe("Once.value", () => {
  it.effect("concurrent callers share one run; later callers get the same value", () =>
    verifyNone(
      Effect.gen(function* () {
        let runs = 0
        const gate = yield* Deferred.make<void>()
        const config = yield* Once.value(
          Effect.andThen(
            Deferred.await(gate),
            Effect.sync(() => ({ port: 8080 + runs++ }))
          )
        )
        const callers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(config, { startImmediately: true }))
        yield* Deferred.succeed(gate, undefined)
        const values = yield* Fiber.joinAll(callers)
        assert.deepStrictEqual(values, [{ port: 8080 }, { port: 8080 }, { port: 8080 }])
        assert.strictEqual(yield* config, values[0]) // the same object
        assert.strictEqual(runs, 1)
      })
    )
  )

  it.effect("a failure is memoized: every caller gets the same error (OnceValues)", () =>
    verifyNone(
      Effect.gen(function* () {
        let runs = 0
        const load = yield* Once.value(Effect.suspend(() => Effect.fail(new InitError({ reason: `run ${++runs}` }))))
        const a = yield* Effect.flip(load)
        const b = yield* Effect.flip(load)
        assert.strictEqual(a, b)
        assert.strictEqual(a.reason, "run 1")
        assert.strictEqual(runs, 1)
      })
    )
  )

  it.effect("the run goes on while one caller still waits, when another is interrupted", () =>
    verifyNone(
      Effect.gen(function* () {
        let runs = 0
        const gate = yield* Deferred.make<void>()
        const load = yield* Once.value(
          Effect.andThen(
            Deferred.await(gate),
            Effect.sync(() => ++runs)
          )
        )
        const a = yield* Effect.forkChild(load, { startImmediately: true })
        const b = yield* Effect.forkChild(load, { startImmediately: true })
        yield* Fiber.interrupt(a)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(b), 1)
        assert.strictEqual(yield* load, 1)
      })
    )
  )

  it.effect("interruption is not memoized: when every caller left, the next call runs it again", () =>
    verifyNone(
      Effect.gen(function* () {
        let runs = 0
        const gate = yield* Deferred.make<void>()
        const load = yield* Once.value(
          Effect.andThen(
            Effect.sync(() => ++runs),
            (n) => Effect.as(Deferred.await(gate), n)
          )
        )
        const caller = yield* Effect.forkChild(load, { startImmediately: true })
        yield* Effect.yieldNow
        yield* Fiber.interrupt(caller)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* load, 2)
        assert.strictEqual(yield* load, 2)
      })
    )
  )
})

describe("README examples", () => {
  it.effect("sync.Once", () =>
    verifyNone(
      Effect.gen(function* () {
        let connections = 0
        const connect = Effect.sync(() => connections++)
        const loadConfig = Effect.sync(() => ({ port: 8080 }))
        // README: three lines
        const once = yield* Once.make()
        yield* Effect.all([Once.do(once, connect), Once.do(once, connect)], { concurrency: 2 }) // once.Do(connect)
        const config = yield* Once.value(loadConfig) // sync.OnceValues: one run, the same value or error for all
        assert.strictEqual(connections, 1)
        assert.strictEqual(yield* config, yield* config)
        assert.deepStrictEqual(yield* config, { port: 8080 })
      })
    )
  )
})
