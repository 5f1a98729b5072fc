/**
 * GracefulHttpServer — a `node:http` server running an Effect HTTP app, with a lifecycle that is exactly Go's
 * `ListenAndServe` / `Shutdown` pair, as one scoped Effect.
 *
 * `make` returns once the port is bound (a failure to bind is a `ServeError` naming the address and the reason).
 * From then on:
 * - each request runs as a fiber of its own (`RequestHandler`); a client that disconnects interrupts its fiber;
 * - the server is registered with `Lifecycle`: phase 2 closes the listener, phase 3 drains it (`ConnectionTracker`),
 *   and `force` interrupts the request fibers (answered 503 when nothing was written) and destroys what is left;
 * - `run` is the member of the group: it fails with `ServeError` if the listener errors while serving;
 * - releasing the scope forces whatever is still open (a no-op after a complete drain).
 *
 * Node's `requestTimeout`/`headersTimeout` defaults stay in force; `keepAliveTimeout` is Node's default (5 s).
 */

import type * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Deferred, Duration, Effect, type Layer } from "effect"
import { HttpRouter, type HttpServerResponse } from "effect/http"
import { ServeError } from "../Errors.ts"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.ts"
import { FiberDump } from "../services/FiberDump.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import { trackInFlight } from "../services/Metrics.ts"
import * as ConnectionTracker from "./ConnectionTracker.ts"
import * as RequestHandler from "./RequestHandler.ts"

/** GracefulHttpServer.Options — where to listen and what to serve. */
export interface Options<E, R> {
  /** name used in logs, metrics and errors ("api", "admin") */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly idleGrace: Duration.Input
  readonly app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
}

/** GracefulHttpServer — a bound, serving server. */
export interface GracefulHttpServer {
  readonly name: string
  /** the bound address (the real port when 0 was asked) */
  readonly address: { readonly host: string; readonly port: number }
  readonly tracker: ConnectionTracker.ConnectionTracker
  readonly requests: RequestHandler.RequestHandler
  /** the member: never succeeds; fails with `ServeError` if the listener errors after start-up */
  readonly run: Effect.Effect<never, ServeError>
}

/** make — binds and serves; see the module comment for the guarantees. Needs a `Scope` and the `Lifecycle`. */
export const make = <E, R>(options: Options<E, R>) =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle
    const server = http.createServer()
    const requests = yield* RequestHandler.make(options.app)
    const tracker = yield* ConnectionTracker.install(server, { idleGrace: options.idleGrace, handler: requests.handle })
    yield* trackInFlight(options.name, tracker.inFlight)
    const dump = yield* FiberDump
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        dump.addSource(() =>
          requests.running().map(({ fiber, method, url, ageMillis }) => ({
            id: fiber.id,
            label: `${options.name} ${method} ${url}`,
            ageMillis,
            done: fiber.pollUnsafe() !== undefined
          }))
        )
      ),
      (remove) => Effect.sync(remove)
    )

    const failed = yield* Deferred.make<never, ServeError>()
    const serveError = (cause: unknown) =>
      new ServeError({ server: options.name, host: options.host, port: options.port, cause })

    // Force (the budget ran out) and release: stop accepting if not yet, interrupt the requests still running (503
    // when nothing was written), destroy the sockets left. After a complete drain there is nothing left to do.
    const force = Effect.gen(function* () {
      yield* tracker.beginDrain
      yield* requests.interruptAll
      yield* tracker.destroyAll
    })
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* force
        yield* tracker.awaitDrained.pipe(Effect.timeoutOption(Duration.seconds(1)))
      })
    )

    yield* Effect.callback<void, ServeError>((resume) => {
      const onError = (cause: unknown) => resume(Effect.fail(serveError(cause)))
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port }, () => {
        server.off("error", onError)
        server.on("error", (cause) => Deferred.doneUnsafe(failed, Effect.fail(serveError(cause))))
        resume(Effect.void)
      })
    })

    const bound = server.address() as AddressInfo
    const address = { host: bound.address, port: bound.port }
    yield* lifecycle.register({
      name: options.name,
      beginDrain: tracker.beginDrain.pipe(
        Effect.tap((stats) =>
          Effect.logInfo(`${options.name} server stopped accepting`).pipe(
            Effect.annotateLogs({ server: options.name, ...stats })
          )
        ),
        Effect.asVoid
      ),
      awaitDrained: tracker.awaitDrained,
      force
    })
    yield* Effect.logInfo(
      `${options.name} server listening on http://${formatHost(address.host)}:${address.port}`
    ).pipe(Effect.annotateLogs({ server: options.name, host: address.host, port: address.port }))
    return { name: options.name, address, tracker, requests, run: Deferred.await(failed) } satisfies GracefulHttpServer
  })

/**
 * fromRoutes — the server `name` of this service: bound to `listen(config)`, serving `routes(lifecycle)` through
 * `HttpRouter`, draining with `DRAIN_IDLE_GRACE`. Needs a `Scope`, `AppConfig` and `Lifecycle`.
 */
export const fromRoutes = (options: {
  readonly name: string
  readonly listen: (config: AppConfigValues) => { readonly host: string; readonly port: number }
  readonly routes: (lifecycle: Lifecycle["Service"]) => Layer.Layer<never, never, HttpRouter.HttpRouter>
}) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const lifecycle = yield* Lifecycle
    const app = yield* HttpRouter.toHttpEffect(options.routes(lifecycle))
    return yield* make({ name: options.name, ...options.listen(config), idleGrace: config.drainIdleGrace, app })
  })

/**
 * node:http, taken as the CommonJS module rather than `import`ed: the ESM facade of `node:http` reads every export,
 * and its lazy `WebSocket`/`EventSource` getters load Node's whole fetch implementation (undici) at start-up.
 */
const http = process.getBuiltinModule("node:http") as typeof Http

const formatHost = (host: string) => (host.includes(":") ? `[${host}]` : host)
