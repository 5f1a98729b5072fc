/**
 * Aggregate — the aggregation's shape, limit, cancellation, partial answers and deadline, on scripted upstreams whose
 * latencies run on the TestClock (so every start time is exact), each test under the fiber-leak check. The spans of
 * one request are recorded with a recording tracer and checked against the shape: profile, then orders and
 * recommendations side by side, then inventory once recommendations has answered.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Option, type Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Aggregate, type Answer } from "../../src/api/Aggregate.ts"
import { RuntimeConfig } from "../../src/services/RuntimeConfig.ts"
import { Upstreams } from "../../src/services/Upstreams.ts"
import type { UpstreamName } from "../../src/services/UpstreamsModel.ts"
import * as AtomicValue from "../../src/toolkit/AtomicValue.ts"
import * as RequestContext from "../../src/toolkit/RequestContext.ts"
import { recordSpans } from "../http/support.ts"
import { verifyNone } from "../support/goleak.ts"
import { aggregateLayer, expected, type Script, scripted } from "./aggregate-support.ts"

/** run — one aggregate of `userId`, its answer and the Clock time it ended */
const run = (userId: string, partial = false) =>
  Effect.flatMap(Aggregate, (aggregate) =>
    Effect.zip(
      aggregate.run(userId, partial, (answer: Answer) => answer),
      Clock.currentTimeMillis
    )
  )

/** within — `body` with the aggregation over `script`'s upstreams; the scripted upstreams come back with it */
const within = <A, E>(
  script: Script,
  body: (s: ReturnType<typeof scripted>) => Effect.Effect<A, E, Aggregate | RuntimeConfig>,
  limit = 4,
  aggregateTimeout = 10_000
) => {
  const s = scripted(script)
  return verifyNone(
    Effect.provide(
      body(s),
      aggregateLayer(
        Upstreams.layerTest(s.api),
        { aggregateConcurrency: limit },
        { aggregateTimeout: Duration.millis(aggregateTimeout) }
      )
    )
  )
}

/** settle — fork `effect`, move the TestClock by `millis`, and return its exit */
const settle = <A, E, R>(effect: Effect.Effect<A, E, R>, millis: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect, { startImmediately: true })
    yield* TestClock.adjust(millis)
    return yield* Fiber.await(fiber)
  })

const starts = (calls: ReadonlyArray<{ readonly upstream: UpstreamName; readonly at: number }>) =>
  calls.map((c) => `${c.upstream}@${c.at}`)

describe("Aggregate: the shape", () => {
  it.effect(
    "profile, then orders and recommendations together, then inventory per item; a cached profile costs nothing",
    () =>
      within({}, (s) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(run("alice"), { startImmediately: true })
          yield* TestClock.adjust(14)
          expect(fiber.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust(1)
          const [answer, endedAt] = yield* Fiber.join(fiber)
          expect(answer).toEqual(expected("alice"))
          expect(endedAt).toBe(15) // three dependent hops of 5 ms
          expect(starts(s.calls)).toEqual([
            "profile@0",
            "orders@5",
            "recommendations@5",
            "inventory@10",
            "inventory@10",
            "inventory@10"
          ])
          // the profile is cached now: two dependent hops
          const again = yield* settle(run("alice"), 100)
          expect(again).toEqual(Exit.succeed([expected("alice"), 25]))
          expect(s.of("profile")).toHaveLength(1)
        })
      )
  )

  it.effect("the spans show it: every call a child of the aggregate's span, in that order", () => {
    const recorder = recordSpans()
    return within({ latency: { orders: 12 } }, () =>
      Effect.gen(function* () {
        expect(Exit.isSuccess(yield* settle(run("bob"), 100))).toBe(true)
        const spans = recorder.spans
        const named = (name: string) => spans.filter((span) => span.name === name)
        const [aggregate] = named("aggregate")
        expect(aggregate).toBeDefined()
        const window = (span: Tracer.NativeSpan) => {
          expect(span.status._tag).toBe("Ended")
          const end = span.status._tag === "Ended" ? span.status.endTime : 0n
          return [Number(span.startTime / 1_000_000n), Number(end / 1_000_000n)]
        }
        const upstream = spans.filter((span) => span.name.startsWith("upstream "))
        expect(upstream.map((span) => span.name).sort()).toEqual([
          "upstream inventory",
          "upstream inventory",
          "upstream inventory",
          "upstream orders",
          "upstream profile",
          "upstream recommendations"
        ])
        for (const span of upstream) expect(Option.getOrUndefined(span.parent)).toBe(aggregate)
        expect(window(named("upstream profile")[0] as Tracer.NativeSpan)).toEqual([0, 5])
        expect(window(named("upstream orders")[0] as Tracer.NativeSpan)).toEqual([5, 17])
        expect(window(named("upstream recommendations")[0] as Tracer.NativeSpan)).toEqual([5, 10])
        expect(named("upstream inventory").map(window)).toEqual([
          [10, 15],
          [10, 15],
          [10, 15]
        ])
        expect(window(aggregate as Tracer.NativeSpan)).toEqual([0, 17])
      }).pipe(Effect.provide(recorder.layer))
    )
  })
})

