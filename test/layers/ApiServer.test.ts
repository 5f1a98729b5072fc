/**
 * ApiServer — the real `ApiServer.layer` on 127.0.0.1:0 with the real `Lifecycle`, reached over real sockets: health
 * and readiness across the lifecycle, `/api/delay/:ms` (its range, its 400s, its interruptibility) and the catch-all
 * 404, and the request deadline header on every route. Each test gets its own metric registry and fiber dump; delays
 * and deadlines run on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, Metric, References, type Scope } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { ApiServer, maxDelayMillis } from "../../src/layers/ApiServer.ts"
import { AppConfig, type AppConfigValues } from "../../src/services/AppConfig.ts"
import { FiberDump, makeRegistry } from "../../src/services/FiberDump.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { verifyNone } from "../support/goleak.ts"
import { connect, fetchAnswer, realSleep, waitFor, waitUntil } from "../support/http-client.ts"
import { withLayer } from "../support/lifecycle.ts"
import { request } from "./request.ts"

/** the real ApiServer with the real Lifecycle, test signals and teardown, ports 0 on 127.0.0.1; logs kept quiet */
const serverLayer = (config: Partial<AppConfigValues>) =>
  ApiServer.layer.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Lifecycle.layerTest,
        AppConfig.layerTest(config),
        Layer.succeed(References.MinimumLogLevel, "Error")
      )
    )
  )

/** run — `body` with a bound ApiServer, a fresh metric registry and a fresh fiber dump; all released at the end. */
const run = <A, E>(
  body: Effect.Effect<A, E, ApiServer | Lifecycle | Scope.Scope>,
  config: Partial<AppConfigValues> = {}
) =>
  body.pipe(
    withLayer(serverLayer(config)),
    Effect.provideService(Metric.MetricRegistry, new Map()),
    Effect.provideService(FiberDump, makeRegistry())
  )

/** http — one request with `fetch` (bounded by 2 s of real time). */
const http = fetchAnswer

const portOf = ApiServer.use((server) => Effect.succeed(server.address.port))

/** requestCount — the count of `http_requests_total` for these labels in the current registry, 0 when absent. */
const requestCount = (context: Context.Context<never>, labels: Readonly<Record<string, string>>) => {
  const series = Metric.snapshotUnsafe(context).find(
    (m) =>
      m.id === "http_requests_total" &&
      Object.entries(labels).every(([k, v]) => m.attributes?.[k] === v) &&
      Object.keys(m.attributes ?? {}).length === Object.keys(labels).length
  )
  return series === undefined ? 0 : Number((series.state as Metric.CounterState<number>).count)
}

/** the `http_requests_total` series of the delay route: status and count */
const delaySeries = (context: Context.Context<never>) =>
  Metric.snapshotUnsafe(context)
    .filter((m) => m.id === "http_requests_total" && m.attributes?.route === "/api/delay/:ms")
    .map((m) => ({ status: m.attributes?.status, count: Number((m.state as Metric.CounterState<number>).count) }))

describe("ApiServer health", () => {
  it.effect("/healthz answers 200 ok, whatever the phase", () =>
    run(
      Effect.gen(function* () {
        const port = yield* portOf
        expect(yield* http(port, "/healthz")).toMatchObject({ status: 200, body: "ok" })
        const lifecycle = yield* Lifecycle
        yield* lifecycle.setReady(false)
        expect(yield* http(port, "/healthz")).toMatchObject({ status: 200, body: "ok" })
      })
    )
  )

  it.effect("/readyz: 200 once bound, 503 when turned off, 503 from the start of shutdown", () =>
    run(
      Effect.gen(function* () {
        const port = yield* portOf
        const lifecycle = yield* Lifecycle
        expect(yield* http(port, "/readyz")).toMatchObject({ status: 200, body: "ready" })
        yield* lifecycle.setReady(false)
        expect(yield* http(port, "/readyz")).toMatchObject({ status: 503, body: "not ready: turned off" })
        yield* lifecycle.setReady(true)

        // SHUTDOWN_DELAY (on the TestClock, never advanced): unready, but the listener still accepts
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        expect(yield* http(port, "/readyz")).toMatchObject({ status: 503, body: "not ready: shutting down" })
        expect(yield* http(port, "/healthz")).toMatchObject({ status: 200, body: "ok" })
        yield* lifecycle.setReady(true)
        expect(yield* http(port, "/readyz")).toMatchObject({ status: 503, body: "not ready: shutting down" })
        expect(shutdown.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("5 seconds")
        // fetch's idle keep-alive connection is closed after the idle grace (it no longer closes it by itself 4 s
        // later: the server's keep-alive timeout is 65 s, not Node's 5 s)
        const server = yield* ApiServer
        yield* waitFor("drain begun", server.tracker.draining)
        yield* TestClock.adjust("250 millis")
        expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })
      }),
      { shutdownDelay: Duration.seconds(5) }
    )
  )
})

