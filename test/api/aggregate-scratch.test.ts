/**
 * AggregateScratch and the simulated upstreams — the pooled scratch comes back reset whether its request succeeded,
 * failed or was interrupted, and no answer aliases it; the simulated upstreams read their knobs at each call (a
 * reload applies to the next call), and `Upstreams.layer` picks HTTP or simulated by the current snapshot.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Random } from "effect"
import { TestClock } from "effect/testing"
import { type Answer, make as makeAggregate } from "../../src/api/Aggregate.ts"
import * as AggregateScratch from "../../src/api/AggregateScratch.ts"
import { RuntimeConfig } from "../../src/services/RuntimeConfig.ts"
import { Upstreams } from "../../src/services/Upstreams.ts"
import { profileOf } from "../../src/services/UpstreamsSimulated.ts"
import * as AtomicValue from "../../src/toolkit/AtomicValue.ts"
import { UpstreamClient } from "../../src/toolkit/UpstreamClient.ts"
import { verifyNone } from "../support/goleak.ts"
import { realSleep } from "../support/http-client.ts"
import { aggregateLayer, expected, scripted } from "./aggregate-support.ts"

describe("AggregateScratch.pooled", () => {
  it.effect("a scratch goes back reset after success, failure and interruption, and is reused", () =>
    verifyNone(
      Effect.gen(function* () {
        const source = yield* AggregateScratch.pooled(4)
        const seen: Array<AggregateScratch.Scratch> = []
        const dirty = (scratch: AggregateScratch.Scratch) =>
          Effect.sync(() => {
            seen.push(scratch)
            scratch.profile = profileOf("x")
            scratch.inventory.push(undefined)
            scratch.errors.push({ upstream: "orders", message: "down" })
          })
        yield* source.use(dirty)
        yield* Effect.exit(source.use((scratch) => Effect.andThen(dirty(scratch), Effect.fail("boom"))))
        const gate = yield* Deferred.make<void>()
        const stuck = yield* Effect.forkChild(
          source.use((scratch) => Effect.andThen(dirty(scratch), Deferred.await(gate))),
          { startImmediately: true }
        )
        yield* Fiber.interrupt(stuck)
        yield* source.use((scratch) => Effect.sync(() => void seen.push(scratch)))
        expect(new Set(seen).size).toBe(1) // one object served all four, one at a time
        const last = seen[3] as AggregateScratch.Scratch
        expect([last.profile, last.inventory.length, last.errors.length]).toEqual([undefined, 0, 0])
      })
    )
  )

  it.effect("no answer aliases the scratch: a later request leaves an earlier answer as it was", () => {
    const s = scripted({ fail: (upstream) => (upstream === "orders" ? 503 : undefined) })
    return verifyNone(
      Effect.gen(function* () {
        const aggregate = yield* makeAggregate({ scratch: yield* AggregateScratch.pooled(1) })
        const once = (user: string) =>
          Effect.gen(function* () {
            const fiber = yield* Effect.forkChild(
              aggregate.run(user, true, (a: Answer) => a),
              { startImmediately: true }
            )
            yield* TestClock.adjust(100)
            return yield* Fiber.join(fiber)
          })
        const first = yield* once("pat")
        const copy = structuredClone(first)
        yield* once("quin")
        expect(first).toEqual(copy)
        expect(first).toEqual({
          ...expected("pat"),
          orders: null,
          errors: [{ upstream: "orders", message: "answered 503" }]
        })
      }).pipe(Effect.provide(aggregateLayer(Upstreams.layerTest(s.api))))
    )
  })
})

describe("Upstreams.layerSimulated", () => {
  const layer = Upstreams.layerSimulated.pipe(Layer.provideMerge(RuntimeConfig.layerTest()))

  it.effect("SIMULATED_LATENCY and SIMULATED_FAILURE_RATE are read at each call: a reload applies to the next", () =>
    verifyNone(
      Effect.gen(function* () {
        const upstreams = yield* Upstreams
        const config = yield* RuntimeConfig
        const timed = (call: Effect.Effect<unknown, unknown>) =>
          Effect.gen(function* () {
            const fiber = yield* Effect.forkChild(Effect.exit(call), { startImmediately: true })
            let waited = 0
            while (fiber.pollUnsafe() === undefined) {
              yield* TestClock.adjust(1)
              waited++
            }
            return [waited, (yield* Fiber.join(fiber))._tag] as const
          })
        expect(yield* timed(upstreams.profile("r"))).toEqual([5, "Success"])
        yield* AtomicValue.update(config.cell, (c) => ({
          ...c,
          simulatedLatency: Duration.millis(20),
          simulatedFailureRate: 1
        }))
        expect(yield* timed(upstreams.orders("r"))).toEqual([20, "Failure"])
      }).pipe(Effect.provide(layer))
    )
  )

  it.effect("a failure rate between 0 and 1 fails about that share of calls (seeded Random)", () =>
    verifyNone(
      Effect.gen(function* () {
        const upstreams = yield* Upstreams
        const config = yield* RuntimeConfig
        yield* AtomicValue.update(config.cell, (c) => ({
          ...c,
          simulatedLatency: Duration.zero,
          simulatedFailureRate: 0.3
        }))
        const exits = yield* Effect.forEach(Array.from({ length: 1000 }), () => Effect.exit(upstreams.orders("s")))
        const failed = exits.filter(Exit.isFailure).length
        expect(failed).toBeGreaterThan(240)
        expect(failed).toBeLessThan(360)
        const error = exits.find(Exit.isFailure)
        expect(error && Exit.isFailure(error) ? error.cause.reasons[0] : undefined).toMatchObject({
          error: { _tag: "UpstreamError", upstream: "orders", message: "simulated failure" }
        })
      }).pipe(Random.withSeed(42), Effect.provide(layer))
    )
  )
})

describe("Upstreams.layer", () => {
  it.effect("simulated while UPSTREAM_URL is unset, HTTP from the call after it is set", () =>
    verifyNone(
      Effect.gen(function* () {
        const upstreams = yield* Upstreams
        const config = yield* RuntimeConfig
        const fiber = yield* Effect.forkChild(upstreams.profile("t"), { startImmediately: true })
        yield* TestClock.adjust(5)
        expect(yield* Fiber.join(fiber)).toEqual(profileOf("t"))
        // port 9 on loopback: nothing listens there, so an HTTP call fails as unreachable
        yield* AtomicValue.update(config.cell, (c) => ({ ...c, upstreamUrl: "http://127.0.0.1:9" }))
        // the HTTP layer retries an unreachable upstream; its backoffs run on the TestClock, moved until it gives up
        const call = yield* Effect.forkChild(Effect.flip(upstreams.profile("t")), { startImmediately: true })
        for (let tries = 0; call.pollUnsafe() === undefined && tries < 400; tries++) {
          yield* realSleep(5)
          yield* TestClock.adjust(25)
        }
        const error = yield* Fiber.join(call)
        expect(error).toMatchObject({ _tag: "UpstreamError", upstream: "profile" })
        expect(error.message).toMatch(/^unreachable: /)
      }).pipe(
        Effect.provide(
          Upstreams.layer.pipe(Layer.provideMerge(RuntimeConfig.layerTest()), Layer.provide(UpstreamClient.layer))
        )
      )
    )
  )
})
