/**
 * AggregateRoute — `GET /api/aggregate/:userId[?partial=true]`, the aggregation (`Aggregate`) as an ordinary
 * `HttpRouter` route, served by `ApiServer.layerWith` (so under the API's deadline header and metrics).
 *
 * Answers:
 * - 200 `{ profile, orders, recommendations, inventory }`; with `?partial=true`, also `errors: [{ upstream, message }]`
 *   and `null` for what failed;
 * - 400 `{ error }` for a `userId` that is not 1 to 64 letters, digits, `-` or `_`, or a `partial` other than `true`
 *   or `false` — before any upstream call;
 * - 404 `{ error }` when the profile upstream does not know the user;
 * - 502 `{ error, upstream }` naming the first upstream that failed (its siblings were interrupted);
 * - 504 `{ error: "deadline exceeded" }` at the request's deadline (`x-request-timeout-ms`, else `AGGREGATE_TIMEOUT`).
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { UpstreamError } from "../services/UpstreamsModel.ts"
import { Aggregate } from "./Aggregate.ts"

/** path — the route's pattern. */
export const path = "/api/aggregate/:userId"

const validUserId = /^[A-Za-z0-9_-]{1,64}$/

const badRequest = (error: string) => HttpServerResponse.jsonUnsafe({ error }, { status: 400 })

/** parsePartial — the `partial` query parameter: absent or `false` → false, `true` → true, else `undefined`. */
export const parsePartial = (value: string | ReadonlyArray<string> | undefined): boolean | undefined =>
  value === undefined || value === "false" ? false : value === "true" ? true : undefined

/** the answer to a failed upstream: 404 for a user the profile upstream does not know, else 502 naming it */
const upstreamFailed = (error: UpstreamError) =>
  error.upstream === "profile" && error.status === 404
    ? HttpServerResponse.jsonUnsafe({ error: "user not found" }, { status: 404 })
    : HttpServerResponse.jsonUnsafe(
        { error: `upstream ${error.upstream} failed: ${error.message}`, upstream: error.upstream },
        { status: 502 }
      )

const handler = Effect.gen(function* () {
  const userId = (yield* HttpRouter.params).userId ?? ""
  if (!validUserId.test(userId)) {
    return badRequest(`userId must be 1 to 64 letters, digits, '-' or '_', got ${JSON.stringify(userId)}`)
  }
  const raw = (yield* HttpServerRequest.ParsedSearchParams).partial
  const partial = parsePartial(raw)
  if (partial === undefined) return badRequest(`partial must be true or false, got ${JSON.stringify(raw)}`)
  const aggregate = yield* Aggregate
  return yield* aggregate
    .run(userId, partial, (answer) => HttpServerResponse.jsonUnsafe(answer))
    .pipe(Effect.catchTag("UpstreamError", (error) => Effect.succeed(upstreamFailed(error))))
})

/** routes — the route, as an `HttpRouter` layer needing `Aggregate`. */
export const routes = HttpRouter.add("GET", path, handler)
