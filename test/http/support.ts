/**
 * support — what the contract tests of `GracefulHttpServer` share: the server layer as a user writes it (and the stock
 * `NodeHttpServer.layer` beside it, for same-run baselines), a probe that hands the bound server to the test, log and
 * span recorders, and real WebSocket clients (the `ws` client platform-node ships, and a raw one that never answers a
 * close frame).
 *
 * Every wait on a socket is bounded in real time (`support/http-client.ts`'s helpers), so a broken server fails a test
 * with a named timeout instead of hanging it. Nothing here waits on Effect's clock: under `it.effect` the grace timers
 * are driven with `TestClock.adjust` by the tests themselves.
 */
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import net from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import * as NodeWS from "@effect/platform-node/NodeWS"
import { Deferred, Effect, Layer, Logger, Option, Tracer } from "effect"
import { HttpServer } from "effect/http"
import { GracefulHttpServer, Lifecycle } from "../../src/index.ts"
import { ClientError, connectError, realSleep, waitUntil } from "../support/http-client.ts"

/** the loopback address every test binds and connects to */
export const host = "127.0.0.1"

/** graceful — `GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1", ...options })`. */
export const graceful = (options: Partial<GracefulHttpServer.Options> = {}) =>
  GracefulHttpServer.layer(createServer, { port: 0, host, ...options })

/** stock — `NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1", ...options })`, what `graceful` replaces. */
export const stock = (options: Partial<NodeHttpServer.Options> = {}) =>
  NodeHttpServer.layer(createServer, { port: 0, host, ...options })

/**
 * servers — both layers, named, for `describe.each`: the swap is the only difference between the two runs. The
 * graceful one gets a `Lifecycle` of its own (`Lifecycle.layerTest`), so that no two tests share a shutdown.
 */
export const servers = [
  {
    name: "GracefulHttpServer.layer",
    layer: (options: Partial<NodeHttpServer.Options> = {}) => graceful(options).pipe(Layer.provide(Lifecycle.layerTest))
  },
  { name: "NodeHttpServer.layer (baseline)", layer: stock }
] as const

/** port — the port the current `HttpServer` is bound to. */
export const port: Effect.Effect<number, never, HttpServer.HttpServer> = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "UnixPathAddress" ? 0 : server.address.port
)

/** url — `http://127.0.0.1:<port><path>` (or `ws://` with `scheme`). */
export const url = (port: number, path: string, scheme: "http" | "ws" = "http") => `${scheme}://${host}:${port}${path}`

/**
 * probe — a layer that hands the bound graceful server (its address and connection tracker) to the test through
 * `deferred`, for apps launched with `Layer.launch` whose layers the test cannot read. Merge it into the app.
 */
export const probe = (deferred: Deferred.Deferred<GracefulHttpServer.Handle>) =>
  Layer.effectDiscard(
    Effect.flatMap(GracefulHttpServer.handle, (handle) =>
      Option.isSome(handle) ? Deferred.succeed(deferred, handle.value) : Effect.die("not a GracefulHttpServer")
    )
  )

/**
 * refused — waits (real time, bounded) until a new connection to `port` is refused: the listener is closed. Each try
 * that is accepted is closed at once by the client.
 */
export const refused = (port: number, millis = 2_000) =>
  Effect.gen(function* () {
    const started = Date.now()
    while (true) {
      const error = yield* connectError(port, host, millis)
      if (error === "ECONNREFUSED") return
      if (Date.now() - started > millis) {
        return yield* new ClientError({
          reason: "timeout",
          what: `listener on ${port} closed`,
          detail: error ?? "accepted"
        })
      }
      yield* realSleep(2)
    }
  })

/** LogLine — one log line: its message, annotations, level, and time on Effect's clock (TestClock under `it.effect`). */
export interface LogLine {
  readonly message: string
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** `Clock` time of the line, in milliseconds */
  readonly at: number
}

/**
 * recordLogs — a logger layer that keeps every line in `lines` (and prints nothing). Provide it where the app's logger
 * goes; `phase(name)` finds the "shutdown phase <name> done" lines.
 */
export const recordLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.map(Logger.formatStructured, (line) => line)
  const recorder = Logger.make<unknown, void>((options) => {
    const structured = logger.log(options)
    lines.push({
      message: Array.isArray(structured.message) ? structured.message.join(" ") : String(structured.message),
      level: structured.level,
      annotations: structured.annotations,
      at: options.date.getTime()
    })
  })
  return {
    lines,
    layer: Logger.layer([recorder]),
    /** the lines whose message contains `text` */
    find: (text: string) => lines.filter((line) => line.message.includes(text)),
    /** the "shutdown phase `name` done" lines */
    phase: (name: string) => lines.filter((line) => line.message === `shutdown phase ${name} done`)
  }
}

/** recordSpans — a tracer that keeps every span it starts (Effect's own `NativeSpan`), provided by `layer`. */
export const recordSpans = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, layer: Layer.succeed(Tracer.Tracer, tracer) }
}

/** WsClient — a real WebSocket client (`ws`, as platform-node ships it) and what it received. */
export interface WsClient {
  readonly socket: NodeWS.WebSocket
  /** messages received, text as `string`, binary as `Buffer` */
  readonly messages: Array<string | Buffer>
  /** the close code and reason received (or 1006 when the connection dropped without a close frame) */
  readonly closed: () => { readonly code: number; readonly reason: string } | undefined
  /** waits (real time, bounded) for the `n`-th message (1-based) */
  readonly message: (n: number, millis?: number) => Effect.Effect<string | Buffer, ClientError>
  /** waits (real time, bounded) for the close event */
  readonly awaitClose: (
    millis?: number
  ) => Effect.Effect<{ readonly code: number; readonly reason: string }, ClientError>
}

