/**
 * UnreadBody — a time bound on a request body that keeps arriving after its response was sent.
 *
 * When a handler answers without reading the whole body, Node discards the rest as it arrives so that the connection
 * can carry the next request; platform-node's handler stops after 256 KiB of it (Go's `maxPostHandlerReadBytes`)
 * and closes the connection. Neither bounds the time: a body that trickles, or stops, after the answer keeps the
 * connection until Node's `requestTimeout`. `watch` ends such a connection once its body has been arriving for
 * `timeout` after the answer (nginx's `lingering_timeout` is 5 s; the default here is 2 s).
 *
 * Guarantees: a connection whose response is finished while its request is incomplete is half-closed (FIN after
 * the answer, so the client reads it whole) between `timeout` and `timeout + interval` after it was first seen in
 * that state, and destroyed `flushMillis` later if the client has not closed it by then. A connection that receives
 * the rest of its body in time is untouched and stays open for its next request. Nothing runs per request: the
 * connections are looked at every `interval` (a quarter of `timeout`, between 50 ms and 1 s), on Effect's `Clock`.
 */
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"
import { Clock, Duration, Effect } from "effect"

/** the Node internals read: the response being written (`null` once finished) and the request being parsed */
interface HttpSocket extends Socket {
  readonly _httpMessage?: unknown
  readonly parser?: { readonly incoming?: (IncomingMessage & { readonly upgrade?: boolean }) | null } | null
}

/** the request of `socket` whose answer is finished while its body is still arriving, if any */
export const answeredIncomplete = (socket: Socket): IncomingMessage | undefined => {
  const { _httpMessage, parser } = socket as HttpSocket
  const incoming = parser?.incoming
  return _httpMessage == null && incoming != null && !incoming.complete && !incoming.upgrade ? incoming : undefined
}

/** how long `cut` leaves a half-closed connection to the client before destroying it */
const flushMillis = 500

/** cut — half-closes `socket` (after what was written) and destroys it `flushMillis` later. */
export const cut = (socket: Socket): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (socket.destroyed) return Effect.void
    socket.end()
    return Effect.sleep(flushMillis).pipe(Effect.andThen(Effect.sync(() => socket.destroy())), Effect.forkDetach)
  }).pipe(Effect.asVoid)

/** UnreadBody.watch — bounds `sockets()` as the module comment says; runs until interrupted. */
export const watch = (sockets: () => Iterable<Socket>, timeout: Duration.Input): Effect.Effect<never> =>
  Effect.gen(function* () {
    const limit = Duration.toMillis(Duration.fromInputUnsafe(timeout))
    const interval = Math.min(1_000, Math.max(50, Math.round(limit / 4)))
    /** when each lingering request was first seen */
    let seen = new Map<IncomingMessage, number>()
    while (true) {
      yield* Effect.sleep(interval)
      const now = yield* Clock.currentTimeMillis
      const next = new Map<IncomingMessage, number>()
      for (const socket of sockets()) {
        const req = answeredIncomplete(socket)
        if (req === undefined) continue
        const since = seen.get(req) ?? now
        if (now - since >= limit) yield* cut(socket)
        else next.set(req, since)
      }
      seen = next
    }
  })
