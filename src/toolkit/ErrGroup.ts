/**
 * ErrGroup — `golang.org/x/sync/errgroup` made with `errgroup.WithContext`, for Effect: run tasks in their own fibers,
 * wait for all of them, get the first failure; the first failure interrupts the rest.
 *
 * Built as Go builds it: a `WaitGroup` counts the running tasks, a `Semaphore` is the `SetLimit` token channel, a
 * `Deferred` holds the first failure (Go's `errOnce` + `err`), and a `FiberSet` owns the fibers so that closing the
 * Scope interrupts them and waits for them (the parent context being cancelled). Guarantees:
 * - at most `limit` tasks run at once;
 * - `wait` returns only when every started task has ended, finalizers included, and fails with the failure that
 *   happened first in time (not the first task started);
 * - once a task has failed, every other running task is interrupted and no new task starts.
 */
import { Cause, Data, Deferred, Effect, Exit, Fiber, FiberSet, type Scope, Semaphore } from "effect"
import { dual } from "effect/Function"
import * as WaitGroup from "./WaitGroup.ts"

/**
 * ErrGroupClosed — `go`/`tryGo` on a group that can no longer start tasks: its `wait` has returned (Go cancels the
 * `WithContext` context then, so a later task could only start cancelled) or its Scope has closed. Nothing was started.
 */
export class ErrGroupClosed extends Data.TaggedError("ErrGroupClosed")<{
  readonly reason: "wait returned" | "scope closed"
}> {
  override get message() {
    return `errgroup: cannot start a task: the group's ${this.reason === "wait returned" ? "wait has returned" : "scope is closed"}`
  }
}

/** ErrGroup — a group of tasks failing with `E`: make one with `make`, use it through this module's functions. */
export interface ErrGroup<in out E> {
  readonly fibers: FiberSet.FiberSet<unknown, unknown> // owns the tasks' fibers
  readonly running: WaitGroup.WaitGroup // counts started tasks until their fiber ends (Go's `wg`)
  readonly slots: Semaphore.Semaphore | undefined // `SetLimit`'s tokens; `undefined` = no limit
  readonly first: Deferred.Deferred<never, E> // the first failure; done = the group's "context" is cancelled
  readonly giveBack: Effect.Effect<void> // gives back a task's slot (nothing without a limit)
  closed: ErrGroupClosed["reason"] | undefined
}

/**
 * ErrGroup.make — an empty group owned by the current Scope; `limit` bounds the running tasks (Go's `SetLimit`:
 * absent or negative = unbounded; 0 = `go` suspends for good and `tryGo` answers false). The limit is fixed here: Go
 * forbids changing it while tasks run, so there is no `setLimit`. Closing the Scope interrupts the running tasks and
 * waits for them; a `wait` blocked meanwhile then returns void (or the earlier first failure), since interruption is
 * not a task failure.
 */
export const make = <E = never>(options?: {
  readonly limit?: number | undefined
}): Effect.Effect<ErrGroup<E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fibers = yield* FiberSet.make()
    const running = WaitGroup.makeUnsafe()
    const limit = options?.limit ?? -1
    const slots = limit < 0 ? undefined : Semaphore.makeUnsafe(limit)
    const group: ErrGroup<E> = {
      fibers,
      running,
      slots,
      first: Deferred.makeUnsafe<never, E>(),
      giveBack: slots === undefined ? Effect.void : Effect.asVoid(Semaphore.release(slots, 1)),
      closed: undefined
    }
    // runs before the FiberSet's finalizer (added earlier), so no task starts while it interrupts the running ones
    yield* Effect.addFinalizer(() => Effect.sync(() => (group.closed ??= "scope closed")))
    return group
  })

