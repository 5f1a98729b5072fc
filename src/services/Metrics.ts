/**
 * Metrics — the service's Effect `Metric`s and what feeds them.
 *
 * Series (Prometheus names as rendered on the admin server's `/metrics`):
 * - `http_requests_total{server,route,method,status}` — requests answered, by route pattern (never the raw path);
 * - `http_requests_in_flight{server}` — requests being handled now (read from the server's tracker when scraped);
 * - `http_request_duration_seconds{server,route}` — handler time, histogram;
 * - `shutdown_phase_seconds{phase}` — how long each shutdown phase took (unready, stop, drain, force, release).
 *
 * `observe` runs once per request on every route, so it is written for the hot path: metric handles are created once
 * per route (and per method and status seen) and updated with the synchronous `updateUnsafe`; the in-flight gauge
 * costs nothing per request (`trackInFlight` registers a gauge read at scrape time).
 */
import { Cause, Context, Effect, Exit, type Fiber, Metric } from "effect"
import type { HttpServerResponse } from "effect/http"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import { annotateRequest } from "./FiberDump.ts"

export const requestsTotal = Metric.counter("http_requests_total", {
  description: "HTTP requests answered, by server, route pattern, method and status"
})
export const requestsInFlight = Metric.gauge("http_requests_in_flight", {
  description: "HTTP requests being handled now"
})
export const requestDuration = Metric.histogram("http_request_duration_seconds", {
  description: "HTTP handler duration in seconds",
  boundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
})
export const shutdownPhaseSeconds = Metric.gauge("shutdown_phase_seconds", {
  description: "Duration of each graceful-shutdown phase in seconds"
})

/** statusOf — the status a handler's exit is answered with (the same mapping Effect's HTTP server applies). */
const statusOf = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>): number => {
  if (Exit.isSuccess(exit)) return exit.value.status
  if (Cause.hasInterruptsOnly(exit.cause)) return 503
  return 500
}

/**
 * observe — wraps the handler of `route` on `server`: when it ends, its status (by method) and duration are
 * recorded; while it runs, its fiber is findable from Node's request object (`/debug/fibers`). Handler behaviour and
 * interruptibility are unchanged.
 */
export const observe = (server: string, route: string) => {
  const duration = Metric.withAttributes(requestDuration, { server, route })
  const counters = new Map<string, Metric.Counter<number>>()
  const counter = (method: string, status: number) => {
    const key = `${method} ${status}`
    let metric = counters.get(key)
    if (metric === undefined) {
      metric = Metric.withAttributes(requestsTotal, { server, route, method, status: String(status) })
      counters.set(key, metric)
    }
    return metric
  }
  return <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
      const start = performance.now()
      const request = Context.getUnsafe(fiber.context, HttpServerRequest)
      annotateRequest(request.source as object, fiber, start)
      return Effect.onExitPrimitive(handler, (exit) => {
        const context = fiber.context
        counter(request.method, statusOf(exit)).updateUnsafe(1, context)
        duration.updateUnsafe((performance.now() - start) / 1000, context)
        return undefined
      })
    })
}

/** trackInFlight — registers `http_requests_in_flight{server}`, read from `count` at each scrape; scoped. */
export const trackInFlight = (server: string, count: () => number) =>
  Effect.acquireRelease(
    Effect.contextWith((context: Context.Context<never>) =>
      Effect.sync(() =>
        Metric.registerUnsafe(Metric.withAttributes(requestsInFlight, { server }), context, {
          get: () => ({ value: count() }),
          update: () => {},
          modify: () => {}
        })
      )
    ),
    (registration) => Effect.sync(() => registration.remove())
  )
