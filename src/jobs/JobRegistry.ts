/**
 * JobRegistry — what `GET /api/jobs/:id` reads: every job queued or running, and the last `retention` finished ones.
 *
 * Retention: a job that finishes (done or failed) joins the finished list; when that list holds more than `retention`
 * jobs, the one that finished first is forgotten (its `GET` answers 404). Jobs queued or running are never
 * forgotten; there are at most `JOB_QUEUE_SIZE + WORKER_THREADS` of them (the queue is bounded, see `JobPool`), so
 * the registry holds at most `JOB_QUEUE_SIZE + WORKER_THREADS + retention` jobs and never grows without bound. A
 * record keeps the id, kind, rounds, status and the result or error — never the input.
 *
 * Synchronous and single-threaded (the pool's fibers call it): every method is one step, so a reader sees a job in
 * exactly one state.
 */
import type { Request, Status, View } from "./Job.ts"

/** JobRegistry.Counts — how many jobs are in each live state now. */
export interface Counts {
  readonly queued: number
  readonly running: number
}

/** JobRegistry — the jobs' records; see the module comment. */
export interface JobRegistry {
  /** add — records a new job as `queued`. */
  readonly add: (id: string, request: Request) => void
  /** remove — forgets a job that never entered the queue (its send was refused). */
  readonly remove: (id: string) => void
  /** start — `queued` → `running`. */
  readonly start: (id: string) => void
  /** finish — `running` (or `queued`) → `done` with `result`, or `failed` with `error`; then retention applies. */
  readonly finish: (id: string, outcome: { readonly result: string } | { readonly error: string }) => void
  /** get — the job's view, or undefined for an unknown or forgotten id. */
  readonly get: (id: string) => View | undefined
  /** unfinished — the jobs queued or running now, oldest first. */
  readonly unfinished: () => ReadonlyArray<View>
  readonly counts: () => Counts
}

interface MutableView {
  id: string
  kind: Request["kind"]
  rounds: number
  status: Status
  result?: string
  error?: string
}

/** JobRegistry.make — an empty registry keeping the last `retention` (≥ 0) finished jobs. */
export const make = (retention: number): JobRegistry => {
  /** live jobs (queued, running) in submission order */
  const live = new Map<string, MutableView>()
  /** finished jobs in finishing order: the first one is the next to be forgotten */
  const finished = new Map<string, MutableView>()
  let running = 0

  return {
    add: (id, request) => {
      live.set(id, { id, kind: request.kind, rounds: request.rounds, status: "queued" })
    },
    remove: (id) => {
      const job = live.get(id)
      if (job?.status === "queued") live.delete(id)
    },
    start: (id) => {
      const job = live.get(id)
      if (job?.status !== "queued") return
      job.status = "running"
      running++
    },
    finish: (id, outcome) => {
      const job = live.get(id)
      if (job === undefined) return
      if (job.status === "running") running--
      live.delete(id)
      if ("result" in outcome) {
        job.status = "done"
        job.result = outcome.result
      } else {
        job.status = "failed"
        job.error = outcome.error
      }
      finished.set(id, job)
      while (finished.size > retention) {
        const oldest = finished.keys().next()
        if (oldest.done === true) break
        finished.delete(oldest.value)
      }
    },
    get: (id) => {
      const job = live.get(id) ?? finished.get(id)
      return job === undefined ? undefined : { ...job }
    },
    unfinished: () => Array.from(live.values(), (job) => ({ ...job })),
    counts: () => ({ queued: live.size - running, running })
  }
}
