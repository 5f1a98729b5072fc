/**
 * ConnectionTracker — per-socket bookkeeping around a `node:http` server, and the drain built on it.
 *
 * Node's `server.close()` (Node ≥ 19) calls `closeIdleConnections()` at the instant it stops listening, so a
 * keep-alive client that is writing its next request at that moment gets a reset: that is where plain `node:http`,
 * Fastify and Effect's stock server each lose a request per connection. This module replaces that step.
 *
 * Guarantees, once `drain` has begun:
 * - the listener is closed (new connections are refused) but no socket is touched by that;
 * - each connection's last response whose headers are not written yet (pending at drain start, or arriving later)
 *   carries `Connection: close`, so Node closes its socket right after it. Only the last: a pipelined request
 *   already received behind a closing response would be dropped unanswered when Node closes the socket;
 * - a socket with no request in flight — idle keep-alive, or connected but silent — is destroyed after `idleGrace`
 *   of idleness (no byte read: a request whose headers are still arriving is not idle); a request arriving inside
 *   the grace cancels the timer and is served (with `Connection: close`);
 * - `drain` completes when the last socket is gone: nothing waits for keep-alive timeouts. Node's connection checker
 *   (`headersTimeout`/`requestTimeout`) keeps running until then, and is stopped with the server.
 * `destroyAll` ends what is left: idle sockets are destroyed at once, busy ones get 100 ms to flush what was written
 * (a 503) and are destroyed then, even if the client stopped reading.
 *
 * Grace timers are Effect fibers run with the caller's services, so `TestClock` drives them in tests.
 *
 * Cost while serving: nothing per request beyond one map lookup. A connection's current response is Node's own
 * `socket._httpMessage` (assigned before `request` is emitted, cleared when the response finishes); only responses
 * queued behind it (HTTP pipelining) are tracked with a listener. Once the drain begins, every response is tracked.
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { Server as NetServer, type Socket } from "node:net"
import { type Context, Duration, Effect, type Fiber } from "effect"

interface SocketState {
  readonly socket: Socket
  /** tracked responses not yet closed, in arrival order: pipelined ones always, all of them once draining */
  readonly pending: Set<ServerResponse>
  /** the response given `Connection: close` by the drain (the newest pending one) */
  closing: ServerResponse | undefined
  grace: Fiber.Fiber<void> | undefined
}

/** ConnectionTracker.Drain — what a drain observed, for logs and tests. */
export interface DrainStats {
  readonly socketsAtStart: number
  readonly inFlightAtStart: number
}

/** ConnectionTracker — the tracking handle installed on one server. */
export interface ConnectionTracker {
  /** open sockets now */
  readonly connections: () => number
  /** requests whose response has not closed yet (computed on each call, O(connections)) */
  readonly inFlight: () => number
  /** true once `drain` has begun */
  readonly draining: () => boolean
  /** Stop accepting and start the drain at once; returns what was open. Idempotent. */
  readonly beginDrain: Effect.Effect<DrainStats>
  /** Waits until the last socket is gone (after `beginDrain`). Interruptible. */
  readonly awaitDrained: Effect.Effect<void>
  /** Flushes and destroys every remaining socket (the budget is exhausted). */
  readonly destroyAll: Effect.Effect<void>
}

/**
 * install — attaches the tracker to `server`, ahead of the app's request handler (pass it as `handler`, or the
 * tracker's listener is prepended to those already there). Must be called before `listen`.
 */
