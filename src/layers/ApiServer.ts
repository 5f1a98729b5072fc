/**
 * ApiServer — the public HTTP server on `HOST:PORT` (default `0.0.0.0:8080`), a member of the group.
 *
 * Routes (ordinary `HttpRouter` layers): `GET /healthz`, `GET /readyz` (`Health`), and `GET /api/delay/:ms`, a
 * diagnostic route for drain testing that waits `ms` milliseconds (0 ≤ ms ≤ 60000, interruptible) and answers
 * `{"waited":ms}`; any other `ms` is a 400 with a message. Every route honours the request deadline header
 * `x-request-timeout-ms` (`DeadlineHeader.middleware`) and is counted (`RequestMetrics`).
 * Built = listening; released = drained (the drain is the `Lifecycle`'s).
 */
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import type * as GracefulHttpServer from "../http/GracefulHttpServer.ts"
import * as Health from "../http/Health.ts"
import * as DeadlineHeader from "../toolkit/DeadlineHeader.ts"
import * as HttpMember from "./HttpMember.ts"

/** maxDelayMillis — the longest `/api/delay/:ms` accepts. */
export const maxDelayMillis = 60_000

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

/** ApiServer — the bound public server; `member` is its part in the group. */
export class ApiServer extends Context.Service<ApiServer, GracefulHttpServer.Handle>()("lifecycle/ApiServer") {
  /** ApiServer.routes — the API's routes. */
  static readonly routes = Layer.mergeAll(Health.routes, HttpRouter.add("GET", "/api/delay/:ms", delay))

  /**
   * ApiServer.layerWith — the API server serving `routes` (ordinary `HttpRouter` layers) beside its own; they get
   * the same deadline header and metrics, and their requirements stay in the layer's type.
   */
  static readonly layerWith = <E, R>(routes: Layer.Layer<never, E, R>) =>
    HttpMember.layer(ApiServer, {
      name: "api",
      listen: (config) => ({ host: config.host, port: config.port }),
      routes: Layer.mergeAll(ApiServer.routes, routes),
      middleware: DeadlineHeader.middleware
    })

  static readonly layer = ApiServer.layerWith(Layer.empty)

  /** ApiServer.member — serves until the listener fails. */
  static readonly member = ApiServer.use((server) => server.failure)
}
