/**
 * HostileClients — what `GracefulHttpServer` does with clients that do not play by the rules, against real sockets:
 * a head trickled during the drain, a slowloris while serving, a body that keeps arriving after its answer, a
 * connection that pipelines more than it reads, bytes that are not HTTP. Each server is an ordinary `HttpRouter`
 * app on `GracefulHttpServer.layer` (127.0.0.1:0) with a `Lifecycle` of its own.
 *
 * Under `it.effect` the idle grace, the unread-body watch, the client-error log window and the handlers' sleeps run
 * on the TestClock; the two tests about Node's own timers (its `headersTimeout` checker) and a real trickle use
 * `it.live` with bounds that hold on a loaded machine and still fail when the bound is not there.
 */
import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { apply } from "../../src/http/ServerTimeouts.ts"
import { GracefulHttpServer, Lifecycle } from "../../src/index.ts"
import { connect, realSleep, waitFor, within } from "../support/http-client.ts"
import { graceful, recordLogs } from "./support.ts"

const settle = realSleep(40)

/** a body large enough that an answer is still being written when the next is ready (Node then queues it) */
const slowBody = "slow".repeat(100_000)

/**
 * the app: `GET /ok`, `POST /ignore` (answers without reading the body), `POST /read` (reads the whole body first),
 * `GET /slow` (1 s, counted while running, 400 kB)
 */
const makeApp = () => {
  const running = { now: 0, max: 0 }
  const routes = Layer.mergeAll(
    HttpRouter.add("GET", "/ok", Effect.succeed(HttpServerResponse.text("ok"))),
    HttpRouter.add("POST", "/ignore", Effect.succeed(HttpServerResponse.text("ignored"))),
    HttpRouter.add(
      "POST",
      "/read",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.text).pipe(
        Effect.map((body) => HttpServerResponse.text(`read ${body.length}`))
      )
    ),
    HttpRouter.add(
      "GET",
      "/slow",
      Effect.acquireUseRelease(
        Effect.sync(() => {
          running.now++
          running.max = Math.max(running.max, running.now)
        }),
        () => Effect.sleep("1 second").pipe(Effect.as(HttpServerResponse.text(slowBody))),
        () => Effect.sync(() => running.now--)
      )
    )
  )
  return { running, routes }
}

/** serve — the app on a graceful server built in the current scope: its handle, port and the lifecycle */
const serve = (options: Partial<GracefulHttpServer.Options> = {}) =>
  Effect.gen(function* () {
    const app = makeApp()
    const scope = yield* Effect.scope
    const context = yield* Layer.buildWithScope(
      HttpRouter.serve(app.routes, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.provideMerge(graceful(options)),
        Layer.provideMerge(Lifecycle.layerTest)
      ),
      scope
    )
    const server = Context.get(context, HttpServer.HttpServer)
    const handle = yield* GracefulHttpServer.handle.pipe(Effect.provideService(HttpServer.HttpServer, server))
    if (handle._tag === "None") return yield* Effect.die("not a graceful server")
    return { ...app, handle: handle.value, port: handle.value.address.port, lifecycle: Context.get(context, Lifecycle) }
  })

