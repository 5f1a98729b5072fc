/**
 * RWMutex — Go's `sync.RWMutex` for fibers: many readers at once, or one writer alone.
 *
 * Guarantees (Go's, including its answer to writer starvation):
 * - readers share: any number of fibers run `withReadLock` together while no writer holds or waits for the lock;
 * - a writer is alone: while `withWriteLock` runs its effect, no reader and no other writer runs;
 * - a waiting writer blocks new readers: once a writer waits, readers that arrive after it wait until it has had the
 *   lock ("If any goroutine calls Lock while the lock is already locked by one or more readers, concurrent calls to
 *   RLock will block until the writer has acquired (and released) the lock") — so a stream of readers cannot starve a
 *   writer;
 * - readers cannot starve either: when a writer unlocks, the readers that waited behind it are let in at once, before
 *   the next writer, which then waits for them (Go hands them the lock in `Unlock` the same way);
 * - writers acquire in FIFO order (they queue on a one-permit Semaphore, Go's `rw.w` Mutex);
 * - every lock is released however its effect ends; an interrupted waiter leaves no trace — an interrupted waiting
 *   writer lets the readers queued behind it in, as if it had locked and unlocked at once.
 *
 * Why not Effect's `TxReentrantLock`: it lets new readers in while a writer waits (a reader is refused only while a
 * writer holds the lock), so a steady stream of readers starves writers — test/RWMutex.test.ts shows it. Like Go's,
 * this lock is not reentrant: a fiber holding it that asks again may deadlock — a nested write lock always, a nested
 * read lock as soon as a writer waits in between (Go: "this prohibits recursive read-locking").
 *
 * Pipeable like `Semaphore.withPermit`: `RWMutex.withReadLock(rw, effect)` or `effect.pipe(RWMutex.withReadLock(rw))`.
 * For a lock whose span is not one effect, `readLock` / `writeLock` hold it for the rest of a Scope and hand back an
 * idempotent `unlock` to release it earlier (Go's `RUnlock` / `Unlock` in the middle of a function).
 *
 * Implementation: plain counters changed only inside single synchronous steps (atomic: one thread runs fibers, and
 * the runtime switches fibers only between steps), two Latches for parking, and a Semaphore for writers. No
 * transaction and no span on these paths — they are hot; an uncontended reader never touches a Latch.
 */
import { Effect, Latch, Option, type Scope, Semaphore } from "effect"

const TypeId = "~app/RWMutex"

/** RWMutex — a reader/writer mutual-exclusion lock, unlocked when made. */
export interface RWMutex {
  readonly [TypeId]: typeof TypeId
}

class State implements RWMutex {
  readonly [TypeId] = TypeId
  /** one writer at a time, FIFO (Go's `rw.w`) */
  readonly writers = Semaphore.makeUnsafe(1)
  /** closed while a writer waits or holds the lock: arriving readers park here */
  readonly gate = Latch.makeUnsafe(true)
  /** the waiting writer parks here until the last reader leaves */
  readonly drained = Latch.makeUnsafe(false)
  /** readers holding the lock, counting those admitted by a writer's unlock that have not resumed yet */
  readers = 0
  /** readers parked at the gate */
  parked = 0
  /** +1 at every writer's unlock: a parked reader that sees it changed was admitted (counted in `readers`) */
  epoch = 0
  /** a writer waits for, or holds, the lock */
  writer = false
}

const state = (self: RWMutex): State => self as State

/** makeUnsafe — a new, unlocked RWMutex, outside an Effect. */
export const makeUnsafe = (): RWMutex => new State()

/** make — a new, unlocked RWMutex. Go: `var mu sync.RWMutex`. */
export const make = (): Effect.Effect<RWMutex> => Effect.sync(makeUnsafe)

/** one reader leaves; the last one out lets a waiting writer in */
const readUnlock = (s: State): Effect.Effect<void> => {
  s.readers--
  return s.readers === 0 && s.writer ? Effect.asVoid(s.drained.open) : Effect.void
}

