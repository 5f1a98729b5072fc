/**
 * Routes — how this service declares HTTP routes, and the routes both servers share.
 *
 * `route` is `HttpRouter.add` with the per-route observer (`Metrics.observe`) applied, so every route — including
 * the health checks and the catch-all 404 — goes through the same router and the same instrumentation; there is no
 * fast path. A server may give each of these a `RouteMiddleware` (the API server's request deadline,
 * `DeadlineHeader.middleware`): it wraps the handler inside the observer, so what it answers is counted too.
 * `health` is liveness and readiness, served identically by the API and the admin server:
 * - `GET /healthz` → 200 `ok` while the process is alive;
 * - `GET /readyz`  → 200 `ready` while serving, 503 `not ready` while starting or shutting down.
 */
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { observe } from "../services/Metrics.ts"

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const
type Method = (typeof methods)[number]

/**
 * RouteMiddleware — wraps the handler of each route of a server, inside the route's observer; it may answer on its
 * own or fail with errors of its own (`X`), which the server answers like any handler failure.
 */
export type RouteMiddleware<X = never> = <E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, E | X, R>

/** route — one observed route of the server named `server`, its handler wrapped by `middleware` if given. */
export const route = <E, R, X = never>(
  server: string,
  method: Method,
  path: `/${string}`,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  middleware?: RouteMiddleware<X>
) => HttpRouter.add(method, path, observe(server, path)(middleware === undefined ? handler : middleware(handler)))

const ok = HttpServerResponse.text("ok")
const ready = HttpServerResponse.text("ready")
const notReady = HttpServerResponse.text("not ready", { status: 503 })
const notFound = HttpServerResponse.text("not found", { status: 404 })

/** health — `/healthz` and `/readyz` for `server`; readiness is read synchronously from `isReady`. */
export const health = <X = never>(server: string, isReady: () => boolean, middleware?: RouteMiddleware<X>) =>
  Layer.mergeAll(
    route(server, "GET", "/healthz", Effect.succeed(ok), middleware),
    route(
      server,
      "GET",
      "/readyz",
      Effect.sync(() => (isReady() ? ready : notReady)),
      middleware
    )
  )

/**
 * notFoundRoute — every other path, for every method but HEAD: 404, counted under route `*` with the request's
 * method. HEAD is left out so that the router's HEAD → GET fallback answers HEAD on every GET route (an unknown
 * path with HEAD still gets the router's own 404).
 */
export const notFoundRoute = <X = never>(server: string, middleware?: RouteMiddleware<X>) => {
  const answer = Effect.succeed(notFound)
  const handler = observe(server, "*")(middleware === undefined ? answer : middleware(answer))
  return HttpRouter.addAll(methods.map((method) => HttpRouter.route(method, "*", handler)))
}