describe("GracefulHttpServer against hostile clients", () => {
  it.live("at shutdown, a head trickled a byte every 20 ms is cut at the idle grace: drained, not forced", () =>
    Effect.gen(function* () {
      const { port, lifecycle } = yield* serve({ idleGrace: 200, gracefulShutdownTimeout: Duration.seconds(5) })
      const trickler = yield* connect(port)
      const head = `GET /ok HTTP/1.1\r\nHost: t\r\nX-Pad: ${"a".repeat(400)}\r\n\r\n`
      let sent = 0
      const timer = setInterval(() => {
        if (!trickler.socket.destroyed) trickler.socket.write(head[sent++ % head.length] as string)
      }, 20)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      yield* realSleep(100)

      const started = Date.now()
      const outcome = yield* lifecycle.shutdown("test").pipe(within(3_000, "shutdown"))
      const took = Date.now() - started
      expect(outcome.drained).toBe(true)
      // before the fix the grace restarted with every byte and the shutdown waited the whole 5 s budget
      expect(took).toBeLessThan(1_500)
      yield* trickler.closed()
      expect(trickler.unread()).toBe(0)
    })
  )

  it.effect(
    "at the budget, a request whose body is still being read is forced like any other: closed, not drained",
    () =>
      Effect.gen(function* () {
        const { port, lifecycle, handle } = yield* serve({ idleGrace: 250, gracefulShutdownTimeout: "2 seconds" })
        const client = yield* connect(port)
        yield* client.write("POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        yield* waitFor("request in flight", () => handle.tracker.inFlight() === 1)
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        for (let at = 0; at < 1_900; at += 100) {
          yield* client.write("1\r\na\r\n")
          yield* TestClock.adjust("100 millis")
        }
        yield* settle
        expect(client.isClosed()).toBe(false)
        yield* TestClock.adjust("100 millis")
        // interrupting the body read destroys the request, and with it the socket (Node's IncomingMessage#destroy, as
        // on Effect's stock server): the connection closes without a 503
        yield* client.closed()
        expect(client.unread()).toBe(0)
        expect(yield* Fiber.join(shutdown).pipe(within(1_000, "shutdown"))).toEqual({ reason: "test", drained: false })
      })
  )

  it.live("while serving, a slowloris gets 408 at headersTimeout; another client is served meanwhile", () =>
    Effect.gen(function* () {
      const { port } = yield* serve({ headersTimeout: 600, requestTimeout: 5_000 })
      const slowloris = yield* connect(port)
      const started = Date.now()
      const timer = setInterval(() => slowloris.socket.destroyed || slowloris.socket.write("a"), 100)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      yield* slowloris.write("GET /ok HTTP/1.1\r\nX-Slow: ")

      const other = yield* connect(port)
      for (let i = 0; i < 3; i++) {
        expect((yield* other.request("/ok", 500)).status).toBe(200)
        yield* realSleep(150)
      }
      const answer = yield* slowloris.next(4_000)
      const took = Date.now() - started
      expect([answer.status, answer.headers.connection]).toEqual([408, "close"])
      // Node's checker runs every second once ServerTimeouts applied: 600 ms ≤ took < 600 ms + 1 s + margin
      expect(took).toBeGreaterThanOrEqual(550)
      expect(took).toBeLessThan(3_000)
      yield* slowloris.closed()
      expect((yield* other.request("/ok")).status).toBe(200)
    })
  )

  it.effect("an unread body still arriving after its answer: the connection is closed after unreadBodyTimeout", () =>
    Effect.gen(function* () {
      const { port } = yield* serve({ unreadBodyTimeout: Duration.seconds(2) })
      const client = yield* connect(port)
      yield* client.write("POST /ignore HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
      const answer = yield* client.next()
      expect([answer.status, answer.body, answer.headers.connection]).toEqual([200, "ignored", "keep-alive"])
      // watched every 500 ms: first seen at 500, cut once seen for 2 s, at 2500
      for (let at = 500; at <= 2_000; at += 500) {
        yield* client.write("4\r\nmore\r\n")
        yield* TestClock.adjust("500 millis")
        yield* settle
        expect(client.isClosed()).toBe(false)
      }
      yield* TestClock.adjust("500 millis")
      expect((yield* client.closed()).endReceived).toBe(true)
    })
  )

  it.effect("an unread body that ends in time keeps its connection for the next request", () =>
    Effect.gen(function* () {
      const { port } = yield* serve({ unreadBodyTimeout: Duration.seconds(2) })
      const client = yield* connect(port)
      yield* client.write("POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nfirst")
      expect((yield* client.next()).body).toBe("ignored")
      yield* TestClock.adjust("1500 millis")
      yield* client.write("-last")
      yield* settle
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect(client.isClosed()).toBe(false)
      expect((yield* client.request("/ok")).body).toBe("ok")
    })
  )

  it.effect("pipelining: at most maxPipelined requests of a connection run at once, the rest wait unread", () =>
    Effect.gen(function* () {
      const { port, running, handle } = yield* serve({ maxPipelined: 2 })
      const client = yield* connect(port)
      yield* client.write("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n".repeat(6))
      yield* waitFor("2 handlers running", () => running.now === 2)
      yield* settle
      expect([running.now, running.max]).toEqual([2, 2])
      const [socket] = handle.tracker.sockets()
      expect(socket?.isPaused()).toBe(true)

      yield* TestClock.adjust("1 second")
      yield* waitFor("2 answers", () => client.unread() === 2)
      // Node resumes a connection once its queued answers are written; the bound keeps it unread while requests wait
      yield* client.write("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n".repeat(6))
      yield* settle
      expect(handle.tracker.inFlight()).toBe(4)
      for (let answered = 4; answered <= 12; answered += 2) {
        yield* TestClock.adjust("1 second")
        yield* waitFor(`${answered} answers`, () => client.unread() === answered)
      }
      expect(running.max).toBe(2)
      const bodies = []
      for (let i = 0; i < 12; i++) bodies.push((yield* client.next()).body)
      expect(bodies).toEqual(Array(12).fill(slowBody))
      yield* waitFor("reading again", () => socket?.isPaused() === false)
      expect((yield* client.request("/ok")).body).toBe("ok")
    })
  )

  it.effect("invalid HTTP: 400 and 431 as Node answers them, the server serves on, one log line per window", () =>
    Effect.gen(function* () {
      const logs = recordLogs()
      const { port } = yield* serve({ name: "api" }).pipe(Effect.provide(logs.layer))
      const statuses: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const bad = yield* connect(port)
        yield* bad.write(i % 2 === 0 ? "NOT HTTP AT ALL\r\n\r\n" : `GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`)
        const answer = yield* bad.next()
        statuses.push(answer.status)
        expect(answer.headers.connection).toBe("close")
        yield* bad.closed()
      }
      expect(new Set(statuses)).toEqual(new Set([400, 431]))
      const good = yield* connect(port)
      expect((yield* good.request("/ok")).status).toBe(200)

      expect(logs.find("client error").map((line) => line.annotations.code)).toEqual(["HPE_INVALID_METHOD"])
      expect(logs.find("more client errors")).toEqual([])
      yield* TestClock.adjust("10 seconds")
      yield* waitFor("window summary", () => logs.find("more client errors").length === 1)
      const [summary] = logs.find("more client errors")
      expect(summary?.message).toBe("api server: 19 more client errors in the last 10s")
      expect(summary?.annotations.codes).toEqual({ HPE_INVALID_METHOD: 9, HPE_HEADER_OVERFLOW: 10 })
      expect(summary?.level).toBe("WARN")
    })
  )
})

describe("GracefulHttpServer timeouts", () => {
  it("replace Node's defaults, keep what the server's creator set, and give way to options", () => {
    const plain = createServer()
    const configured = createServer({ requestTimeout: 0, keepAliveTimeout: 7_000 })
    expect(apply(plain, {})).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 60_000,
      keepAliveTimeout: 65_000,
      unreadBodyTimeout: 2_000
    })
    expect((plain as { connectionsCheckingInterval?: number }).connectionsCheckingInterval).toBe(1_000)
    expect(apply(configured, { headersTimeout: "3 seconds" })).toMatchObject({
      headersTimeout: 3_000,
      requestTimeout: 0,
      keepAliveTimeout: 7_000
    })
  })
})