/** the writer's unlock, one synchronous step: admit every parked reader, then open the gate for them */
const writeUnlock = (s: State): Effect.Effect<void> => {
  s.writer = false
  s.readers += s.parked
  s.parked = 0
  s.epoch++
  return Effect.asVoid(s.gate.open)
}

/**
 * withReadLock — runs `effect` holding a read lock, shared with other readers. Waits while a writer holds the lock
 * or waits for it; released when `effect` ends in any way. Go: `mu.RLock(); defer mu.RUnlock(); …`.
 */
export function withReadLock(self: RWMutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
export function withReadLock<A, E, R>(self: RWMutex, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
export function withReadLock<A, E, R>(self: RWMutex, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <B, E2, R2>(e: Effect.Effect<B, E2, R2>) => readLocked(state(self), e)
    : readLocked(state(self), effect)
}

const readLocked = <A, E, R>(s: State, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) => {
    const run = Effect.onExit(restore(effect), () => readUnlock(s))
    const park = readAcquire(s, restore)
    return park === undefined ? run : Effect.andThen(park, run)
  })

/** Restore — `uninterruptibleMask`'s: makes the wait for the lock interruptible, nothing else */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Takes a read lock: at once (`undefined`: no Effect to run) unless a writer holds or waits for the lock; then the
 * Effect that parks at the gate, interruptibly, leaving no trace if interrupted. Runs in an uninterruptible region.
 */
const readAcquire = (s: State, restore: Restore): Effect.Effect<void> | undefined => {
  if (!s.writer) {
    s.readers++
    return undefined
  }
  s.parked++
  const epoch = s.epoch
  return Effect.onInterrupt(restore(s.gate.await), () =>
    // still parked: leave the queue; already admitted by the writer's unlock: give the read lock back
    epoch === s.epoch ? Effect.sync(() => void s.parked--) : Effect.suspend(() => readUnlock(s))
  )
}

/**
 * withWriteLock — runs `effect` holding the lock alone. Waits (FIFO among writers) for earlier writers, then stops new
 * readers and waits for the current ones to leave; released when `effect` ends in any way, at which point the
 * readers that queued meanwhile go first. Go: `mu.Lock(); defer mu.Unlock(); …`.
 */
export function withWriteLock(self: RWMutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
export function withWriteLock<A, E, R>(self: RWMutex, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
export function withWriteLock<A, E, R>(self: RWMutex, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <B, E2, R2>(e: Effect.Effect<B, E2, R2>) => writeLocked(state(self), e)
    : writeLocked(state(self), effect)
}

const writeLocked = <A, E, R>(s: State, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  s.writers.withPermit(
    Effect.uninterruptibleMask((restore) => {
      s.writer = true
      s.gate.closeUnsafe()
      const body = s.readers === 0 ? restore(effect) : Effect.andThen(awaitDrained(s, restore), restore(effect))
      return Effect.onExit(body, () => writeUnlock(s))
    })
  )

const awaitDrained = (s: State, restore: Restore) => {
  s.drained.closeUnsafe()
  return restore(s.drained.await)
}

/**
 * Takes the write lock (the writers' permit, then the readers drained), interruptibly at each wait; interrupted while
 * the readers drain, it unlocks at once, which lets the readers parked behind it in. Runs in an uninterruptible region.
 */
const writeAcquire = (s: State, restore: Restore): Effect.Effect<void> =>
  Effect.andThen(
    restore(s.writers.take(1)),
    Effect.suspend(() => {
      s.writer = true
      s.gate.closeUnsafe()
      return s.readers === 0 ? Effect.void : Effect.onInterrupt(awaitDrained(s, restore), () => writeRelease(s))
    })
  )

/** the writer's unlock, then the writers' permit back */
const writeRelease = (s: State): Effect.Effect<void> => Effect.andThen(writeUnlock(s), s.writers.release(1))

/**
 * Holds a lock taken by `acquire` until the Scope closes, and gives back its `unlock`: idempotent, so releasing early
 * and then closing the Scope releases once.
 */
const scopedLock = (
  acquire: (restore: Restore) => Effect.Effect<void> | undefined,
  release: () => Effect.Effect<void>
): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) => {
    let held = true
    // uninterruptible: once `held` is cleared, the release must run to its end even if its caller is interrupted
    const unlock = Effect.uninterruptible(
      Effect.suspend(() => {
        if (!held) return Effect.void
        held = false
        return release()
      })
    )
    const hold = Effect.as(
      Effect.addFinalizer(() => unlock),
      unlock
    )
    const wait = acquire(restore)
    return wait === undefined ? hold : Effect.andThen(wait, hold)
  })

/**
 * readLock — Go's `mu.RLock()` for the rest of the current Scope: waits like `withReadLock` (interruptibly), then
 * holds a read lock until the Scope closes. Gives back `unlock` (Go's `mu.RUnlock()`), to release it earlier and go
 * on; it is idempotent — only its first run, or the Scope's close, releases. Taking the lock and registering its
 * release are one uninterruptible step. As in Go, whoever runs `unlock` or closes the Scope releases it.
 */
export const readLock = (self: RWMutex): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> => {
  const s = state(self)
  return scopedLock(
    (restore) => readAcquire(s, restore),
    () => readUnlock(s)
  )
}

/**
 * writeLock — Go's `mu.Lock()` for the rest of the current Scope: waits like `withWriteLock` (FIFO among writers,
 * then for the readers to leave, blocking new ones meanwhile), then holds the lock alone until the Scope closes.
 * Gives back `unlock` (Go's `mu.Unlock()`): idempotent, releases early and lets the readers that queued meanwhile in.
 */
export const writeLock = (self: RWMutex): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> => {
  const s = state(self)
  return scopedLock(
    (restore) => writeAcquire(s, restore),
    () => writeRelease(s)
  )
}

/**
 * tryReadLock — Go 1.18's `TryRLock`: runs `effect` under a read lock and gives `Some(result)` if no writer holds or
 * waits for the lock right now; otherwise gives `None` at once without running `effect`.
 */
export function tryReadLock(
  self: RWMutex
): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
export function tryReadLock<A, E, R>(
  self: RWMutex,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<A>, E, R>
export function tryReadLock<A, E, R>(self: RWMutex, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <B, E2, R2>(e: Effect.Effect<B, E2, R2>) => tryRead(state(self), e)
    : tryRead(state(self), effect)
}

const tryRead = <A, E, R>(s: State, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.uninterruptibleMask((restore) => {
    if (s.writer) return Effect.succeedNone
    s.readers++
    return Effect.onExit(restore(Effect.asSome(effect)), () => readUnlock(s))
  })

/**
 * tryWriteLock — Go 1.18's `TryLock`: runs `effect` holding the lock alone and gives `Some(result)` if nobody holds
 * it right now (no reader, no writer); otherwise gives `None` at once without running `effect`.
 */
export function tryWriteLock(
  self: RWMutex
): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
export function tryWriteLock<A, E, R>(
  self: RWMutex,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<A>, E, R>
export function tryWriteLock<A, E, R>(self: RWMutex, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <B, E2, R2>(e: Effect.Effect<B, E2, R2>) => tryWrite(state(self), e)
    : tryWrite(state(self), effect)
}

const tryWrite = <A, E, R>(s: State, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> => {
  const attempt = Effect.uninterruptibleMask((restore) => {
    // with the writers' permit, no other writer holds the lock or stops readers; readers may still hold it
    // (like Go's TryLock, this may overtake a writer queued for the permit but not yet woken)
    if (s.readers > 0) return Effect.succeedNone
    s.writer = true
    s.gate.closeUnsafe()
    return Effect.onExit(restore(Effect.asSome(effect)), () => writeUnlock(s))
  })
  return Effect.map(s.writers.withPermitsIfAvailable(1)(attempt), Option.flatten)
}
