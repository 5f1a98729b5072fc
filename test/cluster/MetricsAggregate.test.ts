/**
 * MetricsAggregate: the merged exposition of several processes equals, for every summable series, the exposition of
 * one process that saw all their updates; gauges keep one series per process, labelled `worker`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as MetricsAggregate from "../../src/cluster/MetricsAggregate.ts"

const requests = Metric.counter("requests_total", { description: "requests" })
const duration = Metric.histogram("duration_seconds", { boundaries: [0.01, 0.1, 1] })
const statuses = Metric.frequency("statuses")
const inFlight = Metric.gauge("in_flight")

type Update = Effect.Effect<void>
const count = (route: string, n: number): Update => Metric.update(Metric.withAttributes(requests, { route }), n)
const observe = (seconds: number): Update => Metric.update(Metric.withAttributes(duration, { route: "/a" }), seconds)
const status = (code: string): Update => Metric.update(statuses, code)
const gauge = (value: number): Update => Metric.update(inFlight, value)

/** the snapshot and the exposition of a process (its own registry) that ran `updates` */
const processOf = (updates: ReadonlyArray<Update>) =>
  Effect.gen(function* () {
    yield* Effect.forEach(updates, (update) => update, { discard: true })
    return { snapshots: yield* Metric.snapshot, text: yield* PrometheusMetrics.format() }
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const worker1 = [count("/a", 3), count("/b", 1), observe(0.005), observe(0.5), status("200"), gauge(2)]
const worker2 = [count("/a", 4), observe(0.05), observe(5), status("200"), status("503"), gauge(5)]

/** the lines of `text` for the metric `name` (all of its samples), sorted */
const linesOf = (text: string, name: string) =>
  text
    .split("\n")
    .filter((line) => line.startsWith(name))
    .sort()

describe("MetricsAggregate", () => {
  it.effect("counters, histograms and frequencies: the same text as one process that saw every update", () =>
    Effect.gen(function* () {
      const one = yield* processOf(worker1)
      const two = yield* processOf(worker2)
      const all = yield* processOf([...worker1, ...worker2])
      const merged = MetricsAggregate.render([
        { worker: "1", snapshots: one.snapshots },
        { worker: "2", snapshots: two.snapshots }
      ])
      for (const name of ["requests_total", "duration_seconds", "statuses"]) {
        expect(linesOf(merged, name), name).toEqual(linesOf(all.text, name))
      }
      expect(linesOf(merged, 'requests_total{route="/a"}')).toEqual(['requests_total{route="/a"} 7'])
      expect(linesOf(merged, 'duration_seconds_count{route="/a"}')).toEqual(['duration_seconds_count{route="/a"} 4'])
      // one HELP and one TYPE line per family, as Prometheus requires
      expect(merged.split("\n").filter((line) => line === "# TYPE requests_total counter")).toHaveLength(1)
    })
  )

  it.effect("gauges: one series per process, labelled worker", () =>
    Effect.gen(function* () {
      const one = yield* processOf(worker1)
      const two = yield* processOf(worker2)
      const merged = MetricsAggregate.render([
        { worker: "primary", snapshots: [] },
        { worker: "1", snapshots: one.snapshots },
        { worker: "2", snapshots: two.snapshots }
      ])
      expect(linesOf(merged, "in_flight")).toEqual(['in_flight{worker="1"} 2', 'in_flight{worker="2"} 5'])
    })
  )

  it.effect("histograms with different boundaries are not summed: each keeps its series, labelled", () =>
    Effect.gen(function* () {
      const other = Metric.histogram("duration_seconds", { boundaries: [1, 2] })
      const one = yield* processOf([observe(0.5)])
      const two = yield* processOf([Metric.update(Metric.withAttributes(other, { route: "/a" }), 1.5)])
      const merged = MetricsAggregate.merge([
        { worker: "1", snapshots: one.snapshots },
        { worker: "2", snapshots: two.snapshots }
      ])
      expect(merged.map((snapshot) => snapshot.attributes)).toEqual([{ route: "/a" }, { route: "/a", worker: "2" }])
    })
  )
})
