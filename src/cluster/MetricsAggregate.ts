/**
 * MetricsAggregate — the metrics of several processes (the cluster's workers and its primary) as one Prometheus
 * exposition, the way one scrape target should look.
 *
 * Series are matched by metric name and attributes (labels). The rules follow the Prometheus client's own
 * multi-process mode:
 * - counters, histograms and frequencies are **summed** across processes: what `rate()` and
 *   `histogram_quantile()` want of one pod (a histogram's buckets, count and sum add up; its min and max are the
 *   extremes; series whose bucket boundaries differ are not merged but labelled like gauges);
 * - gauges and summaries are **not summable** in general (the time a worker's drain took; quantiles): each process
 *   keeps its own series with a `worker` label — the worker's cluster id, or `primary`.
 * The text is rendered by Effect's own `PrometheusMetrics.formatUnsafe`, from a registry holding the merged
 * snapshots, so the format (HELP, TYPE, escaping, `_bucket`/`_sum`/`_count`) is exactly the single process's.
 */
import { Context, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"

/** MetricsAggregate.Source — one process's snapshot, named by `worker` (a cluster id or `primary`). */
export interface Source {
  readonly worker: string
  readonly snapshots: ReadonlyArray<Metric.Metric.Snapshot>
}

type Snapshot = Metric.Metric.Snapshot
type Attributes = Readonly<Record<string, string>>

/** MetricsAggregate.workerLabel — the label that tells the processes' gauges and summaries apart. */
export const workerLabel = "worker"

const keyOf = (id: string, attributes: Attributes | undefined) =>
  `${id}\u0000${JSON.stringify(Object.entries(attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`

const add = (a: number | bigint, b: number | bigint): number | bigint =>
  typeof a === "bigint" && typeof b === "bigint" ? a + b : Number(a) + Number(b)

const sameBoundaries = (a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>) =>
  a.length === b.length && a.every(([boundary], i) => boundary === b[i]?.[0])

/** the sum of two snapshots of the same series, or undefined when they cannot be summed */
const sum = (a: Snapshot, b: Snapshot): Snapshot | undefined => {
  if (a.type === "Counter" && b.type === "Counter") {
    return { ...a, state: { ...a.state, count: add(a.state.count, b.state.count) } }
  }
  if (a.type === "Frequency" && b.type === "Frequency") {
    const occurrences = new Map(a.state.occurrences)
    for (const [key, count] of b.state.occurrences) occurrences.set(key, (occurrences.get(key) ?? 0) + count)
    return { ...a, state: { occurrences } }
  }
  if (a.type === "Histogram" && b.type === "Histogram" && sameBoundaries(a.state.buckets, b.state.buckets)) {
    return {
      ...a,
      state: {
        buckets: a.state.buckets.map(([boundary, count], i): [number, number] => [
          boundary,
          count + (b.state.buckets[i]?.[1] ?? 0)
        ]),
        count: a.state.count + b.state.count,
        sum: a.state.sum + b.state.sum,
        min: Math.min(a.state.min, b.state.min),
        max: Math.max(a.state.max, b.state.max)
      }
    }
  }
  return undefined
}

const labelled = (snapshot: Snapshot, worker: string): Snapshot => ({
  ...snapshot,
  attributes: { ...snapshot.attributes, [workerLabel]: worker }
})

/** MetricsAggregate.merge — the merged series of `sources` (see the module comment), in first-seen order. */
export const merge = (sources: ReadonlyArray<Source>): ReadonlyArray<Snapshot> => {
  const series = new Map<string, Snapshot>()
  for (const { worker, snapshots } of sources) {
    for (const snapshot of snapshots) {
      const summable = snapshot.type === "Counter" || snapshot.type === "Frequency" || snapshot.type === "Histogram"
      const own = summable ? snapshot : labelled(snapshot, worker)
      const key = keyOf(own.id, own.attributes)
      const seen = series.get(key)
      if (seen === undefined) {
        series.set(key, own)
        continue
      }
      const merged = sum(seen, own)
      if (merged !== undefined) series.set(key, merged)
      else {
        const apart = labelled(snapshot, worker)
        series.set(keyOf(apart.id, apart.attributes), apart)
      }
    }
  }
  return [...series.values()]
}

/** MetricsAggregate.render — the Prometheus text exposition of the merged `sources`. */
export const render = (sources: ReadonlyArray<Source>): string => {
  const registry: Metric.MetricRegistry = new Map()
  for (const { state, ...meta } of merge(sources)) {
    registry.set(keyOf(meta.id, meta.attributes), {
      ...meta,
      hooks: { get: () => state, update: () => {}, modify: () => {} }
    })
  }
  return PrometheusMetrics.formatUnsafe(Context.make(Metric.MetricRegistry, registry))
}
