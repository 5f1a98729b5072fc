/**
 * HttpMember — one of this service's HTTP servers as a member of the group: a `GracefulHttpServer` bound where
 * `AppConfig` says, with its drain settings, serving an ordinary `HttpRouter` app.
 *
 * Every request that reaches the router is counted and access-logged (`RequestMetrics`, `AccessLog`, at most
 * `ACCESS_LOG` lines a second): each route is wrapped by the observer, and inside it by the server's `guard` (who may
 * use it: `AdminGuard`) and then its own `middleware`, so what they answer is counted too; a request no route matched
 * is answered by the observer's global middleware — 405 with `Allow` when the path has routes for other methods
 * (`AllowedMethods` notes each route as it is registered), else 404 — and counted under route `*`. Built = listening
 * (one log line with the bound address); its requests in flight are in `http_requests_in_flight{server}` and in the
 * fiber dump (method and path cut at 200 characters — never the query string, never a header — grouped by server and
 * method). The layer's service is the server's `Handle`: `failure` is the member.
 */
import { type Context, Effect, Layer, Option } from "effect"
import { HttpRouter, type HttpServerResponse } from "effect/http"
import * as AllowedMethods from "../http/AllowedMethods.ts"
import * as GracefulHttpServer from "../http/GracefulHttpServer.ts"
import * as RequestMetrics from "../http/RequestMetrics.ts"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.ts"
import { FiberDump } from "../services/FiberDump.ts"
import { trackInFlight } from "../services/Metrics.ts"

/** HttpMember.RouteMiddleware — wraps each route's handler of one server (inside the metrics observer). */
export type RouteMiddleware = <E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

const formatHost = (host: string) => (host.includes(":") ? `[${host}]` : host)

/** the handle of the server being built: logged, gauged and listed in the fiber dump while it lives */
const announce = (name: string) =>
  Effect.gen(function* () {
    const handle = Option.getOrThrow(yield* GracefulHttpServer.handle)
    const { host, port } = handle.address
    yield* trackInFlight(name, handle.tracker.inFlight)
    const dump = yield* FiberDump
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        dump.addSource(() =>
          handle.tracker.requests().map(({ method, path, ageMillis }) => ({
            id: undefined,
            label: `${name} ${method} ${path}`,
            ageMillis,
            done: false,
            group: `${name} ${method}`
          }))
        )
      ),
      (remove) => Effect.sync(remove)
    )
    yield* Effect.logInfo(`${name} server listening on http://${formatHost(host)}:${port}`).pipe(
      Effect.annotateLogs({ server: name, host, port })
    )
    return handle
  })

/** HttpMember.layer — the server `name` as the service `tag`; see the module comment. */
export const layer = <I, E, R>(
  tag: Context.Service<I, GracefulHttpServer.Handle>,
  options: {
    readonly name: string
    readonly listen: (config: AppConfigValues) => { readonly host: string; readonly port: number }
    readonly routes: Layer.Layer<never, E, R>
    readonly middleware?: RouteMiddleware | undefined
    /** who may use the routes (`AdminGuard` on the admin server); outside `middleware`, inside the observer */
    readonly guard?: ((config: AppConfigValues) => RouteMiddleware) | undefined
  }
) => {
  // made anew with each build of the layer: each build counts in series of its own
  const served = Layer.unwrap(
    Effect.map(AppConfig, (config) => {
      const allowed = AllowedMethods.make()
      const observer = RequestMetrics.make(options.name, { accessLog: config.accessLog, allowed })
      const wrap = options.middleware
      const guard = options.guard?.(config)
      const inner: RouteMiddleware = wrap === undefined ? (handler) => handler : wrap
      const routeMiddleware: RouteMiddleware =
        guard === undefined
          ? (handler) => observer.route(inner(handler))
          : (handler) => observer.route(guard(inner(handler)))
      const routes = Layer.provide(
        options.routes,
        Layer.merge(HttpRouter.middleware(routeMiddleware).layer, AllowedMethods.recording(allowed))
      )
      return HttpRouter.serve(Layer.merge(routes, HttpRouter.middleware(observer.unmatched, { global: true })), {
        disableLogger: true,
        disableListenLog: true
      })
    })
  )
  const server = Layer.unwrap(
    Effect.map(AppConfig, (config) =>
      GracefulHttpServer.layer(GracefulHttpServer.createServer, {
        ...options.listen(config),
        name: options.name,
        shutdownDelay: config.shutdownDelay,
        idleGrace: config.drainIdleGrace,
        gracefulShutdownTimeout: config.shutdownTimeout,
        headersTimeout: config.headersTimeout,
        requestTimeout: config.requestTimeout,
        keepAliveTimeout: config.keepAliveTimeout,
        unreadBodyTimeout: config.unreadBodyTimeout
      })
    )
  )
  return Layer.effect(tag, announce(options.name)).pipe(Layer.provideMerge(served), Layer.provide(server))
}
