/**
 * ScopeClose — the graceful drain happens when the server's scope closes, whoever closes it: `Layer.launch` interrupted,
 * `ManagedRuntime.dispose`, `Effect.scoped` ending or interrupted, a scope closed by hand, and each way the server
 * layer can sit under `HttpRouter.serve` (provided in the same scope, or outliving the serve layer's scope, or closed
 * before it). (`NodeRuntime.runMain` is covered end to end by the example consumer's test.)
 *
 * Every case runs the same scenario with real keep-alive clients on 127.0.0.1:
 * - a connection with a slow request in flight: it is answered 200 with `Connection: close`, then closed (FIN);
 * - an idle keep-alive connection: still open just before the idle grace, closed (FIN, no reset) at the grace;
 * - a new connection after the drain began: refused (the listener is closed);
 * - the closer returns once the last connection is gone, without waiting for keep-alive timeouts.
 * The idle grace runs on the TestClock of the server's services (`it.effect`, or the runtime's own for
 * `ManagedRuntime`), so "before" and "at" the grace are exact; only socket events are awaited in real time, bounded.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, ManagedRuntime, Scope } from "effect"
import { HttpRouter, type HttpServer, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { Lifecycle } from "../../src/index.ts"
import { connect, realSleep, waitUntil, within } from "../support/http-client.ts"
import { graceful, port, recordLogs, refused } from "./support.ts"

/** the default idle grace (`GracefulHttpServer.defaults.idleGrace`) */
const grace = Duration.millis(250)

/** settle — real time for a FIN or a reset to cross loopback before asserting that none came */
const settle = realSleep(40)

/** Gate — the slow route's handler: `started` once running, answers when `release` completes. */
const makeGate = Effect.all({ started: Deferred.make<void>(), release: Deferred.make<void>() })
type Gate = Effect.Success<typeof makeGate>

/** routes — stock Effect routes: `/slow` waits for the gate, `/fast` answers at once */
const routes = (gate: Gate) =>
  Layer.mergeAll(
    HttpRouter.add(
      "GET",
      "/slow",
      Deferred.succeed(gate.started, undefined).pipe(
        Effect.andThen(Deferred.await(gate.release)),
        Effect.as(HttpServerResponse.text("slow done"))
      )
    ),
    HttpRouter.add("GET", "/fast", Effect.succeed(HttpServerResponse.text("fast")))
  )

/** serveOptions — no request log (the tests read the listen log, and the shutdown's) */
const serveOptions = { disableLogger: true } as const

/** app — the routes served by a graceful server (kept in the output) with a fresh Lifecycle */
const app = (gate: Gate) =>
  HttpRouter.serve(routes(gate), serveOptions).pipe(Layer.provideMerge(graceful()), Layer.provide(Lifecycle.layerTest))

/** portIn — builds `layer` in the current scope and returns the port its server is bound to */
const portIn = <E>(layer: Layer.Layer<HttpServer.HttpServer, E>) =>
  Effect.flatMap(Layer.build(layer), (context) => Effect.provideContext(port, context))

/** listening — the port of the first "Listening on" line logged (real time, bounded) */
const listening = (logs: ReturnType<typeof recordLogs>) =>
  waitUntil("Listening on … logged", () => {
    const line = logs.find("Listening on")[0]
    return line === undefined ? undefined : Number(/:(\d+)$/.exec(line.message)?.[1])
  })

/**
 * drainsOnClose — the scenario of the module comment. `close` starts closing the server's scope and completes when it
 * is closed; `advance` moves the clock the server's grace timers run on.
 */
const drainsOnClose = (options: {
  readonly port: number
  readonly gate: Gate
  readonly close: Effect.Effect<void, unknown>
  readonly advance: (duration: Duration.Duration) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const { port, gate } = options
    const busy = yield* connect(port)
    expect((yield* busy.request("/fast")).headers.connection).toBe("keep-alive")
    yield* busy.send("/slow")
    yield* Deferred.await(gate.started).pipe(within(2_000, "/slow started"))
    const idle = yield* connect(port)
    expect((yield* idle.request("/fast")).headers.connection).toBe("keep-alive")

    const closing = yield* Effect.forkDetach(options.close, { startImmediately: true })
    // new connections are refused: the listener is closed, and the idle grace has begun
    yield* refused(port)

    // the idle connection lives exactly the idle grace, then gets a FIN (no reset)
    yield* options.advance(Duration.subtract(grace, Duration.millis(1)))
    yield* settle
    expect(idle.isClosed()).toBe(false)
    yield* options.advance(Duration.millis(1))
    expect(yield* idle.closed()).toEqual({ endReceived: true, error: undefined })

    // the slow request is still running, its connection open, the scope not closed
    expect([busy.isClosed(), busy.unread(), closing.pollUnsafe()]).toEqual([false, 0, undefined])
    yield* Deferred.succeed(gate.release, undefined)
    const answer = yield* busy.next()
    expect([answer.status, answer.body, answer.headers.connection]).toEqual([200, "slow done", "close"])
    expect(yield* busy.closed()).toEqual({ endReceived: true, error: undefined })

    // the scope finishes closing once the last connection is gone: no keep-alive timeout is waited for
    const exit = yield* Fiber.await(closing).pipe(within(2_000, "scope closed"))
    expect(Exit.isSuccess(exit)).toBe(true)
  })

