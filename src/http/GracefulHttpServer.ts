/**
 * GracefulHttpServer — a drop-in for platform-node's `NodeHttpServer.layer` whose shutdown loses no request.
 *
 * `layer(evaluate, options)` / `layerConfig(evaluate, options)` provide what `NodeHttpServer.layer` provides — Effect's
 * `HttpServer` and the Node HTTP platform services — so swapping one for the other is the only change an app makes:
 * `HttpRouter.serve`, `HttpApi`, `HttpMiddleware`, `HttpServerRequest.upgrade` (WebSockets) and every response kind
 * work unchanged, because each request runs through platform-node's own `makeHandler` / `makeUpgradeHandler`.
 *
 * What differs is what happens when the scope of the server (or of what it serves) closes — whoever closes it:
 * `NodeRuntime.runMain` on SIGINT/SIGTERM, `Layer.launch` interrupted, `ManagedRuntime.dispose`, a test. Instead of
 * `server.close()` (which resets keep-alive clients caught writing their next request) the server takes part in its
 * `Lifecycle`'s shutdown, shared by every graceful server of the process under one budget:
 * 1. readiness off;  2. `shutdownDelay` while still serving;  3. stop accepting;
 * 4. `Connection: close` on each connection's last response, idle connections closed after `idleGrace`, WebSockets
 *    sent a close frame 1001 (going away) with `idleGrace` to close;
 * 5. when the budget (`gracefulShutdownTimeout`) runs out: requests still running are interrupted and answered 503,
 *    connections destroyed.
 * The scope finishes closing once every connection is gone: nothing waits for keep-alive timeouts.
 *
 * While serving, hostile clients are bounded (`ServerTimeouts`, defaults explained there): a head must arrive within
 * `headersTimeout` (10 s; `408`), a request within `requestTimeout` (60 s), an idle keep-alive connection closes after
 * `keepAliveTimeout` (65 s), an unread body still arriving `unreadBodyTimeout` (2 s) after the answer closes its
 * connection, at most `maxPipelined` (16) requests of one connection are handled at once (it is not read meanwhile),
 * and invalid HTTP gets Node's `400`/`431`/`408` with a rate-limited log line (`ClientErrors`).
 *
 * Differences from `NodeHttpServer.layer`: `disablePreemptiveShutdown: true` means a budget of 0 (force at once);
 * `checkContinue` is left to Node (it answers `100 Continue` itself); the timeouts above replace Node's defaults
 * (values set on the server you create are kept).
 */
import type * as Http from "node:http"
import type * as Http2 from "node:http2"
import type { Duplex } from "node:stream"
import { NodeHttpServer, type NodeServices } from "@effect/platform-node"
import * as NodeWS from "@effect/platform-node/NodeWS"
import { Config, Duration, Effect, Exit, type FileSystem, Layer, Option, type Path, Scope } from "effect"
import type { LazyArg } from "effect/Function"
import {
  type Etag,
  FetchHttpClient,
  type HttpClient,
  type HttpPlatform,
  HttpServer,
  type HttpServerError
} from "effect/http"
import { Lifecycle } from "../services/Lifecycle.ts"
import * as ClientErrors from "./ClientErrors.ts"
import * as ConnectionTracker from "./ConnectionTracker.ts"
import * as Listener from "./Listener.ts"
import * as ServerTimeouts from "./ServerTimeouts.ts"
import * as UnreadBody from "./UnreadBody.ts"

/**
 * GracefulHttpServer.Options — `NodeHttpServer.Options`, the drain settings, and the timeouts while serving
 * (`ServerTimeouts`: `headersTimeout`, `requestTimeout`, `keepAliveTimeout`, `unreadBodyTimeout`).
 */
export interface Options extends NodeHttpServer.Options, ServerTimeouts.Options {
  /** time spent unready but still serving before the listener closes (default 0; 5 s is typical on Kubernetes) */
  readonly shutdownDelay?: Duration.Input | undefined
  /** how long a connection may stay idle once the drain has begun (default 250 ms) */
  readonly idleGrace?: Duration.Input | undefined
  /** the server's name in logs and errors (default `http`) */
  readonly name?: string | undefined
  /**
   * requests of one connection handled at once (default 16): one pipelined behind that many waits, and the
   * connection is not read meanwhile (`ConnectionTracker`)
   */
  readonly maxPipelined?: number | undefined
}

