/**
 * ClientErrors — what a server does with bytes that are not HTTP: Node's answers, and a log that cannot be flooded.
 *
 * Node answers a client error itself only while no `clientError` listener exists: a head over `maxHeaderSize`
 * (16 KiB) gets `431`, a chunk extension too large `413`, an expired head or request (`headersTimeout`,
 * `requestTimeout`) `408`, anything else the parser rejects (a malformed request line, an invalid header, a smuggling
 * attempt) `400`; each with `Connection: close`, and the socket is destroyed. It logs nothing, and neither does
 * platform-node. `install` keeps those answers byte for byte and adds the log line: the first client error of each
 * `window` (10 s) is logged with its code and the peer's address; the others of that window are only counted, and
 * one line at the window's end says how many there were, by code. A flood of garbage costs two lines per window.
 * Resets and broken pipes (`ECONNRESET`, `EPIPE`) are the peer leaving, not an error: not logged.
 */
import type { Server } from "node:http"
import type { Socket } from "node:net"
import { Duration, Effect, Fiber } from "effect"

const answer = (status: number, reason: string) =>
  Buffer.from(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n\r\n`, "ascii")

/** Node's own answers (`_http_server.js`), by error code */
const answers: Record<string, Buffer> = {
  HPE_HEADER_OVERFLOW: answer(431, "Request Header Fields Too Large"),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: answer(413, "Payload Too Large"),
  ERR_HTTP_REQUEST_TIMEOUT: answer(408, "Request Timeout")
}
const badRequest = answer(400, "Bad Request")

/** codes that mean the peer went away */
const departures = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"])

/** ClientErrors.window — one logged line, then counting, per window. */
export const window = Duration.seconds(10)

/**
 * ClientErrors.install — takes over `server`'s `clientError` as the module comment says; logs as `name` with the
 * services of the caller (its logger, its clock). When the scope closes, the count of an open window is logged.
 */
export const install = Effect.fnUntraced(function* (server: Server, name: string) {
  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  /** errors counted (not logged) in the current window, by code; undefined when no window is open */
  let counted: Map<string, number> | undefined
  let timer: Fiber.Fiber<void> | undefined

  const summary = Effect.suspend(() => {
    const codes = counted ?? new Map<string, number>()
    counted = undefined
    timer = undefined
    let total = 0
    for (const n of codes.values()) total += n
    if (total === 0) return Effect.void
    return Effect.logWarning(`${name} server: ${total} more client errors in the last ${Duration.format(window)}`).pipe(
      Effect.annotateLogs({ server: name, suppressed: total, codes: Object.fromEntries(codes) })
    )
  })

  const report = (code: string, socket: Socket) => {
    if (counted !== undefined) {
      counted.set(code, (counted.get(code) ?? 0) + 1)
      return
    }
    counted = new Map()
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    runFork(
      Effect.logWarning(`${name} server: client error ${code}, connection closed`).pipe(
        Effect.annotateLogs({ server: name, code, peer })
      )
    )
    timer = runFork(Effect.sleep(window).pipe(Effect.andThen(summary)))
  }

  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    const code = error.code ?? "unknown"
    const message = (socket as { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage
    if (!departures.has(code)) report(code, socket)
    // as Node: answer only if nothing of a response was written on this connection yet
    if (socket.writable && (message == null || !message._headerSent)) socket.write(answers[code] ?? badRequest)
    socket.destroy(error)
  })
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => (timer === undefined ? Effect.void : Fiber.interrupt(timer))).pipe(Effect.andThen(summary))
  )
})
