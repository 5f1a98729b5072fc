/**
 * ClusterAdmin — what the primary's admin server says about the whole cluster. The primary serves the admin port
 * (`ADMIN_HOST:ADMIN_PORT`) itself and the workers serve only the API, so the operator has one admin address per pod,
 * as with one process:
 * - `GET /metrics` — the primary asks every running worker for its metric snapshot over IPC (all at once, each
 *   bounded by `scrapeTimeout`) and answers the aggregate of theirs and its own (`MetricsAggregate`: counters and
 *   histograms summed, gauges labelled `worker`). A worker that does not answer in time is left out of that scrape
 *   and counted in `cluster_scrape_misses_total{worker}`; `cluster_workers_running` says how many are running.
 * - `GET /readyz` — ready only while the primary serves and every worker answers that it is ready (a readiness check
 *   named `workers`, which names the first worker that is not, and why: `worker 2: shutting down`).
 * - `GET /healthz` — the primary's own liveness: a worker that dies ends the primary, so a live primary means a
 *   complete cluster (a worker that hangs shows in `/readyz`).
 */
import { Effect, Layer, Metric, Option } from "effect"
import { Lifecycle } from "../services/Lifecycle.ts"
import { MetricsExposition } from "../services/Metrics.ts"
import type * as ClusterMessage from "./ClusterMessage.ts"
import { isToPrimary } from "./ClusterMessage.ts"
import { ClusterPrimary, type Tracked } from "./ClusterPrimary.ts"
import * as MetricsAggregate from "./MetricsAggregate.ts"

/** ClusterAdmin.scrapeTimeout — how long a scrape or readiness report waits for a worker's answer. */
export const scrapeTimeout = "1 second"

const scrapeMisses = Metric.counter("cluster_scrape_misses_total", {
  description: "Metric scrapes a worker did not answer in time, by worker"
})
const workersRunning = Metric.gauge("cluster_workers_running", { description: "Workers of the cluster running now" })

let nextQuery = 0

/** ClusterAdmin.ask — one query to one worker: its answer, or none if it did not answer within `scrapeTimeout`. */
export const ask = <Q extends ClusterMessage.Query>(
  worker: Tracked,
  what: Q
): Effect.Effect<Option.Option<ClusterMessage.Answers[Q]>> =>
  Effect.callback<Option.Option<ClusterMessage.Answers[Q]>>((resume) => {
    const id = ++nextQuery
    const remove = worker.ipc.listen((message) => {
      if (isToPrimary(message) && message._tag === "cluster/answer" && message.id === id) {
        remove()
        resume(Effect.succeed(Option.some(message.value as ClusterMessage.Answers[Q])))
      }
    })
    if (!worker.ipc.send({ _tag: "cluster/query", id, what } satisfies ClusterMessage.ToWorker)) {
      remove()
      resume(Effect.succeed(Option.none()))
    }
    return Effect.sync(remove)
  }).pipe(Effect.timeoutOrElse({ duration: scrapeTimeout, orElse: () => Effect.succeed(Option.none()) }))

const running = (primary: ClusterPrimary["Service"]) => primary.workers().filter((worker) => worker.exit === undefined)

/** the aggregate exposition: this process's snapshot and every running worker's */
const exposition = (primary: ClusterPrimary["Service"]) =>
  Effect.gen(function* () {
    const workers = running(primary)
    yield* Metric.update(workersRunning, workers.length)
    const answers = yield* Effect.forEach(
      workers,
      (worker) => Effect.map(ask(worker, "metrics"), (answer) => ({ worker: String(worker.id), answer })),
      { concurrency: "unbounded" }
    )
    const missing = answers.filter(({ answer }) => Option.isNone(answer))
    yield* Effect.forEach(missing, ({ worker }) =>
      Metric.update(Metric.withAttributes(scrapeMisses, { worker }), 1).pipe(
        Effect.andThen(Effect.logWarning(`worker ${worker} did not answer the metrics scrape within ${scrapeTimeout}`))
      )
    )
    const own = yield* Metric.snapshot
    const sources = answers.flatMap(({ worker, answer }) =>
      Option.isSome(answer) ? [{ worker, snapshots: answer.value }] : []
    )
    return MetricsAggregate.render([{ worker: "primary", snapshots: own }, ...sources])
  })

/** the readiness of every worker: fails naming the first that is not ready */
const workersReady = (primary: ClusterPrimary["Service"]) =>
  Effect.gen(function* () {
    const workers = primary.workers()
    const reports = yield* Effect.forEach(
      workers,
      (worker) => Effect.map(ask(worker, "readiness"), (report) => ({ worker, report })),
      { concurrency: "unbounded" }
    )
    for (const { worker, report } of reports) {
      const why =
        worker.exit !== undefined
          ? "exited"
          : Option.isNone(report)
            ? `no answer within ${scrapeTimeout}`
            : report.value.ready
              ? undefined
              : (report.value.reason ?? "not ready")
      if (why !== undefined) return yield* Effect.fail(new Error(`worker ${worker.id}: ${why}`))
    }
  })

/** ClusterAdmin.layer — `GET /metrics` and `GET /readyz` of the primary's admin server (see the module comment). */
export const layer: Layer.Layer<never, never, ClusterPrimary> = Layer.unwrap(
  ClusterPrimary.use((primary) =>
    Effect.succeed(
      Layer.mergeAll(
        Layer.succeed(MetricsExposition, exposition(primary)),
        // a worker's own checks take up to their timeout (1 s by default): leave them room
        Lifecycle.readinessCheck("workers", workersReady(primary), { timeout: "2 seconds" })
      )
    )
  )
)
