/**
 * Canaries — one test per Node or Effect internal (or unstable, low-level API) this project relies on, named after
 * it. When an upgrade changes one of them, its canary fails first, with a name that says what to look at, before the
 * behaviour built on it fails somewhere less obvious.
 *
 * | internal | relied on by |
 * |---|---|
 * | `socket._httpMessage` (Node http) | `ConnectionTracker`: the response a connection is writing now |
 * | the `http.server.connectionsCheckingInterval` symbol (Node http) | `ConnectionTracker`: stopped by the drain, which skips `http.Server#close` |
 * | `tlsSocket._parent` (Node tls) | `ConnectionTracker`: a TLS socket's TCP socket, to stop counting it as a handshake |
 * | `Metric.registerUnsafe` with `{ get, update, modify }` hooks (Effect, unstable) | `Metrics`: series read at scrape time |
 * | `HttpRouter.RouteContext` set before a route's middleware runs (Effect) | `RequestMetrics`: the route pattern label |
 * | an interrupted upgrade handler closes its WebSocket with 1001 (platform-node) | `GracefulHttpServer`: WebSockets told "going away" at drain |
 * | `NodeHttpIncomingMessage.source.rawHeaders` (platform-node) | `DeadlineHeader`: the header read without building `headers` |
 * | `socket.parser.incoming` (Node http) | `UnreadBody`: the request whose body still arrives after its answer |
 * | `socket._paused` and `socket.pause()` in a request handler stop reading; Node resumes through `socket.resume()` (Node http) | `ConnectionTracker`: the pipelining bound |
 */

import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo, Socket } from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import { NodeHttpIncomingMessage } from "@effect/platform-node/NodeHttpIncomingMessage"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Latch, Layer, Metric, Scope } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { connect, realSleep, waitFor, within } from "./support/http-client.ts"
import { listenScoped } from "./support/request-server.ts"

/** a plain node:http server on 127.0.0.1:0 for the test's scope */
/** the server sockets of the last `nodeServer`, open ones only */
const openSockets = new Set<Socket>()

const nodeServer = (handler: http.RequestListener) =>
  Effect.gen(function* () {
    const server = http.createServer(handler)
    server.on("connection", (socket: Socket) => {
      openSockets.add(socket)
      socket.once("close", () => openSockets.delete(socket))
    })
    const port = yield* listenScoped(server, "canary server")
    return { server, port }
  })

describe("Node internals", () => {
  it.live("socket._httpMessage is the response being written, and null once it finished", () =>
    Effect.gen(function* () {
      const held: Array<http.ServerResponse> = []
      const { port } = yield* nodeServer((_req, res) => void held.push(res))
      const client = yield* connect(port)
      yield* client.send("/")
      yield* waitFor("request held", () => held.length === 1)
      const res = held[0] as http.ServerResponse
      const socket = res.socket as Socket & { _httpMessage?: unknown }
      expect(socket._httpMessage).toBe(res)
      res.end("ok")
      yield* client.next()
      yield* waitFor("response detached", () => socket._httpMessage == null)
    })
  )

  it.live("http.Server holds its headersTimeout checker under the symbol http.server.connectionsCheckingInterval", () =>
    Effect.gen(function* () {
      const { server } = yield* nodeServer((_req, res) => res.end())
      const key = Object.getOwnPropertySymbols(server).find(
        (symbol) => symbol.description === "http.server.connectionsCheckingInterval"
      )
      expect(key).toBeDefined()
      const timer = (server as unknown as Record<symbol, unknown>)[key as symbol]
      expect(typeof (timer as { hasRef?: unknown }).hasRef).toBe("function")
    })
  )

  it.live("socket.parser.incoming is a request answered while its body still arrives, incomplete", () =>
    Effect.gen(function* () {
      const { port } = yield* nodeServer((_req, res) => res.end("answered"))
      const client = yield* connect(port)
      yield* client.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nfirst")
      yield* client.next()
      const sockets = yield* Effect.sync(() => [...openSockets])
      const socket = sockets[0] as Socket & { _httpMessage?: unknown; parser?: { incoming?: http.IncomingMessage } }
      yield* waitFor("response detached", () => socket._httpMessage == null)
      expect(socket.parser?.incoming?.complete).toBe(false)
      yield* client.write("-last")
      yield* waitFor("body complete", () => socket.parser?.incoming == null || socket.parser.incoming.complete)
    })
  )

  it.live("socket._paused and pause() in a request handler stop reading after this read; resume() reads on", () =>
    Effect.gen(function* () {
      const handled: Array<http.ServerResponse> = []
      const { port } = yield* nodeServer((req, res) => {
        handled.push(res)
        ;(req.socket as Socket & { _paused?: boolean })._paused = true
        req.socket.pause()
      })
      const client = yield* connect(port)
      yield* client.send("/1")
      yield* waitFor("first request", () => handled.length === 1)
      yield* client.send("/2")
      yield* realSleep(100)
      expect(handled.length).toBe(1)
      const socket = handled[0]?.socket as Socket & { _paused?: boolean; parser?: { resume: () => void } }
      socket._paused = false
      socket.parser?.resume()
      socket.resume()
      yield* waitFor("second request after resume", () => handled.length === 2)
      for (const res of handled) res.end("ok")
    })
  )

  it.live("tlsSocket._parent is the TCP socket of the server's connection event", () =>
    Effect.gen(function* () {
      const tlsDir = new URL("./support/tls/", import.meta.url)
      const server = https.createServer(
        { key: readFileSync(new URL("key.pem", tlsDir)), cert: readFileSync(new URL("cert.pem", tlsDir)) },
        (_req, res) => res.end("ok")
      )
      const raw = new Set<Socket>()
      const parents: Array<boolean> = []
      server.on("connection", (socket: Socket) => raw.add(socket))
      server.on("secureConnection", (socket: Socket) =>
        parents.push(raw.has((socket as { _parent?: Socket })._parent as Socket))
      )
      yield* Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
      yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
      const port = (server.address() as AddressInfo).port
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve, reject) =>
            https
              .get({ host: "127.0.0.1", port, rejectUnauthorized: false }, (res) => res.resume().on("end", resolve))
              .on("error", reject)
          )
      )
      expect(parents).toEqual([true])
    })
  )
})

