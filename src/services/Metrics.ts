/**
 * Metrics — the service's Effect `Metric`s and what feeds them.
 *
 * Series (Prometheus names as rendered on the admin server's `/metrics`):
 * - `http_requests_total{server,route,method,status}` — requests answered, by route pattern (never the raw path);
 * - `http_requests_in_flight{server}` — requests being handled now (read from the server's tracker when scraped);
 * - `http_request_duration_seconds{server,route}` — handler time, histogram;
 * - `shutdown_phase_seconds{phase}` — how long each shutdown phase took (unready, stop, drain, force, release).
 *
 * `observe` runs once per request on every route, so it is written for the hot path: it counts in plain numbers that
 * the registry reads when metrics are exported (see `RouteSeries`), and the in-flight gauge costs nothing per request
 * (`trackInFlight` registers a gauge read at scrape time).
 */
import { Context, Effect, Exit, type Fiber, Metric } from "effect"
import type { HttpServerResponse } from "effect/http"
import { causeResponse } from "effect/http/HttpServerError"
import { HttpServerRequest } from "effect/http/HttpServerRequest"

const durationBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export const requestsTotal = Metric.counter("http_requests_total", {
  description: "HTTP requests answered, by server, route pattern, method and status"
})
export const requestsInFlight = Metric.gauge("http_requests_in_flight", {
  description: "HTTP requests being handled now"
})
export const requestDuration = Metric.histogram("http_request_duration_seconds", {
  description: "HTTP handler duration in seconds",
  boundaries: durationBoundaries
})
export const shutdownPhaseSeconds = Metric.gauge("shutdown_phase_seconds", {
  description: "Duration of each graceful-shutdown phase in seconds"
})

/**
 * RouteSeries — the request series of one route, aggregated in plain counters on the request path and registered
 * with the metric registry (`Metric.registerUnsafe`) so exporters read them at scrape time. A series is registered
 * the first time it is seen, with the registry of the request that saw it.
 */
class RouteSeries implements RouteObserver {
  readonly counts = new Map<string, Map<number, { count: number }>>()
  readonly buckets = new Uint32Array(durationBoundaries.length)
  count = 0
  sum = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE
  registered = false

  readonly server: string
  readonly route: string

  constructor(server: string, route: string) {
    this.server = server
    this.route = route
  }

  record(method: string, status: number, seconds: number, context: Context.Context<never>) {
    let byStatus = this.counts.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      this.counts.set(method, byStatus)
    }
    let cell = byStatus.get(status)
    if (cell === undefined) {
      cell = this.registerCounter(method, status, context)
      byStatus.set(status, cell)
    }
    cell.count++
    let i = 0
    while (i < durationBoundaries.length && seconds > durationBoundaries[i]!) i++
    if (i < this.buckets.length) this.buckets[i]!++
    this.count++
    this.sum += seconds
    if (seconds < this.min) this.min = seconds
    if (seconds > this.max) this.max = seconds
    if (!this.registered) this.registerHistogram(context)
  }

  private registerCounter(method: string, status: number, context: Context.Context<never>) {
    const cell = { count: 0 }
    const attributes = { server: this.server, route: this.route, method, status: String(status) }
    Metric.registerUnsafe(Metric.withAttributes(requestsTotal, attributes), context, {
      get: () => ({ count: cell.count, incremental: true }),
      update: () => {},
      modify: () => {}
    })
    return cell
  }

  private registerHistogram(context: Context.Context<never>) {
    this.registered = true
    Metric.registerUnsafe(Metric.withAttributes(requestDuration, { server: this.server, route: this.route }), context, {
      get: () => {
        let cumulated = 0
        const buckets = durationBoundaries.map((boundary, i): [number, number] => {
          cumulated += this.buckets[i]!
          return [boundary, cumulated]
        })
        return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
      },
      update: () => {},
      modify: () => {}
    })
  }
}

/** RouteObserver — records one answered request of a route. */
export interface RouteObserver {
  readonly record: (method: string, status: number, seconds: number, context: Context.Context<never>) => void
}

/**
 * Observed — a request that reports its own answer: the server that created it calls `observer.record` once the
 * answer is written (`RequestHandler` does), so `observe` only has to say which route it belongs to.
 */
export interface Observed {
  observer: RouteObserver | undefined
}

const isObserved = (request: object): request is Observed => "observer" in request

/**
 * observe — wraps the handler of `route` on `server` so that each request's status (by method) and duration are
 * recorded. On a request that reports its own answer (`Observed`) it only names the route: the server records the
 * status it actually wrote (499 when the client went away) and the time until then, with no per-request work here.
 * On any other request it records the handler's exit, mapped to a status the way Effect's server maps it.
 * Handler behaviour and interruptibility are unchanged either way.
 */
export const observe = (server: string, route: string) => {
  const series = new RouteSeries(server, route)
  return <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest)
      if (isObserved(request)) {
        request.observer = series
        return handler
      }
      const start = performance.now()
      const record = (status: number) =>
        series.record(request.method, status, (performance.now() - start) / 1000, fiber.context)
      return Effect.onExitPrimitive(handler, (exit) => {
        if (Exit.isSuccess(exit)) return void record(exit.value.status)
        // the status Effect's server answers a failure with: 499 client gone, 503 interrupted, a respondable error's
        // own response, 500 otherwise
        return Effect.map(causeResponse(exit.cause), ([response]) => record(response.status))
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