describe("the drain happens when the server's scope closes, whoever closes it", () => {
  it.effect("Layer.launch interrupted (the server layer provided with Layer.provide under HttpRouter.serve)", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const logs = recordLogs()
      const main = HttpRouter.serve(routes(gate), serveOptions).pipe(
        Layer.provide(graceful()),
        Layer.provide(Lifecycle.layerTest)
      )
      const launched = yield* Effect.forkChild(Layer.launch(main).pipe(Effect.provide(logs.layer)))
      yield* drainsOnClose({
        port: yield* listening(logs),
        gate,
        close: Fiber.interrupt(launched),
        advance: TestClock.adjust
      })
      // the shutdown ran once, logged through the app's logger
      expect(logs.find("shutting down").map((line) => line.message)).toEqual(["shutting down: http server released"])
    })
  )

  it.effect("ManagedRuntime.dispose", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      // the runtime's own clock is a TestClock, driven from here with the runtime's services
      const runtime = ManagedRuntime.make(app(gate).pipe(Layer.provideMerge(TestClock.layer())))
      const services = yield* Effect.promise(() => runtime.context())
      yield* drainsOnClose({
        port: yield* Effect.provideContext(port, services),
        gate,
        close: Effect.promise(() => runtime.dispose()),
        advance: (duration) => Effect.provideContext(TestClock.adjust(duration), services)
      })
    })
  )

  it.effect("Effect.scoped: the scoped effect completes", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const bound = yield* Deferred.make<number>()
      const done = yield* Deferred.make<void>()
      const scoped = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            yield* Deferred.succeed(bound, yield* portIn(app(gate)))
            yield* Deferred.await(done)
          })
        )
      )
      yield* drainsOnClose({
        port: yield* Deferred.await(bound).pipe(within(2_000, "server bound")),
        gate,
        close: Deferred.succeed(done, undefined).pipe(Effect.andThen(Fiber.join(scoped))),
        advance: TestClock.adjust
      })
    })
  )

  it.effect("Effect.scoped: the scoped effect is interrupted (a test timing out, a parent failing)", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const bound = yield* Deferred.make<number>()
      const scoped = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            yield* Deferred.succeed(bound, yield* portIn(app(gate)))
            return yield* Effect.never
          })
        )
      )
      yield* drainsOnClose({
        port: yield* Deferred.await(bound).pipe(within(2_000, "server bound")),
        gate,
        close: Fiber.interrupt(scoped),
        advance: TestClock.adjust
      })
    })
  )

  it.effect("a scope closed by hand (Layer.buildWithScope, Scope.close)", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const scope = yield* Scope.make()
      const services = yield* Layer.buildWithScope(app(gate), scope)
      yield* drainsOnClose({
        port: yield* Effect.provideContext(port, services),
        gate,
        close: Scope.close(scope, Exit.void),
        advance: TestClock.adjust
      })
    })
  )

  it.effect("the serve layer's scope closes first, the server's scope still open", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const serverScope = yield* Scope.make()
      const server = yield* Layer.buildWithScope(graceful().pipe(Layer.provide(Lifecycle.layerTest)), serverScope)
      const serveScope = yield* Scope.make()
      yield* Layer.buildWithScope(
        HttpRouter.serve(routes(gate), serveOptions).pipe(Layer.provide(Layer.succeedContext(server))),
        serveScope
      )
      yield* drainsOnClose({
        port: yield* Effect.provideContext(port, server),
        gate,
        close: Scope.close(serveScope, Exit.void),
        advance: TestClock.adjust
      })
      yield* Scope.close(serverScope, Exit.void).pipe(within(2_000, "server scope closed"))
    })
  )

  it.effect("the server's scope closes first, the serve layer's scope still open", () =>
    Effect.gen(function* () {
      const gate = yield* makeGate
      const serverScope = yield* Scope.make()
      const server = yield* Layer.buildWithScope(graceful().pipe(Layer.provide(Lifecycle.layerTest)), serverScope)
      const serveScope = yield* Scope.make()
      yield* Layer.buildWithScope(
        HttpRouter.serve(routes(gate), serveOptions).pipe(Layer.provide(Layer.succeedContext(server))),
        serveScope
      )
      yield* drainsOnClose({
        port: yield* Effect.provideContext(port, server),
        gate,
        close: Scope.close(serverScope, Exit.void),
        advance: TestClock.adjust
      })
      yield* Scope.close(serveScope, Exit.void).pipe(within(2_000, "serve scope closed"))
    })
  )
})

