/**
 * Upstreams — the four services the aggregation calls (`profile`, `orders`, `recommendations`, `inventory`), behind
 * one Effect service with a layer per implementation, so tests and deployments swap the layer, never the code:
 * - `layerHttp`: real HTTP calls to `UPSTREAM_URL` (`UpstreamsHttp`: deadline propagated, retries inside it);
 * - `layerSimulated`: in-process upstreams with `SIMULATED_LATENCY` and `SIMULATED_FAILURE_RATE`
 *   (`UpstreamsSimulated`);
 * - `layer` (the program's): each call reads the current `RuntimeConfig` snapshot and goes over HTTP when
 *   `UPSTREAM_URL` is set, to the simulated upstreams when it is not — so `npm start` works alone, and a reload that
 *   sets or clears the URL applies from the next call;
 * - `layerTest(api)`: any implementation of `UpstreamsApi` (counting, gated, failing…).
 *
 * Every layer puts a client span around each call (`upstream <name>`, with the user or item id), so the trace of an
 * aggregate request shows its shape: the profile, then orders and recommendations side by side, then inventory.
 */
import { Context, Effect, Layer } from "effect"
import { UpstreamClient } from "../toolkit/UpstreamClient.ts"
import { RuntimeConfig } from "./RuntimeConfig.ts"
import * as UpstreamsHttp from "./UpstreamsHttp.ts"
import { traced, type UpstreamsApi } from "./UpstreamsModel.ts"
import * as UpstreamsSimulated from "./UpstreamsSimulated.ts"

/** Upstreams — the upstream calls of the aggregation; see the module comment. */
export class Upstreams extends Context.Service<Upstreams, UpstreamsApi>()("app/Upstreams") {
  /** Upstreams.layerSimulated — the in-process upstreams, knobs read from `RuntimeConfig` at each call. */
  static readonly layerSimulated: Layer.Layer<Upstreams, never, RuntimeConfig> = Layer.effect(
    Upstreams,
    Effect.map(RuntimeConfig, (config) => traced(UpstreamsSimulated.make(config)))
  )

  /** Upstreams.layerHttp — HTTP calls to `UPSTREAM_URL` (read at each call; unset: every call fails, saying so). */
  static readonly layerHttp: Layer.Layer<Upstreams, never, RuntimeConfig | UpstreamClient> = Layer.effect(
    Upstreams,
    Effect.gen(function* () {
      return traced(UpstreamsHttp.make(yield* RuntimeConfig, yield* UpstreamClient))
    })
  )

  /** Upstreams.layer — HTTP when the current snapshot has an `UPSTREAM_URL`, simulated otherwise; per call. */
  static readonly layer: Layer.Layer<Upstreams, never, RuntimeConfig | UpstreamClient> = Layer.effect(
    Upstreams,
    Effect.gen(function* () {
      const config = yield* RuntimeConfig
      const http = UpstreamsHttp.make(config, yield* UpstreamClient)
      const simulated = UpstreamsSimulated.make(config)
      const pick = () => (config.currentUnsafe().upstreamUrl === undefined ? simulated : http)
      return traced({
        profile: (userId) => Effect.suspend(() => pick().profile(userId)),
        orders: (userId) => Effect.suspend(() => pick().orders(userId)),
        recommendations: (userId) => Effect.suspend(() => pick().recommendations(userId)),
        inventory: (itemId) => Effect.suspend(() => pick().inventory(itemId))
      })
    })
  )

  /** Upstreams.layerTest — `api` as the upstreams, with the same spans as the real layers. */
  static readonly layerTest = (api: UpstreamsApi): Layer.Layer<Upstreams> => Layer.succeed(Upstreams, traced(api))
}
