/**
 * TwoServers — two graceful servers in one process drain together under one budget, whether their layers are merged
 * (`Layer.mergeAll`: one scope) or nested (`Layer.provideMerge`: the inner scope closes before the outer one starts
 * closing). Each server has its own `shutdownDelay`; the process waits for one delay, not two, and one budget covers
 * both. Both share one `Lifecycle` (`Lifecycle.layerTest`, provided once), as the servers of one process do.
 *
 * The apps are launched with `Layer.launch` and interrupted, under `it.effect`: the delay, the idle grace and the
 * budget all run on the TestClock, so "still accepting at 999 ms, both refusing at 1000 ms" is exact. Sockets are
 * awaited in real time, bounded.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { type GracefulHttpServer, Lifecycle } from "../../src/index.ts"
import { connect, connectError, realSleep, within } from "../support/http-client.ts"
import { graceful, probe, recordLogs, refused } from "./support.ts"

const settle = realSleep(40)

/** a server's app: `/slow` waits for `release` (or forever), `/fast` answers its name */
const member = (name: string, options: Partial<GracefulHttpServer.Options>) =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const bound = yield* Deferred.make<GracefulHttpServer.Handle>()
    const routes = Layer.mergeAll(
      HttpRouter.add(
        "GET",
        "/slow",
        Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Deferred.await(release)),
          Effect.as(HttpServerResponse.text(`${name} slow`))
        )
      ),
      HttpRouter.add("GET", "/fast", Effect.succeed(HttpServerResponse.text(name)))
    )
    const layer = Layer.merge(
      HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }),
      probe(bound)
    ).pipe(Layer.provide(graceful({ name, ...options })))
    return { name, started, release, bound, layer }
  })

/**
 * own — `layer` built in a scope of its own, its services kept to itself. `HttpRouter.serve` hands its whole build
 * context (its router and memo map included) to whatever its layer is provided to, so a second `HttpRouter.serve`
 * below it registers its routes in the first one's router ("Method 'GET' already declared"): Effect's behaviour, the
 * same with `NodeHttpServer.layer`. Nesting two served apps needs this.
 */
const own = <E>(layer: Layer.Layer<never, E>) => Layer.effectDiscard(Effect.asVoid(Layer.build(layer)))

/** both ways two servers sit in one app */
const shapes = [
  {
    shape: "merged (Layer.mergeAll)",
    combine: (a: Layer.Layer<never, unknown>, b: Layer.Layer<never, unknown>) => Layer.mergeAll(a, b)
  },
  {
    shape: "nested (Layer.provideMerge: the inner scope closes first)",
    combine: (a: Layer.Layer<never, unknown>, b: Layer.Layer<never, unknown>) => a.pipe(Layer.provideMerge(own(b)))
  }
] as const

/** launches both servers (one Lifecycle) with logs recorded; each with a slow request in flight and an idle client */
const launch = (
  combine: (a: Layer.Layer<never, unknown>, b: Layer.Layer<never, unknown>) => Layer.Layer<never, unknown>,
  options: Partial<GracefulHttpServer.Options>
) =>
  Effect.gen(function* () {
    const logs = recordLogs()
    const a = yield* member("a", options)
    const b = yield* member("b", options)
    const app = combine(a.layer, b.layer).pipe(Layer.provide(Lifecycle.layerTest))
    // detached: if a test fails, its teardown does not wait for a shutdown whose clock nobody advances any more
    const main = yield* Effect.forkDetach(Layer.launch(app).pipe(Effect.provide(logs.layer)))
    const servers = yield* Effect.forEach([a, b], (server) =>
      Effect.gen(function* () {
        const port = (yield* Deferred.await(server.bound).pipe(within(2_000, `${server.name} bound`))).address.port
        const busy = yield* connect(port)
        yield* busy.send("/slow")
        yield* Deferred.await(server.started).pipe(within(2_000, `${server.name} /slow started`))
        const idle = yield* connect(port)
        expect((yield* idle.request("/fast")).body).toBe(server.name)
        return { ...server, port, busy, idle }
      })
    )
    return { logs, main, servers }
  })

