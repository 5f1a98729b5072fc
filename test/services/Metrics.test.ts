/**
 * Metrics — `trackInFlight` as a unit, with its own metric registry: the in-flight gauge read at scrape time and
 * removed with its scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Metric, Scope } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { trackInFlight } from "../../src/services/Metrics.ts"

/** withRegistry — `effect` with a metric registry of its own. */
const withRegistry = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

describe("Metrics.trackInFlight", () => {
  const gauge = (server: string) =>
    Effect.map(
      Metric.snapshot,
      (metrics) =>
        metrics.find((m) => m.id === "http_requests_in_flight" && m.attributes?.server === server)?.state as
          | Metric.GaugeState<number>
          | undefined
    )

  it.effect("registers a gauge read at scrape time; releasing its scope removes the series", () =>
    withRegistry(
      Effect.gen(function* () {
        let inFlight = 3
        let reads = 0
        const apiScope = yield* Scope.make()
        yield* trackInFlight("api", () => {
          reads++
          return inFlight
        }).pipe(Scope.provide(apiScope))
        yield* trackInFlight("admin", () => 1)
        expect(reads).toBe(0)

        expect(yield* gauge("api")).toEqual({ value: 3 })
        expect(reads).toBe(1)
        inFlight = 7
        expect(yield* gauge("api")).toEqual({ value: 7 })
        expect(yield* PrometheusMetrics.format()).toContain('http_requests_in_flight{server="api"} 7\n')

        yield* Scope.close(apiScope, Exit.void)
        expect(yield* gauge("api")).toBeUndefined()
        expect(yield* gauge("admin")).toEqual({ value: 1 })
        const text = yield* PrometheusMetrics.format()
        expect(text).not.toContain('server="api"')
        expect(text).toContain('http_requests_in_flight{server="admin"} 1\n')
        const readsAfterRelease = reads
        yield* Metric.snapshot
        expect(reads).toBe(readsAfterRelease)
      })
    )
  )
})
