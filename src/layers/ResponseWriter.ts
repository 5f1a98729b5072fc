/**
 * ResponseWriter — writes an Effect `HttpServerResponse` to Node's response object.
 *
 * Contract:
 * - nothing is written to a response that already ended or whose connection is gone (a Node-stream body is
 *   destroyed instead);
 * - status, status text, headers and cookies go out in one `writeHead`; headers Node rejects (or a status outside
 *   200–599) turn into an empty 500 when nothing was sent yet, and the defect is logged;
 * - HEAD requests and 204/205/304 responses get no body;
 * - `Empty`, `Uint8Array` and string/bytes `Raw` bodies are written synchronously (headers and body flushed
 *   together); Node-stream, web-stream, `FormData` and `Stream` bodies are piped with back-pressure, interruptibly,
 *   and a failure after the headers were sent destroys the connection so the client never mistakes a truncated body
 *   for a complete one.
 */

import type { OutgoingHttpHeaders, ServerResponse } from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { Effect, Stream } from "effect"
import { Cookies, type HttpServerResponse } from "effect/http"
import type { ServerRequest } from "./ServerRequest.ts"

const isNodeReadable = (u: unknown): u is NodeJS.ReadableStream =>
  typeof u === "object" && u !== null && typeof (u as { pipe?: unknown }).pipe === "function"

const headersOf = (response: HttpServerResponse.HttpServerResponse): OutgoingHttpHeaders => {
  const headers = response.headers as OutgoingHttpHeaders
  if (Cookies.isEmpty(response.cookies)) return headers
  const cookies = Cookies.toSetCookieHeaders(response.cookies)
  const existing = headers["set-cookie"]
  return { ...headers, "set-cookie": existing === undefined ? cookies : [...[existing].flat().map(String), ...cookies] }
}

const discard = (body: HttpServerResponse.HttpServerResponse["body"]) =>
  Effect.sync(() => {
    if (body._tag === "Raw" && isNodeReadable(body.body)) (body.body as Readable).destroy?.()
  })

/** pipes a Node readable into the response; fails if either side errors */
const pipeReadable = (res: ServerResponse, readable: NodeJS.ReadableStream) =>
  Effect.tryPromise({ try: (signal) => pipeline(readable, res, { signal }), catch: (cause) => cause })

/** writes a `Stream` body chunk by chunk, waiting for `drain` when Node's buffer is full */
const pipeStream = (res: ServerResponse, stream: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runForEach(stream, (chunk) =>
    res.write(chunk)
      ? Effect.void
      : Effect.callback<void>((resume) => {
          const done = () => {
            res.off("drain", done)
            res.off("close", done)
            resume(Effect.void)
          }
          res.on("drain", done)
          res.on("close", done)
        })
  ).pipe(Effect.andThen(Effect.sync(() => res.end())))

const streamed = (res: ServerResponse, effect: Effect.Effect<void, unknown>) =>
  effect.pipe(
    Effect.interruptible,
    Effect.catchCause((cause) =>
      Effect.sync(() => res.destroy()).pipe(
        Effect.andThen(Effect.logWarning("response body failed after the headers were sent", cause))
      )
    )
  )

const bodyOf = (
  res: ServerResponse,
  response: HttpServerResponse.HttpServerResponse,
  headers: OutgoingHttpHeaders
): Effect.Effect<void> => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      res.writeHead(response.status, response.statusText, headers)
      res.end()
      return Effect.void
    case "Uint8Array":
      res.writeHead(response.status, response.statusText, headers)
      res.end(body.text ?? body.body)
      return Effect.void
    case "Raw": {
      const raw = body.body
      res.writeHead(response.status, response.statusText, headers)
      if (isNodeReadable(raw)) return streamed(res, pipeReadable(res, raw))
      if (raw instanceof ReadableStream) return streamed(res, pipeReadable(res, Readable.fromWeb(raw as never)))
      res.end(raw as string | Uint8Array | undefined)
      return Effect.void
    }
    case "FormData": {
      const web = new Response(body.formData)
      res.writeHead(response.status, response.statusText, { ...headers, ...Object.fromEntries(web.headers) })
      return streamed(res, pipeReadable(res, Readable.fromWeb(web.body as never)))
    }
    case "Stream":
      res.writeHead(response.status, response.statusText, headers)
      return streamed(res, pipeStream(res, body.stream))
  }
}

/** writeBody — writes `response` for `request`; see the module comment for the contract. */
export const writeBody = (
  request: ServerRequest,
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<void> => {
  const res = request.response
  if (res.writableEnded || res.destroyed) return discard(response.body)
  try {
    if (response.status < 200 || response.status > 599) throw new RangeError(`invalid status ${response.status}`)
    const headers = headersOf(response)
    if (request.method === "HEAD" || response.status === 204 || response.status === 205 || response.status === 304) {
      res.writeHead(response.status, response.statusText, headers)
      res.end()
      return discard(response.body)
    }
    return bodyOf(res, response, headers)
  } catch (defect) {
    if (!res.headersSent) {
      res.writeHead(500, { "content-length": "0" })
      res.end()
    } else res.destroy()
    return Effect.logError("response could not be written", defect).pipe(Effect.andThen(discard(response.body)))
  }
}
