/**
 * RequestMetrics — the route middleware as a unit, each test with its own metric registry: the status recorded for
 * each kind of handler exit (by method) and the bucket each duration lands in.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { ClientAbort } from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Respondable from "effect/http/HttpServerRespondable"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as AccessLog from "../../src/http/AccessLog.ts"
import * as RequestMetrics from "../../src/http/RequestMetrics.ts"
import { captureLogs, type LogLine } from "../support/lifecycle.ts"

/** withRegistry — `effect` with a metric registry of its own. */
const withRegistry = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

/** observe — the middleware of `server` applied to one handler, run as the router runs it: `route` matched. */
const observe = (server: string, route: `/${string}`) => {
  const middleware = RequestMetrics.middleware(server)
  const matched = HttpRouter.route("GET", route, Effect.succeed(HttpServerResponse.text("")))
  return <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    middleware(handler).pipe(Effect.provideService(HttpRouter.RouteContext, { route: matched, params: {} }))
}

/** serve — runs an observed handler as the router would: with the request in its context. */
const serve =
  (method: string, path = "/r") =>
  <A, E, R>(handler: Effect.Effect<A, E, R>) =>
    Effect.provideService(
      handler,
      HttpServerRequest.HttpServerRequest,
      HttpServerRequest.fromWeb(new Request(`http://t${path}`, { method }))
    )

const ok = HttpServerResponse.text("ok")

/** counts — every `http_requests_total` series of `server`, as `method status count`, sorted. */
const counts = (server: string) =>
  Effect.map(Metric.snapshot, (metrics) =>
    metrics
      .filter((m) => m.id === "http_requests_total" && m.attributes?.server === server)
      .map((m) => {
        const { route, method, status } = m.attributes ?? {}
        return `${route} ${method} ${status} ${(m.state as Metric.CounterState<number>).count}`
      })
      .sort()
  )

/** histogram — the `http_request_duration_seconds` state of `server`/`route`. */
const histogram = (server: string, route: string) =>
  Effect.map(
    Metric.snapshot,
    (metrics) =>
      metrics.find(
        (m) =>
          m.id === "http_request_duration_seconds" && m.attributes?.server === server && m.attributes?.route === route
      )?.state as Metric.HistogramState | undefined
  )

class Teapot {
  readonly [Respondable.symbol] = () => Effect.succeed(HttpServerResponse.text("teapot", { status: 418 }))
}

