/**
 * Upstreams over HTTP — the HTTP layer against real upstream servers on 127.0.0.1:0: a normal one serving the
 * documented paths (the whole aggregation runs over it), a slow one that never answers (the call ends at the
 * deadline and the upstream sees its connection closed), and failing ones (which statuses are retried, how many
 * times, and that a retry is never made that the deadline would cut short). Deadlines run on the TestClock, so the
 * budget each request carries is exact; the retry tests that need real backoffs run live, bounded.
 */
import http from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Aggregate, type Answer } from "../../src/api/Aggregate.ts"
import { RuntimeConfig } from "../../src/services/RuntimeConfig.ts"
import { Upstreams } from "../../src/services/Upstreams.ts"
import * as UpstreamsHttp from "../../src/services/UpstreamsHttp.ts"
import { defaultPolicy, type RetryPolicy } from "../../src/services/UpstreamsRetry.ts"
import { inventoryOf, ordersOf, profileOf, recommendationsOf } from "../../src/services/UpstreamsSimulated.ts"
import * as DeadlineHeader from "../../src/toolkit/DeadlineHeader.ts"
import * as RequestContext from "../../src/toolkit/RequestContext.ts"
import { UpstreamClient } from "../../src/toolkit/UpstreamClient.ts"
import { verifyNone } from "../support/goleak.ts"
import { within } from "../support/http-client.ts"
import { listenScoped } from "../support/request-server.ts"
import { aggregateLayer, expected } from "./aggregate-support.ts"

type Respond = (request: http.IncomingMessage, response: http.ServerResponse, n: number) => void

const json = (response: http.ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

/** the documented paths, answering the simulated data */
const normal: Respond = (request, response) => {
  const path = request.url ?? ""
  const match = (pattern: RegExp) => decodeURIComponent(pattern.exec(path)?.[1] ?? "")
  if (/^\/profiles\/[^/]+$/.test(path)) return json(response, 200, profileOf(match(/^\/profiles\/(.+)$/)))
  if (/^\/users\/[^/]+\/orders$/.test(path)) return json(response, 200, ordersOf(match(/^\/users\/(.+)\/orders$/)))
  if (/^\/users\/[^/]+\/recommendations$/.test(path)) {
    return json(response, 200, recommendationsOf(match(/^\/users\/(.+)\/recommendations$/)))
  }
  if (/^\/inventory\/[^/]+$/.test(path)) return json(response, 200, inventoryOf(match(/^\/inventory\/(.+)$/)))
  json(response, 404, { error: "no such path" })
}

/** upstream — a server on 127.0.0.1:0 answering with `respond`; records each request's path and deadline header */
const upstream = (respond: Respond) =>
  Effect.gen(function* () {
    const requests: Array<{ readonly path: string; readonly deadline: string | undefined }> = []
    const arrived = yield* Deferred.make<void>()
    const abandoned = yield* Deferred.make<void>()
    const server = http.createServer((request, response) => {
      const header = request.headers[DeadlineHeader.name]
      requests.push({ path: request.url ?? "", deadline: typeof header === "string" ? header : undefined })
      Deferred.doneUnsafe(arrived, Effect.void)
      response.once("close", () => {
        if (!response.writableFinished) Deferred.doneUnsafe(abandoned, Effect.void)
      })
      respond(request, response, requests.length)
    })
    const port = yield* listenScoped(server, "upstream close")
    return { url: `http://127.0.0.1:${port}`, requests, arrived, abandoned }
  })

/** the HTTP upstreams with `UPSTREAM_URL=url`, over Effect's fetch client */
const httpUpstreams = (url: string | undefined, policy: RetryPolicy = defaultPolicy) =>
  Effect.gen(function* () {
    return UpstreamsHttp.make(yield* RuntimeConfig, yield* UpstreamClient, policy)
  }).pipe(Effect.provide(Layer.mergeAll(UpstreamClient.layer, RuntimeConfig.layerTest({ upstreamUrl: url }))))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined

describe("Upstreams.layerHttp against a normal upstream", () => {
  it.effect("the whole aggregation over HTTP: documented paths, the remaining budget on each call", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream(normal)
          const layer = aggregateLayer(Upstreams.layerHttp.pipe(Layer.provide(UpstreamClient.layer)), {
            upstreamUrl: `${up.url}/`
          })
          const answer = yield* Effect.flatMap(Aggregate, (aggregate) =>
            aggregate.run("kim", false, (a: Answer) => a)
          ).pipe(RequestContext.withTimeout("1500 millis"), Effect.provide(layer))
          expect(answer).toEqual(expected("kim"))
          const items = recommendationsOf("kim").map((r) => `/inventory/${r.itemId}`)
          expect(up.requests.map((r) => r.path).sort()).toEqual(
            ["/profiles/kim", "/users/kim/orders", "/users/kim/recommendations", ...items].sort()
          )
          // the profile lookup is shared by concurrent callers and carries no one caller's deadline; the others
          // carry the whole budget (the TestClock did not move)
          expect(up.requests.map((r) => r.deadline)).toEqual([undefined, "1500", "1500", "1500", "1500", "1500"])
        })
      )
    )
  )

  it.effect("a body that is not the schema's is an UpstreamError naming the upstream, never retried", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream((_, response) => json(response, 200, { itemId: "x", available: "many" }))
          const upstreams = yield* httpUpstreams(up.url)
          const error = failureOf(yield* Effect.exit(upstreams.inventory("x")))
          expect(error).toMatchObject({ _tag: "UpstreamError", upstream: "inventory", status: 200 })
          expect((error as Error).message).toMatch(/^invalid answer: /)
          expect(up.requests).toHaveLength(1)
        })
      )
    )
  )

  it.effect("UPSTREAM_URL unset: the call fails saying so, sending nothing", () =>
    verifyNone(
      Effect.gen(function* () {
        const upstreams = yield* httpUpstreams(undefined)
        expect(failureOf(yield* Effect.exit(upstreams.orders("x")))).toMatchObject({
          upstream: "orders",
          message: "UPSTREAM_URL is not set"
        })
      })
    )
  )
})

