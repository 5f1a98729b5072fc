/**
 * UpstreamsSimulated — the four upstreams in process, so that `npm start` works alone: each call waits
 * `SIMULATED_LATENCY` and fails with probability `SIMULATED_FAILURE_RATE`, both read from the current
 * `RuntimeConfig` snapshot at the start of each call (a reload applies to the next call, never to one under way).
 *
 * Guarantees:
 * - the answers are a pure function of the id asked for (a user always has the same profile, orders and
 *   recommendations; an item the same stock), so tests and benchmarks see stable data;
 * - the latency is an `Effect.sleep` on Effect's `Clock` (a `TestClock` drives it) and is interruptible: a deadline or
 *   a sibling's failure ends the call at once;
 * - a failing call fails after its latency, like a real upstream, with `UpstreamError` "simulated failure"; the
 *   draw uses Effect's `Random` (seedable with `Random.withSeed`) and is skipped when the rate is 0 or 1.
 * Every user exists; every user gets `recommendationsPerUser` recommended items.
 */
import { Effect, Random } from "effect"
import type { RuntimeConfig } from "./RuntimeConfig.ts"
import {
  type InventoryItem,
  type Order,
  type Profile,
  type Recommendation,
  UpstreamError,
  type UpstreamName,
  type UpstreamsApi
} from "./UpstreamsModel.ts"

/** recommendationsPerUser — how many items the simulated recommendations upstream gives each user. */
export const recommendationsPerUser = 3

const segments = ["new", "regular", "loyal"] as const

/** FNV-1a, 32 bits: a stable number for an id */
const hash = (text: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** profileOf — the simulated profile of `userId`. */
export const profileOf = (userId: string): Profile => ({
  id: userId,
  name: `user ${userId}`,
  segment: segments[hash(userId) % segments.length] as string
})

/** ordersOf — the simulated orders of `userId` (0 to 3). */
export const ordersOf = (userId: string): ReadonlyArray<Order> => {
  const h = hash(`orders:${userId}`)
  return Array.from({ length: h % 4 }, (_, i) => ({
    id: `${userId}-${i + 1}`,
    total: ((h >>> (i * 8)) % 10_000) / 100
  }))
}

/** recommendationsOf — the simulated recommendations of `userId` (`recommendationsPerUser` distinct items). */
export const recommendationsOf = (userId: string): ReadonlyArray<Recommendation> => {
  const h = hash(`recommendations:${userId}`)
  return Array.from({ length: recommendationsPerUser }, (_, i) => ({
    itemId: `item-${(h % 997) * recommendationsPerUser + i}`,
    score: (recommendationsPerUser - i) / recommendationsPerUser
  }))
}

/** inventoryOf — the simulated stock of `itemId`. */
export const inventoryOf = (itemId: string): InventoryItem => ({ itemId, available: hash(itemId) % 50 })

/** make — the simulated upstreams, reading their knobs from `config` at each call. */
export const make = (config: RuntimeConfig["Service"]): UpstreamsApi => {
  const call = <A>(upstream: UpstreamName, answer: () => A): Effect.Effect<A, UpstreamError> =>
    Effect.gen(function* () {
      const { simulatedLatency, simulatedFailureRate: rate } = yield* config.current
      yield* Effect.sleep(simulatedLatency)
      const fails = rate >= 1 || (rate > 0 && (yield* Random.next) < rate)
      if (fails) return yield* new UpstreamError({ upstream, message: "simulated failure" })
      return answer()
    })
  return {
    profile: (userId) => call("profile", () => profileOf(userId)),
    orders: (userId) => call("orders", () => ordersOf(userId)),
    recommendations: (userId) => call("recommendations", () => recommendationsOf(userId)),
    inventory: (itemId) => call("inventory", () => inventoryOf(itemId))
  }
}