describe("RequestMetrics.middleware", () => {
  it.effect("records the response's status on success, by method", () =>
    withRegistry(
      Effect.gen(function* () {
        const observed = observe("t", "/r")
        const created = HttpServerResponse.text("made", { status: 201 })
        expect(yield* observed(Effect.succeed(ok)).pipe(serve("GET"))).toBe(ok)
        yield* observed(Effect.succeed(ok)).pipe(serve("GET"))
        yield* observed(Effect.succeed(created)).pipe(serve("POST"))
        yield* observed(Effect.succeed(HttpServerResponse.empty({ status: 204 }))).pipe(serve("DELETE"))
        expect(yield* counts("t")).toEqual(["/r DELETE 204 1", "/r GET 200 2", "/r POST 201 1"])
      })
    )
  )

  it.effect("records 500 for a failure or a defect, and leaves the exit unchanged", () =>
    withRegistry(
      Effect.gen(function* () {
        const observed = observe("t", "/r")
        expect(yield* observed(Effect.fail("boom")).pipe(serve("GET"), Effect.exit)).toEqual(Exit.fail("boom"))
        const died = yield* observed(Effect.die("bug")).pipe(serve("PUT"), Effect.exit)
        expect(died).toEqual(Exit.die("bug"))
        yield* observed(Effect.fail("again")).pipe(serve("GET"), Effect.exit)
        expect(yield* counts("t")).toEqual(["/r GET 500 2", "/r PUT 500 1"])
      })
    )
  )

  it.effect("records 503 for a handler interrupted by the server, and it stays interruptible", () =>
    withRegistry(
      Effect.gen(function* () {
        const observed = observe("t", "/r")
        const started = yield* Deferred.make<void>()
        const hang = Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.as(ok))
        const fiber = yield* Effect.forkChild(observed(hang).pipe(serve("PATCH")))
        yield* Deferred.await(started)
        expect(yield* counts("t")).toEqual([])
        yield* Fiber.interrupt(fiber)
        yield* observed(Effect.interrupt).pipe(serve("GET"), Effect.exit)
        expect(yield* counts("t")).toEqual(["/r GET 503 1", "/r PATCH 503 1"])
      })
    )
  )

  it.effect("records 499, like Effect's server, for a handler interrupted because the client went away", () =>
    withRegistry(
      Effect.gen(function* () {
        const observed = observe("t", "/r")
        const started = yield* Deferred.make<void>()
        const hang = Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.as(ok))
        const fiber = yield* Effect.forkChild(observed(hang).pipe(serve("GET")))
        yield* Deferred.await(started)
        fiber.interruptUnsafe(undefined, ClientAbort.annotation)
        yield* Fiber.await(fiber)
        expect(yield* counts("t")).toEqual(["/r GET 499 1"])
      })
    )
  )

  it.effect("records the status Effect's server answers for a respondable failure", () =>
    withRegistry(
      Effect.gen(function* () {
        yield* observe("t", "/r")(Effect.fail(new Teapot())).pipe(serve("GET"), Effect.exit)
        expect(yield* counts("t")).toEqual(["/r GET 418 1"])
      })
    )
  )

  it.effect("keeps one series per route and server", () =>
    withRegistry(
      Effect.gen(function* () {
        yield* observe("a", "/x")(Effect.succeed(ok)).pipe(serve("GET"))
        yield* observe("a", "/y")(Effect.succeed(ok)).pipe(serve("GET"))
        yield* observe("b", "/x")(Effect.succeed(ok)).pipe(serve("GET"))
        expect(yield* counts("a")).toEqual(["/x GET 200 1", "/y GET 200 1"])
        expect(yield* counts("b")).toEqual(["/x GET 200 1"])
        expect((yield* histogram("a", "/x"))?.count).toBe(1)
        expect((yield* histogram("b", "/x"))?.count).toBe(1)
      })
    )
  )

  it.effect("places each duration in the first bucket whose bound it does not exceed; over 60 s only in +Inf", () => {
    // Durations are made exact on both clocks a handler could be timed with: `performance.now` (used today) and
    // the Effect clock (the TestClock here).
    let now = 1_000
    const spy = vi.spyOn(performance, "now").mockImplementation(() => now)
    const taking = (millis: number) =>
      Effect.sync(() => {
        now += millis
      }).pipe(Effect.andThen(TestClock.adjust(millis)), Effect.as(ok))
    return withRegistry(
      Effect.gen(function* () {
        const observed = observe("t", "/r")
        for (const millis of [0, 1, 1.5, 5, 250, 60_000, 61_000]) yield* observed(taking(millis)).pipe(serve("GET"))
        const state = yield* histogram("t", "/r")
        expect(state?.buckets).toEqual([
          [0.001, 2],
          [0.005, 4],
          [0.01, 4],
          [0.025, 4],
          [0.05, 4],
          [0.1, 4],
          [0.25, 5],
          [0.5, 5],
          [1, 5],
          [2.5, 5],
          [5, 5],
          [10, 5],
          [30, 5],
          [60, 6]
        ])
        expect([state?.count, state?.min, state?.max]).toEqual([7, 0, 61])
        expect(state?.sum).toBeCloseTo(121.2575, 9)

        const text = yield* PrometheusMetrics.format()
        expect(text).toContain('http_request_duration_seconds_bucket{server="t",route="/r",le="60"} 6\n')
        expect(text).toContain('http_request_duration_seconds_bucket{server="t",route="/r",le="+Inf"} 7\n')
        expect(text).toContain('http_request_duration_seconds_count{server="t",route="/r"} 7\n')
      })
    ).pipe(Effect.ensuring(Effect.sync(() => spy.mockRestore())))
  })

  it.live("times the handler in real time: a 40 ms handler lands above the 25 ms bucket", () =>
    withRegistry(
      Effect.gen(function* () {
        yield* observe("t", "/r")(Effect.sleep("40 millis").pipe(Effect.as(ok))).pipe(serve("GET"))
        const state = (yield* histogram("t", "/r"))!
        expect(state.count).toBe(1)
        expect(state.buckets.find(([bound]) => bound === 0.025)?.[1]).toBe(0)
        expect(state.buckets.find(([bound]) => bound === 60)?.[1]).toBe(1)
        expect(state.sum).toBeGreaterThanOrEqual(0.035)
        expect(state.sum).toBeLessThan(60)
      })
    )
  )
})

describe("RequestMetrics.methodLabel", () => {
  it("keeps the standard methods and folds every other one into _OTHER", () => {
    const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"]
    expect(methods.map(RequestMetrics.methodLabel)).toEqual(methods)
    expect(["PROPFIND", "MKCOL", "get", "X".repeat(1000)].map(RequestMetrics.methodLabel)).toEqual([
      "_OTHER",
      "_OTHER",
      "_OTHER",
      "_OTHER"
    ])
  })
})

describe("AccessLog.make", () => {
  const entry = (n: number) => ({
    method: "GET",
    url: `/r/${n}?q=secret`,
    route: "/r/:n",
    status: 200,
    seconds: 0.00123
  })

  it.effect("writes at most perSecond lines a second; the next line written says how many were dropped", () => {
    const lines: Array<LogLine> = []
    let now = 5_000
    const log = AccessLog.make("t", 2, () => now)
    const write = (n: number) => log(entry(n)) ?? Effect.void
    return Effect.gen(function* () {
      for (let n = 1; n <= 5; n++) yield* write(n)
      now = 5_999
      yield* write(6)
      now = 6_000
      yield* write(7)
      yield* write(8)
      yield* write(9)
      now = 7_500
      yield* write(10)
      expect(lines.map((line) => line.message)).toEqual([
        "GET /r/1 200",
        "GET /r/2 200",
        "GET /r/7 200",
        "GET /r/8 200",
        "GET /r/10 200"
      ])
      expect(lines.map((line) => line.annotations.dropped)).toEqual([undefined, undefined, 4, undefined, 1])
      expect(lines[0]!.annotations).toEqual({
        server: "t",
        method: "GET",
        path: "/r/1",
        route: "/r/:n",
        status: 200,
        millis: 1.2
      })
    }).pipe(Effect.provide(captureLogs(lines)))
  })

  it("is off at 0 lines a second", () => {
    expect(AccessLog.make("t", 0)(entry(1))).toBeUndefined()
  })

  it("cuts the path at 200 characters and never keeps the query", () => {
    expect(AccessLog.pathOf(`/${"a".repeat(10_000)}?token=x`)).toBe(`/${"a".repeat(199)}…`)
    expect(AccessLog.pathOf("/p?token=x")).toBe("/p")
    expect(AccessLog.pathOf("/p")).toBe("/p")
  })
})
