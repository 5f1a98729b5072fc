/**
 * Metrics — the service's Effect `Metric`s and what feeds them.
 *
 * Series (Prometheus names as rendered on the admin server's `/metrics`):
 * - `http_requests_total{server,route,method,status}` — requests answered, by route pattern (never the raw path);
 * - `http_requests_in_flight{server}` — requests being handled now (read from the server's tracker when scraped);
 * - `http_request_duration_seconds{server,route}` — handler time, histogram;
 * - `shutdown_phase_seconds{phase}` — how long each shutdown phase took (unready, stop, drain, force, release);
 * - `group_member_failures_total{member}` — failures of optional members of the group.
 *
 * The request series are fed once per request (`RequestMetrics`), so they are written for the hot path: plain
 * numbers that the registry reads when metrics are exported (`RouteSeries`); the in-flight gauge costs nothing per
 * request (`trackInFlight` registers a gauge read at scrape time).
 */
import { Context, Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"

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
export const memberFailures = Metric.counter("group_member_failures_total", {
  description: "Failures of optional members of the group, by member"
})

/**
 * RouteSeries — the request series of one route, aggregated in plain counters on the request path and registered
 * with the metric registry (`Metric.registerUnsafe`) so exporters read them at scrape time. A series is registered
 * the first time it is seen, with the registry of the request that saw it.
 */
export class RouteSeries {
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

/**
 * MetricsExposition — the Prometheus text the admin server's `GET /metrics` answers: this process's registry
 * (`PrometheusMetrics.format`) unless a layer provides another source — the cluster's primary provides the aggregate
 * of its workers (`src/cluster/ClusterAdmin.ts`).
 */
export const MetricsExposition = Context.Reference<Effect.Effect<string>>("lifecycle/MetricsExposition", {
  defaultValue: () => PrometheusMetrics.format()
})
