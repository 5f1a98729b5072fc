// examples/readme/production.ts — drain settings, health routes, a readiness check and shutdown hooks
import { createServer } from "node:http"
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { GracefulHttpServer, Health, Lifecycle } from "effect-service-lifecycle"

class Database extends Context.Service<Database, { readonly ping: Effect.Effect<void, Error> }>()("app/Database") {
  static readonly layer = Layer.succeed(Database, { ping: Effect.void })
}

const Routes = Layer.mergeAll(
  Health.routes, // GET /healthz, GET /readyz
  HttpRouter.add("GET", "/", HttpServerResponse.text("hello"))
)

const Server = GracefulHttpServer.layer(createServer, {
  port: Number(process.env.PORT ?? 3000),
  shutdownDelay: "5 seconds", // unready but serving, while the load balancer notices
  idleGrace: "250 millis", // how long an idle keep-alive connection may stay once draining
  gracefulShutdownTimeout: "25 seconds" // the budget for the whole shutdown
})

const Readiness = Lifecycle.readinessCheck(
  "database",
  Database.use((db) => db.ping),
  { timeout: "1 second" }
)

const Hooks = Layer.mergeAll(
  Lifecycle.beforeDrain("deregister", Effect.logInfo("leaving service discovery")),
  Lifecycle.afterDrain("flush", Effect.logInfo("flushing telemetry"))
)

Layer.mergeAll(HttpRouter.serve(Routes), Readiness, Hooks).pipe(
  Layer.provide(Server),
  Layer.provide(Database.layer),
  Layer.launch,
  NodeRuntime.runMain
)
