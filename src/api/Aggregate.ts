/**
 * Aggregate — the lesson's aggregation: one request that needs several upstream calls, some dependent and some in
 * parallel, all under the request's deadline.
 *
 * The shape, for one user:
 *
 *     profile ──┬── orders
 *               └── recommendations ──┬── inventory(item 1)
 *                                     ├── inventory(item 2)
 *                                     └── …
 *
 * In order:
 * 1. the profile, through the `ProfileCache` (a hit costs no call; concurrent misses share one);
 * 2. `orders` and `recommendations` start at once, as tasks of one `ErrGroup` limited to the snapshot's
 *    `AGGREGATE_CONCURRENCY` calls at a time;
 * 3. when `recommendations` has answered, one `inventory` task per recommended item joins the same group (waiting
 *    for a slot when the group is at its limit), while `orders` may still run.
 * The request's fiber coordinates: it is the one that starts the inventory tasks, never a task, so no task waits for
 * a slot while holding one (a task that `go`es into its own limited group deadlocks at limit 1, in Go as here).
 *
 * Failure, in the default mode: the first upstream failure ends the group — its running calls are interrupted (an HTTP
 * call's connection is aborted), no new one starts — and `run` fails with that `UpstreamError`. With `partial`, a
 * failed call is recorded (`errors`, in the order they failed) and the others go on; a failed `recommendations` means
 * no inventory calls. The profile is required in both modes: every other call is made for the user it confirms.
 * The deadline: the request's own (`x-request-timeout-ms`), or `AGGREGATE_TIMEOUT` when it sends none or a later
 * one; when it passes, everything is interrupted and `run` fails with `DeadlineExceeded`, in both modes (the sender
 * stops waiting at its deadline: a partial answer after it would reach nobody).
 *
 * Every call has a span (`Upstreams`), under this one (`aggregate`), so the trace shows the shape above.
 */
import { Context, Deferred, Effect, Layer, Metric } from "effect"
import { AppConfig } from "../services/AppConfig.ts"
import { ProfileCache } from "../services/ProfileCache.ts"
import { RuntimeConfig } from "../services/RuntimeConfig.ts"
import { Upstreams } from "../services/Upstreams.ts"
import {
  type InventoryItem,
  type Order,
  type Profile,
  type Recommendation,
  type UpstreamError,
  type UpstreamFailure,
  type UpstreamName,
  upstreamNames
} from "../services/UpstreamsModel.ts"
import * as ErrGroup from "../toolkit/ErrGroup.ts"
import * as RequestContext from "../toolkit/RequestContext.ts"
import * as AggregateScratch from "./AggregateScratch.ts"

/** Answer — the aggregate of one user; `null` for what failed or was not asked (partial answers only). */
export interface Answer {
  readonly profile: Profile
  readonly orders: ReadonlyArray<Order> | null
  readonly recommendations: ReadonlyArray<Recommendation> | null
  /** the stock of each recommended item that answered, in the recommendations' order */
  readonly inventory: ReadonlyArray<InventoryItem> | null
  /** partial answers only: each failed call */
  readonly errors?: ReadonlyArray<AggregateScratch.ErrorEntry>
}

/** upstreamFailures — `aggregate_upstream_failures_total{upstream}`: upstream calls of the aggregation that failed. */
export const upstreamFailures = Metric.counter("aggregate_upstream_failures_total", {
  description: "upstream calls of GET /api/aggregate that failed, by upstream"
})

const answerOf = (scratch: AggregateScratch.Scratch, partial: boolean): Answer => {
  const base = {
    profile: scratch.profile as Profile,
    orders: scratch.orders ?? null,
    recommendations: scratch.recommendations ?? null,
    inventory:
      scratch.recommendations === undefined
        ? null
        : scratch.inventory.filter((item): item is InventoryItem => item !== undefined)
  }
  return partial ? { ...base, errors: scratch.errors.slice() } : base
}

/** Options of `make`: where the per-request scratch comes from (pooled, fresh for the benchmark). */
export interface Options {
  readonly scratch: AggregateScratch.ScratchSource
}

