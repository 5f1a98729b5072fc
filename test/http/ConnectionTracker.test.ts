/**
 * ConnectionTracker against real sockets: a `node:http` server on 127.0.0.1:0 with the tracker installed, and a raw
 * keep-alive client (`support/http-client.ts`) that sees each response's `Connection` header and how the socket
 * ends. The idle grace runs on the TestClock (`it.effect`); responses are held and released by the test, so nothing
 * here depends on real timing except bounded waits for socket events.
 */
import { readFileSync } from "node:fs"
import http from "node:http"
import https from "node:https"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as ConnectionTracker from "../../src/http/ConnectionTracker.ts"
import { connect, connectError, realSleep, waitFor, within } from "../support/http-client.ts"

const idleGrace = 250

/** settle — real time for socket events (a destroy, a FIN) to cross loopback before asserting they did not happen. */
const settle = realSleep(40)

/**
 * serve — a server with the tracker installed before its handler. `GET /hold…` is answered only when the test calls
 * `release`, in arrival order; every other path is answered `ok <path>` at once.
 */
const serve = Effect.gen(function* () {
  const server = http.createServer()
  const tracker = yield* ConnectionTracker.install(server, { idleGrace })
  const held: Array<http.ServerResponse> = []
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
    tracker.onRequest(req, res, (req, res) => {
      if (req.url?.startsWith("/hold-streaming")) res.writeHead(200).flushHeaders()
      if (req.url?.startsWith("/hold")) held.push(res)
      else res.end(`ok ${req.url}`)
    })
  )
  yield* Effect.callback<void>((resume) => {
    server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.void))
  })
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      yield* tracker.beginDrain
      yield* tracker.destroyAll
    })
  )
  const release = (body = "held") =>
    Effect.sync(() => {
      const res = held.shift()
      if (res === undefined) throw new Error("no held response to release")
      res.end(body)
    })
  const waitHeld = (n: number) => waitFor(`${n} held request(s)`, () => held.length >= n)
  return { server, tracker, port: (server.address() as AddressInfo).port, release, waitHeld }
})

