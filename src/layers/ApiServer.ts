/**
 * ApiServer — the public HTTP server on `HOST:PORT` (default `0.0.0.0:8080`).
 *
 * Routes: `GET /healthz`, `GET /readyz` (see `Routes.health`), and `GET /api/delay/:ms`, a diagnostic route for drain
 * testing that waits `ms` milliseconds (0 ≤ ms ≤ 60000, interruptible) and answers `{"waited":ms}`; any other `ms` is
 * a 400 with a message. Every route honours the request deadline header `x-request-timeout-ms` (see `DeadlineHeader`).
 * Built = listening; released = closed (the drain itself is `Lifecycle`'s phase 3).
 */
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as DeadlineHeader from "../toolkit/DeadlineHeader.ts"
import * as GracefulHttpServer from "./GracefulHttpServer.ts"
import { health, notFoundRoute, route } from "./Routes.ts"

const name = "api"

/** maxDelayMillis — the longest `/api/delay/:ms` accepts. */
export const maxDelayMillis = 60_000

/** every API route runs under the request's `x-request-timeout-ms` deadline */
const deadline = DeadlineHeader.middleware

const delay = Effect.gen(function* () {
  const raw = (yield* HttpRouter.params).ms ?? ""
  const ms = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(ms >= 0 && ms <= maxDelayMillis)) {
    return HttpServerResponse.jsonUnsafe(
      { error: `ms must be an integer from 0 to ${maxDelayMillis}, got ${JSON.stringify(raw)}` },
      { status: 400 }
    )
  }
  yield* Effect.sleep(ms)
  return HttpServerResponse.jsonUnsafe({ waited: ms })
})

/**
 * ApiServer.routes — the API's routes, given the readiness check. Every route runs under the request's deadline
 * header (`DeadlineHeader.middleware`: `x-request-timeout-ms`, 504 when it passes, 400 when it is malformed).
 */
export const routes = (isReady: () => boolean) =>
  Layer.mergeAll(
    health(name, isReady, deadline),
    route(name, "GET", "/api/delay/:ms", delay, deadline),
    notFoundRoute(name, deadline)
  )

/** ApiServer — the bound public server; `run` is its member of the group. */
export class ApiServer extends Context.Service<ApiServer, GracefulHttpServer.GracefulHttpServer>()(
  "lifecycle/ApiServer"
) {
  static readonly layer = Layer.effect(
    ApiServer,
    GracefulHttpServer.fromRoutes({
      name,
      listen: (config) => ({ host: config.host, port: config.port }),
      routes: (lifecycle) => routes(lifecycle.isReady)
    })
  )

  /** ApiServer.member — serves until the listener fails. */
  static readonly member = ApiServer.use((server) => server.run)
}
