/**
 * JobExecutor — where the pool's jobs run: `start(n)` gives `n` lanes, each running one job at a time.
 *
 * The live layer (`JobExecutor.layer`) gives each lane its own worker thread (`WorkerThreads`); `layerTest` runs a
 * job as an Effect in the calling fiber, so pool tests drive jobs with `Deferred`s and the `TestClock`. A lane's
 * contract, whatever the layer: `run` completes with the job's result, or fails with `JobFailed` (the work failed)
 * or `WorkerCrashed` (what ran it died; the lane replaces it and stays usable); interrupting `run` stops the job
 * (a thread is terminated) and leaves the lane usable.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { JobFailed, Task, WorkerCrashed } from "./Job.ts"
import * as WorkerThreads from "./WorkerThreads.ts"

/** JobExecutor.Lane — one place a job runs, one job at a time (the pool never overlaps two `run`s on a lane). */
export interface Lane {
  readonly run: (task: Task) => Effect.Effect<string, JobFailed | WorkerCrashed>
}

/** JobExecutor — starts the pool's lanes; see the module comment. */
export class JobExecutor extends Context.Service<
  JobExecutor,
  {
    /** start — `lanes` lanes, alive while the scope is open (a thread starts with its lane's first job). */
    readonly start: (lanes: number) => Effect.Effect<ReadonlyArray<Lane>, never, Scope.Scope>
  }
>()("jobs/JobExecutor") {
  /**
   * JobExecutor.layerThreads — lanes on worker threads running `entry` (a module serving `Task`s, like
   * `src/jobs/worker.ts`); tests pass a worker of their own.
   */
  static readonly layerThreads = (entry: URL): Layer.Layer<JobExecutor> =>
    Layer.succeed(JobExecutor, {
      start: (lanes) =>
        Effect.forEach(
          Array.from({ length: lanes }, (_, i) => i + 1),
          (id) => WorkerThreads.lane(id, entry)
        )
    })

  /** JobExecutor.layer — lanes on worker threads running the job worker (`worker.ts`, bundled as `dist/worker.js`). */
  static readonly layer: Layer.Layer<JobExecutor> = Layer.suspend(() => JobExecutor.layerThreads(WorkerThreads.entry))

  /** JobExecutor.layerTest — every lane runs a job as `work(task, lane)` in the pool's fiber. */
  static readonly layerTest = (
    work: (task: Task, lane: number) => Effect.Effect<string, JobFailed | WorkerCrashed>
  ): Layer.Layer<JobExecutor> =>
    Layer.succeed(JobExecutor, {
      start: (lanes) =>
        Effect.succeed(Array.from({ length: lanes }, (_, i) => ({ run: (task: Task) => work(task, i + 1) })))
    })
}
