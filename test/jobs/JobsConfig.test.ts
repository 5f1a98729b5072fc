/**
 * JobsConfig — the pool's variables: defaults (`WORKER_THREADS` is the machine's available parallelism), values
 * read from the environment, and `ConfigInvalid` naming the variable and the value for anything out of range.
 */
import os from "node:os"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { load } from "../../src/jobs/JobsConfig.ts"

const loadFrom = (env: Record<string, string>) =>
  load.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

describe("JobsConfig.load", () => {
  it.effect("defaults: one thread per available core, 256 queued, 10000 kept", () =>
    Effect.gen(function* () {
      expect(yield* loadFrom({})).toEqual({
        workerThreads: os.availableParallelism(),
        queueSize: 256,
        retention: 10_000
      })
    })
  )

  it.effect("reads every variable; 0 is a valid queue size and retention", () =>
    Effect.gen(function* () {
      expect(yield* loadFrom({ WORKER_THREADS: "3", JOB_QUEUE_SIZE: "0", JOB_RETENTION: "0" })).toEqual({
        workerThreads: 3,
        queueSize: 0,
        retention: 0
      })
    })
  )

  it.effect("a value out of range or not an integer is ConfigInvalid naming the variable and the value", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ WORKER_THREADS: "0" }, 'invalid configuration: WORKER_THREADS="0": expected an integer from 1 to 1024'],
        [
          { WORKER_THREADS: "2000" },
          'invalid configuration: WORKER_THREADS="2000": expected an integer from 1 to 1024'
        ],
        [{ JOB_QUEUE_SIZE: "-1" }, 'invalid configuration: JOB_QUEUE_SIZE="-1": expected an integer from 0 to 1000000'],
        [{ JOB_RETENTION: "many" }, 'invalid configuration: JOB_RETENTION="many": ']
      ]
      for (const [env, message] of cases) {
        const error = yield* loadFrom(env).pipe(Effect.flip)
        expect(error._tag).toBe("ConfigInvalid")
        expect(error.message.startsWith(message), error.message).toBe(true)
      }
    })
  )
})
