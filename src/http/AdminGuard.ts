/**
 * AdminGuard — who may use the admin routes: a route middleware (the kind `HttpRouter.middleware` takes) that answers
 * a refused request itself and lets the others through untouched.
 *
 * Checks, in this order; the first that fails answers, with a body that says why:
 * 1. A request carrying an `Origin` header gets 403. Browsers send `Origin` with cross-origin requests and with every
 *    non-GET request; curl, Prometheus, kubelet and load balancers do not. No web page has business on this port.
 * 2. A state-changing request (any method but GET and HEAD: `POST /shutdown`, …) gets 403 unless its `Host` is
 *    loopback — `localhost`, 127.0.0.0/8 or `[::1]`, with or without a port. This stops DNS rebinding (a page whose
 *    name resolves to 127.0.0.1 sends its own name as `Host`) and a form posted to 127.0.0.1 from another machine's
 *    name. It holds even with a valid token: shutting the service down is for the machine it runs on (Kubernetes
 *    sends SIGTERM; `kubectl exec`/`port-forward` arrive as loopback).
 * 3. When a token is configured (`ADMIN_TOKEN`, required by `AppConfig` once `ADMIN_HOST` is beyond loopback), every
 *    route but the probes (`/healthz`, `/readyz`: they say only "ok"/"ready", and kubelet probes carry no secret)
 *    needs `Authorization: Bearer <token>`, else 401 with `WWW-Authenticate: Bearer`. So `/metrics` and
 *    `/debug/fibers` need it too: Prometheus sends it with `authorization: { credentials_file: … }`. The comparison
 *    takes the same time whatever the token sent: SHA-256 of both, compared with `crypto.timingSafeEqual` (equal
 *    lengths by construction).
 * A refused request is answered here, inside the metrics observer: it is counted and logged like any other.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Context, Effect, Layer, Redacted } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppConfig, type AppConfigValues, isLoopbackHost } from "../services/AppConfig.ts"

/** AdminGuard.Policy — what the guard enforces beyond its fixed rules (Origin, loopback Host for state changes). */
export interface Policy {
  /** the bearer token every route but `open` needs; none: no token is asked for */
  readonly token: Redacted.Redacted<string> | undefined
  /** route patterns that need no token (the probes) */
  readonly open: ReadonlySet<string>
}

/** AdminGuard.probes — the routes a token never guards. */
export const probes: ReadonlySet<string> = new Set(["/healthz", "/readyz"])

/** AdminGuard.policyOf — the policy the configuration asks for. */
export const policyOf = (config: Pick<AppConfigValues, "adminToken">): Policy => ({
  token: config.adminToken,
  open: probes
})

/** AdminGuard.hostOf — the host part of a `Host` header (`[::1]:8081` → `[::1]`, `localhost:8081` → `localhost`). */
export const hostOf = (authority: string): string => {
  const value = authority.trim()
  if (value.startsWith("[")) {
    const end = value.indexOf("]")
    return end === -1 ? value : value.slice(0, end + 1)
  }
  const colon = value.indexOf(":")
  return colon === -1 || value.indexOf(":", colon + 1) !== -1 ? value : value.slice(0, colon)
}

const digest = (text: string) => createHash("sha256").update(text).digest()

const quote = (text: string) => JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text)

/** AdminGuard.Refusal — why a request was refused, as it is answered. */
export interface Refusal {
  readonly status: 401 | 403
  readonly reason: string
}

/**
 * AdminGuard.make — the check of `policy`: a request's method, route pattern and headers to `undefined` (let it
 * through) or the refusal to answer. The token's digest is computed once, here.
 */
export const make = (policy: Policy) => {
  const expected = policy.token === undefined ? undefined : digest(Redacted.value(policy.token))
  const bearer = /^Bearer +(\S+) *$/i
  return (
    method: string,
    route: string,
    headers: Readonly<Record<string, string | undefined>>
  ): Refusal | undefined => {
    const origin = headers.origin
    if (origin !== undefined) {
      return {
        status: 403,
        reason: `forbidden: the admin server refuses requests from web pages (Origin: ${quote(origin)})`
      }
    }
    if (method !== "GET" && method !== "HEAD") {
      const host = headers.host ?? headers[":authority"]
      if (host === undefined || !isLoopbackHost(hostOf(host))) {
        return {
          status: 403,
          reason: `forbidden: ${method} on the admin server needs a loopback Host (localhost, 127.0.0.1, [::1]), got ${host === undefined ? "none" : quote(host)}`
        }
      }
    }
    if (expected !== undefined && !policy.open.has(route)) {
      const presented = bearer.exec(headers.authorization ?? "")?.[1]
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        return {
          status: 401,
          reason: `unauthorized: the admin server needs "Authorization: Bearer <ADMIN_TOKEN>"${presented === undefined ? "" : " (the token sent is not it)"}`
        }
      }
    }
    return undefined
  }
}

const answer = (refusal: Refusal) =>
  HttpServerResponse.text(refusal.reason, {
    status: refusal.status,
    headers: refusal.status === 401 ? { "www-authenticate": 'Bearer realm="admin"' } : {}
  })

/**
 * AdminGuard.middleware — `policy` as a route middleware: a refused request is answered (the handler never runs);
 * any other runs the handler unchanged.
 */
export const middleware = (policy: Policy) => {
  const check = make(policy)
  return <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const route = Context.getUnsafe(fiber.context, HttpRouter.RouteContext).route.path
      const refusal = check(request.method, route, request.headers)
      return refusal === undefined ? handler : Effect.succeed(answer(refusal))
    })
}

/** AdminGuard.layer — the guard with the policy `AppConfig` asks for, for the routes it is provided to. */
export const layer = Layer.unwrap(
  Effect.map(AppConfig, (config) => HttpRouter.middleware(middleware(policyOf(config))).layer)
)
