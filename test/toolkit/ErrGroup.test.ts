/**
 * ErrGroup — table-driven like errgroup_test.go (TestZeroGroup, TestWithContext): each case lists the tasks' outcomes
 * and when they happen (seconds on the TestClock), and expects what `wait` reports and which tasks were interrupted.
 * Then TestGoLimit, TestTryGo, cancellation, Scope, closed group, and the README examples.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Exit, Fiber, Latch, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as ErrGroup from "../../src/toolkit/ErrGroup.ts"
import { verifyNone } from "../support/goleak.ts"

class TaskError extends Data.TaggedError("TaskError")<{ readonly id: string }> {}
class OtherError extends Data.TaggedError("OtherError")<{ readonly code: number }> {}

/** What one task does; `at` is in seconds on the TestClock. */
type Outcome =
  | { readonly _tag: "Succeed"; readonly at: number }
  | { readonly _tag: "Fail"; readonly at: number }
  | { readonly _tag: "Die"; readonly at: number }
  | { readonly _tag: "Interrupt"; readonly at: number } // interrupts itself: not via the group
  | { readonly _tag: "Never" }

const ok = (at = 0): Outcome => ({ _tag: "Succeed", at })
const fail = (at = 0): Outcome => ({ _tag: "Fail", at })
const die = (at = 0): Outcome => ({ _tag: "Die", at })
const never: Outcome = { _tag: "Never" }

interface Case {
  readonly name: string
  readonly tasks: ReadonlyArray<readonly [name: string, Outcome]>
  /** what `wait` reports: void, the TaskError of this task, or this task's defect */
  readonly want: { readonly _tag: "Void" } | { readonly _tag: "Error" | "Defect"; readonly task: string }
  /** the tasks interrupted by the group */
  readonly interrupted: ReadonlyArray<string>
}

const none = { _tag: "Void" } as const
const cases: ReadonlyArray<Case> = [
  { name: "no tasks (TestZeroGroup {})", tasks: [], want: none, interrupted: [] },
  { name: "one nil (TestZeroGroup {nil})", tasks: [["a", ok()]], want: none, interrupted: [] },
  { name: "one error", tasks: [["a", fail()]], want: { _tag: "Error", task: "a" }, interrupted: [] },
  {
    name: "err1, nil, err2 at once (TestZeroGroup): err1; the group is cancelled before the others start",
    tasks: [
      ["err1", fail()],
      ["nil", ok()],
      ["err2", fail()]
    ],
    want: { _tag: "Error", task: "err1" },
    interrupted: []
  },
  {
    name: "err1, nil, err2 over time: the first error; running siblings interrupted",
    tasks: [
      ["err1", fail(1)],
      ["nil", ok(0)],
      ["err2", fail(2)]
    ],
    want: { _tag: "Error", task: "err1" },
    interrupted: ["err2"]
  },
  {
    name: "first by time of failure, not by start order",
    tasks: [
      ["late", fail(3)],
      ["early", fail(1)],
      ["slow", ok(5)]
    ],
    want: { _tag: "Error", task: "early" },
    interrupted: ["late", "slow"]
  },
  {
    name: "doomed (TestWithContext): the first failure interrupts every running sibling",
    tasks: [
      ["done", ok(0)],
      ["doom", fail(2)],
      ["forever1", never],
      ["forever2", never]
    ],
    want: { _tag: "Error", task: "doom" },
    interrupted: ["forever1", "forever2"]
  },
  {
    name: "a defect ends the group like a failure and stays a defect",
    tasks: [
      ["panic", die(1)],
      ["forever", never],
      ["later", fail(2)]
    ],
    want: { _tag: "Defect", task: "panic" },
    interrupted: ["forever", "later"]
  },
  {
    name: "a task interrupted from outside the group is not a failure",
    tasks: [
      ["goexit", { _tag: "Interrupt", at: 1 }],
      ["fine", ok(2)]
    ],
    want: none,
    interrupted: ["goexit"] // its own interruption, recorded too; the sibling ran to the end
  }
]