describe("Aggregate: AGGREGATE_CONCURRENCY bounds the calls in flight", () => {
  // orders takes 12 ms, the others 5: with room, orders overlaps the three inventory calls
  it.effect.each([
    { limit: 4, peak: 4, endedAt: 17 },
    { limit: 2, peak: 2, endedAt: 22 },
    { limit: 1, peak: 1, endedAt: 37 }
  ])("limit $limit: at most $peak at once, done at $endedAt ms", ({ limit, peak, endedAt }) =>
    within(
      { latency: { orders: 12 } },
      (s) =>
        Effect.gen(function* () {
          const exit = yield* settle(run("carol"), 100)
          expect(exit).toEqual(Exit.succeed([expected("carol"), endedAt]))
          expect(s.peak()).toBe(peak)
        }),
      limit
    )
  )

  it.effect("each request reads one snapshot: a reload applies to the next request", () =>
    within({ latency: { orders: 12 } }, (s) =>
      Effect.gen(function* () {
        const config = yield* RuntimeConfig
        yield* AtomicValue.update(config.cell, (c) => ({ ...c, aggregateConcurrency: 1, version: c.version + 1 }))
        expect(Exit.isSuccess(yield* settle(run("dave"), 100))).toBe(true)
        expect(s.peak()).toBe(1)
      })
    )
  )
})

describe("Aggregate: the first failure cancels the rest", () => {
  it.effect.each([
    // orders fails at 7 ms while recommendations runs: no inventory call is ever made
    { failing: "orders", latency: { orders: 2 }, interrupted: ["recommendations"], inventoryCalls: 0 },
    // recommendations fails at 10 ms while orders runs (to 17)
    { failing: "recommendations", latency: { orders: 12 }, interrupted: ["orders"], inventoryCalls: 0 },
    // the inventory of the 2nd item fails at 15 ms while orders runs (to 17); the 3rd, due at the same instant but
    // woken after it, is interrupted too
    { failing: "inventory", latency: { orders: 12 }, interrupted: ["orders", "inventory"], inventoryCalls: 3 }
  ] as const)("$failing fails → the request fails with it, $interrupted interrupted", (c) =>
    within(
      {
        latency: c.latency,
        fail: (upstream, id) =>
          upstream === c.failing && (upstream !== "inventory" || id === expected("erin").inventory[1]?.itemId)
            ? 503
            : undefined
      },
      (s) =>
        Effect.gen(function* () {
          const exit = yield* settle(run("erin"), 100)
          expect(exit._tag).toBe("Failure")
          const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
          expect(error).toMatchObject({ _tag: "UpstreamError", upstream: c.failing, status: 503 })
          expect(s.calls.filter((call) => call.outcome === "interrupted").map((call) => call.upstream)).toEqual(
            c.interrupted
          )
          expect(s.of("inventory")).toHaveLength(c.inventoryCalls)
          expect(s.inFlight()).toBe(0)
        })
    )
  )

  it.effect.each([false, true])("a failed profile fails the request (partial: %s): nothing else is called", (partial) =>
    within({ fail: (upstream) => (upstream === "profile" ? 500 : undefined) }, (s) =>
      Effect.gen(function* () {
        const exit = yield* settle(run("frank", partial), 100)
        const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
        expect(error).toMatchObject({ _tag: "UpstreamError", upstream: "profile", status: 500 })
        expect(starts(s.calls)).toEqual(["profile@0"])
      })
    )
  )
})

