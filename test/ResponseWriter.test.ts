/**
 * ResponseWriter — how `RequestHandler` writes each kind of `HttpServerResponse` to a real socket: content headers,
 * bodiless answers (204, HEAD), cookies, `Stream` and Node-stream bodies (in full, with back-pressure, destroyed when
 * they fail midway) and statuses Node cannot send. Set-up as in `RequestHandler.test.ts`: a plain `node:http` server
 * on 127.0.0.1:0; waits are bounded in real time.
 */
import http, { type IncomingHttpHeaders } from "node:http"
import net from "node:net"
import { Readable } from "node:stream"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { connect, realSleep, waitFor } from "./support/http-client.ts"
import { type LogLine, serve } from "./support/request-server.ts"

/** messageOf — the first argument of a log call (several arguments are logged as an array) */
const messageOf = (line: LogLine) => (Array.isArray(line.message) ? line.message[0] : line.message)

/** serveRoutes — `serve` for a router app built from route layers. */
const serveRoutes = <E, R>(routes: Layer.Layer<never, E, R>) => Effect.flatMap(HttpRouter.toHttpEffect(routes), serve)

interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** the body arrived whole (its length or its last chunk), not cut by the connection going away */
  readonly complete: boolean
}

/** call — one request on a fresh connection; `paused` holds the reading for that long once the head arrived. */
const call = (url: string, options: { readonly method?: string; readonly paused?: Effect.Effect<void> } = {}) =>
  Effect.callback<Reply, Error>((resume) => {
    let done = false
    const finish = (effect: Effect.Effect<Reply, Error>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(effect)
    }
    const req = http.request(url, { method: options.method ?? "GET", agent: false })
    const timer = setTimeout(() => {
      req.destroy()
      finish(Effect.fail(new Error(`${url}: no answer within 5 s`)))
    }, 5_000)
    req.on("response", (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", () => {})
      res.on("close", () =>
        finish(
          Effect.succeed({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            complete: res.complete
          })
        )
      )
      if (options.paused !== undefined) {
        res.pause()
        Effect.runFork(
          Effect.andThen(
            options.paused,
            Effect.sync(() => res.resume())
          )
        )
      }
    })
    req.on("error", (error) => finish(Effect.fail(error)))
    req.end()
    return Effect.sync(() => {
      clearTimeout(timer)
      req.destroy()
    })
  })

