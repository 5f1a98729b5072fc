/**
 * The drain of a `GracefulHttpServer` against real sockets: the reference API server (`ApiServer.layer`, built on
 * `GracefulHttpServer.layer`) on 127.0.0.1:0 with a fresh `Lifecycle`, and a raw keep-alive client
 * (`support/http-client.ts`). Idle grace, handler delays, the shutdown delay and the budget run on the TestClock
 * under `it.effect`; the two tests about real completion timing use `it.live` with small durations and generous
 * bounds.
 */
import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, References, Scope } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as GracefulHttpServer from "../../src/http/GracefulHttpServer.ts"
import { ApiServer } from "../../src/layers/ApiServer.ts"
import { AppConfig, type AppConfigValues } from "../../src/services/AppConfig.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { connect, connectError, realSleep, waitFor, within } from "../support/http-client.ts"

/** settle — real time for socket events (a destroy, a FIN) to cross loopback before asserting they did not happen. */
const settle = realSleep(40)

const grace = Duration.millis(250)

/** a fresh Lifecycle and the test configuration (ports 0 on 127.0.0.1); logs kept quiet */
const deps = (config: Partial<AppConfigValues> = {}) =>
  Layer.mergeAll(
    Lifecycle.layerTest,
    AppConfig.layerTest({ drainIdleGrace: grace, ...config }),
    Layer.succeed(References.MinimumLogLevel, "Error")
  )

/** run — `body` with a fresh Lifecycle; its layers are released when `body` ends. */
const run = <A, E>(
  body: Effect.Effect<A, E, Lifecycle | AppConfig | Scope.Scope>,
  config: Partial<AppConfigValues> = {}
) => Effect.scoped(body).pipe(Effect.provide(deps(config)))

/** api — the API server bound in the current scope (its layer built there), as its handle. */
const api = Effect.gen(function* () {
  const scope = yield* Effect.scope
  const context = yield* Layer.buildWithScope(ApiServer.layer, scope)
  return Context.get(context, ApiServer)
})

const inFlight = (server: GracefulHttpServer.Handle, n: number) =>
  waitFor(`${n} request(s) in flight`, () => server.tracker.inFlight() === n)

const tcpHandles = () =>
  process.getActiveResourcesInfo().filter((name) => name === "TCPServerWrap" || name === "TCPSocketWrap").length

