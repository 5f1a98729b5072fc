/**
 * GET /api/aggregate/:userId — the route on the real `ApiServer` (127.0.0.1:0, real sockets) over scripted upstreams
 * on the TestClock: the 200 body, 400s before any call, 404 for an unknown user, 502 naming the upstream with its
 * siblings interrupted, 504 at exactly the `x-request-timeout-ms` deadline with every call interrupted, and partial
 * answers. Each test runs under the fiber-leak check.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, References, type Scope } from "effect"
import { TestClock } from "effect/testing"
import * as AggregateRoute from "../../src/api/AggregateRoute.ts"
import { ApiServer } from "../../src/layers/ApiServer.ts"
import { AppConfig } from "../../src/services/AppConfig.ts"
import { FiberDump, makeRegistry } from "../../src/services/FiberDump.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { Upstreams } from "../../src/services/Upstreams.ts"
import { verifyNone } from "../support/goleak.ts"
import { connect, realSleep, waitFor } from "../support/http-client.ts"
import { withLayer } from "../support/lifecycle.ts"
import { aggregateLayer, expected, type Script, scripted } from "./aggregate-support.ts"

/** run — `body` with an ApiServer serving the route over `script`'s upstreams */
const run = <A, E>(
  script: Script,
  body: (s: ReturnType<typeof scripted>) => Effect.Effect<A, E, ApiServer | Scope.Scope>
) => {
  const s = scripted(script)
  const layer = ApiServer.layerWith(AggregateRoute.routes).pipe(
    Layer.provide(aggregateLayer(Upstreams.layerTest(s.api))),
    Layer.provideMerge(
      Layer.mergeAll(Lifecycle.layerTest, AppConfig.layerTest({}), Layer.succeed(References.MinimumLogLevel, "Error"))
    )
  )
  return verifyNone(
    body(s).pipe(
      withLayer(layer),
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(FiberDump, makeRegistry())
    )
  )
}

/** ask — sends `path` (with `headers`), moves the TestClock by `millis` once it is in flight, and reads the answer */
const ask = (path: string, millis: number, headers: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const server = yield* ApiServer
    const client = yield* connect(server.address.port)
    yield* client.send(path, headers)
    if (millis > 0) {
      yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)
      yield* TestClock.adjust(millis)
    }
    const answer = yield* client.next()
    return { status: answer.status, body: JSON.parse(answer.body) as unknown }
  })

describe("GET /api/aggregate/:userId", () => {
  it.effect("200 with { profile, orders, recommendations, inventory }", () =>
    run({}, () =>
      Effect.gen(function* () {
        expect(yield* ask("/api/aggregate/liz", 15)).toEqual({ status: 200, body: expected("liz") })
      })
    )
  )

  it.effect.each([
    { path: "/api/aggregate/a.b", error: `userId must be 1 to 64 letters, digits, '-' or '_', got "a.b"` },
    {
      path: `/api/aggregate/${"x".repeat(65)}`,
      error: `userId must be 1 to 64 letters, digits, '-' or '_', got "${"x".repeat(65)}"`
    },
    { path: "/api/aggregate/ok?partial=yes", error: `partial must be true or false, got "yes"` },
    {
      path: "/api/aggregate/ok?partial=true&partial=false",
      error: `partial must be true or false, got ["true","false"]`
    }
  ])("400 for $path, before any upstream call", ({ path, error }) =>
    run({}, (s) =>
      Effect.gen(function* () {
        expect(yield* ask(path, 0)).toEqual({ status: 400, body: { error } })
        expect(s.calls).toEqual([])
      })
    )
  )

  it.effect("404 when the profile upstream does not know the user", () =>
    run({ fail: (upstream) => (upstream === "profile" ? 404 : undefined) }, () =>
      Effect.gen(function* () {
        expect(yield* ask("/api/aggregate/nobody", 5)).toEqual({ status: 404, body: { error: "user not found" } })
      })
    )
  )

  it.effect("502 naming the first upstream that failed; its running siblings were interrupted", () =>
    run({ latency: { orders: 2 }, fail: (upstream) => (upstream === "orders" ? 503 : undefined) }, (s) =>
      Effect.gen(function* () {
        expect(yield* ask("/api/aggregate/moe", 7)).toEqual({
          status: 502,
          body: { error: "upstream orders failed: answered 503", upstream: "orders" }
        })
        expect(s.calls.map((call) => `${call.upstream}:${call.outcome}`)).toEqual([
          "profile:succeeded",
          "orders:failed",
          "recommendations:interrupted"
        ])
      })
    )
  )

  it.effect("?partial=true: 200 with what succeeded and errors: [{ upstream, message }]", () =>
    run({ fail: (upstream) => (upstream === "orders" ? 503 : undefined) }, () =>
      Effect.gen(function* () {
        expect(yield* ask("/api/aggregate/ned?partial=true", 15)).toEqual({
          status: 200,
          body: { ...expected("ned"), orders: null, errors: [{ upstream: "orders", message: "answered 503" }] }
        })
      })
    )
  )

  it.effect("504 at exactly the x-request-timeout-ms deadline; every call in flight interrupted", () =>
    run({}, (s) =>
      Effect.gen(function* () {
        const server = yield* ApiServer
        const client = yield* connect(server.address.port)
        yield* client.send("/api/aggregate/oz", ["x-request-timeout-ms: 12"])
        yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)
        yield* TestClock.adjust(11)
        yield* realSleep(40)
        expect(client.unread()).toBe(0)
        yield* TestClock.adjust(1)
        const answer = yield* client.next()
        expect([answer.status, JSON.parse(answer.body)]).toEqual([504, { error: "deadline exceeded" }])
        expect(s.inFlight()).toBe(0)
        expect(s.calls.map((call) => `${call.upstream}:${call.outcome}`)).toEqual([
          "profile:succeeded",
          "orders:succeeded",
          "recommendations:succeeded",
          "inventory:interrupted",
          "inventory:interrupted",
          "inventory:interrupted"
        ])
      })
    )
  )
})
