/**
 * ConnectionTracker — per-connection bookkeeping around a Node HTTP server, and the drain built on it.
 *
 * Node's `server.close()` (Node ≥ 19) calls `closeIdleConnections()` at the instant it stops listening, so a
 * keep-alive client that is writing its next request at that moment gets a reset: that is where plain `node:http`,
 * Fastify and Effect's stock server each lose a request per connection. This module replaces that step.
 *
 * Guarantees, once `beginDrain` has run:
 * - the listener is closed (new connections are refused) but no connection is touched by that;
 * - HTTP/1: each connection's last response whose headers are not written yet (pending at drain start, or arriving
 *   later) carries `Connection: close`, so Node closes the connection right after it. Only the last: a request
 *   already pipelined behind a closing response would be dropped unanswered;
 * - HTTP/1: a connection with no request in flight — idle keep-alive, connected but silent, or with a head still
 *   arriving — is destroyed `idleGrace` after the drain began or its last response closed, whichever is later: a
 *   deadline, not an idle timer, so bytes trickling in do not extend it; a complete request head arriving inside the
 *   grace cancels it and is served (with `Connection: close`);
 * - HTTP/1: a response that closes while its request's body is still arriving ends the connection (FIN, destroyed
 *   100 ms later): nothing more will be read on it;
 * - upgraded connections (WebSockets; the server closes them with a close frame, see `GracefulHttpServer`) get
 *   `idleGrace` from the drain's start to close, then are destroyed; HTTP/2 sessions are sent GOAWAY
 *   (`session.close()`): running streams finish, none start;
 * - `awaitDrained` completes when the last connection is gone: nothing waits for keep-alive timeouts.
 * `destroyAll` ends what is left: idle connections at once, busy ones after 100 ms to flush what was written (a 503).
 *
 * Grace timers are Effect fibers run with the installer's services, so `TestClock` drives them in tests.
 *
 * While serving, pipelining is bounded: at most `maxPipelined` requests of a connection are handed to the app at
 * once; the next ones are held (Node's request and response objects only) and the connection is not read until one
 * is answered. Responses still go out in request order.
 *
 * Cost while serving: one map lookup and a timestamp per request. A connection's current response is Node's own
 * `socket._httpMessage` (assigned before `request` is emitted, cleared when the response finishes); only responses
 * queued behind it (HTTP pipelining) are tracked with a listener. Once the drain begins, every response is tracked.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { Http2Session } from "node:http2"
import { Server as NetServer, type Socket } from "node:net"
import { type Context, Duration, Effect, type Fiber } from "effect"
import { pathOf } from "./AccessLog.ts"

interface Connection {
  readonly socket: Socket
  /** tracked responses not yet closed, in arrival order: pipelined ones always, all of them once draining */
  readonly pending: Set<ServerResponse>
  /** the response given `Connection: close` by the drain (the newest pending one) */
  closing: ServerResponse | undefined
  grace: Fiber.Fiber<void> | undefined
  /** when the newest request arrived (`performance.now()`) */
  since: number
  /** taken over by an upgrade (WebSocket): no HTTP any more; the upgrade request's method and path */
  upgraded: { readonly method: string; readonly path: string } | undefined
  /** HTTP/2 runs on it: its session, not an idle grace, says when it is done */
  readonly http2: boolean
  /** pipelined requests received but not handed to the app yet (over `maxPipelined`), oldest first */
  readonly backlog: Array<Pending>
  /** reading was stopped by the pipelining bound */
  paused: boolean
}

/** a request held back by the pipelining bound, with the handler that will get it */
interface Pending {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly dispatch: Dispatch
}

/** ConnectionTracker.Dispatch — hands a request to the app (`GracefulHttpServer` passes platform-node's handler). */
export type Dispatch = (req: IncomingMessage, res: ServerResponse) => void

/** ConnectionTracker.DrainStats — what was open when the drain began, for logs and tests. */
export interface DrainStats {
  readonly connectionsAtStart: number
  readonly inFlightAtStart: number
}

/** ConnectionTracker.InFlight — a request being handled, as the fiber dump shows it (path without its query, cut at `AccessLog.maxPathLength`). */
export interface InFlight {
  readonly method: string
  readonly path: string
  readonly ageMillis: number
}