/**
 * The shutdown's own log lines (and its clock) should be the app's, as the rest of the server's are: an app that sets
 * its logger inside its layer graph (`Layer.provide(Logger.layer(…))`, the usual way for `Layer.launch` and
 * `ManagedRuntime`) expects the drain to be logged there too. `GracefulHttpServer` registers its drain with
 * `Scope.addFinalizer(scope, …)`, which runs the finalizer with the services of whoever closes the scope, not those
 * the layer was built with (`Effect.addFinalizer` / `acquireRelease` keep them).
 */
describe("the shutdown runs with the app's own services, whoever closes the scope", () => {
  const shutdownLines = (logs: ReturnType<typeof recordLogs>) => ({
    shuttingDown: logs.find("shutting down").length,
    drainDone: logs.phase("drain").length,
    release: logs.phase("release").map((line) => (line.annotations.millis as number) >= 0)
  })

  it.effect("Layer.launch of an app whose logger is provided inside its layers", () =>
    Effect.gen(function* () {
      const logs = recordLogs()
      const main = app(yield* makeGate).pipe(Layer.provide(logs.layer))
      const launched = yield* Effect.forkChild(Layer.launch(main))
      yield* listening(logs)
      yield* Fiber.interrupt(launched).pipe(within(2_000, "launch interrupted"))
      expect(shutdownLines(logs)).toEqual({ shuttingDown: 1, drainDone: 1, release: [true] })
    })
  )

  it.effect("ManagedRuntime.dispose of a runtime whose logger is provided inside its layer", () =>
    Effect.gen(function* () {
      const logs = recordLogs()
      const runtime = ManagedRuntime.make(app(yield* makeGate).pipe(Layer.provide(logs.layer)))
      yield* Effect.promise(() => runtime.context())
      yield* Effect.promise(() => runtime.dispose()).pipe(within(2_000, "runtime disposed"))
      expect(shutdownLines(logs)).toEqual({ shuttingDown: 1, drainDone: 1, release: [true] })
    })
  )

  it.effect("(baseline) Layer.launch with the logger provided to the launch itself", () =>
    Effect.gen(function* () {
      const logs = recordLogs()
      const launched = yield* Effect.forkChild(Layer.launch(app(yield* makeGate)).pipe(Effect.provide(logs.layer)))
      yield* listening(logs)
      yield* Fiber.interrupt(launched).pipe(within(2_000, "launch interrupted"))
      expect(shutdownLines(logs)).toEqual({ shuttingDown: 1, drainDone: 1, release: [true] })
    })
  )
})

describe("one shutdown per close", () => {
  // The server's scope closing first ends the shutdown and leaves the Lifecycle idle; the serve layer's finalizer,
  // closing later, then starts a second, empty shutdown ("shutting down: http server released", servers "").
  it.effect("the server's scope, then the serve layer's: the shutdown is logged once", () =>
    Effect.gen(function* () {
      const logs = recordLogs()
      yield* Effect.gen(function* () {
        const serverScope = yield* Scope.make()
        const server = yield* Layer.buildWithScope(graceful().pipe(Layer.provide(Lifecycle.layerTest)), serverScope)
        const serveScope = yield* Scope.make()
        yield* Layer.buildWithScope(
          HttpRouter.serve(routes(yield* makeGate), serveOptions).pipe(Layer.provide(Layer.succeedContext(server))),
          serveScope
        )
        yield* Scope.close(serverScope, Exit.void).pipe(within(2_000, "server scope closed"))
        yield* Scope.close(serveScope, Exit.void).pipe(within(2_000, "serve scope closed"))
      }).pipe(Effect.provide(logs.layer))
      expect(logs.find("shutting down").map((line) => line.annotations.servers)).toEqual(["http"])
    })
  )
})