export const install = (
  server: Server,
  options: {
    readonly idleGrace: Duration.Input
    /** the app's request handler: installed behind the tracker as the server's one `request` listener */
    readonly handler?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  }
) =>
  Effect.contextWith((services: Context.Context<never>) => {
    const graceMillis = Duration.toMillis(Duration.fromInputUnsafe(options.idleGrace))
    const sockets = new Map<Socket, SocketState>()
    const runFork = Effect.runForkWith(services)
    let draining = false
    let closed: Promise<void> | undefined
    /** resolves `closed` once the listener is closed and the last socket emitted `close` */
    let drained: (() => void) | undefined

    /** the response Node is writing on this socket now, if any */
    const current = (state: SocketState) => (state.socket as { _httpMessage?: ServerResponse | null })._httpMessage

    const busy = (state: SocketState) => state.pending.size > 0 || current(state) != null

    const requestsOf = (state: SocketState): Array<ServerResponse> => {
      const now = current(state)
      const queued = [...state.pending]
      return now == null || state.pending.has(now) ? queued : [now, ...queued]
    }

    /** tracks `res` until it closes; when it does, adopts the response Node assigns next (pipelining) */
    const track = (state: SocketState, res: ServerResponse) => {
      if (state.pending.has(res)) return
      state.pending.add(res)
      res.once("close", () => {
        state.pending.delete(res)
        if (!draining) return
        const next = current(state)
        if (next != null && next !== res) track(state, next)
        armGrace(state)
      })
    }

    const armGrace = (state: SocketState) => {
      if (state.grace !== undefined || busy(state) || state.socket.destroyed) return
      const bytesRead = state.socket.bytesRead
      state.grace = runFork(
        Effect.sleep(graceMillis).pipe(
          Effect.andThen(
            Effect.sync(() => {
              state.grace = undefined
              if (busy(state)) return
              // Bytes arrived during the grace but no request yet: its headers are still coming in. Not idle.
              if (state.socket.bytesRead !== bytesRead) armGrace(state)
              else state.socket.destroy()
            })
          )
        )
      )
    }

    /** `res` becomes the connection's last response: it alone closes the connection. */
    const closeAfter = (state: SocketState, res: ServerResponse) => {
      const previous = state.closing
      if (previous !== undefined && previous !== res && !previous.headersSent) {
        // a request was pipelined behind it: it must keep the connection open (not `removeHeader`: Node would then
        // send no `Connection` header at all)
        previous.setHeader("connection", "keep-alive")
      }
      state.closing = res
      if (!res.headersSent) res.setHeader("connection", "close")
    }

    const cancelGrace = (state: SocketState) => {
      if (state.grace === undefined) return
      state.grace.interruptUnsafe()
      state.grace = undefined
    }

    server.on("connection", (socket: Socket) => {
      const state: SocketState = { socket, pending: new Set(), closing: undefined, grace: undefined }
      sockets.set(socket, state)
      socket.once("close", () => {
        cancelGrace(state)
        sockets.delete(socket)
        if (sockets.size === 0) drained?.()
      })
      if (draining) armGrace(state)
    })

    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const state = sockets.get(req.socket)
      if (state === undefined) return
      if (draining) {
        cancelGrace(state)
        track(state, res)
        closeAfter(state, res)
      } else if (current(state) !== res) {
        track(state, res) // pipelined behind the current response
      }
    }
    // The tracker must see every request before the app writes anything. With the app's handler given, both run
    // from one listener (Node's emit clones its listener array on every event when there are several).
    const handler = options.handler
    if (handler === undefined) server.prependListener("request", onRequest)
    else
      server.on("request", (req: IncomingMessage, res: ServerResponse) => {
        onRequest(req, res)
        handler(req, res)
      })

    const beginDrain = Effect.sync((): DrainStats => {
      const stats = { socketsAtStart: sockets.size, inFlightAtStart: countInFlight() }
      if (draining) return stats
      draining = true
      // net.Server#close, not http.Server#close: stop listening without closing idle sockets. http.Server#close
      // also stops the connection checker; skipping it would leave that interval (and the server) alive forever.
      // Its callback runs when Node's own count reaches 0, which can be a tick before the sockets' `close` events:
      // `closed` also waits for those, so `connections()` is 0 once the drain is over.
      closed = new Promise((resolve) =>
        NetServer.prototype.close.call(server, () => {
          clearInterval(connectionsChecker(server))
          drained = resolve
          if (sockets.size === 0) resolve()
        })
      )
      for (const state of sockets.values()) {
        const requests = requestsOf(state)
        for (const res of requests) track(state, res)
        const last = requests.at(-1)
        if (last !== undefined) closeAfter(state, last)
        armGrace(state)
      }
      return stats
    })

    const awaitDrained = Effect.suspend(() =>
      closed === undefined ? Effect.void : Effect.promise(() => closed as Promise<void>)
    )

    const destroyAll = Effect.sync(() => {
      for (const state of sockets.values()) {
        cancelGrace(state)
        if (!busy(state)) {
          state.socket.destroy()
          continue
        }
        // let what was written (a 503) reach the client, but never wait on a client that stopped reading
        state.socket.destroySoon()
        runFork(Effect.sleep(flushLimitMillis).pipe(Effect.andThen(Effect.sync(() => state.socket.destroy()))))
      }
    })

    const countInFlight = () => {
      let n = 0
      for (const state of sockets.values()) n += requestsOf(state).length
      return n
    }

    const tracker: ConnectionTracker = {
      connections: () => sockets.size,
      inFlight: countInFlight,
      draining: () => draining,
      beginDrain,
      awaitDrained,
      destroyAll
    }
    return Effect.succeed(tracker)
  })

/** How long `destroyAll` lets a busy socket flush what was written before destroying it. */
const flushLimitMillis = 100

/** Node's `headersTimeout`/`requestTimeout` checker interval (`http.server.connectionsCheckingInterval`), if any. */
const connectionsChecker = (server: Server): NodeJS.Timeout | undefined => {
  const key = Object.getOwnPropertySymbols(server).find(
    (symbol) => symbol.description === "http.server.connectionsCheckingInterval"
  )
  return key === undefined ? undefined : (server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[key]
}