describe.each(shapes)("two servers, $shape", ({ combine }) => {
  it.effect("drain together after one shutdown delay, not two", () =>
    Effect.gen(function* () {
      const { logs, main, servers } = yield* launch(combine, { shutdownDelay: "1 second" })
      const stopping = yield* Effect.forkDetach(Fiber.interrupt(main), { startImmediately: true })
      yield* realSleep(20)

      // during the delay, both servers still accept and serve
      yield* TestClock.adjust("999 millis")
      for (const server of servers) {
        expect(yield* connectError(server.port)).toBeUndefined()
        const late = yield* connect(server.port)
        expect((yield* late.request("/fast")).body).toBe(server.name)
        yield* late.destroy
      }

      // at the end of the one delay both listeners close together
      yield* TestClock.adjust("1 millis")
      for (const server of servers) yield* refused(server.port)

      // the idle connections of both get their grace, then a FIN
      yield* TestClock.adjust("249 millis")
      yield* settle
      expect(servers.map((server) => server.idle.isClosed())).toEqual([false, false])
      yield* TestClock.adjust("1 millis")
      for (const server of servers) expect(yield* server.idle.closed()).toEqual({ endReceived: true, error: undefined })

      // the slow requests are answered, each closing its connection
      for (const server of servers) {
        yield* Deferred.succeed(server.release, undefined)
        const answer = yield* server.busy.next()
        expect([answer.status, answer.body, answer.headers.connection]).toEqual([200, `${server.name} slow`, "close"])
      }
      expect(Exit.isSuccess(yield* Fiber.await(stopping).pipe(within(2_000, "launch interrupted")))).toBe(true)

      // one shutdown, one delay: on the TestClock, both servers stopped accepting 1000 ms after it began
      const began = logs.find("shutting down")
      expect(began).toHaveLength(1)
      expect(String(began[0]?.annotations.servers).split(",").sort()).toEqual(["a", "b"])
      expect(logs.phase("unready").map((line) => line.annotations.millis)).toEqual([1000])
      const stopped = logs.find("server stopped accepting").map((line) => [line.message, line.at - (began[0]?.at ?? 0)])
      expect(stopped.sort()).toEqual([
        ["a server stopped accepting", 1000],
        ["b server stopped accepting", 1000]
      ])
    })
  )

  it.effect("one budget covers both: requests still running at its end are answered 503 on both servers", () =>
    Effect.gen(function* () {
      const { logs, main, servers } = yield* launch(combine, {
        shutdownDelay: "1 second",
        gracefulShutdownTimeout: "3 seconds"
      })
      const stopping = yield* Effect.forkDetach(Fiber.interrupt(main), { startImmediately: true })
      yield* realSleep(20)
      yield* TestClock.adjust("1 second")
      for (const server of servers) yield* refused(server.port)
      yield* TestClock.adjust("250 millis")
      for (const server of servers) yield* server.idle.closed()

      // the budget counts from the shutdown's start (delay included), once for both servers
      yield* TestClock.adjust("1749 millis")
      yield* settle
      expect(servers.map((server) => server.busy.unread())).toEqual([0, 0])
      yield* TestClock.adjust("1 millis")
      for (const server of servers) {
        const answer = yield* server.busy.next()
        expect(answer.status).toBe(503)
        yield* server.busy.closed()
      }
      yield* TestClock.adjust("100 millis") // the flush limit before sockets are destroyed
      expect(Exit.isSuccess(yield* Fiber.await(stopping).pipe(within(2_000, "launch interrupted")))).toBe(true)
      expect(logs.find("shutting down")).toHaveLength(1)
      expect(logs.find("shutdown budget exhausted")).toHaveLength(1)
      expect(logs.phase("force")).toHaveLength(1)
    })
  )
})
