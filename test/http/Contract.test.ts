/**
 * Contract — everything Effect serves works unchanged on `GracefulHttpServer.layer`: each block is a stock Effect app
 * (routes, an `HttpApi`, middleware, WebSockets, streams, files, multipart, body limits, client aborts and the
 * shutdown's 503) served once through `GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })` and once,
 * as the same-run baseline, through the stock `NodeHttpServer.layer` it replaces. The server layer is the only line
 * that differs, and every assertion is about what a real client on 127.0.0.1 observes.
 *
 * The apps are built once per block with live services (`excludeTestServices`), as an app runs; the 503 test builds
 * its own server inside `it.effect` so that the shutdown budget runs on the TestClock.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it, layer } from "@effect/vitest"
import { ByteSize, Deferred, Effect, Exit, Fiber, FileSystem, Layer, Schema, Scope, Stream } from "effect"
import {
  HttpIncomingMessage,
  HttpMiddleware,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse,
  Multipart
} from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { CloseEvent } from "effect/socket/Socket"
import { TestClock } from "effect/testing"
import { connect, realSleep, waitFor, within } from "../support/http-client.ts"
import { port, recordLogs, recordSpans, refused, servers, url, wsConnect } from "./support.ts"

/** call — one `fetch` to the server (bounded by 2 s of real time): status, headers, body text. */
const call = (target: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(target, { ...init, signal: AbortSignal.timeout(2_000) })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

/** at — a path of the current server as a URL */
const at = (path: string) => Effect.map(port, (p) => url(p, path))

/** the apps of this file serve without the listen log, and without the request log unless a test reads it */
const serveOptions = { disableListenLog: true, disableLogger: true } as const
const withLogger = { disableListenLog: true } as const

// ---------------------------------------------------------------------------------------------------------------------
// Apps: stock Effect code, written once, served by both servers.
// ---------------------------------------------------------------------------------------------------------------------

const User = Schema.Struct({ name: Schema.String, age: Schema.Number })

const routerApp = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/users/:id",
    Effect.gen(function* () {
      const { id } = yield* HttpRouter.params
      const { fields } = yield* HttpServerRequest.schemaSearchParams(Schema.Struct({ fields: Schema.String }))
      return HttpServerResponse.jsonUnsafe({ id, fields })
    })
  ),
  HttpRouter.add(
    "POST",
    "/users",
    Effect.gen(function* () {
      const user = yield* HttpServerRequest.schemaBodyJson(User)
      return HttpServerResponse.jsonUnsafe({ created: user.name, age: user.age }, { status: 201 })
    })
  )
)

class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { id: Schema.String },
  { httpApiStatus: 404 }
) {}
const ApiUser = Schema.Struct({ id: Schema.String, name: Schema.String })
const Api = HttpApi.make("Directory").add(
  HttpApiGroup.make("users").add(
    HttpApiEndpoint.get("get", "/users/:id", { params: { id: Schema.String }, success: ApiUser, error: UserNotFound }),
    HttpApiEndpoint.put("rename", "/users/:id", {
      params: { id: Schema.String },
      payload: Schema.Struct({ name: Schema.String }),
      success: ApiUser,
      error: UserNotFound
    })
  )
)
const names = new Map([["1", "ann"]])
const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  handlers
    .handle("get", ({ params }) => {
      const name = names.get(params.id)
      return name === undefined
        ? Effect.fail(new UserNotFound({ id: params.id }))
        : Effect.succeed({ id: params.id, name })
    })
    .handle("rename", ({ params, payload }) =>
      names.has(params.id)
        ? Effect.succeed({ id: params.id, name: payload.name })
        : Effect.fail(new UserNotFound({ id: params.id }))
    )
)
const apiApp = HttpApiBuilder.layer(Api).pipe(Layer.provide(UsersLive))

const middlewareRoutes = Layer.mergeAll(
  HttpRouter.add("GET", "/items/:id", Effect.succeed(HttpServerResponse.text("item"))),
  HttpRouter.add("GET", "/big", Effect.succeed(HttpServerResponse.text("x".repeat(4_096))))
)

/** echo — a WebSocket route: echoes text and binary frames; `bye` makes the server close with 4000. */
const wsApp = HttpRouter.add(
  "GET",
  "/ws",
  Effect.gen(function* () {
    const socket = yield* (yield* HttpServerRequest.HttpServerRequest).upgrade
    const writer = yield* socket.writer
    const reader = yield* socket.reader
    while (true) {
      const frames = yield* reader.pull
      for (const frame of frames) {
        if (frame === "bye") return yield* writer.write(new CloseEvent(4000, "bye"))
        yield* writer.write(frame)
      }
    }
  }).pipe(
    Effect.catchTag("SocketError", () => Effect.void),
    Effect.as(HttpServerResponse.empty())
  )
)

