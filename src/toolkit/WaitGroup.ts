/**
 * WaitGroup — Go's `sync.WaitGroup`: a counter of outstanding work and a way to wait until it reaches zero.
 *
 * Built on a `Latch` that is open exactly while the counter is zero: `add` moves the counter (closing the latch when it
 * leaves zero, opening it when it returns there), `wait` is `Latch.await`. Every waiter is released when the counter
 * reaches zero; `wait` on a zero counter returns at once (the zero value is ready to use, as in Go). A WaitGroup can be
 * reused once it has reached zero. The counter is a plain field: fibers run on one thread and each update happens in
 * one synchronous step, so no update is lost.
 */
import { Data, Effect, type Fiber, Latch, type Scope } from "effect"
import { dual } from "effect/Function"

/**
 * NegativeCounter — the defect `add`/`done` die with when the counter would drop below zero (Go panics with
 * "sync: negative WaitGroup counter"), or when `delta` is not an integer. It is a bug in the caller — more `done`
 * than `add` — so it is a defect, not a typed failure; the counter keeps its previous value.
 */
export class NegativeCounter extends Data.TaggedError("NegativeCounter")<{
  readonly counter: number
  readonly delta: number
}> {
  override get message() {
    return Number.isInteger(this.delta)
      ? `sync: negative WaitGroup counter (add(${this.delta}) on a counter of ${this.counter})`
      : `sync: WaitGroup delta must be an integer, got ${this.delta}`
  }
}

/** WaitGroup — the counter and the latch that is open while it is zero. Make one with `make`. */
export interface WaitGroup {
  /** outstanding work; never negative */
  counter: number
  /** open exactly while `counter` is zero */
  readonly zero: Latch.Latch
}

/** WaitGroup.makeUnsafe — a WaitGroup with a zero counter, made outside an Effect. */
export const makeUnsafe = (): WaitGroup => ({ counter: 0, zero: Latch.makeUnsafe(true) })

/** WaitGroup.make — a WaitGroup with a zero counter (Go: `var wg sync.WaitGroup`). */
export const make = (): Effect.Effect<WaitGroup> => Effect.sync(makeUnsafe)

/**
 * WaitGroup.addUnsafe — `add` outside an Effect: moves the counter and the latch in place (waiters released by
 * reaching zero resume at once), and throws `NegativeCounter` instead of dying. For modules built on WaitGroup.
 */
export const addUnsafe = (self: WaitGroup, delta: number): void => {
  const before = self.counter
  const next = before + delta
  if (next < 0 || !Number.isInteger(delta)) throw new NegativeCounter({ counter: before, delta })
  self.counter = next
  if (next === 0) {
    if (before !== 0) Latch.openUnsafe(self.zero)
  } else if (before === 0) Latch.closeUnsafe(self.zero)
}

// `add`/`done`/`addUnsafe` are meant for per-task paths: no `Effect.fn` span, one `sync` each, no allocation.

/**
 * WaitGroup.add — adds `delta` (may be negative) to the counter. Reaching zero releases every `wait`er; leaving zero
 * makes later `wait`s suspend. Dropping below zero dies with `NegativeCounter` and leaves the counter unchanged (Go
 * panics). As in Go, an `add` that starts new work must happen before the `wait` that should cover it.
 */
export const add: {
  (delta: number): (self: WaitGroup) => Effect.Effect<void>
  (self: WaitGroup, delta: number): Effect.Effect<void>
} = dual(2, (self: WaitGroup, delta: number): Effect.Effect<void> => Effect.sync(() => addUnsafe(self, delta)))

/** WaitGroup.done — `add(wg, -1)`: one unit of work has finished. Dies with `NegativeCounter` on a zero counter. */
export const done = (self: WaitGroup): Effect.Effect<void> => add(self, -1)

/**
 * WaitGroup.wait — suspends until the counter is zero; returns at once when it already is. Any number of fibers may
 * wait; all are released together. Interrupting a waiter only removes that waiter.
 */
export const wait = (self: WaitGroup): Effect.Effect<void> => Latch.await(self.zero)

/**
 * WaitGroup.go — Go 1.25's `wg.Go(f)`: counts `effect` (`add(1)`), runs it in a new fiber owned by the Scope and
 * counts it done when it ends — success, failure or interruption. Returns the fiber, to join or interrupt it.
 *
 * The fiber starts at once and counts itself before this returns, so a `wait` that follows covers it. Its failure is
 * not the WaitGroup's business (Go's `f` returns nothing): join the fiber, or use `ErrGroup`, to see it. Closing the
 * Scope interrupts the fiber, which then counts done. On an already closed Scope the fiber never runs and the counter
 * is not touched.
 */
export const go: {
  <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): (self: WaitGroup) => Effect.Effect<Fiber.Fiber<A, E>, never, R | Scope.Scope>
  <A, E, R>(self: WaitGroup, effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.Fiber<A, E>, never, R | Scope.Scope>
} = dual(
  2,
  <A, E, R>(
    self: WaitGroup,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Fiber.Fiber<A, E>, never, R | Scope.Scope> =>
    // The fiber counts itself in its first step (it starts immediately), inside an uninterruptible region that ends
    // once `done` is installed: the count is balanced even if the fiber is interrupted at once.
    Effect.forkScoped(
      Effect.uninterruptibleMask((restore) =>
        Effect.andThen(add(self, 1), Effect.ensuring(restore(effect), done(self)))
      ),
      { startImmediately: true }
    )
)
