/**
 * RequestMetrics — counts and logs every request a router answers: `http_requests_total` and
 * `http_request_duration_seconds` by server and route pattern (never the raw path), see `Metrics`, and a line in the
 * `AccessLog`.
 *
 * `make(server, options)` gives two `HttpRouter` middlewares that share the series of one server:
 * - `route` wraps each route's handler: it records the status the handler's exit maps to — the response's own
 *   status, or for a failure the one Effect's server answers (`causeResponse`: 499 when the client went away, 503
 *   when interrupted, a respondable error's own response, 500 otherwise) — and the handler's duration.
 * - `unmatched` wraps the whole router (a global middleware): a request that matched no route — an unknown path, a
 *   method no route has (`TRACE`, `PROPFIND`), a path the router cannot decode (`/%ZZ`) — leaves the router as a
 *   `RouteNotFound` failure that no route middleware sees, and Effect's server would answer it 404 uncounted and
 *   unlogged. Here it is answered instead: 405 with `Allow` when the path has routes for other methods
 *   (`AllowedMethods`), else 404 `not found`; and it is counted under route `*`.
 * Labels stay bounded: the route is a pattern or `*`; the method is one of the standard methods (RFC 9110 and
 * PATCH, QUERY) or `_OTHER` (OpenTelemetry's convention for `http.request.method`); the status is what was answered.
 * Behaviour and interruptibility of the handler are unchanged.
 *
 * Hot path: one context lookup, one map lookup and one timestamp per request; the series are plain counters read at
 * scrape time; the access log costs a comparison when it is over its limit.
 */
import { Context, Effect, Exit, type Fiber, Layer } from "effect"
import { HttpRouter, HttpServerError, HttpServerResponse } from "effect/http"
import { causeResponse } from "effect/http/HttpServerError"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import { RouteSeries } from "../services/Metrics.ts"
import * as AccessLog from "./AccessLog.ts"
import type * as AllowedMethods from "./AllowedMethods.ts"

const standardMethods = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "CONNECT",
  "QUERY"
])

/** RequestMetrics.methodLabel — the method as a label value: a standard method as is, any other `_OTHER`. */
export const methodLabel = (method: string): string => (standardMethods.has(method) ? method : "_OTHER")

/** RequestMetrics.unmatchedRoute — the route label of requests that matched no route. */
export const unmatchedRoute = "*"

const notFound = HttpServerResponse.text("not found", { status: 404 })

const isRouteNotFound = (error: unknown): boolean =>
  HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"

/** RequestMetrics.Options — what else a server's observer does. */
export interface Options {
  /** access log lines per second (`AccessLog`); 0 or absent: no access log */
  readonly accessLog?: number | undefined
  /** the server's routes, for `Allow`; absent: an unmatched request is always 404 */
  readonly allowed?: AllowedMethods.Table | undefined
}

/** RequestMetrics.make — the two middlewares of `server` (see the module comment), with series of their own. */
export const make = (server: string, options: Options = {}) => {
  const series = new Map<string, RouteSeries>()
  const seriesOf = (route: string) => {
    let found = series.get(route)
    if (found === undefined) {
      found = new RouteSeries(server, route)
      series.set(route, found)
    }
    return found
  }
  const log = AccessLog.make(server, options.accessLog ?? 0)
  const record = (
    route: RouteSeries,
    request: HttpServerRequest,
    status: number,
    start: number,
    context: Context.Context<never>
  ) => {
    const seconds = (performance.now() - start) / 1000
    route.record(methodLabel(request.method), status, seconds, context)
    return log({ method: request.method, url: request.url, route: route.route, status, seconds })
  }

  const route = <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
      const context = fiber.context
      const matched = seriesOf(Context.getUnsafe(context, HttpRouter.RouteContext).route.path)
      const request = Context.getUnsafe(context, HttpServerRequest)
      const start = performance.now()
      return Effect.onExitPrimitive(handler, (exit) => {
        if (Exit.isSuccess(exit)) return record(matched, request, exit.value.status, start, context)
        return Effect.flatMap(
          causeResponse(exit.cause),
          ([response]) => record(matched, request, response.status, start, context) ?? Effect.void
        )
      })
    })

  // Nothing but a catch frame on a request that matched: the router fails at once when none did, so the time an
  // unmatched request took is measured from the failure (≈ 0).
  const answerUnmatched = Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
    const start = performance.now()
    const context = fiber.context
    const request = Context.getUnsafe(context, HttpServerRequest)
    const allow = options.allowed?.allowed(request.url) ?? []
    const response =
      allow.length === 0
        ? notFound
        : HttpServerResponse.text("method not allowed", { status: 405, headers: { allow: allow.join(", ") } })
    const logged = record(seriesOf(unmatchedRoute), request, response.status, start, context)
    return logged === undefined ? Effect.succeed(response) : Effect.as(logged, response)
  })
  const unmatched = <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.catchIf(app, isRouteNotFound, () => answerUnmatched)

  return { route, unmatched }
}

/** RequestMetrics.middleware — the route middleware of a fresh `make(server)` (no access log, no `Allow`). */
export const middleware = (server: string) => make(server).route

/**
 * RequestMetrics.layer — `make(server, options)` for the routes it is provided to: `route` on each of them and
 * `unmatched` around their router.
 */
export const layer = (server: string, options: Options = {}) =>
  Layer.unwrap(
    Effect.sync(() => {
      const observer = make(server, options)
      return Layer.merge(
        HttpRouter.middleware(observer.route).layer,
        HttpRouter.middleware(observer.unmatched, { global: true })
      )
    })
  )
