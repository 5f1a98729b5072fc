/**
 * Mutex — Go's `sync.Mutex` for fibers: at most one fiber at a time runs inside the lock.
 *
 * Built on a one-permit `Semaphore`. Guarantees:
 * - mutual exclusion: while one fiber runs the effect given to `withLock` (or holds the scope of `lock`), no other
 *   fiber does;
 * - no leaked lock: the lock is released when the effect ends, however it ends — success, failure, defect, or
 *   interruption. Go's `defer mu.Unlock()` is built in; there is no bare `unlock`, so Go's fatal "unlock of unlocked
 *   mutex" cannot happen;
 * - FIFO: fibers waiting in `withLock`/`lock` acquire in the order they began to wait, and a fiber that arrives later
 *   never overtakes one already waiting — not even the fiber that just unlocked and asks again at once. That is Go's
 *   "starvation mode" all the time, where Go enters it only after a waiter has waited 1 ms: Go lets running
 *   goroutines barge because handing the lock to a sleeping one costs a context switch; fibers on one thread gain
 *   nothing from barging, so fairness is free here. `tryLock` is the one exception (see there);
 * - an interrupted waiter leaves the queue without taking the lock, and the next waiter is served.
 *
 * Not reentrant, like Go's: a fiber that asks again for a lock it holds waits for itself forever (Go reports "all
 * goroutines are asleep - deadlock!" only when the whole program is stuck; here the fiber just hangs until
 * interrupted).
 *
 * Pipeable like `Semaphore.withPermit`: `Mutex.withLock(mu, effect)` or `effect.pipe(Mutex.withLock(mu))`.
 *
 * Hot path: `withLock` is the Semaphore's own `withPermit` — no span, no allocation of its own — so a lock costs what
 * a permit costs.
 */
import { Effect, type Option, type Scope, Semaphore } from "effect"

const TypeId = "~app/Mutex"

/** Mutex — a mutual-exclusion lock, unlocked when made. */
export interface Mutex {
  readonly [TypeId]: typeof TypeId
  /** the one permit, taken while the lock is held (internal: use this module's functions) */
  readonly permit: Semaphore.Semaphore
}

/** makeUnsafe — a new, unlocked Mutex, outside an Effect (e.g. a module-level lock like Go's `var mu sync.Mutex`). */
export const makeUnsafe = (): Mutex => ({ [TypeId]: TypeId, permit: Semaphore.makeUnsafe(1) })

/** make — a new, unlocked Mutex. */
export const make = (): Effect.Effect<Mutex> => Effect.sync(makeUnsafe)

/**
 * withLock — runs `effect` holding the lock: waits (FIFO) until the lock is free, runs `effect`, and releases the lock
 * when `effect` ends in any way. Go: `mu.Lock(); defer mu.Unlock(); …`. Waiting is interruptible; the effect itself
 * keeps the caller's interruptibility. Nested `withLock` on the same Mutex in one fiber deadlocks (not reentrant).
 */
export function withLock(self: Mutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
export function withLock<A, E, R>(self: Mutex, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
export function withLock<A, E, R>(self: Mutex, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined ? self.permit.withPermits(1) : self.permit.withPermit(effect)
}

/**
 * tryLock — Go 1.18's `TryLock`, shaped so the lock cannot leak: runs `effect` holding the lock only if the lock is
 * free right now, giving `Some(result)`; gives `None` at once, without running `effect`, if it is held. Never waits.
 * Like Go's TryLock it may take a lock that was just released but not yet handed to the waiter that will get it next
 * (that waiter then waits for this holder); "correct uses of TryLock do exist, they are rare" (Go's doc) — prefer
 * `withLock`.
 */
export function tryLock(self: Mutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
export function tryLock<A, E, R>(self: Mutex, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R>
export function tryLock<A, E, R>(self: Mutex, effect?: Effect.Effect<A, E, R>) {
  const attempt = self.permit.withPermitsIfAvailable(1)
  return effect === undefined ? attempt : attempt(effect)
}

/**
 * lock — takes the lock for the rest of the current Scope: waits (FIFO, interruptibly), then holds the lock until the
 * Scope closes. For a lock whose span is not one effect (Go code that calls `Lock` in one place and `Unlock` in the
 * deferred cleanup of a longer function). Gives back `unlock` (Go's `mu.Unlock()` in the middle of the function), to
 * release the lock earlier and go on; it is idempotent — only its first run, or the Scope's close, releases, so Go's
 * fatal "unlock of unlocked mutex" cannot happen. Taking the lock and registering its release are one
 * uninterruptible step. As in Go, where "a locked Mutex is not associated with a particular goroutine", whoever runs
 * `unlock` or closes the Scope unlocks.
 */
export const lock = (self: Mutex): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.andThen(
      restore(self.permit.take(1)),
      Effect.suspend(() => {
        let held = true
        // uninterruptible: once `held` is cleared, the permit must go back even if the caller is interrupted
        const unlock = Effect.uninterruptible(
          Effect.suspend(() => {
            if (!held) return Effect.void
            held = false
            return Effect.asVoid(self.permit.release(1))
          })
        )
        return Effect.as(
          Effect.addFinalizer(() => unlock),
          unlock
        )
      })
    )
  )