/** ConnectionTracker — the tracking handle installed on one server. */
export interface ConnectionTracker {
  /**
   * call for every HTTP/1 request in place of the app's handler: it calls `dispatch` at once, or later when the
   * request was pipelined behind `maxPipelined` others (see `Options.maxPipelined`)
   */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse, dispatch: Dispatch) => void
  /** call for every `upgrade` request, before the app sees it */
  readonly onUpgrade: (req: IncomingMessage) => void
  /** open connections now */
  readonly connections: () => number
  /** the sockets of the open HTTP/1 connections (not upgraded, not HTTP/2) */
  readonly sockets: () => Iterable<Socket>
  /** requests whose response has not closed yet (computed on each call, O(connections)) */
  readonly inFlight: () => number
  /** the requests in flight, oldest connection first */
  readonly requests: () => ReadonlyArray<InFlight>
  /** true once the drain has begun */
  readonly draining: () => boolean
  /** Stops accepting and starts the drain at once; returns what was open. Idempotent. */
  readonly beginDrain: Effect.Effect<DrainStats>
  /** Waits until the last connection is gone (after `beginDrain`). Interruptible. */
  readonly awaitDrained: Effect.Effect<void>
  /** Flushes and destroys every remaining connection (the budget is exhausted). */
  readonly destroyAll: Effect.Effect<void>
}

/** the Node internals of an HTTP/1 server socket that the pipelining bound shares with Node's own pause */
interface HttpSocket extends Socket {
  _paused?: boolean
  readonly parser?: { readonly resume: () => void } | null
}

/** a held socket's `resume` (see `hold`) */
function keepPaused(this: Socket): Socket {
  return this
}

/** How long `destroyAll` lets a busy socket flush what was written before destroying it. */
const flushLimitMillis = 100

/** ConnectionTracker.Options — the drain's idle grace and the pipelining bound. */
export interface Options {
  /** how long a connection with no request in flight may stay open once the drain has begun */
  readonly idleGrace: Duration.Input
  /**
   * how many requests of one connection the app handles at once (default 16): a request pipelined behind that many
   * waits for one of them to be answered, and the connection is not read meanwhile
   */
  readonly maxPipelined?: number | undefined
}

/** ConnectionTracker.defaultMaxPipelined — requests of one connection handled at once when not given. */
export const defaultMaxPipelined = 16

/**
 * install — attaches the tracker to `server` (its `connection`, `secureConnection` and `session` events). Call before
 * `listen`; route every request through `onRequest` and every upgrade through `onUpgrade`.
 */