const behave = (name: string, outcome: Outcome): Effect.Effect<void, TaskError> => {
  switch (outcome._tag) {
    case "Never":
      return Effect.never
    case "Succeed":
      return Effect.sleep(`${outcome.at} seconds`)
    case "Fail":
      return Effect.andThen(Effect.sleep(`${outcome.at} seconds`), new TaskError({ id: name }))
    case "Die":
      return Effect.andThen(Effect.sleep(`${outcome.at} seconds`), Effect.die(new Error(`panic in ${name}`)))
    case "Interrupt":
      return Effect.andThen(Effect.sleep(`${outcome.at} seconds`), Effect.interrupt)
  }
}

describe("ErrGroup", () => {
  for (const c of cases) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const interrupted: Array<string> = []
            const group = yield* ErrGroup.make<TaskError>()
            for (const [name, outcome] of c.tasks) {
              const task = behave(name, outcome).pipe(
                Effect.onInterrupt(() => Effect.sync(() => interrupted.push(name)))
              )
              yield* ErrGroup.go(group, task)
            }
            const waiter = yield* Effect.forkChild(Effect.exit(ErrGroup.wait(group)))
            yield* TestClock.adjust("10 seconds")
            const exit = yield* Fiber.join(waiter)
            if (c.want._tag === "Void") assert.deepStrictEqual(exit, Exit.void)
            else if (c.want._tag === "Error")
              assert.deepStrictEqual(exit, Exit.fail(new TaskError({ id: c.want.task })))
            else {
              assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause) && !Cause.hasFails(exit.cause))
              const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
              assert.strictEqual((defect as Error).message, `panic in ${c.want.task}`)
            }
            assert.deepStrictEqual(interrupted.sort(), [...c.interrupted].sort())
          })
        )
      )
    )
  }

  it.effect("TestGoLimit: go suspends at the limit; the peak of running tasks equals the limit", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const limit = 3
          let running = 0
          let peak = 0
          let started = 0
          const group = yield* ErrGroup.make({ limit })
          const task = Effect.gen(function* () {
            started++
            peak = Math.max(peak, ++running)
            yield* Effect.sleep("1 second")
            running--
          })
          const spawner = yield* Effect.forkChild(
            Effect.forEach(Array.from({ length: 10 }), () => ErrGroup.go(group, task))
          )
          const seen: Array<readonly [number, number]> = []
          for (let second = 0; second < 4; second++) {
            yield* Effect.yieldNow
            seen.push([started, running])
            yield* TestClock.adjust("1 second")
          }
          yield* Fiber.join(spawner)
          yield* ErrGroup.wait(group)
          assert.deepStrictEqual(seen, [
            [3, 3],
            [6, 3],
            [9, 3],
            [10, 1]
          ])
          assert.strictEqual(peak, limit)
        })
      )
    )
  )

  it.effect("a task that is already an Exit (no fiber needed) still waits for a slot and still cancels", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const interrupted: Array<string> = []
          const gate = yield* Deferred.make<void>()
          const group = yield* ErrGroup.make<string>({ limit: 1 })
          const holder = Effect.onInterrupt(Deferred.await(gate), () => Effect.sync(() => interrupted.push("holder")))
          yield* ErrGroup.go(group, holder)
          const pending = yield* Effect.forkChild(ErrGroup.go(group, Effect.fail("exit task")))
          yield* Effect.yieldNow
          assert.isUndefined(pending.pollUnsafe()) // at the limit: suspended like any task
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(pending)
          assert.strictEqual(yield* Effect.flip(ErrGroup.wait(group)), "exit task")

          const cancelling = yield* ErrGroup.make<string>()
          yield* ErrGroup.go(
            cancelling,
            Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted.push("sibling")))
          )
          yield* ErrGroup.go(cancelling, Effect.fail("at once"))
          assert.strictEqual(yield* Effect.flip(ErrGroup.wait(cancelling)), "at once")
          assert.deepStrictEqual(interrupted, ["sibling"])
        })
      )
    )
  )

  it.effect("tasks belong to the group: interrupting go's caller leaves them; a task may go more tasks", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const done: Array<string> = []
          const group = yield* ErrGroup.make<never>()
          const child = Effect.andThen(
            Effect.sleep("2 seconds"),
            Effect.sync(() => done.push("child"))
          )
          const parent = ErrGroup.go(group, child).pipe(
            Effect.andThen(Effect.sleep("1 second")),
            Effect.andThen(Effect.sync(() => done.push("parent")))
          )
          // a task's own go needs no Effect.orDie: go cannot fail, it answers whether it started the task
          const caller = yield* Effect.forkChild(Effect.andThen(ErrGroup.go(group, parent), Effect.never))
          yield* Effect.yieldNow
          yield* Fiber.interrupt(caller)
          const waiter = yield* Effect.forkChild(ErrGroup.wait(group))
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual(done, ["parent"]) // ran on after its caller was interrupted
          assert.isUndefined(waiter.pollUnsafe()) // the child, started by a task, is covered
          yield* TestClock.adjust("1 second")
          yield* Fiber.join(waiter)
          assert.deepStrictEqual(done, ["parent", "child"])
        })
      )
    )
  )

  it.effect("TestTryGo: true below the limit, false at it, true again once a slot is free; limit 0 blocks all", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const gate = yield* Latch.make(false)
          const finished = yield* Ref.make(0)
          const task = Effect.andThen(
            Latch.await(gate),
            Ref.update(finished, (n) => n + 1)
          )
          const group = yield* ErrGroup.make({ limit: 5 })
          const first = yield* Effect.forEach(Array.from({ length: 5 }), () => ErrGroup.tryGo(group, task))
          assert.deepStrictEqual(first, [true, true, true, true, true])
          assert.isFalse(yield* ErrGroup.tryGo(group, task))
          yield* Latch.open(gate)
          yield* Effect.yieldNow
          assert.strictEqual(yield* Ref.get(finished), 5)
          assert.isTrue(yield* ErrGroup.tryGo(group, task))
          yield* ErrGroup.wait(group)
          assert.strictEqual(yield* Ref.get(finished), 6)

          const blocked = yield* ErrGroup.make({ limit: 0 })
          const tries = yield* Effect.forEach(Array.from({ length: 100 }), () => ErrGroup.tryGo(blocked, task))
          assert.isTrue(tries.every((started) => !started))
          yield* ErrGroup.wait(blocked)
        })
      )
    )
  )

  it.effect("once a task failed, go and tryGo start nothing; a go suspended at the limit returns unstarted", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const ran: Array<string> = []
          const group = yield* ErrGroup.make<TaskError>({ limit: 1 })
          const failing = yield* Deferred.make<void>()
          yield* ErrGroup.go(group, Effect.andThen(Deferred.await(failing), new TaskError({ id: "a" })))
          const suspended = yield* Effect.forkChild(
            ErrGroup.go(
              group,
              Effect.sync(() => ran.push("suspended"))
            )
          )
          yield* Effect.yieldNow
          assert.isUndefined(suspended.pollUnsafe()) // waiting for the slot
          yield* Deferred.succeed(failing, undefined)
          assert.isFalse(yield* Fiber.join(suspended)) // returned unstarted
          assert.isFalse(
            yield* ErrGroup.go(
              group,
              Effect.sync(() => ran.push("after"))
            )
          )
          assert.isFalse(
            yield* ErrGroup.tryGo(
              group,
              Effect.sync(() => ran.push("try"))
            )
          )
          assert.deepStrictEqual(yield* Effect.flip(ErrGroup.wait(group)), new TaskError({ id: "a" }))
          assert.deepStrictEqual(ran, [])
        })
      )
    )
  )

  /**
   * how a group comes to start nothing more, with a `go` suspended meanwhile: at the limit of 1 behind a task blocked
   * on `gate`, or at a limit of 0 (nothing runs, so `wait` returns at once)
   */
  const endings: ReadonlyArray<{
    readonly name: string
    readonly limit: 0 | 1
    readonly end: (
      group: ErrGroup.ErrGroup<string>,
      gate: Deferred.Deferred<void, string>,
      scope: Scope.Closeable
    ) => Effect.Effect<void>
    /** what `wait` reports afterwards */
    readonly want: Exit.Exit<void, string>
  }> = [
    { name: "a task has failed", limit: 1, end: (_, gate) => Deferred.fail(gate, "boom"), want: Exit.fail("boom") },
    { name: "wait has returned", limit: 0, end: (group) => ErrGroup.wait(group).pipe(Effect.ignore), want: Exit.void },
    { name: "the Scope has closed", limit: 1, end: (_, __, scope) => Scope.close(scope, Exit.void), want: Exit.void }
  ]
  for (const c of endings) {
    it.effect(`once ${c.name}: a suspended go, then go and tryGo answer false and start nothing`, () =>
      verifyNone(
        Effect.gen(function* () {
          const ran: Array<string> = []
          const scope = yield* Scope.make()
          const group = yield* Scope.provide(ErrGroup.make<string>({ limit: c.limit }), scope)
          const gate = yield* Deferred.make<void, string>()
          if (c.limit > 0) assert.isTrue(yield* ErrGroup.go(group, Deferred.await(gate)))
          const suspended = yield* Effect.forkChild(
            ErrGroup.go(
              group,
              Effect.sync(() => ran.push("suspended"))
            ),
            { startImmediately: true }
          )
          assert.isUndefined(suspended.pollUnsafe()) // at the limit
          yield* c.end(group, gate, scope)
          assert.isFalse(yield* Fiber.join(suspended))
          assert.isFalse(
            yield* ErrGroup.go(
              group,
              Effect.sync(() => ran.push("go"))
            )
          )
          assert.isFalse(
            yield* ErrGroup.tryGo(
              group,
              Effect.sync(() => ran.push("tryGo"))
            )
          )
          assert.deepStrictEqual(ran, [])
          assert.deepStrictEqual(yield* Effect.exit(ErrGroup.wait(group)), c.want) // and again: the same outcome
          assert.deepStrictEqual(yield* Effect.exit(ErrGroup.wait(group)), c.want)
          yield* Scope.close(scope, Exit.void)
        })
      )
    )
  }

  it.effect("closing the Scope interrupts running tasks, waits for their finalizers, then go answers false", () =>
    verifyNone(
      Effect.gen(function* () {
        const log: Array<string> = []
        const slowFinalizers = yield* Latch.make(false)
        const scope = yield* Scope.make()
        const group = yield* Scope.provide(ErrGroup.make<TaskError>(), scope)
        for (const name of ["a", "b"]) {
          const task = Effect.never.pipe(
            Effect.onInterrupt(() =>
              Effect.andThen(
                Latch.await(slowFinalizers),
                Effect.sync(() => log.push(name))
              )
            )
          )
          yield* ErrGroup.go(group, task)
        }
        const waiter = yield* Effect.forkChild(Effect.exit(ErrGroup.wait(group)))
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* Effect.yieldNow
        assert.isUndefined(closing.pollUnsafe()) // waits for the tasks' finalizers
        assert.isUndefined(waiter.pollUnsafe())
        yield* Latch.open(slowFinalizers)
        yield* Fiber.join(closing)
        assert.deepStrictEqual(log.sort(), ["a", "b"])
        // interruption by the Scope is not a task failure
        assert.deepStrictEqual(yield* Fiber.join(waiter), Exit.void)
        assert.isFalse(yield* ErrGroup.go(group, Effect.void)) // the group starts nothing more
      })
    )
  )

  it.effect("run: the tasks' error types union; the first failure wins; the limit holds", () =>
    verifyNone(
      Effect.gen(function* () {
        let peak = 0
        let running = 0
        const track = <A, E>(effect: Effect.Effect<A, E>) =>
          Effect.suspend(() => {
            peak = Math.max(peak, ++running)
            return Effect.ensuring(
              effect,
              Effect.sync(() => running--)
            )
          })
        const program = ErrGroup.run(
          [
            track(Effect.sleep("2 seconds")),
            track(Effect.andThen(Effect.sleep("1 second"), new OtherError({ code: 7 }))),
            track(Effect.andThen(Effect.sleep("3 seconds"), new TaskError({ id: "c" })))
          ],
          { limit: 2 }
        )
        const fiber = yield* Effect.forkChild(Effect.flip(program))
        yield* TestClock.adjust("5 seconds")
        const error: OtherError | TaskError = yield* Fiber.join(fiber)
        assert.deepStrictEqual(error, new OtherError({ code: 7 }))
        assert.strictEqual(peak, 2)
      })
    )
  )

  it.effect("a task's error must be one of the group's", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const group = yield* ErrGroup.make<TaskError>()
          // @ts-expect-error OtherError is not in the group's error type
          yield* ErrGroup.go(group, new OtherError({ code: 1 }))
          yield* ErrGroup.go(group, Effect.void).pipe(Effect.andThen(ErrGroup.wait(group)), Effect.exit)
        })
      )
    )
  )
})

