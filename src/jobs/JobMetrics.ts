/**
 * JobMetrics — the worker pool's Effect `Metric`s (rendered on the admin server's `/metrics`):
 * - `jobs_queued`, `jobs_running` — jobs waiting in the queue and on a worker thread now (gauges);
 * - `jobs_submitted_total`, `jobs_done_total`, `jobs_failed_total{reason}` (`error` when the work threw, `crash` when
 *   its worker thread died) — counters;
 * - `jobs_rejected_total{reason}` — `POST`s answered 503: `full` (the queue) or `stopping` (shutdown began);
 * - `jobs_abandoned_total` — jobs still queued or running when the pool was released (each is also logged by id);
 * - `job_worker_restarts_total` — worker threads started to replace one that died;
 * - `job_duration_seconds` — time on a worker thread, histogram.
 */
import { Metric } from "effect"

export const queued = Metric.gauge("jobs_queued", { description: "Jobs waiting in the queue" })
export const running = Metric.gauge("jobs_running", { description: "Jobs running on a worker thread" })
export const submitted = Metric.counter("jobs_submitted_total", { description: "Jobs accepted (POST answered 202)" })
export const done = Metric.counter("jobs_done_total", { description: "Jobs finished with a result" })
export const failed = Metric.counter("jobs_failed_total", {
  description: "Jobs failed, by reason: error (the work threw) or crash (the worker thread died)"
})
export const rejected = Metric.counter("jobs_rejected_total", {
  description: "Jobs refused with 503, by reason: full (queue) or stopping (shutdown)"
})
export const abandoned = Metric.counter("jobs_abandoned_total", {
  description: "Jobs still queued or running when the pool stopped (shutdown budget exhausted)"
})
export const restarts = Metric.counter("job_worker_restarts_total", {
  description: "Worker threads started to replace one that died"
})
export const duration = Metric.histogram("job_duration_seconds", {
  description: "Time a job spent on a worker thread, in seconds",
  boundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
})
