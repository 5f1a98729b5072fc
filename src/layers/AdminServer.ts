/**
 * AdminServer — the operator's HTTP server on `ADMIN_HOST:ADMIN_PORT` (default `127.0.0.1:8081`: never public by
 * default).
 *
 * Routes:
 * - `GET /healthz`, `GET /readyz` — as on the API server;
 * - `GET /metrics` — Prometheus text exposition of every Effect `Metric` (see `Metrics`);
 * - `GET /debug/fibers` — the live members and request fibers with their age (Go's goroutine dump, in JSON);
 * - `POST /shutdown` — starts the graceful shutdown (202); "one exits, all exit": the group stops as on SIGTERM.
 */
import { Context, Effect, Layer } from "effect"
import { HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { FiberDump } from "../services/FiberDump.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import * as GracefulHttpServer from "./GracefulHttpServer.ts"
import { health, notFoundRoute, route } from "./Routes.ts"

const name = "admin"

const metrics = PrometheusMetrics.format().pipe(
  Effect.map((text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
)

const fibers = Effect.gen(function* () {
  const dump = yield* FiberDump
  return HttpServerResponse.jsonUnsafe({ fibers: dump.snapshot() })
})

/** AdminServer.routes — the admin routes, given the lifecycle they report on and control. */
export const routes = (lifecycle: Lifecycle["Service"]) =>
  Layer.mergeAll(
    health(name, lifecycle.isReady),
    route(name, "GET", "/metrics", metrics),
    route(name, "GET", "/debug/fibers", fibers),
    route(
      name,
      "POST",
      "/shutdown",
      lifecycle
        .requestShutdown("POST /shutdown")
        .pipe(
          Effect.map((first) =>
            HttpServerResponse.jsonUnsafe({ shutdown: first ? "started" : "already started" }, { status: 202 })
          )
        )
    ),
    notFoundRoute(name)
  )

/** AdminServer — the bound admin server; `run` is its member of the group. */
export class AdminServer extends Context.Service<AdminServer, GracefulHttpServer.GracefulHttpServer>()(
  "lifecycle/AdminServer"
) {
  static readonly layer = Layer.effect(
    AdminServer,
    GracefulHttpServer.fromRoutes({
      name,
      listen: (config) => ({ host: config.adminHost, port: config.adminPort }),
      routes
    })
  )

  /** AdminServer.member — serves until the listener fails or `POST /shutdown` asks the group to stop. */
  static readonly member = AdminServer.use((server) =>
    Effect.raceFirst(
      server.run,
      Lifecycle.use((lifecycle) => lifecycle.awaitShutdownRequest)
    )
  )
}
