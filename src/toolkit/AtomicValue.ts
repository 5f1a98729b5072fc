/**
 * AtomicValue — Go's `atomic.Value` for fibers: one cell holding an immutable snapshot, replaced as a whole.
 *
 * It carries the copy-on-write pattern Go recommends for read-mostly data (configuration, routing tables, local
 * caches): readers `load` the current snapshot; a writer builds a new snapshot beside it and `store`s it in one step.
 * Guarantees:
 * - readers never wait: `load` is one synchronous step with no lock — it never suspends (it even runs under
 *   `Effect.runSync`), however long a writer takes to build the next snapshot;
 * - every operation is one synchronous step, hence atomic: fibers share one thread and the runtime switches fibers
 *   only between steps. This is why no CAS loop is needed for `update` — nothing can run between its read and its
 *   write. (With real threads it would need one; see the memory-model section of the README.)
 * - a reader sees either the old or the new snapshot, never a mix — provided snapshots are not mutated after
 *   `store`. That is the caller's contract, as in Go. They are not frozen here: `Object.freeze` is shallow, so it
 *   would protect only the top level while costing every store; type them `Readonly`/`ReadonlyArray` instead.
 *
 * Where it differs from Go: there is no "zero" `Value` whose `Load` returns nil before the first `Store` — `make`
 * takes the initial snapshot (use `AtomicValue<A | undefined>` for "not yet set"); storing values of different types
 * (Go panics) is a type error. For counters (Go's `atomic.Int64` `Add`/`Load`), `Ref.update`/`Ref.updateAndGet` are
 * the analog and are atomic for the same reason; this module adds no numeric helpers.
 */
import { Effect } from "effect"
import { dual } from "effect/Function"

const TypeId = "~app/AtomicValue"

/** AtomicValue — a cell holding one immutable snapshot of type `A`. */
export interface AtomicValue<in out A> {
  readonly [TypeId]: (a: A) => A
}

class Cell<in out A> implements AtomicValue<A> {
  readonly [TypeId] = (a: A) => a
  value: A
  /** made once per cell, so a `load` allocates nothing */
  readonly load: Effect.Effect<A> = Effect.sync(() => this.value)
  constructor(value: A) {
    this.value = value
  }
}

const cell = <A>(self: AtomicValue<A>): Cell<A> => self as Cell<A>

/** makeUnsafe — a new AtomicValue holding `initial`, outside an Effect. */
export const makeUnsafe = <A>(initial: A): AtomicValue<A> => new Cell(initial)

/** make — a new AtomicValue holding `initial`. Go: `var v atomic.Value; v.Store(initial)`. */
export const make = <A>(initial: A): Effect.Effect<AtomicValue<A>> => Effect.sync(() => new Cell(initial))

/** load — the current snapshot. Never waits, never suspends. Go: `v.Load()`. */
export const load = <A>(self: AtomicValue<A>): Effect.Effect<A> => cell(self).load

/** loadUnsafe — the current snapshot, read outside an Effect (e.g. in a synchronous callback). */
export const loadUnsafe = <A>(self: AtomicValue<A>): A => cell(self).value

/** store — replaces the snapshot with `value`; readers that loaded the old one keep it. Go: `v.Store(value)`. */
export const store: {
  <A>(value: A): (self: AtomicValue<A>) => Effect.Effect<void>
  <A>(self: AtomicValue<A>, value: A): Effect.Effect<void>
} = dual(
  2,
  <A>(self: AtomicValue<A>, value: A): Effect.Effect<void> =>
    Effect.sync(() => {
      cell(self).value = value
    })
)

/** swap — replaces the snapshot with `value` and gives the previous one. Go: `v.Swap(value)`. */
export const swap: {
  <A>(value: A): (self: AtomicValue<A>) => Effect.Effect<A>
  <A>(self: AtomicValue<A>, value: A): Effect.Effect<A>
} = dual(
  2,
  <A>(self: AtomicValue<A>, value: A): Effect.Effect<A> =>
    Effect.sync(() => {
      const c = cell(self)
      const previous = c.value
      c.value = value
      return previous
    })
)

/**
 * compareAndSwap — replaces the snapshot with `next` only if the current one is `expected`, and says whether it did.
 * "Is" means `===`, Go's `==` on the values held: the same object for objects and arrays (identity, not structural
 * equality: a fresh copy with equal contents does not match), the same value for primitives (and, as in Go, `NaN`
 * never matches). Identity is the point of copy-on-write: it detects that another writer stored a snapshot after
 * `expected` was loaded. Go: `v.CompareAndSwap(expected, next)`.
 */
export const compareAndSwap: {
  <A>(expected: A, next: A): (self: AtomicValue<A>) => Effect.Effect<boolean>
  <A>(self: AtomicValue<A>, expected: A, next: A): Effect.Effect<boolean>
} = dual(
  3,
  <A>(self: AtomicValue<A>, expected: A, next: A): Effect.Effect<boolean> =>
    Effect.sync(() => {
      const c = cell(self)
      if (c.value !== expected) return false
      c.value = next
      return true
    })
)

/**
 * update — replaces the snapshot with `f(current)` in one step and gives the new snapshot. `f` must be synchronous
 * and must return a new value rather than mutate the current one. When building the next snapshot needs effects
 * (it yields), `load` it, build, and `compareAndSwap` — retrying on `false` — or serialize the writers with a `Mutex`
 * (Go's "ReadMostly" example does the latter); readers are unaffected either way.
 */
export const update: {
  <A>(f: (current: A) => A): (self: AtomicValue<A>) => Effect.Effect<A>
  <A>(self: AtomicValue<A>, f: (current: A) => A): Effect.Effect<A>
} = dual(
  2,
  <A>(self: AtomicValue<A>, f: (current: A) => A): Effect.Effect<A> =>
    Effect.sync(() => {
      const c = cell(self)
      c.value = f(c.value)
      return c.value
    })
)
