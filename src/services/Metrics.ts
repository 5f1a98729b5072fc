/**
 * Metrics — the service's Effect `Metric`s and the per-route observer that feeds them.
 *
 * Series (Prometheus names as rendered on the admin server's `/metrics`):
 * - `http_requests_total{server,route,method,status}` — requests answered, by route pattern (never the raw path);
 * - `http_requests_in_flight{server}` — requests being handled now;
 * - `http_request_duration_seconds{server,route}` — handler time, histogram;
 * - `shutdown_phase_seconds{phase}` — how long each shutdown phase took (unready, stop, drain, force, release).
 *
 * `observe` runs once per request on every route, so it is written for the hot path: metric handles are created once
 * per route (and per status seen), updates use the synchronous `updateUnsafe` / `modifyUnsafe`.
 */
import { Cause, Effect, Exit, type Fiber, Metric } from "effect"
import type { HttpServerResponse } from "effect/http"
import { FiberDump } from "./FiberDump.ts"

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
 * observe — wraps a route handler: counts it in flight while it runs, then records its status and duration, and
 * lists its fiber in the `/debug/fibers` dump meanwhile. Handler behaviour and interruptibility are unchanged.
 */
export const observe = (server: string, method: string, route: string) => {
  const inFlight = Metric.withAttributes(requestsInFlight, { server })
  const duration = Metric.withAttributes(requestDuration, { server, route })
  const byStatus = new Map<number, Metric.Counter<number>>()
  const counter = (status: number) => {
    let metric = byStatus.get(status)
    if (metric === undefined) {
      metric = Metric.withAttributes(requestsTotal, { server, route, method, status: String(status) })
      byStatus.set(status, metric)
    }
    return metric
  }
  const label = `${server} ${method} ${route}`
  return <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
      const context = fiber.context
      const start = performance.now()
      const dump = fiber.getRef(FiberDump)
      inFlight.modifyUnsafe(1, context)
      dump.add(fiber, label)
      return Effect.onExit(handler, (exit) => {
        inFlight.modifyUnsafe(-1, context)
        dump.delete(fiber)
        counter(statusOf(exit)).updateUnsafe(1, context)
        duration.updateUnsafe((performance.now() - start) / 1000, context)
        return Effect.void
      })
    })
}
