/**
 * UpstreamClient — deadline propagation over real sockets: an upstream `node:http` server on 127.0.0.1:0 records the
 * `x-request-timeout-ms` it receives and answers or hangs; the calls run on the TestClock, so the budget sent is exact
 * and the interruption at the deadline is observed as the upstream's socket closing. The whole chain runs too: a
 * server with `DeadlineHeader.middleware` (the API's) receives a deadline and calls the upstream inside the request.
 * Waits for sockets are bounded in real time and wait on Deferreds, never on sleeps.
 */
import http from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as DeadlineHeader from "../../src/toolkit/DeadlineHeader.ts"
import * as RequestContext from "../../src/toolkit/RequestContext.ts"
import { UpstreamClient } from "../../src/toolkit/UpstreamClient.ts"
import { verifyNone } from "../support/goleak.ts"
import { connect, realSleep, within } from "../support/http-client.ts"
import { listenScoped, serve } from "../support/request-server.ts"

/** Upstream — a test server that records what it received. */
interface Upstream {
  readonly url: string
  /** the `x-request-timeout-ms` of each request received, in order (`undefined`: none sent) */
  readonly headers: Array<string | undefined>
  /** the header of the first request, once it arrived */
  readonly received: Deferred.Deferred<string | undefined>
  /** completed when a request's connection closed before it was answered (the caller gave up) */
  readonly abandoned: Deferred.Deferred<void>
}

/** upstream — a server on 127.0.0.1:0 that answers `200 ok` or never answers; closed (connections too) with the scope */
const upstream = (behaviour: "answer" | "hang") =>
  Effect.gen(function* () {
    const received = yield* Deferred.make<string | undefined>()
    const abandoned = yield* Deferred.make<void>()
    const headers: Array<string | undefined> = []
    const server = http.createServer((req, res) => {
      const header = req.headers[DeadlineHeader.name]
      headers.push(typeof header === "string" ? header : undefined)
      Deferred.doneUnsafe(received, Effect.succeed(headers[0]))
      res.once("close", () => {
        if (!res.writableFinished) Deferred.doneUnsafe(abandoned, Effect.void)
      })
      if (behaviour === "answer") res.end("ok")
    })
    const port = yield* listenScoped(server, "upstream close")
    return { url: `http://127.0.0.1:${port}/`, headers, received, abandoned } satisfies Upstream
  })

/** the UpstreamClient of the live layer (Effect's fetch client) */
const client = Effect.provide(UpstreamClient, UpstreamClient.layer)

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined

describe("UpstreamClient", () => {
  it.effect("outside a request context: no header, no timer", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream("answer")
          const response = yield* (yield* client).get(up.url)
          expect([response.status, yield* response.text]).toEqual([200, "ok"])
          expect(up.headers).toEqual([undefined])
        })
      )
    )
  )

  it.effect("inside a deadline: sends the remaining budget (whole ms), less what has elapsed", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream("answer")
          const upstreamClient = yield* client
          const gate = yield* Deferred.make<void>()
          const call = Deferred.await(gate).pipe(
            Effect.andThen(upstreamClient.get(up.url)),
            Effect.flatMap((response) => response.text),
            RequestContext.withTimeout("1500 millis")
          )
          const fiber = yield* Effect.forkChild(call, { startImmediately: true })
          yield* TestClock.adjust("400 millis")
          yield* Deferred.succeed(gate, undefined)
          expect(yield* Fiber.join(fiber).pipe(within(2_000, "upstream answer"))).toBe("ok")
          expect(up.headers).toEqual(["1100"])
        })
      )
    )
  )

  // The client's own timer is what interrupts the call when the deadline was set without one (a RequestContext value
  // provided directly); under withTimeout both timers fire at the same instant.
  it.effect.each([
    { how: "withTimeout", within: RequestContext.withTimeout("500 millis") },
    {
      how: "a provided RequestContext",
      within: Effect.provideService(RequestContext.RequestContext, { deadline: Option.some(500) })
    }
  ])(
    "a call still waiting at the deadline ($how) is interrupted: DeadlineExceeded, the upstream's socket closes",
    (c) =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const up = yield* upstream("hang")
            const upstreamClient = yield* client
            const call = c.within(upstreamClient.get(up.url))
            const fiber = yield* Effect.forkChild(call, { startImmediately: true })
            expect(yield* Deferred.await(up.received).pipe(within(2_000, "request received"))).toBe("500")

            yield* TestClock.adjust("499 millis")
            yield* realSleep(20)
            expect(fiber.pollUnsafe()).toBeUndefined()
            expect(Deferred.isDoneUnsafe(up.abandoned)).toBe(false)

            yield* TestClock.adjust("1 millis")
            const exit = yield* Fiber.await(fiber).pipe(within(2_000, "call ended"))
            expect(failureOf(exit)).toEqual(new RequestContext.DeadlineExceeded({ deadline: 500 }))
            yield* Deferred.await(up.abandoned).pipe(within(2_000, "upstream socket closed"))
          })
        )
      )
  )

  it.effect.each([
    { left: 0, what: "no time left" },
    { left: -10, what: "deadline passed" },
    { left: 0.5, what: "less than 1 ms left" }
  ])("$what ($left ms): fails at once with DeadlineExceeded, sends nothing", (c) =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream("answer")
          const upstreamClient = yield* client
          yield* TestClock.adjust("1000 millis")
          const late = { deadline: Option.some(1000 + c.left) }
          const error = yield* upstreamClient
            .get(up.url)
            .pipe(Effect.provideService(RequestContext.RequestContext, late), Effect.flip)
          expect(error).toEqual(new RequestContext.DeadlineExceeded({ deadline: 1000 + c.left }))
          // a later call on its own is the first the upstream sees
          yield* upstreamClient.get(up.url)
          expect(up.headers).toEqual([undefined])
        })
      )
    )
  )
})

