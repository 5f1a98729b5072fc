/**
 * ErrGroup's shapes beyond errgroup_test.go's table: the group of any error (`make()`), `setLimit` (SetLimit's
 * cases, TestTryGo with its limit switches), the FIFO of `go`s suspended at the limit (interruption, no overtaking,
 * a long queue), tasks that complete at once (no observer), interrupting `run`, and the README examples.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Fiber, Latch } from "effect"
import { TestClock } from "effect/testing"
import * as ErrGroup from "../../src/toolkit/ErrGroup.ts"
import { verifyNone } from "../support/goleak.ts"

class FetchError extends Data.TaggedError("FetchError")<{ readonly url: string }> {}
class ParseError extends Data.TaggedError("ParseError")<{ readonly input: string }> {}

/** `task` counted while it runs: `peak` is the most that ran at once */
const tracker = () => {
  const seen = { running: 0, peak: 0, started: [] as Array<number> }
  const track = (id: number, task: Effect.Effect<void>) =>
    Effect.suspend(() => {
      seen.started.push(id)
      seen.peak = Math.max(seen.peak, ++seen.running)
      return Effect.ensuring(
        task,
        Effect.sync(() => seen.running--)
      )
    })
  return { seen, track }
}

describe("ErrGroup shapes", () => {
  it.effect("make() is Go's group of func() error: any task; wait fails with unknown", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const group = yield* ErrGroup.make()
          assert.isTrue(yield* ErrGroup.go(group, Effect.fail("x")))
          assert.isFalse(yield* ErrGroup.go(group, new FetchError({ url: "a" }))) // cancelled by "x": not started
          const error: unknown = yield* Effect.flip(ErrGroup.wait(group))
          assert.strictEqual(error, "x")
          // @ts-expect-error the error is unknown, as Go's error: narrow it to use it
          const typed: string = yield* Effect.flip(ErrGroup.wait(group))
          assert.strictEqual(typed, "x")
        })
      )
    )
  )

  const limits: ReadonlyArray<{ readonly limit: number; readonly peak: number }> = [
    { limit: -1, peak: 6 }, // negative: unbounded
    { limit: 4, peak: 4 },
    { limit: 2, peak: 2 },
    { limit: 1, peak: 1 }
  ]
  for (const c of limits) {
    it.effect(`setLimit(${c.limit}) before any task: at most ${c.peak} of 6 run at once`, () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const { seen, track } = tracker()
            const group = yield* ErrGroup.make()
            yield* ErrGroup.setLimit(group, c.limit)
            const spawner = yield* Effect.forkChild(
              Effect.forEach([0, 1, 2, 3, 4, 5], (id) => ErrGroup.go(group, track(id, Effect.sleep("1 second"))))
            )
            yield* TestClock.adjust("6 seconds")
            assert.deepStrictEqual(yield* Fiber.join(spawner), [true, true, true, true, true, true])
            yield* ErrGroup.wait(group)
            assert.strictEqual(seen.peak, c.peak)
            assert.deepStrictEqual(seen.started, [0, 1, 2, 3, 4, 5]) // in the order of the gos
          })
        )
      )
    )
  }

  it.effect(
    "setLimit while a task runs dies with LimitInUse (Go panics) and keeps the limit; -1 is always allowed",
    () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const gate = yield* Latch.make(false)
            const group = yield* ErrGroup.make({ limit: 1 })
            yield* ErrGroup.go(group, gate.await)
            const exit = yield* Effect.exit(ErrGroup.setLimit(group, 5))
            assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
            const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
            assert.deepStrictEqual(defect, new ErrGroup.LimitInUse({ active: 1, limit: 5 }))
            assert.strictEqual(
              (defect as ErrGroup.LimitInUse).message,
              "errgroup: modify limit (to 5) while 1 tasks in the group are still active"
            )
            assert.isFalse(yield* ErrGroup.tryGo(group, Effect.void)) // still 1
            yield* ErrGroup.setLimit(group, -1) // removing the limit: allowed while tasks run, as in Go
            assert.isTrue(yield* ErrGroup.tryGo(group, Effect.void))
            yield* gate.open
            yield* ErrGroup.wait(group)
          })
        )
      )
  )

  it.effect("raising a limit of 0 starts the gos suspended at it, first come, first served", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const { seen, track } = tracker()
          const group = yield* ErrGroup.make({ limit: 0 })
          const spawners = []
          for (const id of [0, 1, 2]) {
            spawners.push(
              yield* Effect.forkChild(ErrGroup.go(group, track(id, Effect.sleep("1 second"))), {
                startImmediately: true
              })
            )
          }
          assert.deepStrictEqual(seen.started, []) // limit 0: every go waits
          yield* ErrGroup.setLimit(group, 2) // nothing runs: allowed
          assert.deepStrictEqual(seen.started, [0, 1])
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual(seen.started, [0, 1, 2])
          assert.deepStrictEqual(yield* Fiber.joinAll(spawners), [true, true, true])
          yield* TestClock.adjust("1 second")
          yield* ErrGroup.wait(group)
          assert.strictEqual(seen.peak, 2)
        })
      )
    )
  )

  it.effect(
    "TestTryGo (errgroup_test.go): 42 then false; true once they ended; SetLimit(1); SetLimit(0) blocks all",
    () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            let gate = yield* Latch.make(false)
            const fn = Effect.suspend(() => gate.await) // ch <- struct{}{}
            const release = Effect.andThen(
              Effect.suspend(() => gate.open),
              Effect.yieldNow
            ) // the receiving goroutine
            const group = yield* ErrGroup.make()
            yield* ErrGroup.setLimit(group, 42)
            const first = yield* Effect.forEach(Array.from({ length: 42 }), () => ErrGroup.tryGo(group, fn))
            assert.isTrue(first.every((started) => started))
            assert.isFalse(yield* ErrGroup.tryGo(group, fn))
            yield* release // all 42 end (Go waits with g.Wait here; this group's wait would close it)
            gate = yield* Latch.make(false)
            assert.isTrue(yield* ErrGroup.tryGo(group, fn))
            yield* release
            gate = yield* Latch.make(false)
            yield* ErrGroup.setLimit(group, 1) // switch limit: nothing runs
            assert.isTrue(yield* ErrGroup.tryGo(group, fn))
            assert.isFalse(yield* ErrGroup.tryGo(group, fn))
            yield* release
            yield* ErrGroup.setLimit(group, 0) // block all calls
            const blocked = yield* Effect.forEach(Array.from({ length: 1 << 10 }), () => ErrGroup.tryGo(group, fn))
            assert.isTrue(blocked.every((started) => !started))
            yield* ErrGroup.wait(group)
          })
        )
      )
  )

  it.effect("a go suspended at the limit keeps its place: tryGo does not overtake it, an interrupted one leaves", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const { seen, track } = tracker()
          const gate = yield* Latch.make(false)
          const group = yield* ErrGroup.make({ limit: 1 })
          yield* ErrGroup.go(group, track(0, gate.await))
          const first = yield* Effect.forkChild(ErrGroup.go(group, track(1, Effect.void)), { startImmediately: true })
          const second = yield* Effect.forkChild(ErrGroup.go(group, track(2, Effect.void)), { startImmediately: true })
          const third = yield* Effect.forkChild(ErrGroup.go(group, track(3, Effect.void)), { startImmediately: true })
          yield* Fiber.interrupt(second) // leaves the queue; its task never starts
          yield* gate.open // 0 ends: its slot goes to 1, then to 3 — not to a tryGo arriving meanwhile
          assert.deepStrictEqual(yield* Fiber.join(first), true)
          assert.deepStrictEqual(yield* Fiber.join(third), true)
          yield* ErrGroup.wait(group)
          assert.deepStrictEqual(seen.started, [0, 1, 3])
          assert.strictEqual(seen.peak, 1)
        })
      )
    )
  )

  const again = [
    { name: "go", spawn: ErrGroup.go, want: [0, 1, 3, 2] },
    { name: "tryGo", spawn: ErrGroup.tryGo, want: [0, 1, 3] }
  ] as const
  for (const c of again) {
    it.effect(`a fiber handed a slot that calls ${c.name} again does not overtake the gos still waiting`, () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const { seen, track } = tracker()
            const gate = yield* Latch.make(false)
            const group = yield* ErrGroup.make({ limit: 1 })
            yield* ErrGroup.go(group, track(0, gate.await))
            // 1 completes at once, so its slot is free again while its fiber goes on; 3 has waited since before
            const eager = Effect.andThen(
              ErrGroup.go(group, track(1, Effect.void)),
              c.spawn(group, track(2, Effect.void))
            )
            const first = yield* Effect.forkChild(eager, { startImmediately: true })
            const other = yield* Effect.forkChild(ErrGroup.go(group, track(3, Effect.void)), { startImmediately: true })
            yield* gate.open
            yield* Fiber.joinAll([first, other])
            yield* ErrGroup.wait(group)
            assert.deepStrictEqual(seen.started, [...c.want])
          })
        )
      )
    )
  }

  it.effect("10 000 gos suspended at a limit of 1 start one after another, the stack not growing with them", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          let ran = 0
          const gate = yield* Latch.make(false)
          const group = yield* ErrGroup.make({ limit: 1 })
          yield* ErrGroup.go(group, gate.await)
          const task = Effect.sync(() => ran++) // completes at once: its slot is free again at once
          const spawners = yield* Effect.forEach(Array.from({ length: 10_000 }), () =>
            Effect.forkChild(ErrGroup.go(group, task), { startImmediately: true })
          )
          yield* gate.open
          const started = yield* Fiber.joinAll(spawners)
          assert.isTrue(started.every((yes) => yes))
          yield* ErrGroup.wait(group)
          assert.strictEqual(ran, 10_000)
        })
      )
    )
  )

  it.effect(
    "a chain of 20 000 tasks, each starting the next at once, runs to its end without overflowing the stack",
    () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            let ran = 0
            const group = yield* ErrGroup.make()
            const chain = (n: number): Effect.Effect<unknown> =>
              Effect.suspend(() => {
                ran++
                return n === 0 ? Effect.void : ErrGroup.go(group, chain(n - 1))
              })
            yield* ErrGroup.go(group, chain(20_000))
            yield* ErrGroup.wait(group)
            assert.strictEqual(ran, 20_001)
          })
        )
      )
  )

  /** a task that ends at once, inside `go`, beside a sibling blocked on a gate */
  const atOnce: ReadonlyArray<{
    readonly name: string
    readonly task: Effect.Effect<void, string>
    readonly want: "void" | "fail" | "die"
  }> = [
    { name: "succeeds", task: Effect.sync(() => {}), want: "void" },
    { name: "fails", task: Effect.suspend(() => Effect.fail("x")), want: "fail" },
    {
      name: "dies",
      task: Effect.sync(() => {
        throw new Error("bug")
      }),
      want: "die"
    },
    { name: "interrupts itself", task: Effect.suspend(() => Effect.interrupt), want: "void" }
  ]
  for (const c of atOnce) {
    it.effect(`a task that ${c.name} at once is weighed on the spot like any other`, () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const gate = yield* Latch.make(false)
            let siblingInterrupted = false
            const group = yield* ErrGroup.make<string>()
            yield* ErrGroup.go(
              group,
              Effect.onInterrupt(gate.await, () => Effect.sync(() => (siblingInterrupted = true)))
            )
            yield* ErrGroup.go(group, c.task)
            assert.strictEqual(siblingInterrupted, c.want !== "void") // a failure interrupted it, in go's step
            yield* gate.open
            const exit = yield* Effect.exit(ErrGroup.wait(group))
            if (c.want === "void") assert.deepStrictEqual(exit, Exit.void)
            if (c.want === "fail") assert.deepStrictEqual(exit, Exit.fail("x"))
            if (c.want === "die") assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
          })
        )
      )
    )
  }

  it.effect("interrupting run interrupts its tasks and returns once their finalizers have run", () =>
    verifyNone(
      Effect.gen(function* () {
        const log: Array<string> = []
        const started = yield* Latch.make(false)
        const task = (name: string) =>
          Effect.andThen(started.open, Effect.never).pipe(
            Effect.onInterrupt(() =>
              Effect.andThen(
                Effect.sleep("1 second"),
                Effect.sync(() => log.push(name))
              )
            )
          )
        const running = yield* Effect.forkChild(ErrGroup.run([task("a"), task("b")]))
        yield* started.await
        const interrupting = yield* Effect.forkChild(Fiber.interrupt(running))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(interrupting)
        assert.deepStrictEqual(log.sort(), ["a", "b"])
      })
    )
  )
})

