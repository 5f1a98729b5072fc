/**
 * ObjectPool — Go's `sync.Pool`: a free list of reusable objects, to spare the allocator and the garbage collector
 * when many short-lived objects of the same kind (buffers, scratch arrays, encoders) are made and dropped.
 *
 * Contract (Go's):
 * - `get` gives an idle object if there is one, else a new one from `new`; it never waits;
 * - `put` gives an object back: it is reset (if a `reset` is given) and kept while fewer than `max` are idle; beyond
 *   that it is dropped for the garbage collector;
 * - the pool may drop any idle object at any time (`clear` drops them all, as Go's Pool does on GC). Callers must not
 *   rely on getting a particular object back, nor on the pool keeping anything;
 * - an object must be reset before it is reused — Go's `buf.Reset()` idiom. Give `reset` and the pool does it on
 *   `put`, so idle objects hold no stale data; otherwise the caller resets before `put`. Never use an object after
 *   putting it back: another fiber may already have it.
 *
 * Not Effect's `Pool`: that one is a bounded set of *resources* (connections) with acquisition that waits when all
 * are in use, needs a Scope, and finalizes its items. An ObjectPool never waits and owns nothing that needs closing —
 * objects are plain memory — so `make` needs no Scope.
 *
 * Why idle objects are held strongly (not through `WeakRef`, which would mirror Go's dropping on GC more literally):
 * V8 may clear a weak reference at any minor collection, which in a busy server is often enough to make the pool
 * useless, and it would make the pool's behaviour untestable. The bound `max` caps what a burst can leave behind.
 *
 * Hot path: `get` and `put` are single synchronous steps with no span and no allocation of their own.
 */
import { Data, Effect } from "effect"
import { dual } from "effect/Function"

const TypeId = "~app/ObjectPool"

/** ObjectPool — a bounded free list of reusable objects of type `A`. */
export interface ObjectPool<in out A> {
  readonly [TypeId]: (a: A) => A
}

/** Options — how objects are made and reset, and how many idle ones are kept. */
export interface Options<A> {
  /** makes a new object when none is idle (Go's `New`); a throw is a defect of the `get` that called it */
  readonly new: () => A
  /** how many idle objects are kept at most; `0` keeps none (every `get` makes a new object) */
  readonly max: number
  /** clears an object as it is put back (Go's `buf.Reset()`); a throw is a defect of that `put`, which drops it */
  readonly reset?: (a: A) => void
}

class Pool<in out A> implements ObjectPool<A> {
  readonly [TypeId] = (a: A) => a
  /** idle objects; the most recently put is taken first (warm in the cache, as Go's per-P private slot) */
  readonly idle: Array<A> = []
  readonly get: Effect.Effect<A>
  readonly options: Options<A>
  constructor(options: Options<A>) {
    this.options = options
    this.get = Effect.sync(() => (this.idle.length > 0 ? (this.idle.pop() as A) : this.options.new()))
  }
}

const pool = <A>(self: ObjectPool<A>): Pool<A> => self as Pool<A>

/** InvalidMax — the `max` given to `make` is not a non-negative integer: a programming error, so `make` dies with it. */
export class InvalidMax extends Data.TaggedError("InvalidMax")<{ readonly max: number }> {
  override get message() {
    return `ObjectPool.make: max must be a non-negative integer, got ${this.max}`
  }
}

/** make — a new, empty ObjectPool. Dies with `InvalidMax` if `max` is not a non-negative integer. */
export const make = <A>(options: Options<A>): Effect.Effect<ObjectPool<A>> =>
  Effect.suspend(() =>
    Number.isInteger(options.max) && options.max >= 0
      ? Effect.succeed(new Pool(options))
      : Effect.die(new InvalidMax({ max: options.max }))
  )

/** get — an idle object if there is one (the most recently put), else `new()`. Never waits. Go: `p.Get()`. */
export const get = <A>(self: ObjectPool<A>): Effect.Effect<A> => pool(self).get

/**
 * put — gives `a` back: resets it (if `reset` was given) and keeps it if fewer than `max` objects are idle, else drops
 * it. The caller must not touch `a` afterwards, nor put it twice (two `get`s would then share it). Go: `p.Put(a)`.
 */
export const put: {
  <A>(a: A): (self: ObjectPool<A>) => Effect.Effect<void>
  <A>(self: ObjectPool<A>, a: A): Effect.Effect<void>
} = dual(
  2,
  <A>(self: ObjectPool<A>, a: A): Effect.Effect<void> =>
    Effect.sync(() => {
      const p = pool(self)
      if (p.idle.length >= p.options.max) return
      p.options.reset?.(a)
      p.idle.push(a)
    })
)

/**
 * use — `get`, run `f` with the object, and `put` it back when `f` ends in any way (Go's `defer p.Put(a)`), so an
 * interrupted or failed `f` does not lose it. Give `reset` to `make` when `f` may stop half-way through changing it.
 */
export const use: {
  <A, B, E, R>(f: (a: A) => Effect.Effect<B, E, R>): (self: ObjectPool<A>) => Effect.Effect<B, E, R>
  <A, B, E, R>(self: ObjectPool<A>, f: (a: A) => Effect.Effect<B, E, R>): Effect.Effect<B, E, R>
} = dual(
  2,
  <A, B, E, R>(self: ObjectPool<A>, f: (a: A) => Effect.Effect<B, E, R>): Effect.Effect<B, E, R> =>
    Effect.acquireUseRelease(get(self), f, (a) => put(self, a))
)

/** idle — how many objects are idle in the pool now. */
export const idle = <A>(self: ObjectPool<A>): Effect.Effect<number> => Effect.sync(() => pool(self).idle.length)

/** clear — drops every idle object (what Go's runtime does to a Pool at garbage collection). */
export const clear = <A>(self: ObjectPool<A>): Effect.Effect<void> =>
  Effect.sync(() => {
    pool(self).idle.length = 0
  })
