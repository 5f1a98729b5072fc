/**
 * RequestMetrics — counts every request a router answers, as an `HttpRouter` middleware: `http_requests_total` and
 * `http_request_duration_seconds` by server and route pattern (never the raw path), see `Metrics`.
 *
 * `middleware(server)` wraps each route's handler: it records the status the handler's exit maps to — the response's
 * own status, or for a failure the one Effect's server answers (`causeResponse`: 499 when the client went away, 503
 * when interrupted, a respondable error's own response, 500 otherwise) — and the handler's duration. `notFound` is a
 * catch-all route so that unknown paths are counted too, under route `*`. Behaviour and interruptibility of the
 * handler are unchanged.
 *
 * Hot path: one context lookup, one map lookup and one timestamp per request; the series are plain counters read at
 * scrape time.
 */
import { Context, Effect, Exit, type Fiber, type Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { causeResponse } from "effect/http/HttpServerError"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import { RouteSeries } from "../services/Metrics.ts"

/** RequestMetrics.middleware — the route middleware for `server`'s routes (one series per route pattern). */
export const middleware = (server: string) => {
  const series = new Map<string, RouteSeries>()
  const seriesOf = (route: string) => {
    let found = series.get(route)
    if (found === undefined) {
      found = new RouteSeries(server, route)
      series.set(route, found)
    }
    return found
  }
  return <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
      const context = fiber.context
      const route = seriesOf(Context.getUnsafe(context, HttpRouter.RouteContext).route.path)
      const method = Context.getUnsafe(context, HttpServerRequest).method
      const start = performance.now()
      const record = (status: number) => route.record(method, status, (performance.now() - start) / 1000, context)
      return Effect.onExitPrimitive(handler, (exit) => {
        if (Exit.isSuccess(exit)) return void record(exit.value.status)
        return Effect.map(causeResponse(exit.cause), ([response]) => record(response.status))
      })
    })
}

/** RequestMetrics.layer — `middleware(server)` for the routes it is provided to. */
export const layer = (server: string) => HttpRouter.middleware(middleware(server)).layer

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const
const notFoundResponse = HttpServerResponse.text("not found", { status: 404 })

/**
 * RequestMetrics.notFound — every other path, for every method but HEAD: 404, counted under route `*`. HEAD is left
 * out so that the router's HEAD → GET fallback answers HEAD on every GET route.
 */
export const notFound: Layer.Layer<never, never, HttpRouter.HttpRouter> = HttpRouter.addAll(
  methods.map((method) => HttpRouter.route(method, "*", Effect.succeed(notFoundResponse)))
)