describe("ConnectionTracker", () => {
  it.effect("a response in flight when the drain begins carries Connection: close, then the socket closes", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      const before = yield* client.request("/before")
      expect(before.headers.connection).toBe("keep-alive")

      yield* client.send("/hold")
      yield* waitHeld(1)
      const stats = yield* tracker.beginDrain
      expect(stats).toEqual({ connectionsAtStart: 1, inFlightAtStart: 1 })
      yield* release()

      const response = yield* client.next()
      expect(response.status).toBe(200)
      expect(response.body).toBe("held")
      expect(response.headers.connection).toBe("close")
      // closed by the server right after the response, not by the idle grace (the clock has not moved)
      const closed = yield* client.closed()
      expect(closed.endReceived).toBe(true)
      yield* waitFor("tracker sees no socket", () => tracker.connections() === 0)
    })
  )

  it.effect("a request sent inside the grace on an idle connection is served with Connection: close", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      yield* client.request("/first")
      yield* tracker.beginDrain
      yield* TestClock.adjust("200 millis")

      yield* client.send("/hold")
      yield* waitHeld(1)
      // the request cancelled the grace: past the original deadline the connection is still up
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(client.isClosed()).toBe(false)

      yield* release()
      const response = yield* client.next()
      expect(response.status).toBe(200)
      expect(response.headers.connection).toBe("close")
      yield* client.closed()
    })
  )

  it.effect("an idle keep-alive connection is closed exactly when the idle grace ends", () =>
    Effect.gen(function* () {
      const { tracker, port } = yield* serve
      const client = yield* connect(port)
      expect((yield* client.request("/")).headers.connection).toBe("keep-alive")
      // no timer before the drain
      yield* TestClock.adjust("1 minute")
      yield* settle
      expect(client.isClosed()).toBe(false)

      yield* tracker.beginDrain
      yield* TestClock.adjust(`${idleGrace - 1} millis`)
      yield* settle
      expect(client.isClosed()).toBe(false)
      expect(tracker.connections()).toBe(1)

      yield* TestClock.adjust("1 millis")
      const closed = yield* client.closed()
      // a clean FIN, not a reset: a client can tell its connection was closed and retry elsewhere
      expect(closed).toEqual({ endReceived: true, error: undefined })
    })
  )

  it.effect("a silent connection (connected, nothing sent) is reaped after the grace", () =>
    Effect.gen(function* () {
      const { tracker, port } = yield* serve
      const silent = yield* connect(port)
      yield* waitFor("server sees the connection", () => tracker.connections() === 1)

      yield* tracker.beginDrain
      yield* TestClock.adjust(`${idleGrace - 1} millis`)
      yield* settle
      expect(silent.isClosed()).toBe(false)
      yield* TestClock.adjust("1 millis")
      yield* silent.closed()
      yield* tracker.awaitDrained.pipe(within(1_000, "drain"))
      expect(tracker.connections()).toBe(0)
    })
  )

  it.effect("new connections are refused once the drain began; open ones are untouched and still served", () =>
    Effect.gen(function* () {
      const { tracker, port } = yield* serve
      const open = yield* connect(port)
      yield* open.request("/")
      expect(yield* connectError(port)).toBeUndefined()

      yield* tracker.beginDrain
      expect(yield* connectError(port)).toBe("ECONNREFUSED")
      yield* settle
      expect(open.isClosed()).toBe(false)
      const response = yield* open.request("/still")
      expect([response.status, response.body, response.headers.connection]).toEqual([200, "ok /still", "close"])
      yield* open.closed()
    })
  )

  it.effect("awaitDrained completes after the last in-flight response, without waiting for keep-alive", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      yield* client.send("/hold")
      yield* waitHeld(1)

      yield* tracker.beginDrain
      const drained = yield* Effect.forkChild(tracker.awaitDrained, { startImmediately: true })
      yield* settle
      expect(drained.pollUnsafe()).toBeUndefined()

      yield* release()
      expect((yield* client.next()).status).toBe(200)
      const started = Date.now()
      yield* waitFor("drain complete", () => drained.pollUnsafe() !== undefined, 1_000)
      expect(Date.now() - started).toBeLessThan(1_000)
      yield* Fiber.join(drained)
      expect(tracker.inFlight()).toBe(0)
    })
  )

  it.effect("destroyAll ends idle, silent and busy connections at once", () =>
    Effect.gen(function* () {
      const { tracker, port, waitHeld } = yield* serve
      const idle = yield* connect(port)
      yield* idle.request("/")
      const silent = yield* connect(port)
      const busy = yield* connect(port)
      yield* busy.send("/hold")
      yield* waitHeld(1)
      yield* waitFor("server sees 3 connections", () => tracker.connections() === 3)

      yield* tracker.beginDrain
      yield* tracker.destroyAll
      yield* idle.closed()
      yield* silent.closed()
      // the held request never got an answer: a plain handler has nobody to write a 503 (GracefulHttpServer does)
      yield* busy.closed()
      expect(busy.unread()).toBe(0)
      yield* tracker.awaitDrained.pipe(within(1_000, "drain after destroyAll"))
      expect([tracker.connections(), tracker.inFlight()]).toEqual([0, 0])
    })
  )

  it.effect("pipelined requests: only the connection's last response closes it, none is dropped", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      yield* client.send("/hold")
      yield* waitHeld(1)
      yield* tracker.beginDrain
      // the next request is written while the first is in flight and the server drains: it queues behind it
      yield* client.send("/second")
      yield* waitFor("second request received", () => tracker.inFlight() === 2)

      yield* release()
      const first = yield* client.next()
      const second = yield* client.next()
      expect([first.status, first.body, first.headers.connection]).toEqual([200, "held", "keep-alive"])
      expect([second.status, second.body, second.headers.connection]).toEqual([200, "ok /second", "close"])
      yield* client.closed()
    })
  )

  it.effect("a head still arriving when the grace ends does not extend it: the connection is closed, unanswered", () =>
    Effect.gen(function* () {
      const { tracker, port } = yield* serve
      const client = yield* connect(port)
      yield* client.request("/")
      yield* tracker.beginDrain
      yield* TestClock.adjust(`${idleGrace - 50} millis`)
      yield* client.write("GET /slow HTTP/1.1\r\nHost: t\r\n")
      yield* settle
      yield* TestClock.adjust("49 millis")
      yield* client.write("X-More: 1\r\n")
      yield* settle
      expect(client.isClosed()).toBe(false)
      yield* TestClock.adjust("1 millis")
      yield* client.closed()
      expect(client.unread()).toBe(0)
      yield* tracker.awaitDrained.pipe(within(1_000, "drain"))
    })
  )

  it.effect("a connection idle at drain start gets the grace from the drain's start, however many bytes trickle", () =>
    Effect.gen(function* () {
      const { tracker, port } = yield* serve
      const client = yield* connect(port)
      yield* waitFor("server sees the connection", () => tracker.connections() === 1)
      yield* tracker.beginDrain
      const head = "GET /trickled HTTP/1.1\r\nHost: t\r\n"
      // a byte every 10 ms of the grace: each one would restart an idle timer
      for (let i = 0; i < idleGrace / 10 - 1; i++) {
        yield* client.write(head[i % head.length] as string)
        yield* TestClock.adjust("10 millis")
      }
      yield* settle
      expect(client.isClosed()).toBe(false)
      yield* TestClock.adjust("10 millis")
      yield* client.closed()
    })
  )

  it.effect("at the drain, a response sent while its request body is still arriving ends the connection", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      const head = "POST /hold-streaming HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      yield* client.write(`${head}1\r\na\r\n`)
      yield* waitHeld(1)
      // its head went out before the drain (keep-alive): Node alone would keep reading the body for the next request
      yield* tracker.beginDrain
      yield* release("answered early")
      const response = yield* client.next()
      expect([response.status, response.body, response.headers.connection]).toEqual([
        200,
        "answered early",
        "keep-alive"
      ])
      // the body keeps coming; the connection is ended anyway (the idle grace never ran: no TestClock.adjust)
      yield* client.write("1\r\nb\r\n")
      expect((yield* client.closed()).endReceived).toBe(true)
    })
  )

  it.effect("nothing outlives a complete drain: listener closed, no socket, Node's connection checker stopped", () =>
    Effect.gen(function* () {
      const { server, tracker, port } = yield* serve
      const client = yield* connect(port)
      yield* client.request("/")
      expect(server.listening).toBe(true)
      const checker = connectionsChecker(server)
      expect(checker).toBeDefined()

      yield* tracker.beginDrain
      yield* TestClock.adjust(`${idleGrace} millis`)
      yield* client.closed()
      yield* tracker.awaitDrained.pipe(within(1_000, "drain"))
      expect(tracker.connections()).toBe(0)
      expect(server.listening).toBe(false)
      expect(tracker.inFlight()).toBe(0)
      // http.Server#close stops this interval; the drain closes the listener without it and must stop it itself
      expect((checker as unknown as { _destroyed: boolean })._destroyed).toBe(true)
    })
  )
})

