/**
 * Health — liveness and readiness routes, an ordinary `HttpRouter` layer to add to any app's routes:
 * - `GET /healthz` → 200 `ok` while the process can answer (liveness);
 * - `GET /readyz`  → 200 `ready` while the current `Lifecycle` is serving, readiness is on and every readiness check
 *   passes; otherwise 503 `not ready: <why>` — `starting`, `shutting down`, `turned off`, or each failed check with
 *   its reason (`db: timed out after 1 second`).
 * HEAD is answered on both (the router answers HEAD with the GET route).
 */
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Lifecycle } from "../services/Lifecycle.ts"

const ok = HttpServerResponse.text("ok")
const ready = HttpServerResponse.text("ready")

/** Health.readyz — the readiness answer of the current lifecycle. */
export const readyz = Effect.flatMap(Lifecycle.current, (lifecycle) =>
  Effect.map(lifecycle.readiness, (report) =>
    report.ready ? ready : HttpServerResponse.text(`not ready: ${report.reason}`, { status: 503 })
  )
)

/** Health.routes — `GET /healthz` and `GET /readyz`. */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter> = Layer.mergeAll(
  HttpRouter.add("GET", "/healthz", ok),
  HttpRouter.add("GET", "/readyz", readyz)
)