/** exchange — writes `raw` on a new connection and returns every byte received until the server closes it. */
const exchange = (port: number, raw: string) =>
  Effect.callback<string, Error>((resume) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    const chunks: Array<Buffer> = []
    const timer = setTimeout(() => {
      socket.removeAllListeners("close")
      socket.destroy()
      resume(Effect.fail(new Error("exchange: connection still open after 3 s")))
    }, 3_000)
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resume(Effect.succeed(Buffer.concat(chunks).toString("latin1")))
    })
    socket.write(raw)
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** a request that asks the server to close the connection after its answer */
const once = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`

/** split — the head (lower-cased) and the raw body of a response received by `exchange` */
const split = (raw: string) => {
  const end = raw.indexOf("\r\n\r\n")
  return { head: raw.slice(0, end).toLowerCase(), body: raw.slice(end + 4) }
}

const bytes = (text: string) => new TextEncoder().encode(text)

describe("ResponseWriter: content", () => {
  it.effect("text and json carry their content-type and byte content-length", () =>
    Effect.gen(function* () {
      const { url } = yield* serveRoutes(
        Layer.mergeAll(
          HttpRouter.add("GET", "/text", HttpServerResponse.text("héllo", { status: 201 })),
          HttpRouter.add("GET", "/json", HttpServerResponse.jsonUnsafe({ a: [1, "ü"] }))
        )
      )
      const text = yield* call(url("/text"))
      expect([text.status, text.headers["content-type"], text.headers["content-length"], text.body.toString()]).toEqual(
        [201, "text/plain", "6", "héllo"]
      )
      const json = yield* call(url("/json"))
      expect(json.headers["content-type"]).toBe("application/json")
      expect(json.headers["content-length"]).toBe(String(Buffer.byteLength('{"a":[1,"ü"]}')))
      expect(JSON.parse(json.body.toString())).toEqual({ a: [1, "ü"] })
    })
  )

  it.effect("a 204 has no body and no framing headers, and a body it carries is not run", () =>
    Effect.gen(function* () {
      let pulled = 0
      const counted = Stream.fromEffect(Effect.sync(() => bytes(`pull ${++pulled}`)))
      const { port } = yield* serveRoutes(
        Layer.mergeAll(
          HttpRouter.add("DELETE", "/empty", HttpServerResponse.empty({ status: 204 })),
          HttpRouter.add("DELETE", "/stream", HttpServerResponse.stream(counted, { status: 204 }))
        )
      )
      for (const path of ["/empty", "/stream"]) {
        const { head, body } = split(yield* exchange(port, once("DELETE", path)))
        expect(head).toMatch(/^http\/1\.1 204 /)
        expect(head).not.toMatch(/content-length|transfer-encoding/)
        expect(body).toBe("")
      }
      expect(pulled).toBe(0)
    })
  )

  it.effect("HEAD gets the GET route's headers but no body, and a stream body is not run", () =>
    Effect.gen(function* () {
      let pulled = 0
      const counted = Stream.fromEffect(Effect.sync(() => bytes(`pull ${++pulled}`)))
      const { port } = yield* serveRoutes(
        Layer.mergeAll(
          HttpRouter.add("GET", "/doc", HttpServerResponse.text("hello")),
          HttpRouter.add("GET", "/stream", HttpServerResponse.stream(counted))
        )
      )
      const doc = split(yield* exchange(port, once("HEAD", "/doc")))
      expect(doc.head).toMatch(/^http\/1\.1 200 /)
      expect(doc.head).toContain("content-length: 5")
      expect(doc.head).toContain("content-type: text/plain")
      expect(doc.body).toBe("")

      const streamed = split(yield* exchange(port, once("HEAD", "/stream")))
      expect([streamed.head.slice(0, 12), streamed.body, pulled]).toEqual(["http/1.1 200", "", 0])
    })
  )

  it.effect("cookies become set-cookie headers, after a set-cookie header already there", () =>
    Effect.gen(function* () {
      const response = HttpServerResponse.text("ok", { headers: { "set-cookie": "c=3" } }).pipe(
        HttpServerResponse.setCookieUnsafe("a", "1", { httpOnly: true, path: "/" }),
        HttpServerResponse.setCookieUnsafe("b", "two words")
      )
      const { url } = yield* serve(Effect.succeed(response))
      const reply = yield* call(url("/"))
      expect(reply.headers["set-cookie"]).toEqual(["c=3", "a=1; Path=/; HttpOnly", "b=two%20words"])
      expect(reply.body.toString()).toBe("ok")
    })
  )
})

describe("ResponseWriter: streamed bodies", () => {
  it.effect("a Stream body is sent chunked and in full", () =>
    Effect.gen(function* () {
      const chunks = ["one,", "two,", "three"].map(bytes)
      const { port } = yield* serve(Effect.succeed(HttpServerResponse.stream(Stream.make(...chunks))))
      const { head, body } = split(yield* exchange(port, once("GET", "/")))
      expect(head).toContain("transfer-encoding: chunked")
      expect(body).toBe("4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")
    })
  )

  it.effect("a Node Readable body is piped in full", () =>
    Effect.gen(function* () {
      const app = Effect.sync(() =>
        HttpServerResponse.raw(Readable.from([Buffer.from("alpha "), Buffer.from("beta "), Buffer.from("gamma")]))
      )
      const { url } = yield* serve(app)
      const reply = yield* call(url("/"))
      expect([reply.status, reply.body.toString(), reply.complete]).toEqual([200, "alpha beta gamma", true])
    })
  )

  it.effect("a 16 MB stream waits for a slow reader (back-pressure) and arrives complete", () =>
    Effect.gen(function* () {
      const size = 64 * 1024
      const count = 256
      let pulled = 0
      const body = Stream.unfold(0, (i) =>
        Effect.sync(() => {
          if (i === count) return undefined
          pulled++
          return [new Uint8Array(size).fill(i % 251), i + 1] as const
        })
      )
      const { url } = yield* serve(Effect.succeed(HttpServerResponse.stream(body)))
      let pulledWhilePaused = -1
      const paused = realSleep(300).pipe(Effect.andThen(Effect.sync(() => (pulledWhilePaused = pulled))))
      const reply = yield* call(url("/"), { paused })
      expect(pulledWhilePaused).toBeGreaterThan(0)
      expect(pulledWhilePaused).toBeLessThan(count)
      expect([reply.complete, reply.body.length, pulled]).toEqual([true, size * count, count])
      for (let i = 0; i < count; i++) expect(reply.body[i * size + size - 1]).toBe(i % 251)
    })
  )

  it.effect("a stream that fails after its first chunk destroys the connection: the client sees no clean end", () =>
    Effect.gen(function* () {
      // the failure comes once the first chunk is on the wire
      const failing = Stream.concat(
        Stream.make(bytes("first")),
        Stream.fromEffect(Effect.andThen(realSleep(50), Effect.fail(new Error("source broke"))))
      )
      const { port, url, logs } = yield* serve(Effect.succeed(HttpServerResponse.stream(failing)))

      const { head, body } = split(yield* exchange(port, once("GET", "/")))
      expect(head).toMatch(/^http\/1\.1 200 /)
      expect(body).toBe("5\r\nfirst\r\n") // no last chunk

      const reply = yield* call(url("/"))
      expect([reply.status, reply.body.toString(), reply.complete]).toEqual([200, "first", false])

      const client = yield* connect(port) // a keep-alive connection is closed, not reused
      yield* client.send("/")
      expect((yield* Effect.flip(client.next())).reason).toBe("closed")
      yield* client.closed()
      yield* waitFor("failures logged", () => logs.length === 3)
      expect(logs.map((l) => [l.level, messageOf(l)])).toEqual(
        Array(3).fill(["WARN", "response body failed after the headers were sent"])
      )
    })
  )

  it.effect("a stream that fails at once after its first chunk also ends the connection without a clean end", () =>
    Effect.gen(function* () {
      const failing = Stream.concat(Stream.make(bytes("first")), Stream.fail(new Error("source broke")))
      const { port } = yield* serve(Effect.succeed(HttpServerResponse.stream(failing)))
      // the head and the first chunk may not even leave the socket before it is destroyed
      const raw = yield* exchange(port, once("GET", "/"))
      expect(raw).not.toContain("0\r\n\r\n")
      const client = yield* connect(port)
      yield* client.send("/")
      expect((yield* Effect.flip(client.next())).reason).toBe("closed")
    })
  )
})

describe("ResponseWriter: what Node cannot send", () => {
  it.effect("a status outside 200–599 (99, 600) becomes an empty 500, and the defect is logged", () =>
    Effect.gen(function* () {
      const { url, logs } = yield* serveRoutes(
        Layer.mergeAll(
          HttpRouter.add("GET", "/99", HttpServerResponse.text("low", { status: 99 })),
          HttpRouter.add("GET", "/600", HttpServerResponse.text("high", { status: 600 }))
        )
      )
      for (const path of ["/99", "/600"]) {
        const reply = yield* call(url(path))
        expect([reply.status, reply.headers["content-length"], reply.body.toString()]).toEqual([500, "0", ""])
      }
      yield* waitFor("defects logged", () => logs.length === 2)
      expect(logs.map((l) => [l.level, messageOf(l)])).toEqual(
        Array(2).fill(["ERROR", "response could not be written"])
      )
    })
  )

  it.effect("a header value Node rejects becomes an empty 500", () =>
    Effect.gen(function* () {
      const bad = HttpServerResponse.text("x", { headers: { "x-bad": "line\nbreak" } })
      const { url, logs } = yield* serve(Effect.succeed(bad))
      const reply = yield* call(url("/"))
      expect([reply.status, reply.body.toString(), reply.headers["x-bad"]]).toEqual([500, "", undefined])
      yield* waitFor("defect logged", () => logs.length === 1)
    })
  )
})