/**
 * proxy — a server whose route `/proxy` runs, under `DeadlineHeader.middleware`, `before` and then a call to the
 * upstream through `UpstreamClient`, answering its status.
 */
const proxy = (upstreamUrl: string, before: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const upstreamClient = yield* client
    const handler = before.pipe(
      Effect.andThen(upstreamClient.get(upstreamUrl)),
      Effect.map((response) => HttpServerResponse.text(`upstream ${response.status}`)),
      Effect.catchTag("HttpClientError", (e) => Effect.succeed(HttpServerResponse.text(e.message, { status: 502 })))
    )
    const app = yield* HttpRouter.toHttpEffect(HttpRouter.add("GET", "/proxy", DeadlineHeader.middleware(handler)))
    return yield* serve(app)
  })

describe("UpstreamClient inside a served request (DeadlineHeader.middleware)", () => {
  it.effect("the remaining budget goes upstream; at the deadline the call is interrupted and the client gets 504", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream("hang")
          const entered = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          const server = yield* proxy(
            up.url,
            Deferred.succeed(entered, undefined).pipe(Effect.andThen(Deferred.await(gate)))
          )
          const client = yield* connect(server.port)
          yield* client.send("/proxy", [`${DeadlineHeader.name}: 1000`])
          yield* Deferred.await(entered).pipe(within(2_000, "handler entered"))

          yield* TestClock.adjust("300 millis") // the handler's own work took 300 ms
          yield* Deferred.succeed(gate, undefined)
          const sent = Number(yield* Deferred.await(up.received).pipe(within(2_000, "upstream request")))
          expect(sent).toBeLessThanOrEqual(1000)
          expect(sent).toBeGreaterThan(0)
          expect(sent).toBe(700)

          yield* TestClock.adjust("699 millis")
          yield* realSleep(20)
          expect(client.unread()).toBe(0)
          expect(Deferred.isDoneUnsafe(up.abandoned)).toBe(false)

          yield* TestClock.adjust("1 millis")
          const answer = yield* client.next()
          expect([answer.status, JSON.parse(answer.body)]).toEqual([504, { error: "deadline exceeded" }])
          yield* Deferred.await(up.abandoned).pipe(within(2_000, "upstream socket closed"))
        })
      )
    )
  )

  it.effect.each([{ header: undefined }, { header: "60000" }])(
    "a client that disconnects interrupts the outgoing call: the upstream's socket closes (x-request-timeout-ms: $header)",
    (c) =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const up = yield* upstream("hang")
            const server = yield* proxy(up.url, Effect.void)
            const client = yield* connect(server.port)
            yield* client.send("/proxy", c.header === undefined ? [] : [`${DeadlineHeader.name}: ${c.header}`])
            expect(yield* Deferred.await(up.received).pipe(within(2_000, "upstream request"))).toBe(c.header)

            // the TestClock never moves: only the disconnect can end the call
            yield* client.destroy
            yield* Deferred.await(up.abandoned).pipe(within(2_000, "upstream socket closed"))
          })
        )
      )
  )
})
