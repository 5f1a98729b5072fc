/**
 * ServerTimeouts — the timeouts of a Node HTTP/1 server while it serves (the drain has its own deadlines), with
 * defaults chosen for a service that faces clients it does not control.
 *
 * | option | default | Node's | nginx | Go `net/http` |
 * |---|---|---|---|---|
 * | `headersTimeout`: first byte of a request to the end of its head | 10 s | 60 s | `client_header_timeout` 60 s | `ReadHeaderTimeout`, none (linters flag that) |
 * | `requestTimeout`: first byte to the end of the body | 60 s | 300 s | `client_body_timeout` 60 s between reads | `ReadTimeout`, none |
 * | `keepAliveTimeout`: idle between two requests | 65 s | 5 s | `keepalive_timeout` 75 s | `IdleTimeout`, none |
 * | `unreadBodyTimeout`: an unread body still arriving after the answer | 2 s | until `requestTimeout` | `lingering_timeout` 5 s | reads ≤ 256 KiB |
 *
 * A head fits in one round trip: 10 s is generous for any real client, and a slowloris at 1 B/s holds a connection
 * 10 s, not 60. The body gets nginx's 60 s, as a whole (an upload route that needs longer sets more). Idle
 * keep-alive connections stay 65 s, longer than the 60 s idle timeout of the load balancers in front (AWS ALB, GCP),
 * so the balancer, not the server, closes an idle connection and never sends a request onto one being closed (Node's
 * 5 s is a known cause of 502s behind them; Node's main branch has since moved its own default to 65 s). During the drain none of these matters: idle
 * connections are closed after the idle grace.
 *
 * Node answers an expired head or request `408` (and closes) from a checker that runs every
 * `connectionsCheckingInterval` (30 s by default, so a 10 s timeout could take 40): `apply` makes it 1 s.
 */
import type { Server } from "node:http"
import { Duration } from "effect"

/** ServerTimeouts.Options — each a duration; unset means the server's own value if it was changed, else the default. */
export interface Options {
  readonly headersTimeout?: Duration.Input | undefined
  readonly requestTimeout?: Duration.Input | undefined
  readonly keepAliveTimeout?: Duration.Input | undefined
  readonly unreadBodyTimeout?: Duration.Input | undefined
}

/** ServerTimeouts.defaults — see the module comment for why. */
export const defaults = {
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(60),
  keepAliveTimeout: Duration.seconds(65),
  unreadBodyTimeout: Duration.seconds(2)
} as const

/** Node's own defaults (Node 22–24): a server still carrying one was not configured by its creator. */
const nodeDefaults = {
  headersTimeout: 60_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 30_000
} as const

/** how often Node's checker looks for expired heads and requests once `apply` ran */
const checkingIntervalMillis = 1_000

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

type Settable = "headersTimeout" | "requestTimeout" | "keepAliveTimeout"

/**
 * ServerTimeouts.apply — sets the timeouts on `server` before it listens: each from `options`, or the server's own if
 * its creator changed it from Node's default, or `defaults`. Returns the values in force (milliseconds).
 * HTTP/2 servers without an HTTP/1 side have none of these and are left alone.
 */
export const apply = (server: Server, options: Options) => {
  const set = (key: Settable): number => {
    const given = options[key]
    if (given !== undefined) server[key] = millis(given)
    else if (server[key] === nodeDefaults[key]) server[key] = millis(defaults[key])
    return server[key]
  }
  const http1 = "headersTimeout" in server
  const values = http1
    ? {
        headersTimeout: set("headersTimeout"),
        requestTimeout: set("requestTimeout"),
        keepAliveTimeout: set("keepAliveTimeout")
      }
    : undefined
  const checked = server as Server & { connectionsCheckingInterval?: number }
  if (http1 && checked.connectionsCheckingInterval === nodeDefaults.connectionsCheckingInterval) {
    checked.connectionsCheckingInterval = checkingIntervalMillis
  }
  return { ...values, unreadBodyTimeout: millis(options.unreadBodyTimeout ?? defaults.unreadBodyTimeout) }
}