/** GracefulHttpServer.Handle — what the server is, beyond Effect's `HttpServer`: for members and diagnostics. */
export interface Handle {
  readonly name: string
  /** the bound address (the real port when 0 was asked) */
  readonly address: { readonly host: string; readonly port: number }
  readonly tracker: ConnectionTracker.ConnectionTracker
  /** fails with `ServeError` if the listener errors after start-up; never succeeds */
  readonly failure: Effect.Effect<never, HttpServerError.ServeError>
}

const HandleKey = "~lifecycle/GracefulHttpServer/Handle"

/**
 * node:http, taken as the CommonJS module rather than `import`ed: the ESM facade of `node:http` reads every export,
 * and its lazy `WebSocket`/`EventSource` getters load Node's whole fetch implementation (undici) at start-up.
 */
const http = process.getBuiltinModule("node:http") as typeof Http

/** createServer — `node:http`'s, without loading undici at start-up (see above): an `Evaluate` for `layer`. */
export const createServer = (): Http.Server => http.createServer()

/** GracefulHttpServer.Evaluate — what makes the Node server, as `NodeHttpServer.layer` takes it. */
export type Evaluate = LazyArg<Http.Server | Http2.Http2Server | Http2.Http2SecureServer>

/** the services `layer` provides, as `NodeHttpServer.layer` does */
export type Provided = HttpServer.HttpServer | NodeServices.NodeServices | HttpPlatform.HttpPlatform | Etag.Generator

/** GracefulHttpServer.defaults — the drain settings when not given. */
export const defaults = {
  shutdownDelay: Duration.zero,
  idleGrace: Duration.millis(250),
  /** NodeHttpServer's own default for `gracefulShutdownTimeout` */
  budget: Duration.seconds(20)
} as const

/**
 * make — binds the server `evaluate` returns and gives Effect's `HttpServer` for it, registered with the current
 * `Lifecycle` (see the module comment). Fails with `ServeError` (a `ListenError` naming the address) if it cannot
 * bind. Needs a `Scope`.
 */
export const make = Effect.fnUntraced(function* (evaluate: Evaluate, options: Options) {
  const lifecycle = yield* Lifecycle.current
  const scope = yield* Effect.scope
  const server = evaluate() as Http.Server
  const name = options.name ?? "http"
  const budget = options.disablePreemptiveShutdown
    ? Duration.zero
    : Duration.fromInputUnsafe(options.gracefulShutdownTimeout ?? defaults.budget)
  const tracker = yield* ConnectionTracker.install(server, {
    idleGrace: options.idleGrace ?? defaults.idleGrace,
    maxPipelined: options.maxPipelined
  })
  const timeouts = ServerTimeouts.apply(server, options)
  yield* ClientErrors.install(server, name)

  const { address, socketAddress, failure } = yield* Listener.listen(server, options, name)
  yield* Effect.forkScoped(UnreadBody.watch(tracker.sockets, timeouts.unreadBodyTimeout))

  const wss = yield* Effect.acquireRelease(
    Effect.sync(() => new NodeWS.WebSocketServer({ ...options.websocket, noServer: true })),
    (wss) => Effect.callback<void>((resume) => void wss.close(() => resume(Effect.void)))
  ).pipe(Scope.provide(scope), Effect.cached)

  // Each `serve` gets a scope for its requests and one for its upgrades; the drain and the budget act on them.
  const servings = new Set<{ readonly requests: Scope.Closeable; readonly upgrades: Scope.Closeable }>()
  const beginDrain = Effect.gen(function* () {
    const stats = yield* tracker.beginDrain
    // interrupted upgrade handlers close their WebSocket with 1001 (going away): Effect's own close code
    for (const serving of servings) yield* Effect.forkDetach(Scope.close(serving.upgrades, Exit.void))
    yield* Effect.logInfo(`${name} server stopped accepting`).pipe(Effect.annotateLogs({ server: name, ...stats }))
  })
  const force = Effect.gen(function* () {
    if (!tracker.draining()) yield* beginDrain
    yield* Effect.forEach(servings, (serving) => Scope.close(serving.requests, Exit.void), {
      concurrency: "unbounded",
      discard: true
    })
    yield* tracker.destroyAll
  })
  yield* lifecycle.register({
    name,
    shutdownDelay: Duration.fromInputUnsafe(options.shutdownDelay ?? defaults.shutdownDelay),
    budget,
    beginDrain,
    awaitDrained: tracker.awaitDrained,
    force
  })
  // The server's own scope: after the shutdown, make sure nothing is left (a server nobody served, or forced). Its
  // finalizers run with the layer's own services (its logger, clock, metrics), not those of whoever closes the scope.
  let released = false
  const shutdown = Effect.suspend(() => (released ? Effect.void : lifecycle.shutdown(`${name} server released`)))
  yield* Effect.addFinalizer(() =>
    shutdown.pipe(
      Effect.andThen(force),
      Effect.andThen(Effect.timeoutOption(tracker.awaitDrained, Duration.seconds(1))),
      Effect.ensuring(
        Effect.sync(() => {
          released = true
        })
      ),
      Effect.asVoid
    )
  )

  const handle: Handle = { name, address, tracker, failure }
  const httpServer = HttpServer.make({
    address: socketAddress,
    serve: Effect.fnUntraced(function* (app, middleware) {
      const serveScope = yield* Effect.scope
      const serving = {
        requests: Scope.forkUnsafe(serveScope, "parallel"),
        upgrades: Scope.forkUnsafe(serveScope, "parallel")
      }
      const handler = yield* NodeHttpServer.makeHandler(app, { middleware, scope: serving.requests })
      const upgradeHandler = yield* NodeHttpServer.makeUpgradeHandler(wss, app, {
        middleware,
        scope: serving.upgrades
      })
      // one listener for both, so Node's emit does not copy its listener array on every request
      const onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse) => tracker.onRequest(req, res, handler)
      const onUpgrade = (req: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
        tracker.onUpgrade(req)
        upgradeHandler(req, socket, head)
      }
      // Added after the request scopes were forked, so it runs before they close: the requests are drained, not
      // interrupted.
      yield* Effect.addFinalizer(() =>
        shutdown.pipe(
          Effect.ensuring(
            Effect.sync(() => {
              servings.delete(serving)
              server.off("request", onRequest)
              server.off("upgrade", onUpgrade)
            })
          ),
          Effect.asVoid
        )
      )
      servings.add(serving)
      server.on("request", onRequest)
      server.on("upgrade", onUpgrade)
    })
  })
  return Object.assign(httpServer, { [HandleKey]: handle })
})