describe("README examples", () => {
  const fetch = (url: string): Effect.Effect<string, FetchError> =>
    url.startsWith("bad") ? Effect.fail(new FetchError({ url })) : Effect.succeed(`<html>${url}</html>`)
  const parse = (input: string): Effect.Effect<number, ParseError> =>
    Number.isNaN(Number(input)) ? Effect.fail(new ParseError({ input })) : Effect.succeed(Number(input))

  it.effect("errgroup: the error type", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          // README: three lines
          const group = yield* ErrGroup.make() // var g errgroup.Group: tasks may fail with anything
          yield* ErrGroup.go(group, fetch("bad.example")) // wait fails with unknown, like Go's error
          const both = ErrGroup.run([fetch("a.example"), parse("x")]) // Effect<void, FetchError | ParseError>
          assert.deepStrictEqual(yield* Effect.flip(ErrGroup.wait(group)), new FetchError({ url: "bad.example" }))
          const error: FetchError | ParseError = yield* Effect.flip(both)
          assert.deepStrictEqual(error, new ParseError({ input: "x" }))
        })
      )
    )
  )

  it.effect("errgroup: stop spawning once the group is done", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const urls = ["a.example", "bad.example", "c.example"]
          const fetched: Array<string> = []
          const group = yield* ErrGroup.make<FetchError>()
          const get = (url: string) => Effect.tap(fetch(url), () => Effect.sync(() => fetched.push(url)))
          // README: three lines
          for (const url of urls) {
            if (!(yield* ErrGroup.go(group, get(url)))) break // if ctx.Err() != nil { break }
          } // go answers false once a task has failed, wait has returned or the Scope has closed
          assert.deepStrictEqual(fetched, ["a.example"])
          assert.deepStrictEqual(yield* Effect.flip(ErrGroup.wait(group)), new FetchError({ url: "bad.example" }))
        })
      )
    )
  )
})
