/**
 * aggregate-support — what the aggregation's tests share: scripted upstreams that record every call (when it started,
 * whether it was interrupted, how many ran at once) and answer the simulated data after a latency on Effect's clock,
 * and the aggregation's layers over them.
 */
import { Clock, Effect, Layer } from "effect"
import { Aggregate } from "../../src/api/Aggregate.ts"
import { AppConfig, type AppConfigValues } from "../../src/services/AppConfig.ts"
import { ProfileCache } from "../../src/services/ProfileCache.ts"
import { RuntimeConfig, type Tunables } from "../../src/services/RuntimeConfig.ts"
import type { Upstreams } from "../../src/services/Upstreams.ts"
import {
  UpstreamError,
  type UpstreamFailure,
  type UpstreamName,
  type UpstreamsApi
} from "../../src/services/UpstreamsModel.ts"
import { inventoryOf, ordersOf, profileOf, recommendationsOf } from "../../src/services/UpstreamsSimulated.ts"

/** Call — one call a scripted upstream received. */
export interface Call {
  readonly upstream: UpstreamName
  readonly id: string
  /** `Clock` time it started, in milliseconds */
  readonly at: number
  /** how it ended: undefined while running */
  outcome: "succeeded" | "failed" | "interrupted" | undefined
}

/** Script — how the scripted upstreams behave. */
export interface Script {
  /** milliseconds each call of an upstream takes (default 5) */
  readonly latency?: Partial<Record<UpstreamName, number>>
  /** the status a call fails with after its latency (`undefined`: it succeeds) */
  readonly fail?: (upstream: UpstreamName, id: string) => number | undefined
}

/** scripted — upstreams that follow `script` and record their calls. */
export const scripted = (script: Script = {}) => {
  const calls: Array<Call> = []
  let inFlight = 0
  let peak = 0
  const call = <A>(upstream: UpstreamName, id: string, answer: () => A): Effect.Effect<A, UpstreamFailure> =>
    Effect.suspend(() => {
      const record: Call = { upstream, id, at: 0, outcome: undefined }
      return Effect.gen(function* () {
        ;(record as { at: number }).at = yield* Clock.currentTimeMillis
        calls.push(record)
        inFlight++
        peak = Math.max(peak, inFlight)
        yield* Effect.sleep(script.latency?.[upstream] ?? 5)
        const status = script.fail?.(upstream, id)
        if (status !== undefined) return yield* new UpstreamError({ upstream, status, message: `answered ${status}` })
        return answer()
      }).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            inFlight--
            record.outcome =
              exit._tag === "Success"
                ? "succeeded"
                : exit.cause.reasons.some((r) => r._tag === "Fail")
                  ? "failed"
                  : "interrupted"
          })
        )
      )
    })
  const api: UpstreamsApi = {
    profile: (userId) => call("profile", userId, () => profileOf(userId)),
    orders: (userId) => call("orders", userId, () => ordersOf(userId)),
    recommendations: (userId) => call("recommendations", userId, () => recommendationsOf(userId)),
    inventory: (itemId) => call("inventory", itemId, () => inventoryOf(itemId))
  }
  return {
    api,
    calls,
    /** the calls of one upstream */
    of: (upstream: UpstreamName) => calls.filter((c) => c.upstream === upstream),
    /** the most calls that ran at once */
    peak: () => peak,
    inFlight: () => inFlight
  }
}

/** expected — the whole answer for `userId` from the simulated data. */
export const expected = (userId: string) => {
  const recommendations = recommendationsOf(userId)
  return {
    profile: profileOf(userId),
    orders: ordersOf(userId),
    recommendations,
    inventory: recommendations.map((r) => inventoryOf(r.itemId))
  }
}

/**
 * aggregateLayer — `Aggregate.layer` over `upstreams`, with its `ProfileCache`, `RuntimeConfig` (`tunables`) and
 * `AppConfig` (`config`); `Upstreams`, `ProfileCache` and `RuntimeConfig` stay visible to the test.
 */
export const aggregateLayer = (
  upstreams: Layer.Layer<Upstreams, never, RuntimeConfig>,
  tunables: Partial<Tunables> = {},
  config: Partial<AppConfigValues> = {}
) =>
  Aggregate.layer.pipe(
    Layer.provideMerge(ProfileCache.layer),
    Layer.provideMerge(upstreams),
    Layer.provideMerge(Layer.mergeAll(RuntimeConfig.layerTest(tunables), AppConfig.layerTest(config)))
  )
