/**
 * http-client — a raw HTTP/1.1 keep-alive client on one `net.Socket`, for tests that must see exactly what a server
 * does with a connection: the `Connection` header of each response, a FIN or a reset, a request written while the
 * server drains, a socket that never sends anything.
 *
 * Every wait is bounded in real time (`setTimeout`), never by Effect's clock: the helpers behave the same under
 * `it.effect` (TestClock) and `it.live`, and a wait for something that never happens fails with a `ClientError`
 * naming it instead of hanging the test.
 */
import net from "node:net"
import { Data, Effect, type Scope } from "effect"

/** RawResponse — one parsed response; header names are lower-case, repeated headers joined with ", ". */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Closed — how the connection ended, seen from the client. */
export interface Closed {
  /** the server half-closed the connection (FIN) before it went away */
  readonly endReceived: boolean
  /** the socket error code, if the connection was reset or a write failed (`ECONNRESET`, `EPIPE`) */
  readonly error: string | undefined
}

/** ClientError — a bounded wait that ran out, or a connection that closed before the awaited response. */
export class ClientError extends Data.TaggedError("ClientError")<{
  readonly reason: "timeout" | "closed" | "connect"
  readonly what: string
  readonly detail?: string | undefined
}> {
  override get message() {
    return `${this.what}: ${this.reason}${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/** RawClient — one connection. Responses are queued in arrival order; `next` takes the oldest not yet taken. */
export interface RawClient {
  readonly socket: net.Socket
  /** writes `raw` as is */
  readonly write: (raw: string) => Effect.Effect<void>
  /** writes `GET path HTTP/1.1` with `Host: t` and the given extra header lines */
  readonly send: (path: string, extraHeaders?: ReadonlyArray<string>) => Effect.Effect<void>
  /** waits (at most `millis` of real time) for the next response */
  readonly next: (millis?: number) => Effect.Effect<RawResponse, ClientError>
  /** `send` then `next` */
  readonly request: (path: string, millis?: number) => Effect.Effect<RawResponse, ClientError>
  /** waits (at most `millis` of real time) for the socket to close */
  readonly closed: (millis?: number) => Effect.Effect<Closed, ClientError>
  /** true once the socket emitted `close` */
  readonly isClosed: () => boolean
  /** responses received and not taken by `next` yet */
  readonly unread: () => number
  /** resets the connection from the client side */
  readonly destroy: Effect.Effect<void>
}

const defaultWait = 2_000

/** requestText — a `GET` request with `Host: t`. */
export const requestText = (path: string, extraHeaders: ReadonlyArray<string> = []) =>
  `GET ${path} HTTP/1.1\r\nHost: t\r\n${extraHeaders.map((h) => `${h}\r\n`).join("")}\r\n`

/** realSleep — waits `millis` of wall-clock time, whatever clock the test runs with. */
export const realSleep = (millis: number) =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * waitUntil — polls `check` (every 2 ms of real time) until it returns something other than `undefined`; fails with
 * `ClientError` after `millis`.
 */
export const waitUntil = <A>(what: string, check: () => A | undefined, millis = defaultWait) =>
  Effect.callback<A, ClientError>((resume) => {
    const first = check()
    if (first !== undefined) return resume(Effect.succeed(first))
    const started = Date.now()
    const timer = setInterval(() => {
      const value = check()
      if (value !== undefined) {
        clearInterval(timer)
        resume(Effect.succeed(value))
      } else if (Date.now() - started >= millis) {
        clearInterval(timer)
        resume(Effect.fail(new ClientError({ reason: "timeout", what, detail: `${millis} ms` })))
      }
    }, 2)
    return Effect.sync(() => clearInterval(timer))
  })

/**
 * within — `effect`'s outcome, or a `ClientError` naming `what` if it takes more than `millis` of real time. The effect
 * runs detached and is interrupted (without waiting) on timeout, so even an uninterruptible one (`Scope.close`)
 * cannot hold the test past the bound.
 */
export const within =
  (millis: number, what: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ClientError, R> =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkDetach(effect, { startImmediately: true })
      const done = yield* waitUntil(what, () => fiber.pollUnsafe(), millis).pipe(
        Effect.tapError(() => Effect.sync(() => fiber.interruptUnsafe()))
      )
      return yield* done
    })

/** waitFor — `waitUntil` for a condition. */
export const waitFor = (what: string, condition: () => boolean, millis = defaultWait) =>
  waitUntil(what, () => (condition() ? true : undefined), millis).pipe(Effect.asVoid)

/**
 * connectError — tries to connect; the error code (`ECONNREFUSED`), `undefined` if the connection was accepted, or
 * `"no answer"` after `millis` of real time.
 */
export const connectError = (port: number, host = "127.0.0.1", millis = defaultWait) =>
  Effect.callback<string | undefined>((resume) => {
    const socket = net.connect({ port, host })
    const done = (result: string | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(result))
    }
    const timer = setTimeout(() => done("no answer"), millis)
    socket.once("connect", () => done(undefined))
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message))
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** Parser — incremental HTTP/1.1 response parser (Content-Length, chunked, or until close). */
const makeParser = (onResponse: (response: RawResponse) => void) => {
  let buffer = Buffer.alloc(0)
  let head: { status: number; headers: Record<string, string> } | undefined

  const parseHead = (text: string) => {
    const [statusLine = "", ...lines] = text.split("\r\n")
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
    if (match === null) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`)
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    return { status: Number(match[1]), headers }
  }

  /** a complete chunked body at the start of `buffer` and the bytes it spans, or undefined while incomplete */
  const chunkedBody = (): { body: Buffer; consumed: number } | undefined => {
    const parts: Array<Buffer> = []
    let offset = 0
    while (true) {
      const lineEnd = buffer.indexOf("\r\n", offset)
      if (lineEnd < 0) return undefined
      const size = Number.parseInt(buffer.subarray(offset, lineEnd).toString("latin1"), 16)
      const start = lineEnd + 2
      if (size === 0) {
        const end = buffer.indexOf("\r\n\r\n", lineEnd)
        return end < 0 ? undefined : { body: Buffer.concat(parts), consumed: end + 4 }
      }
      if (buffer.length < start + size + 2) return undefined
      parts.push(buffer.subarray(start, start + size))
      offset = start + size + 2
    }
  }

  const drain = (ended: boolean) => {
    while (true) {
      if (head === undefined) {
        const end = buffer.indexOf("\r\n\r\n")
        if (end < 0) return
        head = parseHead(buffer.subarray(0, end).toString("latin1"))
        buffer = buffer.subarray(end + 4)
      }
      const length = head.headers["content-length"]
      let body: Buffer
      if (length !== undefined) {
        if (buffer.length < Number(length)) return
        body = buffer.subarray(0, Number(length))
        buffer = buffer.subarray(Number(length))
      } else if (head.headers["transfer-encoding"]?.includes("chunked")) {
        const chunked = chunkedBody()
        if (chunked === undefined) return
        body = chunked.body
        buffer = buffer.subarray(chunked.consumed)
      } else if (head.status === 204 || head.status === 304) {
        body = Buffer.alloc(0)
      } else {
        if (!ended) return
        body = buffer
        buffer = Buffer.alloc(0)
      }
      onResponse({ status: head.status, headers: head.headers, body: body.toString("utf8") })
      head = undefined
    }
  }

  return {
    push: (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      drain(false)
    },
    end: () => drain(true)
  }
}