describe("ConnectionTracker, beyond plain requests", () => {
  it.effect("lists the requests in flight by method and path, never with their query", () =>
    Effect.gen(function* () {
      const { tracker, port, release, waitHeld } = yield* serve
      const client = yield* connect(port)
      yield* client.send("/hold/a?access_token=secret")
      yield* waitHeld(1)
      const [listed] = tracker.requests()
      expect(listed).toMatchObject({ method: "GET", path: "/hold/a" })
      expect(JSON.stringify(tracker.requests())).not.toContain("secret")
      yield* release()
      yield* client.next()
      yield* waitFor("no request listed", () => tracker.requests().length === 0)
    })
  )

  it.effect("an upgraded connection is destroyed when the idle grace ends, even while bytes flow", () =>
    Effect.gen(function* () {
      const { server, tracker, port } = yield* serve
      server.on("upgrade", (req: http.IncomingMessage, socket: import("node:net").Socket) => {
        tracker.onUpgrade(req)
        socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        socket.on("data", (chunk) => socket.write(chunk))
      })
      const client = yield* connect(port)
      yield* client.write("GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
      yield* waitFor("upgrade listed", () => tracker.requests().some((r) => r.path === "/echo"))
      expect(tracker.inFlight()).toBe(1)
      yield* tracker.beginDrain
      yield* client.write("still talking")
      yield* settle
      expect(client.isClosed()).toBe(false)
      yield* TestClock.adjust(`${idleGrace} millis`)
      yield* client.closed()
      yield* tracker.awaitDrained.pipe(within(1_000, "drain"))
    })
  )

  it.effect(
    "TLS: requests are tracked on the TLS socket (Connection: close at drain); a handshake never finished is reaped",
    () =>
      Effect.gen(function* () {
        const tlsDir = new URL("../support/tls/", import.meta.url)
        const server = https.createServer({
          key: readFileSync(new URL("key.pem", tlsDir)),
          cert: readFileSync(new URL("cert.pem", tlsDir))
        })
        const tracker = yield* ConnectionTracker.install(server, { idleGrace })
        const held: Array<http.ServerResponse> = []
        server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
          tracker.onRequest(req, res, (_, res) => held.push(res))
        )
        yield* Effect.callback<void>(
          (resume) => void server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.void))
        )
        yield* Effect.addFinalizer(() => Effect.andThen(tracker.beginDrain, tracker.destroyAll))
        const port = (server.address() as AddressInfo).port
        const stalled = yield* connect(port) // plain TCP: the TLS handshake never starts
        const answer = Effect.promise(
          () =>
            new Promise<http.IncomingMessage>((resolve, reject) =>
              https
                .get(
                  {
                    host: "127.0.0.1",
                    port,
                    path: "/",
                    rejectUnauthorized: false,
                    agent: new https.Agent({ keepAlive: true })
                  },
                  resolve
                )
                .on("error", reject)
            )
        )
        const response = yield* Effect.forkChild(answer, { startImmediately: true })
        yield* waitFor("request held", () => held.length === 1)
        expect(tracker.connections()).toBe(1)
        yield* tracker.beginDrain
        held[0]?.end("ok")
        const res = yield* Fiber.join(response)
        expect(res.headers.connection).toBe("close")
        res.resume()
        yield* TestClock.adjust(`${idleGrace} millis`)
        yield* stalled.closed()
        yield* tracker.awaitDrained.pipe(within(1_000, "drain"))
        expect(server.listening).toBe(false)
      })
  )
})

/** Node's `headersTimeout` checker (an unref'd interval that holds the server), read through its symbol. */
const connectionsChecker = (server: http.Server): NodeJS.Timeout | undefined => {
  const key = Object.getOwnPropertySymbols(server).find(
    (symbol) => symbol.description === "http.server.connectionsCheckingInterval"
  )
  return key === undefined ? undefined : (server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[key]
}
