/**
 * Routes — how this service declares HTTP routes, and the routes both servers share.
 *
 * `route` is `HttpRouter.add` with the per-route observer (`Metrics.observe`) applied, so every route — including
 * the health checks and the catch-all 404 — goes through the same router and the same instrumentation; there is no
 * fast path. `health` is liveness and readiness, served identically by the API and the admin server:
 * - `GET /healthz` → 200 `ok` while the process is alive;
 * - `GET /readyz`  → 200 `ready` while serving, 503 `not ready` while starting or shutting down.
 */
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { observe } from "../services/Metrics.ts"

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const
type Method = (typeof methods)[number]

/** route — one observed route of the server named `server`. */
export const route = <E, R>(
  server: string,
  method: Method,
  path: `/${string}`,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => HttpRouter.add(method, path, observe(server, path)(handler))

const ok = HttpServerResponse.text("ok")
const ready = HttpServerResponse.text("ready")
const notReady = HttpServerResponse.text("not ready", { status: 503 })
const notFound = HttpServerResponse.text("not found", { status: 404 })

/** health — `/healthz` and `/readyz` for `server`; readiness is read synchronously from `isReady`. */
export const health = (server: string, isReady: () => boolean) =>
  Layer.mergeAll(
    route(server, "GET", "/healthz", Effect.succeed(ok)),
    route(
      server,
      "GET",
      "/readyz",
      Effect.sync(() => (isReady() ? ready : notReady))
    )
  )

/**
 * notFoundRoute — every other path, for every method but HEAD: 404, counted under route `*` with the request's
 * method. HEAD is left out so that the router's HEAD → GET fallback answers HEAD on every GET route (an unknown
 * path with HEAD still gets the router's own 404).
 */
export const notFoundRoute = (server: string) => {
  const handler = observe(server, "*")(Effect.succeed(notFound))
  return HttpRouter.addAll(methods.map((method) => HttpRouter.route(method, "*", handler)))
}