describe("GracefulHttpServer", () => {
  it.live("a keep-alive request in flight when the drain begins is answered 200 with Connection: close", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const client = yield* connect(server.address.port)
        expect((yield* client.request("/healthz")).headers.connection).toBe("keep-alive")

        yield* client.send("/api/delay/300")
        yield* inFlight(server, 1)
        yield* server.tracker.beginDrain
        const response = yield* client.next(3_000)
        expect([response.status, response.body, response.headers.connection]).toEqual([200, '{"waited":300}', "close"])
        expect((yield* client.closed()).endReceived).toBe(true)
      })
    )
  )

  it.effect("a request on a connection idle at drain start is served inside the grace, then the socket closes", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const client = yield* connect(server.address.port)
        yield* client.request("/healthz")
        yield* server.tracker.beginDrain
        yield* TestClock.adjust("249 millis")

        const response = yield* client.request("/healthz")
        expect([response.status, response.body, response.headers.connection]).toEqual([200, "ok", "close"])
        yield* client.closed()
      })
    )
  )

  it.effect("an idle keep-alive connection is closed exactly after DRAIN_IDLE_GRACE", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const client = yield* connect(server.address.port)
        yield* client.request("/healthz")
        yield* server.tracker.beginDrain

        yield* TestClock.adjust("399 millis")
        yield* settle
        expect(client.isClosed()).toBe(false)
        yield* TestClock.adjust("1 millis")
        expect(yield* client.closed()).toEqual({ endReceived: true, error: undefined })
      }),
      { drainIdleGrace: Duration.millis(400) }
    )
  )

  it.effect("a silent connection is reaped after the grace", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const silent = yield* connect(server.address.port)
        yield* waitFor("server sees the connection", () => server.tracker.connections() === 1)
        yield* server.tracker.beginDrain

        yield* TestClock.adjust("249 millis")
        yield* settle
        expect(silent.isClosed()).toBe(false)
        yield* TestClock.adjust("1 millis")
        yield* silent.closed()
        yield* server.tracker.awaitDrained.pipe(within(1_000, "drain"))
      })
    )
  )

  it.effect("a new connection is refused once the drain began", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const open = yield* connect(server.address.port)
        yield* open.request("/healthz")
        yield* server.tracker.beginDrain
        expect(yield* connectError(server.address.port)).toBe("ECONNREFUSED")
        expect(open.isClosed()).toBe(false)
      })
    )
  )

  it.live("the drain completes right after the last in-flight request, not at the keep-alive timeout", () =>
    run(
      Effect.gen(function* () {
        const server = yield* api
        const client = yield* connect(server.address.port)
        yield* client.send("/api/delay/300")
        yield* inFlight(server, 1)

        yield* server.tracker.beginDrain
        const drained = yield* Effect.forkChild(server.tracker.awaitDrained, { startImmediately: true })
        yield* realSleep(150)
        expect(drained.pollUnsafe()).toBeUndefined()
        const response = yield* client.next(3_000)
        const answeredAt = Date.now()
        expect(response.status).toBe(200)

        yield* waitFor("drain complete", () => drained.pollUnsafe() !== undefined, 1_000)
        expect(Date.now() - answeredAt).toBeLessThan(1_000)
        yield* Fiber.join(drained)
        expect(server.tracker.connections()).toBe(0)
      })
    )
  )

  it.effect("when the budget runs out, a request still running is answered 503 and its socket destroyed", () =>
    run(
      Effect.gen(function* () {
        const lifecycle = yield* Lifecycle
        const server = yield* api
        const busy = yield* connect(server.address.port)
        yield* busy.send("/api/delay/10000")
        yield* inFlight(server, 1)

        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        yield* waitFor("drain begun", server.tracker.draining)
        yield* TestClock.adjust("999 millis")
        yield* settle
        expect(busy.unread()).toBe(0)
        expect(shutdown.pollUnsafe()).toBeUndefined()

        yield* TestClock.adjust("1 millis")
        const response = yield* busy.next()
        expect([response.status, response.headers.connection]).toEqual([503, "close"])
        yield* busy.closed()
        expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })
        yield* server.tracker.awaitDrained.pipe(within(1_000, "drain after force"))
        expect([server.tracker.connections(), server.tracker.inFlight()]).toEqual([0, 0])
      }),
      { shutdownTimeout: Duration.seconds(1) }
    )
  )

  it.effect(
    "releasing the scope drains: the running request is answered 200, idle connections close after the grace",
    () =>
      run(
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const server = yield* api.pipe(Scope.provide(scope))
          const busy = yield* connect(server.address.port)
          const idle = yield* connect(server.address.port)
          yield* idle.request("/healthz")
          yield* busy.send("/api/delay/1000")
          yield* inFlight(server, 1)

          const release = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
          yield* waitFor("drain begun", server.tracker.draining)
          expect(yield* connectError(server.address.port)).toBe("ECONNREFUSED")
          yield* TestClock.adjust(grace)
          yield* idle.closed()
          expect(release.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust("750 millis")
          const response = yield* busy.next()
          expect([response.status, response.headers.connection]).toEqual([200, "close"])
          yield* busy.closed()
          yield* Fiber.join(release).pipe(within(2_000, "server scope release"))
        })
      )
  )

  it.effect("releasing the scope with a request that outlives the budget: 503, then the release completes", () =>
    run(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const server = yield* api.pipe(Scope.provide(scope))
        const busy = yield* connect(server.address.port)
        yield* busy.send("/api/delay/10000")
        yield* inFlight(server, 1)

        const release = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
        yield* waitFor("drain begun", server.tracker.draining)
        yield* TestClock.adjust("2 seconds")
        const response = yield* busy.next()
        expect(response.status).toBe(503)
        yield* busy.closed()
        yield* Fiber.join(release).pipe(within(2_000, "server scope release"))
      }),
      { shutdownTimeout: Duration.seconds(2) }
    )
  )

  it.effect("a client that disconnects interrupts its request's handler fiber", () =>
    run(
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const interrupted = yield* Deferred.make<void>()
        const hang = Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)),
          Effect.as(HttpServerResponse.text("never"))
        )
        const served = HttpRouter.serve(HttpRouter.add("GET", "/hang", hang), { disableLogger: true }).pipe(
          Layer.provideMerge(GracefulHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
        )
        const context = yield* Layer.buildWithScope(served, yield* Effect.scope)
        const server = Option.getOrThrow(yield* GracefulHttpServer.handle.pipe(Effect.provideContext(context)))
        const client = yield* connect(server.address.port)
        yield* client.send("/hang")
        yield* Deferred.await(started).pipe(within(2_000, "handler started"))
        expect(yield* Deferred.isDone(interrupted)).toBe(false)

        yield* client.destroy
        yield* Deferred.await(interrupted).pipe(within(2_000, "handler interrupted"))
        yield* waitFor("request closed", () => server.tracker.inFlight() === 0)
      })
    )
  )

  it.effect("nothing is left once the server's scope is closed: not listening, no connection", () =>
    run(
      Effect.gen(function* () {
        yield* waitFor("no TCP handle left by earlier tests", () => tcpHandles() === 0)
        const scope = yield* Scope.make()
        const server = yield* api.pipe(Scope.provide(scope))
        const { port } = server.address
        const client = yield* connect(port)
        yield* client.request("/healthz")
        const silent = yield* connect(port)
        yield* waitFor("server sees 2 connections", () => server.tracker.connections() === 2)
        expect(tcpHandles()).toBe(5) // listener, 2 accepted, 2 client sockets

        const release = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
        yield* waitFor("drain begun", server.tracker.draining)
        yield* TestClock.adjust(grace)
        yield* Fiber.join(release).pipe(within(2_000, "server scope release"))
        expect(server.tracker.connections()).toBe(0)
        expect(server.tracker.inFlight()).toBe(0)
        expect(yield* connectError(port)).toBe("ECONNREFUSED")
        yield* client.closed()
        yield* silent.closed()
        yield* waitFor("TCP handles released", () => tcpHandles() === 0)
      })
    )
  )

  it.effect("Lifecycle.shutdown: unready but serving during SHUTDOWN_DELAY, then refuse, drain and close", () =>
    run(
      Effect.gen(function* () {
        const lifecycle = yield* Lifecycle
        const server = yield* api
        const { port } = server.address

        const watcher = yield* connect(port)
        expect(yield* watcher.request("/readyz")).toMatchObject({ status: 200, body: "ready" })
        const slow = yield* connect(port)
        yield* slow.send("/api/delay/5100")
        yield* inFlight(server, 1)

        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        // phase 1, unready: readiness fails at once, on the existing connection, and requests are still served
        expect(lifecycle.phase()).toBe("stopping")
        const unready = yield* watcher.request("/readyz")
        expect([unready.status, unready.body, unready.headers.connection]).toEqual([
          503,
          "not ready: shutting down",
          "keep-alive"
        ])
        const late = yield* connect(port)
        expect((yield* late.request("/healthz")).status).toBe(200)
        yield* TestClock.adjust("4999 millis")
        expect(server.tracker.draining()).toBe(false)
        expect(yield* connectError(port)).toBeUndefined()

        // phase 2, stop: the listener closes when SHUTDOWN_DELAY is over; open connections are untouched
        yield* TestClock.adjust("1 millis")
        yield* waitFor("listener closed", server.tracker.draining)
        expect(yield* connectError(port)).toBe("ECONNREFUSED")
        expect([watcher.isClosed(), late.isClosed(), slow.isClosed()]).toEqual([false, false, false])

        // phase 3, drain: the in-flight request ends with Connection: close, idle connections after the grace
        yield* TestClock.adjust("100 millis")
        const answer = yield* slow.next()
        expect([answer.status, answer.body, answer.headers.connection]).toEqual([200, '{"waited":5100}', "close"])
        yield* slow.closed()
        yield* TestClock.adjust("149 millis")
        yield* settle
        expect([watcher.isClosed(), late.isClosed()]).toEqual([false, false])
        expect(shutdown.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 millis")
        yield* watcher.closed()
        yield* late.closed()

        expect(yield* Fiber.join(shutdown).pipe(within(1_000, "shutdown"))).toEqual({ reason: "test", drained: true })
      }),
      { shutdownDelay: Duration.seconds(5), shutdownTimeout: Duration.seconds(25) }
    )
  )
})