const thisFile = fileURLToPath(import.meta.url)
const responsesApp = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/stream",
    Effect.succeed(HttpServerResponse.stream(Stream.make("one,", "two,", "three").pipe(Stream.encodeText)))
  ),
  HttpRouter.add("GET", "/file", HttpServerResponse.file(thisFile, { contentType: "text/plain" })),
  HttpRouter.add(
    "POST",
    "/upload",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const form = yield* request.multipart
      const file = Array.isArray(form.file) ? form.file.find(Multipart.isPersistedFile) : undefined
      if (file === undefined) return HttpServerResponse.text("no file", { status: 400 })
      const content = yield* (yield* FileSystem.FileSystem).readFileString(file.path)
      return HttpServerResponse.jsonUnsafe({ title: form.title, file: file.name, content })
    })
  ),
  HttpRouter.add(
    "POST",
    "/upload-stream",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const parts = yield* request.multipartStream.pipe(
        Stream.mapEffect((part) =>
          part._tag === "File"
            ? Effect.map(part.contentEffect, (bytes) => `${part.key}:${part.name}:${bytes.length}`)
            : Effect.succeed(`${part.key}=${part._tag === "Field" ? part.value : "?"}`)
        ),
        Stream.runCollect
      )
      return HttpServerResponse.jsonUnsafe(parts)
    })
  ),
  HttpRouter.add(
    "POST",
    "/small",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      return HttpServerResponse.text(`${(yield* request.text).length} bytes`)
    }).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(1_024)))
  )
)

// ---------------------------------------------------------------------------------------------------------------------

