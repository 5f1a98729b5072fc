/**
 * Job — what a job is: the request `POST /api/jobs` accepts, the states a job goes through, the view `GET
 * /api/jobs/:id` answers, the messages between the pool and a worker thread, and the errors a job can end with.
 *
 * One kind today, `hash`: iterated SHA-256. Round 1 hashes the UTF-8 bytes of `input`, every further round hashes the
 * previous round's 32-byte digest; the result is the last digest in hex. `rounds` is an integer from `minRounds` to
 * `maxRounds`, `input` at most `maxInputLength` UTF-16 code units. Anyone can check a result, e.g. in Python:
 * `h = sha256(input.encode()).digest()`, then `h = sha256(h).digest()` `rounds - 1` times.
 *
 * States, in order: `queued` (accepted, waiting in the queue) → `running` (on a worker thread) → `done` (with
 * `result`) or `failed` (with `error`). A job never goes back; a job still queued or running when the process stops
 * is abandoned (see `JobPool`).
 */
import { Data, Schema } from "effect"

/** minRounds, maxRounds — the range of `rounds`: 1 round is ~2 µs here, the maximum ~10 s. */
export const minRounds = 1
export const maxRounds = 5_000_000

/** maxInputLength — the longest `input` accepted, in UTF-16 code units. */
export const maxInputLength = 4096

/** Job.Request — the body of `POST /api/jobs`; unknown fields are ignored. */
export const Request = Schema.Struct({
  kind: Schema.Literal("hash"),
  input: Schema.String.check(Schema.isMaxLength(maxInputLength)),
  rounds: Schema.Int.check(Schema.isBetween({ minimum: minRounds, maximum: maxRounds }))
})
export type Request = typeof Request.Type

/** Job.Status — where a job is in its life. */
export type Status = "queued" | "running" | "done" | "failed"

/** Job.View — the answer of `GET /api/jobs/:id`: `result` once done, `error` once failed. */
export interface View {
  readonly id: string
  readonly kind: Request["kind"]
  readonly rounds: number
  readonly status: Status
  readonly result?: string
  readonly error?: string
}

/** Job.Task — a job as the pool hands it to a worker: its id and its request. */
export interface Task {
  readonly id: string
  readonly request: Request
}

/** Job.Reply — a worker thread's answer for one task: the result, or the message of the error its work threw. */
export type Reply =
  | { readonly id: string; readonly ok: true; readonly result: string }
  | { readonly id: string; readonly ok: false; readonly error: string }

/** JobFailed — the work itself failed (the worker's handler threw); the worker thread lives on. */
export class JobFailed extends Data.TaggedError("JobFailed")<{ readonly id: string; readonly reason: string }> {
  override get message() {
    return `job ${this.id} failed: ${this.reason}`
  }
}

/**
 * WorkerCrashed — the worker thread running the job died (exited, threw outside the handler, ran out of memory, was
 * terminated). The job fails with this error; the pool replaces the thread.
 */
export class WorkerCrashed extends Data.TaggedError("WorkerCrashed")<{
  readonly id: string
  readonly worker: number
  readonly reason: string
}> {
  override get message() {
    return `worker thread ${this.worker} crashed while running job ${this.id}: ${this.reason}`
  }
}

/** QueueFull — the queue holds `JOB_QUEUE_SIZE` jobs already: `POST` answers 503 with `Retry-After`. */
export class QueueFull extends Data.TaggedError("QueueFull")<{ readonly capacity: number }> {
  override get message() {
    return `the job queue is full (${this.capacity} jobs waiting): retry later`
  }
}

/** PoolStopping — the process is shutting down and takes no new jobs: `POST` answers 503. */
export class PoolStopping extends Data.TaggedError("PoolStopping") {
  override get message() {
    return "the service is shutting down and accepts no new jobs"
  }
}