/**
 * connect — opens a connection (bounded wait) and returns its client; the socket is destroyed when the scope
 * closes.
 */
export const connect = (port: number, host = "127.0.0.1"): Effect.Effect<RawClient, ClientError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<net.Socket, ClientError>((resume) => {
      const socket = net.connect({ port, host })
      const timer = setTimeout(() => {
        socket.destroy()
        resume(Effect.fail(new ClientError({ reason: "timeout", what: `connect to ${host}:${port}` })))
      }, defaultWait)
      socket.once("connect", () => {
        clearTimeout(timer)
        socket.removeAllListeners("error")
        resume(Effect.succeed(socket))
      })
      socket.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        resume(
          Effect.fail(new ClientError({ reason: "connect", what: `connect to ${host}:${port}`, detail: error.code }))
        )
      })
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.destroy()
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.map(makeClient))

const makeClient = (socket: net.Socket): RawClient => {
  const responses: Array<RawResponse> = []
  let taken = 0
  let endReceived = false
  let error: string | undefined
  let closed = false
  const parser = makeParser((response) => responses.push(response))

  socket.setNoDelay(true)
  socket.on("data", (chunk: Buffer) => parser.push(chunk))
  socket.on("end", () => {
    endReceived = true
    parser.end()
  })
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message
  })
  socket.on("close", () => {
    closed = true
    parser.end()
  })

  const write = (raw: string) =>
    Effect.sync(() => {
      if (!socket.destroyed) socket.write(raw)
    })
  const send = (path: string, extraHeaders: ReadonlyArray<string> = []) => write(requestText(path, extraHeaders))

  const next = (millis = defaultWait) =>
    Effect.callback<RawResponse, ClientError>((resume) => {
      const what = `response #${taken + 1}`
      const check = (): boolean => {
        const response = responses[taken]
        if (response !== undefined) {
          taken++
          resume(Effect.succeed(response))
          return true
        }
        if (closed) {
          resume(Effect.fail(new ClientError({ reason: "closed", what, detail: error })))
          return true
        }
        return false
      }
      if (check()) return
      const started = Date.now()
      const timer = setInterval(() => {
        if (check()) clearInterval(timer)
        else if (Date.now() - started >= millis) {
          clearInterval(timer)
          resume(Effect.fail(new ClientError({ reason: "timeout", what, detail: `${millis} ms` })))
        }
      }, 1)
      return Effect.sync(() => clearInterval(timer))
    })

  return {
    socket,
    write,
    send,
    next,
    request: (path, millis) => Effect.andThen(send(path), next(millis)),
    closed: (millis = defaultWait) =>
      waitUntil("socket close", () => (closed ? ({ endReceived, error } satisfies Closed) : undefined), millis),
    isClosed: () => closed,
    unread: () => responses.length - taken,
    destroy: Effect.sync(() => socket.destroy())
  }
}

/** Answer — what `fetchAnswer` got back. */
export interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly body: string
}

/** fetchAnswer — one request with `fetch` to 127.0.0.1 (bounded by 2 s of real time). */
export const fetchAnswer = (port: number, path: string, method = "GET") =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(2_000) })
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })
