/**
 * ErrGroup — `golang.org/x/sync/errgroup` made with `errgroup.WithContext`, for Effect: run tasks in their own fibers,
 * wait for all of them, get the first failure; the first failure interrupts the rest. Guarantees:
 * - at most `limit` tasks run at once; `go` suspends while the group is at its limit and gets a slot first come,
 *   first served; `tryGo` never waits;
 * - `wait` returns only when every started task has ended, finalizers included, and fails with the failure that
 *   happened first in time (not the first task started);
 * - once a task has failed, every other running task is interrupted and no new task starts;
 * - a defect ends the group like a failure and stays a defect; interruption is never a failure.
 *
 * Built as one small state machine, not from Go's parts (a WaitGroup, a token channel, a Once), so that a task costs
 * what `Effect.forEach` pays for it: a count of running tasks, a FIFO of `go`s waiting for a slot, the fibers of the
 * tasks still running, the first failure's Cause. Each transition is one synchronous step (fibers run on one thread
 * and switch only between steps), so none is lost or seen half done. A task's fiber starts at once, inside `go`, as
 * `Effect.forEach` starts its fibers: a task that completes at once is weighed on the spot, without an observer,
 * and never joins the set of fibers to interrupt.
 */
import { Cause, type Context, Data, Effect, type Exit, Fiber, type Scope } from "effect"
import { dual } from "effect/Function"

/**
 * LimitInUse — the defect `setLimit` dies with when tasks are running (Go panics: "errgroup: modify limit while 3
 * goroutines in the group are still active"). It is a bug in the caller, not a task failure; the limit is unchanged.
 */
export class LimitInUse extends Data.TaggedError("LimitInUse")<{ readonly active: number; readonly limit: number }> {
  override get message() {
    return `errgroup: modify limit (to ${this.limit}) while ${this.active} tasks in the group are still active`
  }
}

const TypeId = "~app/ErrGroup"

/** ErrGroup — a group of tasks whose first failure is an `E`: make one with `make`, use it through this module. */
export interface ErrGroup<in out E> {
  readonly [TypeId]: (_: E) => E
}

/** a `go` waiting for a slot: its task, the services to run it with, and its fiber's resumption */
interface Queued {
  readonly task: Effect.Effect<unknown, unknown, unknown>
  readonly context: Context.Context<never>
  readonly resume: (started: Effect.Effect<boolean>) => void
}

class Group<E> implements ErrGroup<E> {
  declare readonly [TypeId]: (_: E) => E
  /** at most this many tasks run at once; `Infinity` = unbounded */
  limit: number
  constructor(limit: number) {
    this.limit = limit
  }
  /** tasks started and not ended (Go's WaitGroup counter, and the slots taken when limited) */
  running = 0
  /** the fibers of the running tasks that did not complete at once */
  readonly fibers = new Set<Fiber.Fiber<unknown, unknown>>()
  /** `go`s suspended at the limit, first come first served */
  readonly queue: Array<Queued> = []
  /** `wait`s suspended until no task runs */
  readonly waiters: Array<() => void> = []
  /** the first failure: from then on the group is cancelled */
  failure: Cause.Cause<E> | undefined = undefined
  /** why the group can no longer start a task, besides a failure */
  closed: "wait returned" | "scope closed" | undefined = undefined
  /** `settle` is handing slots out: a nested `settle` leaves the work to it */
  settling = false
}

const group = <E>(self: ErrGroup<E>) => self as Group<E>
const unlimited = (limit: number | undefined) => (limit === undefined || limit < 0 ? Number.POSITIVE_INFINITY : limit)
const [succeedTrue, succeedFalse] = [Effect.succeed(true), Effect.succeed(false)]

/** the group starts no new task: a task has failed, `wait` has returned, or the Scope has closed */
const stopped = <E>(g: Group<E>) => g.failure !== undefined || g.closed !== undefined

/** Fork — `Effect.runForkWith(context)`: starts a fiber with the services of the fiber calling `go`, at once */
type Fork = <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>

/**
 * Task fibers being started inside one another right now: a task that `go`s at once starts its child inside its own
 * first step, on the same stack. Past `maxNesting`, a task's first step waits for the scheduler instead, so that a
 * chain of tasks each starting the next cannot overflow the stack (Effect's own `startImmediately` forks do, losing
 * the fiber that overflows).
 */
let nesting = 0
const maxNesting = 64

/** Starts `task` in a fiber of its own, at once (Go: `wg.Add(1); go …`). */
const start = <E>(g: Group<E>, task: Effect.Effect<unknown, unknown, unknown>, fork: Fork) => {
  g.running++
  let fiber: Fiber.Fiber<unknown, E>
  nesting++
  try {
    fiber = fork((nesting > maxNesting ? Effect.andThen(Effect.yieldNow, task) : task) as Effect.Effect<unknown, E>)
  } finally {
    nesting--
  }
  const exit = fiber.pollUnsafe()
  if (exit !== undefined) return end(g, exit, fiber.id)
  g.fibers.add(fiber)
  fiber.addObserver((exit) => {
    g.fibers.delete(fiber)
    end(g, exit, fiber.id)
  })
}

/**
 * A task ended. A failure — typed or a defect — that is the group's first cancels the group: the `go`s waiting for a
 * slot return `false`, and every running task is interrupted (by the failed task's fiber), without waiting for them:
 * `wait` does that.
 *
 * Why a defect is not turned into an `E`: x/sync does not recover a task's panic (it is not an error the group can
 * report); kratos recovers it into an error. Here a defect ends the group exactly like a failure and `wait` fails with
 * the same Cause, defect included, so it is neither lost nor passed off as one of the tasks' typed errors.
 *
 * Why interruption is not a failure: a task interrupted by the group, by the Scope, or by itself
 * (`Effect.interrupt`) did not fail; it counts as having returned, like a Go task that calls `runtime.Goexit`.
 */
const end = <E>(g: Group<E>, exit: Exit.Exit<unknown, E>, by: number) => {
  g.running--
  if (exit._tag === "Failure" && g.failure === undefined && !Cause.hasInterruptsOnly(exit.cause)) {
    g.failure = exit.cause
    refuseQueued(g)
    for (const fiber of Array.from(g.fibers)) fiber.interruptUnsafe(by)
  }
  settle(g)
}

/** every `go` waiting for a slot returns `false`: the group will start nothing more */
const refuseQueued = <E>(g: Group<E>) => {
  for (const queued of g.queue.splice(0)) queued.resume(succeedFalse)
}

/**
 * Hands free slots to the queued `go`s in order (each task starts here, the slot never free in between, so a later
 * `go` cannot overtake), then, if no task runs, releases the `wait`s and closes the group. A loop, not recursion: a
 * task that completes at once while its slot is handed out settles nothing itself.
 */
const settle = <E>(g: Group<E>): void => {
  if (g.settling) return
  g.settling = true
  try {
    while (g.queue.length > 0 && g.running < g.limit && !stopped(g)) {
      const next = g.queue.shift() as Queued
      start(g, next.task, Effect.runForkWith(next.context))
      next.resume(succeedTrue)
    }
  } finally {
    g.settling = false
  }
  if (g.running === 0 && g.waiters.length > 0) {
    g.closed ??= "wait returned"
    refuseQueued(g)
    for (const release of g.waiters.splice(0)) release()
  }
}

/** no task runs, and none is being started */
const idle = <E>(g: Group<E>) => g.running === 0 && !g.settling

/** Removes `item` from `list` (an interrupted waiter leaving its queue). */
const remove = <A>(list: Array<A>, item: A) => {
  const at = list.indexOf(item)
  if (at >= 0) list.splice(at, 1)
}

/** Closing the Scope: nothing starts any more, every running task is interrupted and awaited. */
const shutdown = <E>(g: Group<E>): Effect.Effect<void> =>
  Effect.suspend(() => {
    g.closed ??= "scope closed"
    refuseQueued(g)
    return g.fibers.size === 0 ? Effect.void : Fiber.interruptAll(Array.from(g.fibers))
  })

/**
 * ErrGroup.make — an empty group owned by the current Scope (`errgroup.WithContext`). `limit` is `SetLimit`'s:
 * absent or negative = unbounded; 0 = `go` suspends until `setLimit` raises it, `tryGo` answers false.
 *
 * The error type: `make()` is Go's group of `func() error` — it takes tasks failing with anything, and `wait` fails
 * with `unknown`; `make<E>()` checks every task against `E` and `wait` fails with an `E`. TypeScript cannot widen the
 * type of a group already made at each `go`, so for an inferred error type use `run`, which takes the tasks at once.
 *
 * Closing the Scope interrupts the running tasks and waits for them; a `wait` blocked meanwhile then returns void (or
 * the earlier first failure), since interruption is not a task failure.
 */
export const make = <E = unknown>(options?: {
  readonly limit?: number | undefined
}): Effect.Effect<ErrGroup<E>, never, Scope.Scope> =>
  Effect.suspend(() => {
    const g = new Group<E>(unlimited(options?.limit))
    return Effect.as(
      Effect.addFinalizer(() => shutdown(g)),
      g
    )
  })

/**
 * ErrGroup.go — runs `task` in a new fiber of the group (Go's `Group.Go`); suspends while `limit` tasks are running.
 * Answers whether the task was started: `true`, or `false` when the group starts nothing more — a task has failed,
 * `wait` has returned, or the Scope has closed — including for a `go` that was suspended at the limit then.
 *
 * Why a boolean and not an error: Go's `Go` cannot fail, and neither can this; the `false` is the answer Go gives by
 * starting the function with a cancelled context (or, after `Wait`, in a group nobody waits for). Ignore it as Go code
 * does (`yield* ErrGroup.go(group, task)`), or stop a loop on it, as Go code checks `ctx.Err()`. A task's value is
 * ignored; its failure is the group's if it is the first. The task's fiber belongs to the group, not to the fiber
 * calling `go`: interrupting the caller leaves the task running. A task may `go` more tasks into its own group;
 * `wait` covers them.
 */
export const go: {
  <E, R>(task: Effect.Effect<unknown, NoInfer<E>, R>): (self: ErrGroup<E>) => Effect.Effect<boolean, never, R>
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, NoInfer<E>, R>): Effect.Effect<boolean, never, R>
} = dual(
  2,
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, E, R>): Effect.Effect<boolean, never, R> =>
    Effect.withFiber((fiber) => {
      const g = group(self)
      if (stopped(g)) return succeedFalse
      if (g.queue.length === 0 && g.running < g.limit) {
        start(g, task, Effect.runForkWith(fiber.context))
        return succeedTrue
      }
      return Effect.callback<boolean>((resume) => {
        const queued: Queued = { task, context: fiber.context, resume }
        g.queue.push(queued)
        return Effect.sync(() => remove(g.queue, queued))
      })
    })
)

/**
 * ErrGroup.tryGo — `go` without waiting (Go's `TryGo`): `true` if `task` was started, `false` if `limit` tasks are
 * running (or `go`s are already waiting for a slot: no overtaking them), or if the group starts nothing more.
 */
export const tryGo: {
  <E, R>(task: Effect.Effect<unknown, NoInfer<E>, R>): (self: ErrGroup<E>) => Effect.Effect<boolean, never, R>
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, NoInfer<E>, R>): Effect.Effect<boolean, never, R>
} = dual(
  2,
  <E, R>(self: ErrGroup<E>, task: Effect.Effect<unknown, E, R>): Effect.Effect<boolean, never, R> =>
    Effect.withFiber((fiber) => {
      const g = group(self)
      if (stopped(g) || g.queue.length > 0 || g.running >= g.limit) return succeedFalse
      start(g, task, Effect.runForkWith(fiber.context))
      return succeedTrue
    })
)

/**
 * ErrGroup.setLimit — Go's `SetLimit`: at most `n` tasks run at once from now on; negative = unbounded, 0 = none
 * starts. Like Go, a limit may be set only while no task runs: otherwise `setLimit` dies with `LimitInUse` (Go
 * panics), because the tasks already running were not started under the new limit. Removing the limit (`n < 0`) is
 * allowed at any time, as in Go. `go`s suspended at the old limit (e.g. 0) start at once if the new one lets them.
 */
export const setLimit: {
  (n: number): <E>(self: ErrGroup<E>) => Effect.Effect<void>
  <E>(self: ErrGroup<E>, n: number): Effect.Effect<void>
} = dual(
  2,
  <E>(self: ErrGroup<E>, n: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const g = group(self)
      if (n >= 0 && g.running > 0) return Effect.die(new LimitInUse({ active: g.running, limit: n }))
      g.limit = unlimited(n)
      settle(g)
      return Effect.void
    })
)

/**
 * ErrGroup.wait — waits until no task of the group runs, then fails with the first failure's Cause (a defect stays a
 * defect) or succeeds. From then on the group is closed: `go` and `tryGo` answer `false` (a `go` still suspended for a
 * slot returns `false`), and a later `wait` returns the same outcome at once. As in Go, a task that waits for its own
 * group never returns.
 */
export const wait = <E>(self: ErrGroup<E>): Effect.Effect<void, E> =>
  Effect.suspend(() => {
    const g = group(self)
    if (idle(g)) {
      g.closed ??= "wait returned"
      refuseQueued(g)
      return outcome(g)
    }
    const released = Effect.callback<void>((resume) => {
      const release = () => resume(Effect.void)
      g.waiters.push(release)
      return Effect.sync(() => remove(g.waiters, release))
    })
    return Effect.andThen(
      released,
      Effect.suspend(() => outcome(g))
    )
  })

const outcome = <E>(g: Group<E>): Effect.Effect<void, E> =>
  g.failure === undefined ? Effect.void : Effect.failCause(g.failure)

/**
 * ErrGroup.run — the whole pattern in one call, with the error type inferred: a group of its own, every task `go`ne
 * in order (respecting `limit`), then `wait`. Fails with the first failure; the error type is the union of the tasks'
 * error types. Interrupting `run` interrupts the tasks and waits for them.
 */
export const run = <const Tasks extends ReadonlyArray<Effect.Effect<unknown, unknown, unknown>>>(
  tasks: Tasks,
  options?: { readonly limit?: number | undefined }
): Effect.Effect<void, Effect.Error<Tasks[number]>, Effect.Services<Tasks[number]>> =>
  Effect.suspend(() => {
    type E = Effect.Error<Tasks[number]>
    type R = Effect.Services<Tasks[number]>
    const g = new Group<E>(unlimited(options?.limit))
    const all = tasks as unknown as ReadonlyArray<Effect.Effect<unknown, E, R>>
    let next = 0
    // `go` for each task in turn, as one loop: the tasks that get a slot at once start in this step, without an
    // Effect per task (as `Effect.forEach` does); at the limit, `go` suspends for the next one, then the loop goes on
    const goAll: Effect.Effect<void, never, R> = Effect.withFiber((fiber) => {
      const fork = Effect.runForkWith(fiber.context)
      while (next < all.length && !stopped(g)) {
        const task = all[next++] as Effect.Effect<unknown, E, R>
        if (g.queue.length > 0 || g.running >= g.limit) return Effect.flatMap(go(g, task), () => goAll)
        start(g, task, fork)
      }
      return Effect.void
    })
    return Effect.ensuring(Effect.andThen(goAll, wait(g)), shutdown(g))
  })
