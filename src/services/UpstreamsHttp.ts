/**
 * UpstreamsHttp — the four upstreams as real HTTP services under `UPSTREAM_URL`, called with `UpstreamClient`
 * (Effect's `HttpClient` over `fetch`), so each call:
 * - sends what is left of the request's deadline in `x-request-timeout-ms` and is aborted at the deadline
 *   (`DeadlineExceeded`); a call made outside any deadline sends no header;
 * - is retried under `UpstreamsRetry` (idempotent GETs only, never past the deadline);
 * - answers the body decoded with its schema (`UpstreamsModel`), or fails with `UpstreamError` naming the upstream:
 *   unreachable, a non-2xx status (with `status`; the body is read and dropped so the connection is reused), or a
 *   body that is not the schema's.
 *
 * The paths, under the base URL read from the current `RuntimeConfig` snapshot at each call (a reload of
 * `UPSTREAM_URL` applies to the next call):
 *
 * | upstream | request | answer |
 * |---|---|---|
 * | profile | `GET /profiles/{userId}` | `{ id, name, segment }` |
 * | orders | `GET /users/{userId}/orders` | `[{ id, total }]` |
 * | recommendations | `GET /users/{userId}/recommendations` | `[{ itemId, score }]` |
 * | inventory | `GET /inventory/{itemId}` | `{ itemId, available }` |
 *
 * Ids are percent-encoded into the path.
 */
import { Effect, Schema } from "effect"
import type { HttpClientResponse } from "effect/http"
import type { UpstreamClient } from "../toolkit/UpstreamClient.ts"
import type { RuntimeConfig } from "./RuntimeConfig.ts"
import {
  InventoryItem,
  Orders,
  Profile,
  Recommendations,
  UpstreamError,
  type UpstreamFailure,
  type UpstreamName,
  type UpstreamsApi
} from "./UpstreamsModel.ts"
import { defaultPolicy, type RetryPolicy, retrying } from "./UpstreamsRetry.ts"

/** paths — the path of each call, under the base URL. */
export const paths = {
  profile: (userId: string) => `/profiles/${encodeURIComponent(userId)}`,
  orders: (userId: string) => `/users/${encodeURIComponent(userId)}/orders`,
  recommendations: (userId: string) => `/users/${encodeURIComponent(userId)}/recommendations`,
  inventory: (itemId: string) => `/inventory/${encodeURIComponent(itemId)}`
} as const

/** the first line of a message, at most 200 characters: an error names its cause, never dumps a body */
const brief = (message: string) => (message.split("\n")[0] ?? "").slice(0, 200)

/**
 * make — the HTTP upstreams: base URL from `config` at each call, requests through `client`, retries under `policy`.
 */
export const make = (
  config: RuntimeConfig["Service"],
  client: UpstreamClient["Service"],
  policy: RetryPolicy = defaultPolicy
): UpstreamsApi => {
  /** one GET and its status: the part that is retried */
  const exchange = (upstream: UpstreamName, url: string) =>
    client.get(url).pipe(
      Effect.catchTag("HttpClientError", (error) =>
        Effect.fail(new UpstreamError({ upstream, message: `unreachable: ${brief(error.message)}` }))
      ),
      Effect.flatMap(
        (response): Effect.Effect<HttpClientResponse.HttpClientResponse, UpstreamFailure> =>
          response.status >= 200 && response.status < 300
            ? Effect.succeed(response)
            : Effect.andThen(
                Effect.ignore(response.text),
                Effect.fail(
                  new UpstreamError({ upstream, status: response.status, message: `answered ${response.status}` })
                )
              )
      ),
      retrying(policy)
    )

  const get = <S extends Schema.Top & { readonly DecodingServices: never }>(
    upstream: UpstreamName,
    path: string,
    schema: S
  ): Effect.Effect<S["Type"], UpstreamFailure> =>
    Effect.gen(function* () {
      const base = (yield* config.current).upstreamUrl
      if (base === undefined) return yield* new UpstreamError({ upstream, message: "UPSTREAM_URL is not set" })
      const response = yield* exchange(upstream, `${base.replace(/\/+$/, "")}${path}`)
      const invalid = (error: { readonly message: string }) =>
        new UpstreamError({ upstream, status: response.status, message: `invalid answer: ${brief(error.message)}` })
      const body = yield* Effect.mapError(response.json, invalid)
      return yield* Effect.mapError(Schema.decodeUnknownEffect(schema)(body), invalid)
    })

  return {
    profile: (userId) => get("profile", paths.profile(userId), Profile),
    orders: (userId) => get("orders", paths.orders(userId), Orders),
    recommendations: (userId) => get("recommendations", paths.recommendations(userId), Recommendations),
    inventory: (itemId) => get("inventory", paths.inventory(itemId), InventoryItem)
  }
}
