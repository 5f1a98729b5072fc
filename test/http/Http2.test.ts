/**
 * HTTP/2 (cleartext, `http2.createServer`) on `GracefulHttpServer.layer`, with Node's own HTTP/2 client: requests are
 * served through Effect's handler like HTTP/1 ones, and at drain each session is sent GOAWAY (`session.close()`): the
 * stream in flight finishes, no new stream starts, and the scope's release completes once the session is gone —
 * no idle grace applies to a session, whose streams say when it is done.
 */
import http2 from "node:http2"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as GracefulHttpServer from "../../src/http/GracefulHttpServer.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { within } from "../support/http-client.ts"

/** one request on `session`, as a promise of its status and body */
const request = (session: http2.ClientHttp2Session, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = session.request({ ":path": path })
    let status = 0
    let body = ""
    stream.on("response", (headers) => {
      status = Number(headers[":status"])
    })
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      body += chunk
    })
    stream.on("end", () => resolve({ status, body }))
    stream.on("error", reject)
  })

describe("GracefulHttpServer over HTTP/2", () => {
  it.effect("serves h2c, and at drain lets the stream in flight finish, then the session goes", () =>
    Effect.gen(function* () {
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const routes = Layer.mergeAll(
        HttpRouter.add("GET", "/", HttpServerResponse.text("hello over h2")),
        HttpRouter.add(
          "GET",
          "/slow",
          Deferred.succeed(entered, undefined).pipe(
            Effect.andThen(Deferred.await(release)),
            Effect.as(HttpServerResponse.text("slow over h2"))
          )
        )
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        HttpRouter.serve(routes, { disableLogger: true }).pipe(
          Layer.provideMerge(
            GracefulHttpServer.layer(() => http2.createServer(), { port: 0, host: "127.0.0.1", idleGrace: "1 second" })
          ),
          Layer.provide(Lifecycle.layerTest)
        ),
        scope
      )
      const handle = yield* GracefulHttpServer.handle.pipe(
        Effect.provideContext(context),
        Effect.map((h) => (h._tag === "Some" ? h.value : undefined))
      )
      const port = handle?.address.port ?? 0
      const session = http2.connect(`http://127.0.0.1:${port}`)
      const goaway = yield* Deferred.make<void>()
      session.on("goaway", () => Deferred.doneUnsafe(goaway, Exit.void))
      session.on("error", () => {})
      expect(yield* Effect.promise(() => request(session, "/"))).toEqual({ status: 200, body: "hello over h2" })

      const slow = yield* Effect.promise(() => request(session, "/slow")).pipe(
        Effect.forkChild({ startImmediately: true })
      )
      yield* Deferred.await(entered).pipe(within(2_000, "stream in its handler"))
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* Deferred.await(goaway).pipe(within(2_000, "GOAWAY"))
      expect(closing.pollUnsafe(), "the release waits for the stream").toBeUndefined()
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(slow)).toEqual({ status: 200, body: "slow over h2" })
      // no TestClock move: the session's end, not the idle grace, ends the drain
      yield* Fiber.join(closing).pipe(within(2_000, "release"))
      session.destroy()
    })
  )
})