describe("Upstreams.layerHttp against a slow upstream", () => {
  it.effect("the call is aborted at the deadline: DeadlineExceeded, and the upstream sees its connection close", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream(() => {}) // never answers
          const upstreams = yield* httpUpstreams(up.url)
          const call = yield* Effect.forkChild(RequestContext.withTimeout(upstreams.orders("lee"), 100), {
            startImmediately: true
          })
          yield* Deferred.await(up.arrived).pipe(within(2_000, "request at the upstream"))
          expect(up.requests).toEqual([{ path: "/users/lee/orders", deadline: "100" }])
          yield* TestClock.adjust(100)
          expect(failureOf(yield* Fiber.await(call))).toMatchObject({ _tag: "DeadlineExceeded" })
          yield* Deferred.await(up.abandoned).pipe(within(2_000, "upstream connection closed"))
        })
      )
    )
  )
})

describe("Upstreams.layerHttp against a failing upstream: retries", () => {
  it.live.each([
    { case: "503, 503, then 200 → the third try answers", statuses: [503, 503, 200], requests: 3, fails: undefined },
    { case: "502 then 200", statuses: [502, 200], requests: 2, fails: undefined },
    { case: "always 503 → 3 tries, then the 503", statuses: [503, 503, 503, 503], requests: 3, fails: 503 },
    { case: "500 is not retried", statuses: [500, 200], requests: 1, fails: 500 },
    { case: "404 is not retried", statuses: [404, 200], requests: 1, fails: 404 }
  ])("$case", (c) =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream((request, response, n) => {
            const status = c.statuses[n - 1] ?? 500
            if (status === 200) normal(request, response, n)
            else json(response, status, { error: "unavailable" })
          })
          const upstreams = yield* httpUpstreams(up.url)
          const exit = yield* Effect.exit(upstreams.profile("max")).pipe(within(5_000, "profile call"))
          expect(up.requests).toHaveLength(c.requests)
          if (c.fails === undefined) expect(exit).toEqual(Exit.succeed(profileOf("max")))
          else {
            expect(failureOf(exit)).toMatchObject({
              _tag: "UpstreamError",
              upstream: "profile",
              status: c.fails,
              message: `answered ${c.fails}`
            })
          }
        })
      )
    )
  )

  it.live("an upstream that cannot be reached: retried, then 'unreachable'", () =>
    verifyNone(
      Effect.gen(function* () {
        const port = yield* Effect.scoped(
          Effect.map(upstream(normal), (up) => up.url) // closed when this scope ends: the port refuses
        )
        const upstreams = yield* httpUpstreams(port)
        const error = failureOf(yield* Effect.exit(upstreams.inventory("y")).pipe(within(5_000, "inventory call")))
        expect(error).toMatchObject({ _tag: "UpstreamError", upstream: "inventory" })
        expect((error as { status?: number }).status).toBeUndefined()
        expect((error as Error).message).toMatch(
          /^unreachable: Transport error \(GET http:\/\/127\.0\.0\.1:\d+\/inventory\/y\)/
        )
      })
    )
  )

  it.effect("no retry the deadline would cut short: the caller gets the upstream's 503, not a timeout", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const up = yield* upstream((_, response) => json(response, 503, { error: "unavailable" }))
          // 12 ms left (the TestClock does not move): a backoff of 8 to 12 ms plus 5 ms for the try does not fit
          const upstreams = yield* httpUpstreams(up.url)
          const exit = yield* Effect.exit(RequestContext.withTimeout(upstreams.orders("ned"), 12)).pipe(
            within(2_000, "orders call without a retry")
          )
          expect(failureOf(exit)).toMatchObject({ _tag: "UpstreamError", status: 503 })
          expect(up.requests).toEqual([{ path: "/users/ned/orders", deadline: "12" }])
          // with room for it, the same call is retried (the backoff runs on the TestClock)
          const roomy = yield* Effect.forkChild(
            Effect.exit(RequestContext.withTimeout(upstreams.orders("ned"), 1_000)),
            { startImmediately: true }
          )
          while (roomy.pollUnsafe() === undefined) {
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
            yield* TestClock.adjust(Duration.millis(25))
          }
          expect(up.requests.length).toBe(1 + defaultPolicy.attempts)
        })
      )
    )
  )
})