/**
 * handle — the `Handle` of the current `HttpServer` if it is a graceful one (for the group's members and the fiber
 * dump).
 */
export const handle: Effect.Effect<Option.Option<Handle>, never, HttpServer.HttpServer> = Effect.map(
  HttpServer.HttpServer,
  (server) => Option.fromNullishOr((server as { [HandleKey]?: Handle })[HandleKey])
)

/** layerServer — `HttpServer` alone (no platform services), like `NodeHttpServer.layerServer`. */
export const layerServer = (
  evaluate: Evaluate,
  options: Options
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError> =>
  Layer.effect(HttpServer.HttpServer, make(evaluate, options))

/**
 * layer — `NodeHttpServer.layer` with the graceful shutdown: `HttpServer` and the Node HTTP platform services.
 * Swap it for `NodeHttpServer.layer(createServer, { port })`; add `shutdownDelay`, `idleGrace`, and the budget
 * (`gracefulShutdownTimeout`) as needed.
 */
export const layer = (evaluate: Evaluate, options: Options): Layer.Layer<Provided, HttpServerError.ServeError> =>
  Layer.mergeAll(layerServer(evaluate, options), NodeHttpServer.layerHttpServices)

/** layerConfig — `layer` with its options read from `Config` (as `NodeHttpServer.layerConfig`). */
export const layerConfig = (
  evaluate: Evaluate,
  options: Config.Wrap<Options>
): Layer.Layer<Provided, HttpServerError.ServeError | Config.ConfigError> =>
  Layer.mergeAll(
    Layer.effect(
      HttpServer.HttpServer,
      Effect.flatMap(Config.unwrap(options), (options) => make(evaluate, options))
    ),
    NodeHttpServer.layerHttpServices
  )

/**
 * layerTest — a graceful server on 127.0.0.1 at a free port with an `HttpClient` aimed at it, and a `Lifecycle` of
 * its own (as `NodeHttpServer.layerTest`).
 */
export const layerTest: Layer.Layer<
  Provided | HttpClient.HttpClient | FileSystem.FileSystem | Path.Path,
  HttpServerError.ServeError
> = HttpServer.layerTestClient.pipe(
  Layer.provide(
    Layer.fresh(FetchHttpClient.layer).pipe(
      Layer.provide(Layer.succeed(FetchHttpClient.RequestInit)({ keepalive: false }))
    )
  ),
  // no idle grace: a test's release does not wait on the test client's idle keep-alive connection (whose grace
  // would run on the TestClock under `it.layer`)
  Layer.provideMerge(layer(createServer, { port: 0, host: "127.0.0.1", idleGrace: 0 })),
  Layer.provide(Lifecycle.layerTest)
)