describe("Aggregate: partial answers", () => {
  const whole = expected("gina")
  it.effect.each([
    {
      failing: "orders",
      answer: { ...whole, orders: null },
      errors: [{ upstream: "orders", message: "answered 503" }],
      inventoryCalls: 3,
      endedAt: 15
    },
    {
      failing: "recommendations",
      answer: { ...whole, recommendations: null, inventory: null },
      errors: [{ upstream: "recommendations", message: "answered 503" }],
      inventoryCalls: 0,
      endedAt: 10
    },
    {
      failing: "inventory",
      answer: { ...whole, inventory: whole.inventory.filter((_, i) => i !== 1) },
      errors: [{ upstream: "inventory", message: "answered 503" }],
      inventoryCalls: 3,
      endedAt: 15
    }
  ] as const)("$failing fails → 200 with the rest and the error", (c) =>
    within(
      {
        fail: (upstream, id) =>
          upstream === c.failing && (upstream !== "inventory" || id === whole.inventory[1]?.itemId) ? 503 : undefined
      },
      (s) =>
        Effect.gen(function* () {
          const exit = yield* settle(run("gina", true), 100)
          expect(exit).toEqual(Exit.succeed([{ ...c.answer, errors: c.errors }, c.endedAt]))
          expect(s.calls.some((call) => call.outcome === "interrupted")).toBe(false)
          expect(s.of("inventory")).toHaveLength(c.inventoryCalls)
        })
    )
  )

  it.effect("nothing failed → errors: []", () =>
    within({}, () =>
      Effect.gen(function* () {
        expect(yield* settle(run("hugo", true), 100)).toEqual(Exit.succeed([{ ...expected("hugo"), errors: [] }, 15]))
      })
    )
  )
})

describe("Aggregate: the deadline", () => {
  const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
    Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined

  it.effect(
    "AGGREGATE_TIMEOUT: at 12 ms every call in flight is interrupted and the request fails, in both modes",
    () =>
      within(
        {},
        (s) =>
          Effect.gen(function* () {
            for (const partial of [false, true]) {
              const fiber = yield* Effect.forkChild(run(`ivan${partial}`, partial), { startImmediately: true })
              yield* TestClock.adjust(11)
              expect(fiber.pollUnsafe()).toBeUndefined()
              yield* TestClock.adjust(1)
              const exit = yield* Fiber.await(fiber)
              expect(failureOf(exit)).toMatchObject({ _tag: "DeadlineExceeded" })
              expect(yield* Clock.currentTimeMillis).toBe(partial ? 24 : 12)
            }
            expect(s.inFlight()).toBe(0)
            expect(s.calls.filter((call) => call.outcome === "interrupted").map((call) => call.upstream)).toEqual([
              "inventory",
              "inventory",
              "inventory",
              "inventory",
              "inventory",
              "inventory"
            ])
          }),
        4,
        12
      )
  )

  it.effect("an earlier request deadline governs", () =>
    within({}, (s) =>
      Effect.gen(function* () {
        const exit = yield* settle(RequestContext.withTimeout(run("judy"), 7), 100)
        expect(failureOf(exit)).toMatchObject({ _tag: "DeadlineExceeded" })
        expect(s.calls.map((call) => `${call.upstream}:${call.outcome}`)).toEqual([
          "profile:succeeded",
          "orders:interrupted",
          "recommendations:interrupted"
        ])
      })
    )
  )
})
