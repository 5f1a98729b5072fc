/**
 * WebSocketDrain — open WebSockets at drain, with real clients: what `GracefulHttpServer` does with them.
 *
 * Observed (and asserted) behaviour: WebSockets are tracked with the connections. When the drain begins — after the
 * shutdown delay, as the listener closes — the server interrupts its upgrade handlers, and Effect's own release
 * closes each socket with code 1001 (going away), reason empty; the handler's finalizers run then. A client that
 * answers the close frame (any conforming client) ends the connection at once, and the scope finishes closing
 * without waiting for the idle grace. A client that ignores the close frame is destroyed once the idle grace
 * (counted from the drain's start) has passed, or when the budget runs out if that comes first.
 *
 * The shutdown delay, idle grace and budget run on the TestClock (`it.effect`); sockets are awaited in real time,
 * bounded.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { type GracefulHttpServer, Lifecycle } from "../../src/index.ts"
import { realSleep, waitFor, within } from "../support/http-client.ts"
import { graceful, port, rawClosed, rawWsConnect, refused, url, wsConnect } from "./support.ts"

const settle = realSleep(40)

/** an echo WebSocket route; `ended` completes when a handler's finalizers run, with how it ended */
const echo = (ended: Deferred.Deferred<"interrupted" | "done">) =>
  HttpRouter.add(
    "GET",
    "/ws",
    Effect.gen(function* () {
      const socket = yield* (yield* HttpServerRequest.HttpServerRequest).upgrade
      const writer = yield* socket.writer
      const reader = yield* socket.reader
      while (true) {
        for (const frame of yield* reader.pull) yield* writer.write(frame)
      }
    }).pipe(
      Effect.catchTag("SocketError", () => Effect.void),
      Effect.onExit((exit) => Deferred.succeed(ended, Exit.hasInterrupts(exit) ? "interrupted" : "done")),
      Effect.as(HttpServerResponse.empty())
    )
  )

/** serves the echo route on a graceful server in a scope of its own; returns its port and that scope */
const serveEcho = (options: Partial<GracefulHttpServer.Options>) =>
  Effect.gen(function* () {
    const ended = yield* Deferred.make<"interrupted" | "done">()
    const scope = yield* Scope.make()
    const app = HttpRouter.serve(echo(ended), { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provideMerge(graceful(options)),
      Layer.provide(Lifecycle.layerTest)
    )
    const services = yield* Layer.buildWithScope(app, scope)
    const closing = Effect.forkDetach(Scope.close(scope, Exit.void), { startImmediately: true })
    return { port: yield* Effect.provideContext(port, services), ended, closing }
  })

describe("WebSockets at drain", () => {
  it.effect("an open WebSocket gets a close frame 1001 (going away) when the drain begins, not before", () =>
    Effect.gen(function* () {
      const server = yield* serveEcho({ shutdownDelay: "1 second" })
      const ws = yield* wsConnect(url(server.port, "/ws", "ws"))
      ws.socket.send("before")
      expect(yield* ws.message(1)).toBe("before")

      const closing = yield* server.closing
      yield* realSleep(20)
      // during the shutdown delay the WebSocket still works
      yield* TestClock.adjust("999 millis")
      ws.socket.send("during the delay")
      expect(yield* ws.message(2)).toBe("during the delay")
      expect(ws.closed()).toBeUndefined()

      yield* TestClock.adjust("1 millis")
      yield* refused(server.port)
      expect(yield* ws.awaitClose()).toEqual({ code: 1001, reason: "" })
      expect(yield* Deferred.await(server.ended).pipe(within(2_000, "handler ended"))).toBe("interrupted")
      yield* Fiber.await(closing).pipe(within(2_000, "scope closed"))
    })
  )

  it.effect("a client that answers the close frame lets the scope finish without waiting for the idle grace", () =>
    Effect.gen(function* () {
      const server = yield* serveEcho({ idleGrace: "10 seconds" })
      const ws = yield* wsConnect(url(server.port, "/ws", "ws"))
      const closing = yield* server.closing
      expect((yield* ws.awaitClose()).code).toBe(1001)
      // no clock advanced: the connection ended with the close handshake, and the drain with it
      const exit = yield* Fiber.await(closing).pipe(within(2_000, "scope closed"))
      expect(Exit.isSuccess(exit)).toBe(true)
    })
  )

  it.effect("a client that ignores the close frame is destroyed when the idle grace has passed", () =>
    Effect.gen(function* () {
      const server = yield* serveEcho({ idleGrace: "1 second" })
      const rude = yield* rawWsConnect(server.port, "/ws")
      yield* rude.sendText("ping")
      yield* waitFor("echo", () => rude.frames.some((frame) => frame.payload.toString() === "ping"))

      const closing = yield* server.closing
      yield* waitFor("close frame received", () => rude.closeCode() !== undefined)
      expect(rude.closeCode()).toBe(1001)
      yield* TestClock.adjust("999 millis")
      yield* settle
      expect(rude.closed()).toBeUndefined()
      expect(closing.pollUnsafe()).toBeUndefined()

      yield* TestClock.adjust("1 millis")
      yield* rawClosed(rude)
      expect(Exit.isSuccess(yield* Fiber.await(closing).pipe(within(2_000, "scope closed")))).toBe(true)
    })
  )

  it.effect("a client that ignores the close frame is destroyed by the budget if that comes first", () =>
    Effect.gen(function* () {
      const server = yield* serveEcho({ idleGrace: "10 seconds", gracefulShutdownTimeout: "2 seconds" })
      const rude = yield* rawWsConnect(server.port, "/ws")
      const closing = yield* server.closing
      yield* waitFor("close frame received", () => rude.closeCode() === 1001)
      yield* TestClock.adjust("1999 millis")
      yield* settle
      expect(rude.closed()).toBeUndefined()

      yield* TestClock.adjust("1 millis")
      yield* rawClosed(rude)
      expect(Exit.isSuccess(yield* Fiber.await(closing).pipe(within(2_000, "scope closed")))).toBe(true)
    })
  )
})