describe("ApiServer /api/delay/:ms", () => {
  it.effect("/api/delay/0 answers 200 with {waited: 0} as JSON", () =>
    run(
      Effect.gen(function* () {
        const answer = yield* http(yield* portOf, "/api/delay/0")
        expect(answer).toEqual({ status: 200, contentType: "application/json", body: '{"waited":0}' })
      })
    )
  )

  it.effect("/api/delay/60000 (the maximum) is accepted and answers exactly when 60 s have passed", () =>
    run(
      Effect.gen(function* () {
        const server = yield* ApiServer
        const client = yield* connect(server.address.port)
        yield* client.send(`/api/delay/${maxDelayMillis}`)
        yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)

        yield* TestClock.adjust(`${maxDelayMillis - 1} millis`)
        yield* realSleep(40)
        expect(client.unread()).toBe(0)
        yield* TestClock.adjust("1 millis")
        const answer = yield* client.next()
        expect([answer.status, answer.body]).toEqual([200, '{"waited":60000}'])
      })
    )
  )

  it.effect.each([
    ["60001", "above the maximum"],
    ["99999", "five digits, above the maximum"],
    ["-1", "negative"],
    ["abc", "not a number"],
    ["1.5", "not an integer"],
    ["1e3", "exponent notation"]
  ])("/api/delay/%s (%s) answers 400 with a JSON error naming the value", ([raw]) =>
    run(
      Effect.gen(function* () {
        const answer = yield* http(yield* portOf, `/api/delay/${raw}`)
        expect([answer.status, answer.contentType]).toEqual([400, "application/json"])
        expect(JSON.parse(answer.body)).toEqual({ error: `ms must be an integer from 0 to 60000, got "${raw}"` })
      })
    )
  )

  it.effect("a client that disconnects mid-delay interrupts the handler at once", () =>
    run(
      Effect.gen(function* () {
        const server = yield* ApiServer
        const context = yield* Effect.context<never>()
        const client = yield* connect(server.address.port)
        yield* client.send("/api/delay/60000")
        yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)
        yield* realSleep(20)
        expect(delaySeries(context)).toEqual([])

        // The TestClock never moves: only an interruption can end the handler, counted 499 (client gone).
        yield* client.destroy
        yield* waitFor("request closed", () => server.tracker.inFlight() === 0, 1_000)
        const series = yield* waitUntil(
          "counted",
          () => (delaySeries(context).length > 0 ? delaySeries(context) : undefined),
          1_000
        )
        expect(series).toEqual([{ status: "499", count: 1 }])
      })
    )
  )
})