/** wsConnect — opens a WebSocket (bounded wait); terminated when the scope closes. */
export const wsConnect = (target: string) =>
  Effect.acquireRelease(
    Effect.callback<WsClient, ClientError>((resume) => {
      const socket = new NodeWS.WebSocket(target)
      const messages: Array<string | Buffer> = []
      let closed: { code: number; reason: string } | undefined
      socket.on("message", (data, isBinary) => {
        const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
        messages.push(isBinary ? buffer : buffer.toString("utf8"))
      })
      socket.on("close", (code, reason) => {
        closed = { code, reason: reason.toString("utf8") }
      })
      const client: WsClient = {
        socket,
        messages,
        closed: () => closed,
        message: (n, millis = 2_000) => waitUntil(`WebSocket message #${n}`, () => messages[n - 1], millis),
        awaitClose: (millis = 2_000) => waitUntil("WebSocket close", () => closed, millis)
      }
      const timer = setTimeout(() => {
        socket.terminate()
        resume(Effect.fail(new ClientError({ reason: "timeout", what: `WebSocket open ${target}` })))
      }, 2_000)
      socket.once("open", () => {
        clearTimeout(timer)
        resume(Effect.succeed(client))
      })
      socket.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        resume(
          Effect.fail(new ClientError({ reason: "connect", what: `WebSocket open ${target}`, detail: error.message }))
        )
      })
    }),
    (client) => Effect.sync(() => client.socket.terminate())
  )

/** Frame — a WebSocket frame as the raw client saw it. */
export interface Frame {
  readonly opcode: number
  readonly payload: Buffer
}

/** RawWsClient — a WebSocket client on a bare socket that never answers anything, a close frame included. */
export interface RawWsClient {
  readonly socket: net.Socket
  readonly frames: Array<Frame>
  /** the close frame's code, once one arrived */
  readonly closeCode: () => number | undefined
  /** true once the socket closed; `error` is its error code if it was reset */
  readonly closed: () => { readonly error: string | undefined } | undefined
  /** sends a masked text frame (clients must mask) */
  readonly sendText: (text: string) => Effect.Effect<void>
}

/**
 * rawWsConnect — a WebSocket handshake on a bare `net.Socket` (bounded wait), then a client that records frames and
 * never replies: the rude client of the drain tests. Destroyed when the scope closes.
 */
export const rawWsConnect = (port: number, path: string) =>
  Effect.acquireRelease(
    Effect.callback<RawWsClient, ClientError>((resume) => {
      const key = Buffer.from("graceful-tests!!").toString("base64")
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64")
      const socket = net.connect({ port, host })
      const frames: Array<Frame> = []
      let buffer = Buffer.alloc(0)
      let upgraded = false
      let closed: { error: string | undefined } | undefined
      let error: string | undefined
      const fail = (reason: ClientError["reason"], detail?: string) => {
        clearTimeout(timer)
        socket.destroy()
        resume(Effect.fail(new ClientError({ reason, what: `raw WebSocket ${path}`, detail })))
      }
      const timer = setTimeout(() => fail("timeout"), 2_000)
      const parseFrames = () => {
        while (buffer.length >= 2) {
          const first = buffer[0] as number
          const second = buffer[1] as number
          let length = second & 0x7f
          let offset = 2
          if (length === 126) {
            if (buffer.length < 4) return
            length = buffer.readUInt16BE(2)
            offset = 4
          } else if (length === 127) {
            if (buffer.length < 10) return
            length = Number(buffer.readBigUInt64BE(2))
            offset = 10
          }
          if (buffer.length < offset + length) return
          frames.push({ opcode: first & 0x0f, payload: buffer.subarray(offset, offset + length) })
          buffer = buffer.subarray(offset + length)
        }
      }
      socket.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk])
        if (!upgraded) {
          const end = buffer.indexOf("\r\n\r\n")
          if (end < 0) return
          const head = buffer.subarray(0, end).toString("latin1")
          buffer = buffer.subarray(end + 4)
          if (!head.startsWith("HTTP/1.1 101") || !head.includes(accept)) return fail("connect", head.split("\r\n")[0])
          upgraded = true
          clearTimeout(timer)
          resume(Effect.succeed(client))
        }
        parseFrames()
      })
      socket.on("error", (e: NodeJS.ErrnoException) => {
        error ??= e.code ?? e.message
      })
      socket.on("close", () => {
        closed = { error }
        if (!upgraded) fail("closed", error)
      })
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      )
      const client: RawWsClient = {
        socket,
        frames,
        closeCode: () => {
          const close = frames.find((frame) => frame.opcode === 0x8)
          return close === undefined ? undefined : close.payload.readUInt16BE(0)
        },
        closed: () => closed,
        sendText: (text) =>
          Effect.sync(() => {
            const payload = Buffer.from(text, "utf8")
            const mask = Buffer.from([1, 2, 3, 4])
            const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)))
            socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]))
          })
      }
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.destroy()
      })
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/** waitForClose — waits (real time, bounded) until a raw WebSocket's socket closed. */
export const rawClosed = (client: RawWsClient, millis = 2_000) =>
  waitUntil("raw WebSocket socket close", client.closed, millis)
