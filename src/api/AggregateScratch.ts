/**
 * AggregateScratch — the per-request scratch of the aggregation (a slot per upstream, the inventory answers by item,
 * the errors of a partial answer), and the two ways to get one: from an `ObjectPool` (Go's `sync.Pool`, where the
 * lesson puts it: per-request scratch buffers) or fresh for each request.
 *
 * Contract: `use(f)` gives `f` a scratch whose slots are empty and whose arrays are empty, and takes it back when
 * `f` ends in any way (success, failure, interruption). Nothing of the scratch may outlive `f`: the answer is encoded
 * inside it. The pooled source resets a scratch as it is put back, so an idle scratch holds no user's data.
 *
 * Both sources exist so that the pool can be measured against the allocator in the same run (`bench/aggregate.ts`),
 * which is the lesson's point: measure first. See the README for the figures.
 */
import { Effect } from "effect"
import type { InventoryItem, Order, Profile, Recommendation, UpstreamName } from "../services/UpstreamsModel.ts"
import * as ObjectPool from "../toolkit/ObjectPool.ts"

/** ErrorEntry — one failed upstream call of a partial answer. */
export interface ErrorEntry {
  readonly upstream: UpstreamName
  readonly message: string
}

/** Scratch — what one aggregate request collects while its calls run. */
export class Scratch {
  profile: Profile | undefined = undefined
  orders: ReadonlyArray<Order> | undefined = undefined
  recommendations: ReadonlyArray<Recommendation> | undefined = undefined
  /** the inventory answer of each recommended item, by the item's index; `undefined` until (unless) it came */
  readonly inventory: Array<InventoryItem | undefined> = []
  /** the failed calls, in the order they failed (partial answers only) */
  readonly errors: Array<ErrorEntry> = []
}

/** reset — empties every slot and array of `scratch` (Go's `buf.Reset()`). */
export const reset = (scratch: Scratch): void => {
  scratch.profile = undefined
  scratch.orders = undefined
  scratch.recommendations = undefined
  scratch.inventory.length = 0
  scratch.errors.length = 0
}

/** ScratchSource — where a request's scratch comes from. */
export interface ScratchSource {
  readonly kind: "pooled" | "fresh"
  readonly use: <A, E, R>(f: (scratch: Scratch) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** poolSize — idle scratches a pool keeps at most: more than the requests a process serves at once, typically. */
export const poolSize = 1024

/** pooled — scratches from an `ObjectPool` of at most `max` idle ones, reset on the way back. */
export const pooled = (max: number = poolSize): Effect.Effect<ScratchSource> =>
  Effect.map(ObjectPool.make({ new: () => new Scratch(), reset, max }), (pool) => ({
    kind: "pooled",
    use: (f) => ObjectPool.use(pool, f)
  }))

/** fresh — a new scratch for each request, left to the garbage collector. */
export const fresh: ScratchSource = {
  kind: "fresh",
  use: (f) => Effect.suspend(() => f(new Scratch()))
}
