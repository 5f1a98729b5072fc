/**
 * UpstreamsModel — what the four upstream services of the aggregation answer, as `Schema`s, and the one error an
 * upstream call fails with.
 *
 * The four upstreams, in the order the aggregation calls them: `profile` (the user), then `orders` and
 * `recommendations` (items for the user), and `inventory` (one call per recommended item). Both implementations of
 * `Upstreams` — real HTTP calls and the simulated, in-process ones — answer these shapes; the HTTP one decodes each
 * body with the schema, so a malformed answer is an `UpstreamError`, never a defect.
 */
import { Data, Effect, Schema } from "effect"
import type { DeadlineExceeded } from "../toolkit/RequestContext.ts"

/** UpstreamName — the upstreams, in the order the aggregation calls them. */
export const upstreamNames = ["profile", "orders", "recommendations", "inventory"] as const
export type UpstreamName = (typeof upstreamNames)[number]

/** Profile — `GET /profiles/{userId}`. */
export const Profile = Schema.Struct({ id: Schema.String, name: Schema.String, segment: Schema.String })
export type Profile = typeof Profile.Type

/** Order — one element of `GET /users/{userId}/orders`. */
export const Order = Schema.Struct({ id: Schema.String, total: Schema.Number })
export type Order = typeof Order.Type
export const Orders = Schema.Array(Order)

/** Recommendation — one element of `GET /users/{userId}/recommendations`. */
export const Recommendation = Schema.Struct({ itemId: Schema.String, score: Schema.Number })
export type Recommendation = typeof Recommendation.Type
export const Recommendations = Schema.Array(Recommendation)

/** InventoryItem — `GET /inventory/{itemId}`. */
export const InventoryItem = Schema.Struct({ itemId: Schema.String, available: Schema.Number })
export type InventoryItem = typeof InventoryItem.Type

/**
 * UpstreamError — an upstream call failed: the upstream could not be reached, answered a status other than 2xx
 * (`status`), or answered a body that is not what its schema says. `upstream` names it, `message` says what happened
 * in one line. The aggregation answers it 502 naming the upstream (404 for a profile the upstream does not know).
 */
export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  readonly upstream: UpstreamName
  readonly message: string
  /** the HTTP status the upstream answered, when it answered */
  readonly status?: number | undefined
}> {}

/** UpstreamFailure — how an upstream call fails: its own error, or the request's deadline passing during it. */
export type UpstreamFailure = UpstreamError | DeadlineExceeded

/**
 * UpstreamsApi — the four calls. Each is idempotent (a GET), may be retried by its implementation, and is interrupted
 * with the request (a deadline, a disconnect, a sibling's failure).
 */
export interface UpstreamsApi {
  readonly profile: (userId: string) => Effect.Effect<Profile, UpstreamFailure>
  readonly orders: (userId: string) => Effect.Effect<ReadonlyArray<Order>, UpstreamFailure>
  readonly recommendations: (userId: string) => Effect.Effect<ReadonlyArray<Recommendation>, UpstreamFailure>
  readonly inventory: (itemId: string) => Effect.Effect<InventoryItem, UpstreamFailure>
}

/**
 * traced — `api` with a client span around each call, named `upstream <name>`, with the id it was called for. No
 * stack trace is captured: it would name this wrapper for every call, and capturing it (a `new Error()` per span) was
 * 3.5% of the program's CPU under load in a profile of the aggregate route.
 */
export const traced = (api: UpstreamsApi): UpstreamsApi => {
  const span = <A>(upstream: UpstreamName, key: string, id: string, call: Effect.Effect<A, UpstreamFailure>) =>
    Effect.withSpan(call, `upstream ${upstream}`, {
      kind: "client",
      attributes: { upstream, [key]: id },
      captureStackTrace: false
    })
  return {
    profile: (userId) => span("profile", "user.id", userId, api.profile(userId)),
    orders: (userId) => span("orders", "user.id", userId, api.orders(userId)),
    recommendations: (userId) => span("recommendations", "user.id", userId, api.recommendations(userId)),
    inventory: (itemId) => span("inventory", "item.id", itemId, api.inventory(itemId))
  }
}