describe.each(servers)("$name", (server) => {
  layer(HttpRouter.serve(routerApp, serveOptions).pipe(Layer.provideMerge(server.layer())), {
    excludeTestServices: true
  })("HttpRouter.serve(routes)", (it) => {
    it.effect("path params and query reach the handler", () =>
      Effect.gen(function* () {
        const response = yield* call(yield* at("/users/42?fields=name"))
        expect([response.status, JSON.parse(response.body)]).toEqual([200, { id: "42", fields: "name" }])
      })
    )

    it.effect("a JSON body is decoded with its schema (201), a bad one answered 400", () =>
      Effect.gen(function* () {
        const post = (body: unknown) =>
          Effect.flatMap(at("/users"), (target) =>
            call(target, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(body)
            })
          )
        const created = yield* post({ name: "bo", age: 3 })
        expect([created.status, JSON.parse(created.body)]).toEqual([201, { created: "bo", age: 3 }])
        expect((yield* post({ name: 1 })).status).toBe(400)
      })
    )

    it.effect("an unknown route is answered 404", () =>
      Effect.gen(function* () {
        expect((yield* call(yield* at("/nowhere"))).status).toBe(404)
        expect((yield* call(yield* at("/users/1"), { method: "DELETE" })).status).toBe(404)
      })
    )

    it.effect("HEAD on a GET route answers the GET's status and headers without a body", () =>
      Effect.gen(function* () {
        const head = yield* call(yield* at("/users/7?fields=all"), { method: "HEAD" })
        const get = yield* call(yield* at("/users/7?fields=all"))
        expect([head.status, head.headers.get("content-type"), head.headers.get("content-length"), head.body]).toEqual([
          200,
          "application/json",
          get.headers.get("content-length"),
          ""
        ])
      })
    )
  })

  layer(HttpRouter.serve(apiApp, serveOptions).pipe(Layer.provideMerge(server.layer())), {
    excludeTestServices: true
  })("HttpApi through HttpApiBuilder", (it) => {
    it.effect("an endpoint with a path param answers its success schema", () =>
      Effect.gen(function* () {
        const response = yield* call(yield* at("/users/1"))
        expect([response.status, JSON.parse(response.body)]).toEqual([200, { id: "1", name: "ann" }])
      })
    )

    it.effect("a schema'd payload is decoded; a bad one is answered 400", () =>
      Effect.gen(function* () {
        const put = (body: unknown) =>
          Effect.flatMap(at("/users/1"), (target) =>
            call(target, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
          )
        const renamed = yield* put({ name: "annie" })
        expect([renamed.status, JSON.parse(renamed.body)]).toEqual([200, { id: "1", name: "annie" }])
        expect((yield* put({ nom: "x" })).status).toBe(400)
      })
    )

    it.effect("a typed error is answered with its status and encoded body", () =>
      Effect.gen(function* () {
        const response = yield* call(yield* at("/users/9"))
        expect([response.status, JSON.parse(response.body)]).toEqual([404, { _tag: "UserNotFound", id: "9" }])
      })
    )
  })

  describe("HttpMiddleware", () => {
    const logs = recordLogs()
    const spans = recordSpans()
    const app = HttpRouter.serve(
      middlewareRoutes.pipe(
        Layer.provide(HttpRouter.cors({ allowedOrigins: ["https://app.example"], allowedMethods: ["GET"] })),
        Layer.provide(HttpRouter.middleware(HttpMiddleware.compression(), { global: true }))
      ),
      withLogger // HttpMiddleware.logger is on by default
    ).pipe(Layer.provideMerge(server.layer()), Layer.provide([logs.layer, spans.layer]))

    layer(app, { excludeTestServices: true })((it) => {
      it.effect("HttpRouter.cors(): a GET carries Access-Control-Allow-Origin", () =>
        Effect.gen(function* () {
          const response = yield* call(yield* at("/items/1"), { headers: { origin: "https://app.example" } })
          expect([response.status, response.body]).toEqual([200, "item"])
          expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example")
        })
      )

      it.effect("HttpRouter.cors(): the preflight answers 204 with the allowed methods", () =>
        Effect.gen(function* () {
          const response = yield* call(yield* at("/items/1"), {
            method: "OPTIONS",
            headers: { origin: "https://app.example", "access-control-request-method": "GET" }
          })
          expect(response.status).toBe(204)
          expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example")
          expect(response.headers.get("access-control-allow-methods")).toBe("GET")
        })
      )

      it.effect("HttpMiddleware.compression: a large body is gzipped for a client that accepts it", () =>
        Effect.gen(function* () {
          const client = yield* connect(yield* port)
          const plain = yield* client.request("/big")
          yield* client.send("/big", ["Accept-Encoding: gzip"])
          const gzipped = yield* client.next()
          expect([plain.status, plain.headers["content-encoding"], plain.body.length]).toEqual([200, undefined, 4_096])
          expect([gzipped.status, gzipped.headers["content-encoding"]]).toEqual([200, "gzip"])
        })
      )

      it.effect("HttpMiddleware.logger logs each request with its status", () =>
        Effect.gen(function* () {
          yield* call(yield* at("/items/logged"))
          const line = logs.lines.find((l) => l.annotations["http.url"] === "/items/logged")
          expect(line?.annotations["http.status"]).toBe(200)
          expect(line?.annotations["http.method"]).toBe("GET")
        })
      )

      it.effect("the tracer records a server span per request, with the route", () =>
        Effect.gen(function* () {
          yield* call(yield* at("/items/traced"))
          yield* waitFor("span ended", () =>
            spans.spans.some((s) => s.attributes.get("url.path") === "/items/traced" && s.status._tag === "Ended")
          )
          const span = spans.spans.find((s) => s.attributes.get("url.path") === "/items/traced")
          expect(span?.kind).toBe("server")
          expect(span?.attributes.get("http.route")).toBe("/items/:id")
          expect(span?.attributes.get("http.response.status_code")).toBe(200)
        })
      )
    })
  })

  layer(
    HttpRouter.serve(middlewareRoutes, {
      ...serveOptions,
      middleware: HttpMiddleware.cors({ allowedOrigins: ["https://app.example"] })
    }).pipe(Layer.provideMerge(server.layer())),
    { excludeTestServices: true }
  )("HttpMiddleware.cors() as the server's middleware", (it) => {
    it.effect("the preflight is answered with the CORS headers", () =>
      Effect.gen(function* () {
        const response = yield* call(yield* at("/items/1"), {
          method: "OPTIONS",
          headers: { origin: "https://app.example", "access-control-request-method": "GET" }
        })
        expect(response.status).toBe(204)
        expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example")
      })
    )
  })

  layer(HttpRouter.serve(wsApp, serveOptions).pipe(Layer.provideMerge(server.layer())), {
    excludeTestServices: true
  })("HttpServerRequest.upgrade (WebSockets)", (it) => {
    it.effect("a text message is echoed", () =>
      Effect.gen(function* () {
        const ws = yield* wsConnect(url(yield* port, "/ws", "ws"))
        ws.socket.send("hello")
        expect(yield* ws.message(1)).toBe("hello")
      })
    )

    it.effect("a binary message is echoed as binary", () =>
      Effect.gen(function* () {
        const ws = yield* wsConnect(url(yield* port, "/ws", "ws"))
        ws.socket.send(Buffer.from([1, 2, 3, 255]))
        const echoed = yield* ws.message(1)
        expect(Buffer.isBuffer(echoed) ? [...echoed] : echoed).toEqual([1, 2, 3, 255])
      })
    )

    it.effect("the server closes with its own code and reason", () =>
      Effect.gen(function* () {
        const ws = yield* wsConnect(url(yield* port, "/ws", "ws"))
        ws.socket.send("bye")
        expect(yield* ws.awaitClose()).toEqual({ code: 4000, reason: "bye" })
      })
    )
  })

  layer(HttpRouter.serve(responsesApp, serveOptions).pipe(Layer.provideMerge(server.layer())), {
    excludeTestServices: true
  })("HttpServerResponse streams, files, multipart and body limits", (it) => {
    it.effect("a Stream body is sent chunked", () =>
      Effect.gen(function* () {
        const client = yield* connect(yield* port)
        const response = yield* client.request("/stream")
        expect([response.status, response.headers["transfer-encoding"], response.body]).toEqual([
          200,
          "chunked",
          "one,two,three"
        ])
      })
    )

    it.effect("HttpServerResponse.file serves the file with its length", () =>
      Effect.gen(function* () {
        const response = yield* call(yield* at("/file"))
        const expected = readFileSync(thisFile, "utf8")
        expect([response.status, response.headers.get("content-length"), response.body]).toEqual([
          200,
          String(Buffer.byteLength(expected)),
          expected
        ])
        expect(response.headers.get("etag")).not.toBeNull()
      })
    )

    it.effect("multipart: fields and files are persisted (request.multipart)", () =>
      Effect.gen(function* () {
        const form = new FormData()
        form.set("title", "report")
        form.set("file", new Blob(["file body"], { type: "text/plain" }), "notes.txt")
        const response = yield* call(yield* at("/upload"), { method: "POST", body: form })
        expect([response.status, JSON.parse(response.body)]).toEqual([
          200,
          { title: "report", file: "notes.txt", content: "file body" }
        ])
      })
    )

    it.effect("multipart: parts stream in order (request.multipartStream)", () =>
      Effect.gen(function* () {
        const form = new FormData()
        form.set("a", "1")
        form.set("doc", new Blob([new Uint8Array(300)]), "zeros.bin")
        const response = yield* call(yield* at("/upload-stream"), { method: "POST", body: form })
        expect([response.status, JSON.parse(response.body)]).toEqual([200, ["a=1", "doc:zeros.bin:300"]])
      })
    )

    it.effect("a body over HttpIncomingMessage.MaxBodySize is answered 413", () =>
      Effect.gen(function* () {
        const target = yield* at("/small")
        expect((yield* call(target, { method: "POST", body: "x".repeat(100) })).body).toBe("100 bytes")
        expect((yield* call(target, { method: "POST", body: "x".repeat(4_096) })).status).toBe(413)
      })
    )
  })

  describe("499 and 503", () => {
    const started = Deferred.makeUnsafe<void>()
    const interrupted = Deferred.makeUnsafe<void>()
    const logs = recordLogs()
    const hang = HttpRouter.add(
      "GET",
      "/hang",
      Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
    )

    layer(HttpRouter.serve(hang, withLogger).pipe(Layer.provideMerge(server.layer()), Layer.provide(logs.layer)), {
      excludeTestServices: true
    })((it) => {
      it.effect("a client that disconnects interrupts its handler (finalizer runs, logged as 499)", () =>
        Effect.gen(function* () {
          const client = yield* connect(yield* port)
          yield* client.send("/hang")
          yield* Deferred.await(started).pipe(within(2_000, "handler started"))
          yield* client.destroy
          yield* waitFor("handler interrupted", () => Deferred.isDoneUnsafe(interrupted))
          yield* waitFor("499 logged", () => logs.lines.some((line) => line.annotations["http.status"] === 499))
        })
      )
    })

    it.effect("a handler still running when the shutdown budget runs out is answered 503", () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const route = HttpRouter.add(
          "GET",
          "/hang",
          Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
        )
        const scope = yield* Scope.make()
        const app = HttpRouter.serve(route, serveOptions).pipe(
          Layer.provideMerge(server.layer({ gracefulShutdownTimeout: "2 seconds" }))
        )
        const p = yield* port.pipe(Effect.provideContext(yield* Layer.buildWithScope(app, scope)))
        const client = yield* connect(p)
        yield* client.send("/hang")
        yield* Deferred.await(started).pipe(within(2_000, "handler started"))

        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
        yield* refused(p)
        yield* TestClock.adjust("1999 millis")
        yield* realSleep(40)
        expect(client.unread()).toBe(0)
        yield* TestClock.adjust("1 millis")
        expect((yield* client.next()).status).toBe(503)
        yield* Fiber.join(closing).pipe(within(2_000, "scope closed"))
      })
    )
  })
})