export const install = (server: Server, options: Options) =>
  Effect.contextWith((services: Context.Context<never>): Effect.Effect<ConnectionTracker> => {
    const graceMillis = Duration.toMillis(Duration.fromInputUnsafe(options.idleGrace))
    const maxPipelined = Math.max(1, options.maxPipelined ?? defaultMaxPipelined)
    const connections = new Map<Socket, Connection>()
    /** TLS sockets still in their handshake: no HTTP yet, but they hold the listener's close */
    const handshaking = new Set<Socket>()
    const runFork = Effect.runForkWith(services)
    const tls = "setSecureContext" in server
    const http2 = "updateSettings" in server
    const sessions = new Set<Http2Session>()
    let draining = false
    let closed: Promise<void> | undefined
    let drained: (() => void) | undefined

    /** the response Node is writing on this connection now, if any */
    const current = (c: Connection) => (c.socket as { _httpMessage?: ServerResponse | null })._httpMessage

    const busy = (c: Connection) => c.pending.size > 0 || current(c) != null

    const responsesOf = (c: Connection): Array<ServerResponse> => {
      const now = current(c)
      const queued = [...c.pending]
      return now == null || c.pending.has(now) ? queued : [now, ...queued]
    }

    /** tracks `res` until it closes; when it does, adopts the response Node assigns next (pipelining) */
    const track = (c: Connection, res: ServerResponse) => {
      if (c.pending.has(res)) return
      c.pending.add(res)
      res.once("close", () => {
        c.pending.delete(res)
        if (c.backlog.length > 0 || c.paused) release(c)
        if (!draining) return
        // its request's body is still arriving: nothing more will be read on this connection, so stop reading it
        if (!res.req.complete && !c.socket.destroyed) return cut(c)
        const next = current(c)
        if (next != null && next !== res) track(c, next)
        armGrace(c)
      })
    }

    /** requests of `c` handed to the app and not answered yet */
    const handling = (c: Connection) => {
      const now = current(c)
      return c.pending.size - c.backlog.length + (now != null && !c.pending.has(now) ? 1 : 0)
    }

    /**
     * stops reading `c` as Node's own pipelining pause does (`_paused`, so that no request of the connection resumes
     * it; Node then pauses its parser after the read being parsed, whose requests still arrive). Node resumes a
     * connection it paused as soon as its queued answers shrink, knowing nothing of this bound: while `c` is held,
     * its socket's `resume` is a no-op (an own property, removed on release).
     */
    const hold = (c: Connection) => {
      if (c.paused) return
      c.paused = true
      const socket = c.socket as HttpSocket
      socket._paused = true
      socket.pause()
      socket.resume = keepPaused
    }

    /** hands held requests to the app while under the bound; reads again once none is held */
    const release = (c: Connection) => {
      while (c.backlog.length > 0 && handling(c) < maxPipelined) {
        const next = c.backlog.shift() as Pending
        if (!next.res.destroyed) next.dispatch(next.req, next.res)
      }
      if (!c.paused || c.backlog.length > 0 || handling(c) >= maxPipelined) return
      c.paused = false
      const socket = c.socket as HttpSocket
      delete (socket as { resume?: unknown }).resume
      // the client does not read what was written: Node's own pause holds, and its 'drain' resumes the socket
      if (socket.destroyed || socket.writableNeedDrain) return
      socket._paused = false
      socket.parser?.resume()
      socket.resume()
    }

    /** ends `c` after what was written (FIN), then destroys it after the flush limit */
    const cut = (c: Connection) => {
      cancelGrace(c)
      c.socket.end()
      runFork(Effect.sleep(flushLimitMillis).pipe(Effect.andThen(Effect.sync(() => c.socket.destroy()))))
    }

    // A deadline, not an idle timer: bytes arriving during the grace (a head trickled a byte at a time, the rest of
    // an unread body) do not extend it. Only a complete request head makes the connection busy.
    const armGrace = (c: Connection) => {
      if (c.grace !== undefined || c.http2 || c.socket.destroyed) return
      if (c.upgraded === undefined && busy(c)) return
      c.grace = runFork(
        Effect.sleep(graceMillis).pipe(
          Effect.andThen(
            Effect.sync(() => {
              c.grace = undefined
              if (c.upgraded !== undefined || !busy(c)) c.socket.destroy()
            })
          )
        )
      )
    }

    /** `res` becomes the connection's last response: it alone closes the connection. */
    const closeAfter = (c: Connection, res: ServerResponse) => {
      const previous = c.closing
      if (previous !== undefined && previous !== res && !previous.headersSent) {
        // a request was pipelined behind it: it must keep the connection open (not `removeHeader`: Node would then
        // send no `Connection` header at all)
        previous.setHeader("connection", "keep-alive")
      }
      c.closing = res
      if (!res.headersSent) res.setHeader("connection", "close")
    }

    const cancelGrace = (c: Connection) => {
      if (c.grace === undefined) return
      c.grace.interruptUnsafe()
      c.grace = undefined
    }

    const onSocket = (socket: Socket) => {
      const c: Connection = {
        socket,
        pending: new Set(),
        closing: undefined,
        grace: undefined,
        since: 0,
        upgraded: undefined,
        backlog: [],
        paused: false,
        // an HTTP/2 server speaks HTTP/2 on every cleartext connection, and on TLS ones that chose it (ALPN)
        http2: http2 && (!tls || (socket as { alpnProtocol?: string | false }).alpnProtocol === "h2")
      }
      connections.set(socket, c)
      socket.once("close", () => {
        cancelGrace(c)
        c.backlog.length = 0
        connections.delete(socket)
        if (connections.size === 0 && handshaking.size === 0) drained?.()
      })
      if (draining) armGrace(c)
    }
    if (tls) {
      server.on("connection", (socket: Socket) => {
        handshaking.add(socket)
        const done = () => {
          handshaking.delete(socket)
          if (connections.size === 0 && handshaking.size === 0) drained?.()
        }
        socket.once("close", done)
      })
      server.on("secureConnection", (socket: Socket) => {
        // a TLS socket's `_parent` is the TCP socket of its `connection` event
        handshaking.delete((socket as { _parent?: Socket })._parent as Socket)
        onSocket(socket)
      })
    } else {
      server.on("connection", onSocket)
    }
    // Node gives a session a proxy of its socket (not the socket of `connection`): sessions are kept on their own.
    server.on("session", (session: Http2Session) => {
      sessions.add(session)
      session.once("close", () => sessions.delete(session))
      if (draining) session.close()
    })

    const onRequest = (req: IncomingMessage, res: ServerResponse, dispatch: Dispatch) => {
      const c = connections.get(req.socket)
      if (c === undefined) return dispatch(req, res)
      c.since = performance.now()
      if (draining) {
        cancelGrace(c)
        track(c, res)
        closeAfter(c, res)
      } else if (current(c) !== res) {
        track(c, res) // pipelined behind the current response
      } else {
        return dispatch(req, res)
      }
      if (c.backlog.length === 0 && handling(c) <= maxPipelined) return dispatch(req, res)
      // over the bound: held (Node's request and response only) until an earlier one is answered; stop reading.
      // The response being written is tracked too, so that its end hands the next one over.
      const now = current(c)
      if (now != null) track(c, now)
      c.backlog.push({ req, res, dispatch })
      hold(c)
    }

    const onUpgrade = (req: IncomingMessage) => {
      const c = connections.get(req.socket)
      if (c === undefined) return
      c.upgraded = { method: req.method ?? "GET", path: pathOf(req.url ?? "") }
      c.since = performance.now()
      if (draining) armGrace(c)
    }

    const countInFlight = () => {
      let n = 0
      for (const c of connections.values()) n += c.upgraded !== undefined ? 1 : responsesOf(c).length
      return n
    }

    const beginDrain = Effect.sync((): DrainStats => {
      const stats = { connectionsAtStart: connections.size + handshaking.size, inFlightAtStart: countInFlight() }
      if (draining) return stats
      draining = true
      // net.Server#close, not http.Server#close: stop listening without closing idle connections. http.Server#close
      // also stops the connection checker; skipping it would leave that interval (and the server) alive forever.
      // Its callback runs when Node's own count reaches 0, which can be a tick before the sockets' `close` events:
      // `closed` also waits for those, so `connections()` is 0 once the drain is over.
      closed = new Promise((resolve) => {
        if (!server.listening) return resolve()
        NetServer.prototype.close.call(server, () => {
          clearInterval(connectionsChecker(server))
          drained = resolve
          if (connections.size === 0 && handshaking.size === 0) resolve()
        })
      })
      for (const socket of handshaking) {
        runFork(Effect.sleep(graceMillis).pipe(Effect.andThen(Effect.sync(() => socket.destroy()))))
      }
      for (const c of connections.values()) {
        if (c.http2) continue // its session is sent GOAWAY below
        const responses = responsesOf(c)
        for (const res of responses) track(c, res)
        const last = responses.at(-1)
        if (last !== undefined) closeAfter(c, last)
        armGrace(c)
      }
      for (const session of sessions) session.close()
      return stats
    })

    const awaitDrained = Effect.suspend(() =>
      closed === undefined ? Effect.void : Effect.promise(() => closed as Promise<void>)
    )

    const destroyAll = Effect.sync(() => {
      for (const socket of handshaking) socket.destroy()
      for (const session of sessions) session.destroy()
      for (const c of connections.values()) {
        cancelGrace(c)
        if (c.upgraded !== undefined || c.http2 || !busy(c)) {
          c.socket.destroy()
          continue
        }
        // let what was written (a 503) reach the client, but never wait on a client that stopped reading
        c.socket.destroySoon()
        runFork(Effect.sleep(flushLimitMillis).pipe(Effect.andThen(Effect.sync(() => c.socket.destroy()))))
      }
    })

    const requests = () => {
      const now = performance.now()
      const list: Array<InFlight> = []
      for (const c of connections.values()) {
        const req = current(c)?.req
        const ageMillis = Math.round(now - c.since)
        if (c.upgraded !== undefined) list.push({ ...c.upgraded, ageMillis })
        else if (req !== undefined) list.push({ method: req.method ?? "", path: pathOf(req.url ?? ""), ageMillis })
      }
      return list
    }

    return Effect.succeed({
      onRequest,
      onUpgrade,
      connections: () => connections.size,
      sockets: function* () {
        for (const c of connections.values()) if (c.upgraded === undefined && !c.http2) yield c.socket
      },
      inFlight: countInFlight,
      requests,
      draining: () => draining,
      beginDrain,
      awaitDrained,
      destroyAll
    })
  })

/** Node's `headersTimeout`/`requestTimeout` checker interval (`http.server.connectionsCheckingInterval`), if any. */
const connectionsChecker = (server: Server): NodeJS.Timeout | undefined => {
  const key = Object.getOwnPropertySymbols(server).find(
    (symbol) => symbol.description === "http.server.connectionsCheckingInterval"
  )
  return key === undefined ? undefined : (server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[key]
}