/**
 * A task ended with `exit`. A failure — typed or a defect — that is the group's first cancels the group: every other
 * running task is interrupted by `self`, the ending task's fiber, without waiting for them (`wait` does that).
 *
 * Why a defect is not turned into an `E`: x/sync does not recover a task's panic (it is not an error the group can
 * report); kratos recovers it into an error. Here a defect ends the group exactly like a failure and `wait` fails with
 * the same Cause, defect included, so it is neither lost nor passed off as one of the task's typed errors.
 *
 * Why interruption is not a failure: a task interrupted by the group, by the Scope, or by itself
 * (`Effect.interrupt`) did not fail; it counts as having returned, like a Go task that calls `runtime.Goexit`.
 */
const weigh = <E>(group: ErrGroup<E>, exit: Exit.Exit<unknown, E>, self: Fiber.Fiber<unknown, unknown>): void => {
  if (exit._tag === "Success" || Cause.hasInterruptsOnly(exit.cause)) return
  if (!Deferred.doneUnsafe(group.first, Exit.failCause(exit.cause))) return
  for (const fiber of Array.from(group.fibers)) if (fiber !== self) fiber.interruptUnsafe(self.id)
}

// `go`/`tryGo` are the per-task path (benchmarked against `Effect.forEach`): no `Effect.fn` span, per task one fiber
// and one `onExitPrimitive`, counting in place (`WaitGroup.addUnsafe`). A task that is already an `Exit`
// (`Effect.void`, `Effect.fail(e)`) needs no fiber and is weighed at once, as `Effect.forEach` does.

/** Starts `task` on a slot already taken (if limited): `yes` once its fiber started, else `no` (slot given back). */
const start = <E, R, A>(
  group: ErrGroup<E>,
  task: Effect.Effect<unknown, E, R>,
  yes: Effect.Effect<A>,
  no: Effect.Effect<A>
): Effect.Effect<A, ErrGroupClosed, R> => {
  if (group.closed !== undefined || Deferred.isDoneUnsafe(group.first)) {
    const reason = group.closed
    return Effect.andThen(group.giveBack, reason === undefined ? no : new ErrGroupClosed({ reason }))
  }
  if (Exit.isExit(task)) {
    return Effect.withFiber((self) => {
      weigh(group, task as Exit.Exit<unknown, E>, self)
      return Effect.andThen(group.giveBack, yes)
    })
  }
  let started = false
  // The fiber starts at once (FiberSet.run's default) and counts itself in its first step, synchronously inside
  // `FiberSet.run`: nothing can interrupt it before `onExitPrimitive` is in place, so every count is undone exactly
  // once, and a `wait` that follows `go` covers the task (Go: `wg.Add(1)` before `go`).
  const fiberTask = Effect.suspend(() => {
    started = true
    WaitGroup.addUnsafe(group.running, 1)
    return Effect.onExitPrimitive(task, (exit) => {
      weigh(group, exit, Fiber.getCurrent()!)
      WaitGroup.addUnsafe(group.running, -1)
      return group.slots === undefined ? undefined : group.giveBack
    })
  })
  return Effect.flatMap(FiberSet.run(group.fibers, fiberTask), () =>
    started ? yes : Effect.andThen(group.giveBack, no)
  )
}

const [succeedTrue, succeedFalse] = [Effect.succeed(true), Effect.succeed(false)]
/**
 * ErrGroup.go — runs `task` in a new fiber of the group (Go's `Group.Go`). Suspends while `limit` tasks are running.
 * The task's value is ignored; its failure is the group's if it is the first. Deliberate differences from Go:
 * - once the group is cancelled (a task has failed), `task` is not started and `go` returns at once — Go would
 *   start it with a cancelled context; here it would only be interrupted before its first step;
 * - after `wait` has returned, or the Scope has closed, `go` fails with `ErrGroupClosed` (Go's group can be reused
 *   after `Wait`, but its `WithContext` context is cancelled for good).
 * The task's fiber belongs to the group's Scope, not to the fiber calling `go`: interrupting the caller leaves the
 * task running. A task may `go` more tasks into its own group; `wait` covers them.
 */
