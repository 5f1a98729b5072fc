/**
 * JobsConfig — the worker pool's knobs, read once from the environment like `AppConfig` (same rules, same
 * `ConfigInvalid` naming the variable and the value):
 * - `WORKER_THREADS` — worker threads in the pool, 1–1024; default `os.availableParallelism()` (Go's GOMAXPROCS);
 * - `JOB_QUEUE_SIZE` — jobs that may wait for a thread, 0–1000000 (0: a job is accepted only when a thread is free);
 *   default 256;
 * - `JOB_RETENTION` — finished jobs kept for `GET /api/jobs/:id`, 0–1000000; default 10000.
 */
import os from "node:os"
import { Config, Context, Effect, Layer } from "effect"
import type { ConfigInvalid } from "../Errors.ts"
import { read } from "../services/AppConfig.ts"

/** JobsConfig.Values — the parsed configuration. */
export interface JobsConfigValues {
  readonly workerThreads: number
  readonly queueSize: number
  readonly retention: number
}

/** JobsConfig.defaults — the values used when a variable is unset. */
export const defaults: JobsConfigValues = {
  workerThreads: os.availableParallelism(),
  queueSize: 256,
  retention: 10_000
}

const between = (min: number, max: number) => (n: number) =>
  n >= min && n <= max ? undefined : `expected an integer from ${min} to ${max}`

/** JobsConfig.load — reads the variables from the current `ConfigProvider` (the environment by default). */
export const load: Effect.Effect<JobsConfigValues, ConfigInvalid> = Effect.gen(function* () {
  return {
    workerThreads: yield* read(
      "WORKER_THREADS",
      Config.Int("WORKER_THREADS"),
      defaults.workerThreads,
      between(1, 1024)
    ),
    queueSize: yield* read("JOB_QUEUE_SIZE", Config.Int("JOB_QUEUE_SIZE"), defaults.queueSize, between(0, 1_000_000)),
    retention: yield* read("JOB_RETENTION", Config.Int("JOB_RETENTION"), defaults.retention, between(0, 1_000_000))
  }
})

/** JobsConfig — the pool's configuration as a service. `layer` reads the environment; `layerTest` takes values. */
export class JobsConfig extends Context.Service<JobsConfig, JobsConfigValues>()("jobs/JobsConfig") {
  static readonly layer: Layer.Layer<JobsConfig, ConfigInvalid> = Layer.effect(JobsConfig, load)
  static readonly layerTest = (overrides: Partial<JobsConfigValues> = {}): Layer.Layer<JobsConfig> =>
    Layer.succeed(JobsConfig, { ...defaults, workerThreads: 2, queueSize: 4, retention: 100, ...overrides })
}
