/**
 * RuntimeConfig — the tunables are read from the environment with defaults, invalid values name their variable, and
 * the snapshot starts at version 1.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { ConfigInvalid } from "../../src/Errors.ts"
import { fromEnvironment, RuntimeConfig } from "../../src/services/RuntimeConfig.ts"

const env = (vars: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env: vars }))

describe("RuntimeConfig", () => {
  it.effect("uses the defaults when nothing is set: simulated upstreams, 5 ms, no failures", () =>
    Effect.gen(function* () {
      const tunables = yield* fromEnvironment.pipe(Effect.provide(env({})))
      expect({ ...tunables, simulatedLatency: Duration.toMillis(tunables.simulatedLatency) }).toEqual({
        upstreamUrl: undefined,
        aggregateConcurrency: 4,
        simulatedLatency: 5,
        simulatedFailureRate: 0,
        logLevel: "Info"
      })
    })
  )

  it.effect("reads every variable into snapshot version 1 from the environment", () =>
    Effect.gen(function* () {
      const config = yield* RuntimeConfig.pipe(
        Effect.provide(RuntimeConfig.layer),
        Effect.provide(
          env({
            UPSTREAM_URL: "http://127.0.0.1:9000",
            AGGREGATE_CONCURRENCY: "8",
            SIMULATED_LATENCY: "20 millis",
            SIMULATED_FAILURE_RATE: "0.25",
            LOG_LEVEL: "debug"
          })
        )
      )
      const snapshot = yield* config.current
      expect(snapshot).toMatchObject({
        upstreamUrl: "http://127.0.0.1:9000",
        aggregateConcurrency: 8,
        simulatedFailureRate: 0.25,
        logLevel: "Debug",
        version: 1,
        source: "environment"
      })
      expect(Duration.toMillis(snapshot.simulatedLatency)).toBe(20)
      expect(config.currentUnsafe()).toBe(snapshot)
    })
  )

  it.effect.each([
    ["UPSTREAM_URL", "ftp://x"],
    ["AGGREGATE_CONCURRENCY", "0"],
    ["SIMULATED_LATENCY", "-1"],
    ["SIMULATED_FAILURE_RATE", "1.5"]
  ] as const)("an invalid %s=%s fails naming the variable", ([variable, value]) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(fromEnvironment.pipe(Effect.provide(env({ [variable]: value }))))
      expect(error).toBeInstanceOf(ConfigInvalid)
      expect(error).toMatchObject({ variable, value })
    })
  )
})
