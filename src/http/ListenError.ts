/**
 * ListenError — a server could not bind: Effect's own `ServeError` (same tag, same class, so `catchTag("ServeError")`
 * and `NodeHttpServer`'s error type still hold) with a message that names the server, the address and Node's reason,
 * so "port taken" never surfaces as "interrupted" or as an empty message.
 */
import type { ListenOptions } from "node:net"
import { HttpServerError } from "effect/http"

const reasonOf = (cause: unknown): string => {
  const code = (cause as { code?: unknown } | undefined)?.code
  if (code === "EADDRINUSE") return "address already in use"
  if (code === "EACCES") return "permission denied"
  if (code === "EADDRNOTAVAIL") return "address not available"
  return cause instanceof Error ? cause.message : String(cause)
}

/**
 * ListenError — `listen` failed (`when: "binding"`), or the listener failed later (`"serving"`); `address` is the one
 * asked for (`host:port`, or the socket path).
 */
export class ListenError extends HttpServerError.ServeError {
  readonly server: string
  readonly address: string
  readonly when: "binding" | "serving"

  constructor(props: {
    readonly server: string
    readonly options: ListenOptions
    readonly cause: unknown
    readonly when?: "binding" | "serving" | undefined
  }) {
    super({ cause: props.cause })
    this.server = props.server
    this.when = props.when ?? "binding"
    const { host, port, path } = props.options
    this.address = path ?? `${host ?? "::"}:${port ?? 0}`
  }

  override get message() {
    const what = this.when === "binding" ? "cannot listen on" : "failed while listening on"
    return `${this.server} server ${what} ${this.address}: ${reasonOf(this.cause)}`
  }
}
