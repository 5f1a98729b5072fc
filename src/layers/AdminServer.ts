/**
 * AdminServer — the operator's HTTP server on `ADMIN_HOST:ADMIN_PORT` (default `127.0.0.1:8081`: never public by
 * default), a member of the group.
 *
 * Routes (ordinary `HttpRouter` layers):
 * - `GET /healthz`, `GET /readyz` — as on the API server (`Health`);
 * - `GET /metrics` — Prometheus text exposition of every Effect `Metric` (see `Metrics`; `MetricsExposition`);
 * - `GET /debug/fibers` — the members and the requests in flight with their age (Go's goroutine dump, in JSON),
 *   bounded: the 50 oldest requests in detail, the rest counted by server and method (`FiberDump.bounded`);
 * - `GET /config` — the current `RuntimeConfig` snapshot, secrets redacted (`ConfigView`); 404 when none is provided;
 * - `POST /shutdown` — starts the graceful shutdown (202); "one exits, all exit": the group stops as on SIGTERM.
 * Every route, and every route added with `layerWith`, is behind `AdminGuard`: a request with an `Origin` is refused
 * (403), a state-changing one needs a loopback `Host` (403), and with `ADMIN_TOKEN` set every route but the probes
 * needs the bearer token (401). A wrong method on a route is 405 with `Allow`; an unknown path 404.
 */
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as AdminGuard from "../http/AdminGuard.ts"
import type * as GracefulHttpServer from "../http/GracefulHttpServer.ts"
import * as Health from "../http/Health.ts"
import * as ConfigView from "../services/ConfigView.ts"
import { bounded, FiberDump } from "../services/FiberDump.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import { MetricsExposition } from "../services/Metrics.ts"
import { RuntimeConfig } from "../services/RuntimeConfig.ts"
import * as HttpMember from "./HttpMember.ts"

const metrics = Effect.flatten(MetricsExposition).pipe(
  Effect.map((text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
)

const fibers = Effect.map(FiberDump, (dump) => HttpServerResponse.jsonUnsafe(bounded(dump.snapshot())))

const config = Effect.flatMap(Effect.serviceOption(RuntimeConfig), (runtime) =>
  runtime._tag === "None"
    ? Effect.succeed(HttpServerResponse.jsonUnsafe({ error: "no runtime configuration" }, { status: 404 }))
    : Effect.map(runtime.value.current, (snapshot) => HttpServerResponse.jsonUnsafe(ConfigView.view(snapshot)))
)

const shutdown = Effect.flatMap(Lifecycle.current, (lifecycle) => lifecycle.requestShutdown("POST /shutdown")).pipe(
  Effect.map((first) =>
    HttpServerResponse.jsonUnsafe({ shutdown: first ? "started" : "already started" }, { status: 202 })
  )
)

/** AdminServer — the bound admin server; `member` is its part in the group. */
export class AdminServer extends Context.Service<AdminServer, GracefulHttpServer.Handle>()("lifecycle/AdminServer") {
  /** AdminServer.routes — the admin routes. */
  static readonly routes = Layer.mergeAll(
    Health.routes,
    HttpRouter.add("GET", "/metrics", metrics),
    HttpRouter.add("GET", "/debug/fibers", fibers),
    HttpRouter.add("GET", "/config", config),
    HttpRouter.add("POST", "/shutdown", shutdown)
  )

  /** AdminServer.layerWith — the admin server serving `routes` (ordinary `HttpRouter` layers) beside its own. */
  static readonly layerWith = <E, R>(routes: Layer.Layer<never, E, R>) =>
    HttpMember.layer(AdminServer, {
      name: "admin",
      listen: (config) => ({ host: config.adminHost, port: config.adminPort }),
      routes: Layer.mergeAll(AdminServer.routes, routes),
      guard: (config) => AdminGuard.middleware(AdminGuard.policyOf(config))
    })

  static readonly layer = AdminServer.layerWith(Layer.empty)

  /** AdminServer.member — serves until the listener fails or `POST /shutdown` asks the group to stop. */
  static readonly member = AdminServer.use((server) =>
    Effect.raceFirst(
      server.failure,
      Effect.flatMap(Lifecycle.current, (lifecycle) => lifecycle.awaitShutdownRequest)
    )
  )
}