describe("Effect internals", () => {
  it.effect("Metric.registerUnsafe registers a series whose state the registry reads from get() at snapshot time", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      let count = 0
      const counter = Metric.withAttributes(Metric.counter("canary_total"), { kind: "canary" })
      const registration = Metric.registerUnsafe(counter, context, {
        get: () => ({ count, incremental: true }),
        update: () => {},
        modify: () => {}
      })
      count = 3
      const state = (yield* Metric.snapshot).find((m) => m.id === "canary_total")?.state
      expect(state).toEqual({ count: 3, incremental: true })
      registration.remove()
      expect((yield* Metric.snapshot).find((m) => m.id === "canary_total")).toBeUndefined()
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("HttpRouter.RouteContext (the matched route) is in the context when a route middleware runs", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const middleware = HttpRouter.middleware(
        <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
          Effect.withFiber((fiber) => {
            seen.push(Context.getUnsafe(fiber.context, HttpRouter.RouteContext).route.path)
            return handler
          })
      ).layer
      const app = yield* HttpRouter.toHttpEffect(
        HttpRouter.add("GET", "/users/:id", HttpServerResponse.text("ok")).pipe(Layer.provide(middleware))
      )
      const request = HttpServerRequest.fromWeb(new Request("http://t/users/7"))
      const response = yield* app.pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request))
      expect([response.status, seen]).toEqual([200, ["/users/:id"]])
    })
  )
})

describe("platform-node internals", () => {
  it.live("an upgrade handler interrupted while its WebSocket is open closes it with 1001 (going away)", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const upgrades = yield* Scope.fork(scope, "parallel")
      const opened = yield* Latch.make(false)
      const app = Effect.gen(function* () {
        const socket = yield* (yield* HttpServerRequest.HttpServerRequest).upgrade
        const reader = yield* socket.reader // completes the handshake
        yield* Latch.open(opened)
        return yield* Effect.forever(reader.pull)
      }).pipe(Effect.scoped, Effect.as(HttpServerResponse.empty()), Effect.interruptible) // as a route handler is
      const wss = new (yield* Effect.promise(() => import("@effect/platform-node/NodeWS"))).WebSocketServer({
        noServer: true
      })
      const onUpgrade = yield* NodeHttpServer.makeUpgradeHandler(Effect.succeed(wss), app, { scope: upgrades })
      const server = http.createServer()
      server.on("upgrade", onUpgrade)
      const port = yield* listenScoped(server, "canary upgrade server")
      const closed = yield* Effect.promise(async () => {
        const client = new WebSocket(`ws://127.0.0.1:${port}/`)
        await new Promise((resolve, reject) => {
          client.onopen = resolve
          client.onerror = reject
        })
        return new Promise<number>((resolve) => {
          client.onclose = (event) => resolve(event.code)
        })
      }).pipe(Effect.forkChild({ startImmediately: true }))
      yield* Latch.await(opened).pipe(within(2_000, "websocket open"))
      yield* Scope.close(upgrades, Exit.void)
      expect(yield* Fiber.join(closed).pipe(within(2_000, "close frame"))).toBe(1001)
    })
  )

  it.live("NodeHttpIncomingMessage exposes Node's request as source, with rawHeaders", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const requests = yield* Scope.fork(scope, "parallel")
      const seen: Array<unknown> = []
      const app = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
        seen.push(
          request instanceof NodeHttpIncomingMessage ? request.source.rawHeaders : "not a NodeHttpIncomingMessage"
        )
        return HttpServerResponse.text("ok")
      })
      const handler = yield* NodeHttpServer.makeHandler(app, { scope: requests })
      const { port } = yield* nodeServer(handler)
      const client = yield* connect(port)
      yield* client.send("/", ["X-Canary: 1"])
      yield* client.next()
      expect(seen).toEqual([["Host", "t", "X-Canary", "1"]])
    })
  )
})