describe("ApiServer catch-all", () => {
  it.effect("an unknown path answers 404 not found", () =>
    run(
      Effect.gen(function* () {
        const port = yield* portOf
        expect(yield* http(port, "/nope")).toMatchObject({ status: 404, body: "not found" })
        expect(yield* http(port, "/api/delay")).toMatchObject({ status: 404, body: "not found" })
        expect(yield* http(port, "/api/delay/5/extra")).toMatchObject({ status: 404, body: "not found" })
      })
    )
  )

  it.effect.each(["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])(
    "%s on an unknown path answers 404 and is counted under route * with its method",
    (method) =>
      run(
        Effect.gen(function* () {
          const port = yield* portOf
          const context = yield* Effect.context<never>()
          const answer = yield* http(port, "/nope", method)
          expect(answer).toMatchObject({ status: 404, body: method === "HEAD" ? "" : "not found" })
          const labels = { server: "api", route: "*", method, status: "404" }
          yield* waitUntil("404 counted", () => (requestCount(context, labels) === 1 ? true : undefined), 1_000)
        })
      )
  )

  it.effect("a known path with another method answers 405 with Allow, like Go 1.22's ServeMux", () =>
    run(
      Effect.gen(function* () {
        const port = yield* portOf
        for (const [method, path] of [
          ["POST", "/healthz"],
          ["DELETE", "/api/delay/0"],
          ["PUT", "/readyz"],
          ["OPTIONS", "/healthz"],
          ["TRACE", "/healthz"],
          ["PROPFIND", "/api/delay/5"]
        ] as const) {
          const answer = yield* request(port, path, { method })
          expect([answer.status, answer.headers.allow, answer.body], `${method} ${path}`).toEqual([
            405,
            "GET, HEAD",
            "method not allowed"
          ])
        }
        // an unknown path stays 404, whatever the method
        for (const method of ["GET", "POST", "TRACE", "PROPFIND"]) {
          const answer = yield* request(port, "/nope", { method })
          expect([answer.status, answer.headers.allow, answer.body], method).toEqual([404, undefined, "not found"])
        }
      })
    )
  )

  it.effect("HEAD on a GET route answers like GET without a body", () =>
    run(
      Effect.gen(function* () {
        const port = yield* portOf
        expect(yield* http(port, "/healthz", "HEAD")).toMatchObject({ status: 200, body: "" })
        expect(yield* http(port, "/api/delay/0", "HEAD")).toMatchObject({ status: 200, body: "" })
      })
    )
  )
})

describe("ApiServer request deadline (x-request-timeout-ms)", () => {
  const timeout = (millis: string) => [`x-request-timeout-ms: ${millis}`]

  it.effect("a handler still running at the deadline is interrupted and answered 504 at exactly the deadline", () =>
    verifyNone(
      run(
        Effect.gen(function* () {
          const server = yield* ApiServer
          const context = yield* Effect.context<never>()
          const client = yield* connect(server.address.port)
          yield* client.send(`/api/delay/${maxDelayMillis}`, timeout("100"))
          yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)

          yield* TestClock.adjust("99 millis")
          yield* realSleep(40)
          expect(client.unread()).toBe(0)
          yield* TestClock.adjust("1 millis")
          const answer = yield* client.next()
          expect([answer.status, answer.headers["content-type"], JSON.parse(answer.body)]).toEqual([
            504,
            "application/json",
            { error: "deadline exceeded" }
          ])
          expect(delaySeries(context)).toEqual([{ status: "504", count: 1 }])
        })
      )
    )
  )

  it.effect("a handler that finishes before its deadline is unaffected", () =>
    verifyNone(
      run(
        Effect.gen(function* () {
          const server = yield* ApiServer
          const client = yield* connect(server.address.port)
          yield* client.send("/api/delay/50", timeout("100"))
          yield* waitFor("request in flight", () => server.tracker.inFlight() === 1)
          yield* TestClock.adjust("50 millis")
          const answer = yield* client.next()
          expect([answer.status, answer.body]).toEqual([200, '{"waited":50}'])
          // the deadline's timer went with the request: moving past it changes nothing
          yield* TestClock.adjust("100 millis")
          expect((yield* client.request("/healthz")).status).toBe(200)
        })
      )
    )
  )

  it.effect.each([
    { path: "/healthz", header: "0", status: 504, body: '{"error":"deadline exceeded"}' },
    { path: "/healthz", header: "5000", status: 200, body: "ok" },
    { path: "/nope", header: "5000", status: 404, body: "not found" },
    {
      path: "/healthz",
      header: "abc",
      status: 400,
      body: '{"error":"x-request-timeout-ms must be an integer number of milliseconds from 0 to 999999999, got \\"abc\\""}'
    },
    {
      path: "/api/delay/0",
      header: "-5",
      status: 400,
      body: '{"error":"x-request-timeout-ms must be an integer number of milliseconds from 0 to 999999999, got \\"-5\\""}'
    }
  ])("$path with x-request-timeout-ms: $header → $status, counted under its route", (c) =>
    verifyNone(
      run(
        Effect.gen(function* () {
          const server = yield* ApiServer
          const context = yield* Effect.context<never>()
          const client = yield* connect(server.address.port)
          yield* client.send(c.path, timeout(c.header))
          const answer = yield* client.next()
          expect([answer.status, answer.body]).toEqual([c.status, c.body])
          const route = c.path === "/nope" ? "*" : c.path === "/healthz" ? "/healthz" : "/api/delay/:ms"
          const labels = { server: "api", route, method: "GET", status: String(c.status) }
          yield* waitUntil("request counted", () => (requestCount(context, labels) === 1 ? true : undefined), 1_000)
        })
      )
    )
  )
})

