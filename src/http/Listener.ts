/**
 * Listener — binds a Node server where its listen options say, and watches the listener afterwards.
 *
 * `listen` returns once the port is bound, with the bound address (the real port when 0 was asked). A failure to bind
 * is a `ListenError`: Effect's own `ServeError` (same tag, same class, so `catchTag("ServeError")` and
 * `NodeHttpServer`'s error type still hold) with a message that names the server, the address and Node's reason, so
 * "port taken" never surfaces as "interrupted" or as an empty message. A listener error after start-up completes
 * `failure` (a member of the group waits on it) and is logged once.
 */
import type { Server } from "node:http"
import type { AddressInfo, ListenOptions } from "node:net"
import { Deferred, Effect, Exit } from "effect"
import { HttpServerError } from "effect/http"
import * as NetAddress from "effect/net/NetAddress"

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

/** Listener.Bound — a server listening. */
export interface Bound {
  /** the bound address: host and port, or the socket path with port 0 */
  readonly address: { readonly host: string; readonly port: number }
  /** the same, as Effect's `HttpServer` gives it */
  readonly socketAddress: NetAddress.SocketAddress
  /** fails with a `ListenError` if the listener errors after start-up; never succeeds */
  readonly failure: Effect.Effect<never, HttpServerError.ServeError>
}

/** Listener.listen — binds `server` (named `name` in errors and logs); see the module comment. */
export const listen = (
  server: Server,
  options: ListenOptions,
  name: string
): Effect.Effect<Bound, HttpServerError.ServeError> =>
  Effect.gen(function* () {
    yield* Effect.callback<void, ListenError>((resume) => {
      const onError = (cause: unknown) => resume(Effect.fail(new ListenError({ server: name, options, cause })))
      server.once("error", onError)
      server.listen(options, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    const failed = Deferred.makeUnsafe<never, HttpServerError.ServeError>()
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    server.on("error", (cause) => {
      const error = new ListenError({ server: name, options, cause, when: "serving" })
      if (Deferred.doneUnsafe(failed, Exit.fail(error))) runFork(Effect.logError(error.message))
    })
    const bound = server.address() as AddressInfo | string
    const socketAddress =
      typeof bound === "string"
        ? NetAddress.unixPathAddress(bound)
        : yield* Effect.fromResult(NetAddress.inetAddressFromIpString(bound.address, bound.port)).pipe(
            Effect.mapError((cause) => new HttpServerError.ServeError({ cause }))
          )
    return {
      address: typeof bound === "string" ? { host: bound, port: 0 } : { host: bound.address, port: bound.port },
      socketAddress,
      failure: Deferred.await(failed)
    }
  })