/** make — the aggregation over the `Upstreams`, `ProfileCache` and `RuntimeConfig` in the context. */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const upstreams = yield* Upstreams
    const profiles = yield* ProfileCache
    const config = yield* RuntimeConfig
    const { aggregateTimeout } = yield* AppConfig
    const failures = Object.fromEntries(
      upstreamNames.map((upstream) => [upstream, Metric.withAttributes(upstreamFailures, { upstream })])
    ) as Record<UpstreamName, Metric.Metric<number, Metric.CounterState<number>>>
    /** `call`, its UpstreamError counted under its upstream */
    const counted = <A>(upstream: UpstreamName, call: Effect.Effect<A, UpstreamFailure>) =>
      Effect.tapErrorTag(call, "UpstreamError", () => Metric.update(failures[upstream], 1))

    const collect = (userId: string, partial: boolean, scratch: AggregateScratch.Scratch, limit: number) =>
      Effect.gen(function* () {
        /** a call whose value goes into the scratch; in partial mode its UpstreamError goes there too */
        const task = <A>(upstream: UpstreamName, call: Effect.Effect<A, UpstreamFailure>, store: (a: A) => void) => {
          const stored = Effect.map(counted(upstream, call), store)
          return partial
            ? Effect.catchTag(stored, "UpstreamError", (error: UpstreamError) =>
                Effect.sync(() => void scratch.errors.push({ upstream, message: error.message }))
              )
            : stored
        }

        // the profile is required in both modes: every other call is made for the user it confirms
        scratch.profile = yield* counted("profile", profiles.get(userId))

        const group = yield* ErrGroup.make<UpstreamFailure>({ limit })
        const recommended = yield* Deferred.make<void>()
        yield* ErrGroup.go(
          group,
          task("orders", upstreams.orders(userId), (orders) => {
            scratch.orders = orders
          })
        )
        const started = yield* ErrGroup.go(
          group,
          task("recommendations", upstreams.recommendations(userId), (recommendations) => {
            scratch.recommendations = recommendations
            for (let i = 0; i < recommendations.length; i++) scratch.inventory.push(undefined)
          }).pipe(Effect.ensuring(Deferred.succeed(recommended, undefined)))
        )
        if (started) yield* Deferred.await(recommended)
        const items = scratch.recommendations ?? []
        for (let i = 0; i < items.length; i++) {
          const itemId = (items[i] as Recommendation).itemId
          const go = ErrGroup.go(
            group,
            task("inventory", upstreams.inventory(itemId), (item) => {
              scratch.inventory[i] = item
            })
          )
          if (!(yield* go)) break // the group has failed: start nothing more
        }
        yield* ErrGroup.wait(group)
        return answerOf(scratch, partial)
      })

    /**
     * Aggregate.run — the aggregate of `userId` (see the module comment); `encode` turns the answer into what the
     * caller keeps (the HTTP body) while the request's scratch is still held.
     */
    const run = <B>(
      userId: string,
      partial: boolean,
      encode: (answer: Answer) => B
    ): Effect.Effect<B, UpstreamFailure | RequestContext.DeadlineExceeded> =>
      Effect.gen(function* () {
        const snapshot = yield* config.current
        return yield* options.scratch.use((scratch) =>
          Effect.scoped(Effect.map(collect(userId, partial, scratch, snapshot.aggregateConcurrency), encode))
        )
      }).pipe(
        RequestContext.withTimeout(aggregateTimeout),
        Effect.withSpan("aggregate", { attributes: { "user.id": userId, partial } }, { captureStackTrace: false })
      )

    return Aggregate.of({ run })
  })

/** Aggregate — the aggregation as a service. */
export class Aggregate extends Context.Service<
  Aggregate,
  {
    readonly run: <B>(
      userId: string,
      partial: boolean,
      encode: (answer: Answer) => B
    ) => Effect.Effect<B, UpstreamFailure | RequestContext.DeadlineExceeded>
  }
>()("app/Aggregate") {
  /** Aggregate.layer — scratches from an `ObjectPool` (`AggregateScratch.pooled`). */
  static readonly layer: Layer.Layer<Aggregate, never, Upstreams | ProfileCache | RuntimeConfig | AppConfig> =
    Layer.effect(
      Aggregate,
      Effect.flatMap(AggregateScratch.pooled(), (scratch) => make({ scratch }))
    )
}