describe("ApiServer.layerWith", () => {
  class Greeting extends Context.Service<Greeting, { readonly text: string }>()("test/Greeting") {}
  const hello = HttpRouter.add(
    "GET",
    "/api/hello",
    Effect.map(Greeting, (greeting) => HttpServerResponse.text(greeting.text))
  )

  it.effect(
    "serves your routes (with their own services) beside the API's, counted and under the deadline header",
    () =>
      Effect.gen(function* () {
        const server = yield* ApiServer
        const context = yield* Effect.context<never>()
        expect(yield* http(server.address.port, "/api/hello")).toMatchObject({ status: 200, body: "hi" })
        expect(yield* http(server.address.port, "/healthz")).toMatchObject({ status: 200, body: "ok" })
        const client = yield* connect(server.address.port)
        yield* client.send("/api/hello", ["x-request-timeout-ms: 0"])
        expect((yield* client.next()).status).toBe(504)
        const labels = { server: "api", route: "/api/hello", method: "GET", status: "200" }
        yield* waitUntil("counted", () => (requestCount(context, labels) === 1 ? true : undefined), 1_000)
      }).pipe(
        withLayer(
          ApiServer.layerWith(hello).pipe(
            // a route's services are requirements of the served app: provided to the server's layer (HttpRouter.serve's rule)
            Layer.provide(Layer.succeed(Greeting, { text: "hi" })),
            Layer.provideMerge(
              Layer.mergeAll(
                Lifecycle.layerTest,
                AppConfig.layerTest({}),
                Layer.succeed(References.MinimumLogLevel, "Error")
              )
            )
          )
        ),
        Effect.provideService(Metric.MetricRegistry, new Map()),
        Effect.provideService(FiberDump, makeRegistry())
      )
  )
})

describe("405 with Allow for routes added under a prefix", () => {
  const created = HttpServerResponse.text("created", { status: 201 })
  const routes = Layer.mergeAll(
    HttpRouter.addAll([HttpRouter.route("POST", "/items", created), HttpRouter.route("PUT", "/items/:id", created)], {
      prefix: "/v1"
    }),
    HttpRouter.use((router) => router.prefixed("/v2").prefixed("/shop").add("DELETE", "/cart", created))
  )

  it.effect("lists the methods of the prefixed routes that match, nested prefixes included", () =>
    Effect.gen(function* () {
      const port = (yield* ApiServer).address.port
      const allow = (method: string, path: string) =>
        Effect.map(request(port, path, { method }), (answer) => [answer.status, answer.headers.allow])
      expect(yield* allow("POST", "/v1/items")).toEqual([201, undefined])
      expect(yield* allow("GET", "/v1/items")).toEqual([405, "POST"])
      expect(yield* allow("DELETE", "/v1/items/7")).toEqual([405, "PUT"])
      expect(yield* allow("GET", "/v2/shop/cart")).toEqual([405, "DELETE"])
      expect(yield* allow("DELETE", "/v2/shop/cart")).toEqual([201, undefined])
      expect(yield* allow("GET", "/items")).toEqual([404, undefined])
      expect(yield* allow("GET", "/v2/cart")).toEqual([404, undefined])
    }).pipe(
      withLayer(
        ApiServer.layerWith(routes).pipe(
          Layer.provideMerge(
            Layer.mergeAll(
              Lifecycle.layerTest,
              AppConfig.layerTest({}),
              Layer.succeed(References.MinimumLogLevel, "Error")
            )
          )
        )
      ),
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(FiberDump, makeRegistry())
    )
  )
})
