/**
 * ProfileCache — singleflight (1000 concurrent misses for one user → one upstream call, counted), TTL and capacity on
 * the TestClock, failures not cached, and the shared lookup's independence from any one caller: a caller that leaves
 * (deadline, interruption) does not cancel the others, and the last one leaving cancels the lookup.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as ProfileCache from "../../src/services/ProfileCache.ts"
import { UpstreamError, type UpstreamsApi } from "../../src/services/UpstreamsModel.ts"
import { profileOf } from "../../src/services/UpstreamsSimulated.ts"
import * as RequestContext from "../../src/toolkit/RequestContext.ts"
import { verifyNone } from "../support/goleak.ts"

/** counting — a profile upstream that counts its calls and answers when `gate` opens (or after `latency` ms) */
const counting = (options: { gate?: Deferred.Deferred<void>; latency?: number; failFirst?: number } = {}) => {
  const state = { calls: 0, interrupted: 0, deadlines: [] as Array<boolean> }
  const profile = (userId: string) =>
    Effect.gen(function* () {
      const call = ++state.calls
      state.deadlines.push((yield* RequestContext.deadline)._tag === "Some")
      if (options.gate !== undefined) yield* Deferred.await(options.gate)
      yield* Effect.sleep(options.latency ?? 0)
      if (call <= (options.failFirst ?? 0)) return yield* new UpstreamError({ upstream: "profile", message: "down" })
      return profileOf(userId)
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => void state.interrupted++)))
  const api = { profile } as unknown as UpstreamsApi
  return { state, api }
}

const cacheOf = (api: UpstreamsApi, capacity = 100, ttl: Duration.Input = "30 seconds") =>
  ProfileCache.make(api, { capacity, timeToLive: Duration.fromInputUnsafe(ttl) })

describe("ProfileCache", () => {
  it.effect("1000 concurrent misses for one user make one upstream call, and all get the profile", () =>
    verifyNone(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const { state, api } = counting({ gate })
        const cache = yield* cacheOf(api)
        const callers = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 1000 }), () => cache.get("ann"), { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        yield* Effect.yieldNow
        expect(state.calls).toBe(1) // every caller has joined the pending lookup
        yield* Deferred.succeed(gate, undefined)
        const profiles = yield* Fiber.join(callers)
        expect(profiles).toHaveLength(1000)
        expect(new Set(profiles).size).toBe(1)
        expect(profiles[0]).toEqual(profileOf("ann"))
        expect(state.calls).toBe(1)
      })
    )
  )

  it.effect("a profile is served from the cache for PROFILE_CACHE_TTL, then fetched again", () =>
    verifyNone(
      Effect.gen(function* () {
        const { state, api } = counting()
        const cache = yield* cacheOf(api, 100, "30 seconds")
        yield* cache.get("bea")
        yield* TestClock.adjust("29999 millis")
        yield* cache.get("bea")
        expect(state.calls).toBe(1)
        yield* TestClock.adjust("1 millis")
        yield* cache.get("bea")
        expect(state.calls).toBe(2)
      })
    )
  )

  it.effect("beyond PROFILE_CACHE_SIZE the least recently used profile goes", () =>
    verifyNone(
      Effect.gen(function* () {
        const { state, api } = counting()
        const cache = yield* cacheOf(api, 2)
        yield* cache.get("a")
        yield* cache.get("b")
        yield* cache.get("a") // a is now the most recently used
        yield* cache.get("c") // b goes
        expect([state.calls, yield* cache.size]).toEqual([3, 2])
        yield* cache.get("a")
        expect(state.calls).toBe(3)
        yield* cache.get("b")
        expect(state.calls).toBe(4)
      })
    )
  )

  it.effect("a failed lookup fails every caller that joined it and is not cached", () =>
    verifyNone(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const { state, api } = counting({ gate, failFirst: 1 })
        const cache = yield* cacheOf(api)
        const callers = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 10 }), () => Effect.exit(cache.get("cid")), { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        yield* Effect.yieldNow
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Fiber.join(callers)
        expect(exits.every((exit) => Exit.isFailure(exit))).toBe(true)
        expect(state.calls).toBe(1)
        expect(yield* cache.get("cid")).toEqual(profileOf("cid"))
        expect(state.calls).toBe(2)
      })
    )
  )

  it.effect("the shared lookup outlives a caller's deadline; it is cancelled when its last caller leaves", () =>
    verifyNone(
      Effect.gen(function* () {
        const { state, api } = counting({ latency: 10 })
        const cache = yield* cacheOf(api)
        // a caller with a 5 ms deadline starts the lookup, a caller without one joins it
        const short = yield* Effect.forkChild(RequestContext.withTimeout(cache.get("dan"), 5), {
          startImmediately: true
        })
        const patient = yield* Effect.forkChild(cache.get("dan"), { startImmediately: true })
        yield* TestClock.adjust(5)
        expect(Exit.isFailure(yield* Fiber.await(short))).toBe(true)
        yield* TestClock.adjust(5)
        expect(yield* Fiber.join(patient)).toEqual(profileOf("dan"))
        expect([state.calls, state.interrupted, state.deadlines]).toEqual([1, 0, [false]])

        // now every caller leaves: the lookup is interrupted, and the next get starts a new one
        const leaving = yield* Effect.forkChild(cache.get("eve"), { startImmediately: true })
        yield* Effect.yieldNow
        yield* Fiber.interrupt(leaving)
        expect([state.calls, state.interrupted]).toEqual([2, 1])
        const again = yield* Effect.forkChild(cache.get("eve"), { startImmediately: true })
        yield* TestClock.adjust(10)
        expect(yield* Fiber.join(again)).toEqual(profileOf("eve"))
        expect(state.calls).toBe(3)
      })
    )
  )

  it.effect("PROFILE_CACHE_SIZE=0: no cache, each get is a call of its own under its caller's deadline", () =>
    verifyNone(
      Effect.gen(function* () {
        const { state, api } = counting()
        const cache = yield* cacheOf(api, 0)
        yield* Effect.forEach(["f", "f", "f"], (id) => RequestContext.withTimeout(cache.get(id), 1_000), {
          concurrency: "unbounded"
        })
        expect([state.calls, state.deadlines]).toEqual([3, [true, true, true]])
      })
    )
  )

  it.effect("PROFILE_CACHE_TTL=0: concurrent misses still share one call, and nothing is kept", () =>
    verifyNone(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const { state, api } = counting({ gate })
        const cache = yield* cacheOf(api, 100, 0)
        const callers = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 50 }), () => cache.get("gus"), { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        yield* Effect.yieldNow
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(callers)
        expect(state.calls).toBe(1)
        yield* cache.get("gus")
        expect([state.calls, yield* cache.size]).toEqual([2, 0])
      })
    )
  )
})