describe("README examples", () => {
  class FetchError extends Data.TaggedError("FetchError")<{ readonly url: string }> {}

  it.effect("errgroup: Group.Go / Wait", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const fetched: Array<string> = []
          const fetch = (url: string): Effect.Effect<void, FetchError> =>
            Effect.andThen(
              Effect.yieldNow,
              Effect.sync(() => fetched.push(url))
            )
          const urls = ["a.example", "b.example"]
          // README: three lines
          const group = yield* ErrGroup.make<FetchError>()
          for (const url of urls) yield* ErrGroup.go(group, fetch(url)) // g.Go(func() error { return fetch(url) })
          yield* ErrGroup.wait(group) // g.Wait(): every task has ended; fails with the first failure
          assert.deepStrictEqual(fetched.sort(), urls)
        })
      )
    )
  )

  it.effect("errgroup: WithContext", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          // README: three lines
          const group = yield* ErrGroup.make() // errgroup.WithContext: the first failure interrupts the rest
          yield* Effect.forEach([Effect.never, Effect.fail("search failed")], (task) => ErrGroup.go(group, task))
          const error = yield* Effect.flip(ErrGroup.wait(group)) // "search failed"; the other task was interrupted
          assert.strictEqual(error, "search failed")
        })
      )
    )
  )

  it.effect("errgroup: SetLimit / TryGo", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          // README: four lines
          const group = yield* ErrGroup.make()
          yield* ErrGroup.setLimit(group, 1) // g.SetLimit(1): while no task runs, as in Go (or make({ limit: 1 }))
          yield* ErrGroup.go(group, Effect.sleep("1 second")) // a second go would suspend until this one ends
          const started = yield* ErrGroup.tryGo(group, Effect.void) // g.TryGo(f): false, the group is at its limit
          assert.isFalse(started)
          yield* TestClock.adjust("1 second")
          yield* ErrGroup.wait(group)
        })
      )
    )
  )

  it.effect("goroutine: go func() with a stop", () =>
    verifyNone(
      Effect.gen(function* () {
        let ticks = 0
        let stopped = false
        const tick = Effect.andThen(
          Effect.sleep("1 second"),
          Effect.sync(() => ticks++)
        )
        const example = Effect.gen(function* () {
          // README: three lines
          const worker = yield* Effect.forkChild(Effect.forever(tick), { startImmediately: true }) // go func() {…}()
          yield* Effect.sleep("3 seconds") // meanwhile the worker ticks; forkChild: it cannot outlive this fiber
          yield* Fiber.interrupt(worker) // the stop (close(stop); <-done): returns once its finalizers have run
          stopped = worker.pollUnsafe() !== undefined
        })
        const running = yield* Effect.forkChild(example)
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.join(running)
        assert.isTrue(stopped)
        assert.isAtLeast(ticks, 2)
      })
    )
  )
})
