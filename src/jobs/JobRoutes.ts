/**
 * JobRoutes — the jobs API as ordinary `HttpRouter` routes on the `JobPool`:
 * - `POST /api/jobs` with a JSON `Job.Request` → 202 `{ id }` and `Location: /api/jobs/<id>`. A body over
 *   `maxBodyBytes` → 413; a body that is not JSON, or not a valid request (unknown `kind`, `rounds` out of range,
 *   `input` too long or not a string) → 400; each with `{ error }` naming what was wrong. A full queue → 503 with
 *   `Retry-After: 1`; a shutdown under way → 503 with `Retry-After: 1` and `Connection: close` (retry elsewhere).
 * - `GET /api/jobs/:id` → 200 `Job.View`; 404 for an unknown id or one retention has forgotten.
 * The body is checked against the limit before it is read (`Content-Length`) and while it is read (chunked bodies).
 */
import { ByteSize, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { MaxBodySize } from "effect/http/HttpIncomingMessage"
import * as Job from "./Job.ts"
import { JobPool } from "./JobPool.ts"

/** maxBodyBytes — the largest `POST /api/jobs` body accepted (room for the longest input, JSON-escaped). */
export const maxBodyBytes = 64 * 1024

const error = (status: number, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ error: message }, { status, ...(headers === undefined ? {} : { headers }) })

const tooLarge = error(413, `the body is larger than ${maxBodyBytes} bytes`)

const submit = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const declared = Number(request.headers["content-length"] ?? 0)
  if (declared > maxBodyBytes) return tooLarge
  const body = yield* request.text.pipe(
    Effect.provideService(MaxBodySize, ByteSize.bytes(maxBodyBytes)),
    Effect.map((text) => ({ ok: true as const, text })),
    Effect.catch((e) =>
      Effect.succeed({
        ok: false as const,
        tooLarge: e.reason._tag === "RequestParseError" && e.reason.reason === "BodyTooLarge"
      })
    )
  )
  if (!body.ok) return body.tooLarge ? tooLarge : error(400, "the body could not be read")
  let json: unknown
  try {
    json = JSON.parse(body.text)
  } catch (e) {
    return error(400, `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  const decoded = yield* Schema.decodeUnknownEffect(Job.Request)(json).pipe(Effect.result)
  if (decoded._tag === "Failure") return error(400, `invalid job: ${decoded.failure.message.replace(/\s*\n\s*/g, " ")}`)
  const pool = yield* JobPool
  return yield* pool.submit(decoded.success).pipe(
    Effect.map((id) =>
      HttpServerResponse.jsonUnsafe({ id }, { status: 202, headers: { location: `/api/jobs/${id}` } })
    ),
    Effect.catchTags({
      QueueFull: (e) => Effect.succeed(error(503, e.message, { "retry-after": "1" })),
      PoolStopping: (e) => Effect.succeed(error(503, e.message, { "retry-after": "1", connection: "close" }))
    })
  )
})

const status = Effect.gen(function* () {
  const id = (yield* HttpRouter.params).id ?? ""
  const view = (yield* JobPool).get(id)
  return view === undefined ? error(404, `no job ${JSON.stringify(id)}`) : HttpServerResponse.jsonUnsafe(view)
})

/** JobRoutes.layer — the two routes; needs the `JobPool`. */
export const layer = Layer.mergeAll(
  HttpRouter.add("POST", "/api/jobs", submit),
  HttpRouter.add("GET", "/api/jobs/:id", status)
)