export const go: {
  <E, R>(task: Effect.Effect<unknown, NoInfer<E>, R>): (self: ErrGroup<E>) => Effect.Effect<void, ErrGroupClosed, R>
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, NoInfer<E>, R>): Effect.Effect<void, ErrGroupClosed, R>
} = dual(2, <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, E, R>): Effect.Effect<void, ErrGroupClosed, R> => {
  const slots = self.slots
  if (slots === undefined) return Effect.suspend(() => start(self, task, Effect.void, Effect.void))
  // Uninterruptible from taking the slot until the task's fiber owns it, so a taken slot is never lost; `start`
  // checks the group again once the slot is ours: it may have been cancelled or closed meanwhile.
  return Effect.uninterruptibleMask((restore) => {
    if (self.closed !== undefined) return new ErrGroupClosed({ reason: self.closed })
    return Effect.flatMap(restore(Semaphore.take(slots, 1)), () => start(self, task, Effect.void, Effect.void))
  })
})

/**
 * ErrGroup.tryGo — `go` without waiting (Go's `TryGo`): `true` if `task` was started, `false` if `limit` tasks are
 * running or the group is cancelled (a task has failed). Fails with `ErrGroupClosed` like `go`.
 */
export const tryGo: {
  <E, R>(task: Effect.Effect<unknown, NoInfer<E>, R>): (self: ErrGroup<E>) => Effect.Effect<boolean, ErrGroupClosed, R>
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, NoInfer<E>, R>): Effect.Effect<boolean, ErrGroupClosed, R>
} = dual(2, <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, E, R>) =>
  Effect.uninterruptible(
    Effect.suspend(() => {
      if (self.closed !== undefined) return new ErrGroupClosed({ reason: self.closed })
      if (self.slots === undefined) return start(self, task, succeedTrue, succeedFalse)
      return Effect.flatMap(Semaphore.takeIfAvailable(self.slots, 1), (taken) =>
        taken ? start(self, task, succeedTrue, succeedFalse) : succeedFalse
      )
    })
  )
)

/**
 * ErrGroup.wait — waits until every started task has ended, then fails with the first failure's Cause (a defect
 * stays a defect) or succeeds. From then on the group is closed: `go` fails with `ErrGroupClosed`, and later
 * `wait`s return the same outcome at once. A `go` still suspended for a slot when `wait` returns fails that way too.
 * As in Go, a task that waits for its own group never returns.
 */
export const wait = <E>(self: ErrGroup<E>): Effect.Effect<void, E> =>
  Effect.andThen(
    WaitGroup.wait(self.running),
    Effect.suspend(() => {
      self.closed ??= "wait returned"
      return Deferred.isDoneUnsafe(self.first) ? Deferred.await(self.first) : Effect.void
    })
  )

/**
 * ErrGroup.run — the whole pattern in one call: a group in its own Scope, every task `go`ne in order (respecting
 * `limit`), then `wait`. Fails with the first failure; the error type is the union of the tasks' error types.
 */
export const run = <const Tasks extends ReadonlyArray<Effect.Effect<unknown, unknown, unknown>>>(
  tasks: Tasks,
  options?: { readonly limit?: number | undefined }
): Effect.Effect<void, Effect.Error<Tasks[number]>, Effect.Services<Tasks[number]>> =>
  Effect.scoped(
    Effect.gen(function* () {
      type E = Effect.Error<Tasks[number]>
      const group = yield* make<E>(options)
      const all = tasks as ReadonlyArray<Effect.Effect<unknown, E, Effect.Services<Tasks[number]>>>
      // `go` cannot fail here (no `wait` yet, Scope open): `orDie` only drops ErrGroupClosed from the type
      yield* Effect.orDie(Effect.forEach(all, (task) => go(group, task), { discard: true }))
      yield* wait(group)
    })
  )
