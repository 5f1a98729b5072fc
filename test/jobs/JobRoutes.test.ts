/**
 * JobRoutes — `POST /api/jobs` and `GET /api/jobs/:id` on the real `ApiServer` (127.0.0.1:0, real sockets, `fetch`),
 * with the pool on test lanes whose jobs wait for a gate the test opens: the 202 and the `Location`, each 400 and 413
 * with its message, 503 + `Retry-After` when the queue is full and once a shutdown has begun (during the shutdown
 * delay, while the server still serves), and the 404.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Metric, References, type Scope } from "effect"
import { maxInputLength } from "../../src/jobs/Job.ts"
import { JobExecutor } from "../../src/jobs/JobExecutor.ts"
import { JobPool } from "../../src/jobs/JobPool.ts"
import * as JobRoutes from "../../src/jobs/JobRoutes.ts"
import { JobsConfig } from "../../src/jobs/JobsConfig.ts"
import { ApiServer } from "../../src/layers/ApiServer.ts"
import { AppConfig } from "../../src/services/AppConfig.ts"
import { FiberDump, makeRegistry } from "../../src/services/FiberDump.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { withLayer } from "../support/lifecycle.ts"

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly json: Record<string, unknown>
}

/** call — one request with `fetch` (bounded by 5 s of real time); `body` is sent as is */
const call = (
  port: number,
  method: string,
  path: string,
  body?: string | ReadableStream<Uint8Array>,
  headers?: Record<string, string>
) =>
  Effect.promise(async (): Promise<Answer> => {
    const init: RequestInit & { duplex?: "half" } = { method, signal: AbortSignal.timeout(5_000) }
    if (body !== undefined) init.body = body
    if (headers !== undefined) init.headers = headers
    if (body instanceof ReadableStream) init.duplex = "half"
    const response = await fetch(`http://127.0.0.1:${port}${path}`, init)
    const text = await response.text()
    return { status: response.status, headers: response.headers, json: text === "" ? {} : JSON.parse(text) }
  })

const post = (port: number, body: unknown) => call(port, "POST", "/api/jobs", JSON.stringify(body))

/** run — `body` with the API server serving the jobs routes; jobs answer `r:<input>` once `gate` opens */
const run = <A, E>(
  body: (port: number, gate: Deferred.Deferred<void>) => Effect.Effect<A, E, JobPool | Lifecycle | Scope.Scope>
) =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const lanes = JobExecutor.layerTest((task) => Deferred.await(gate).pipe(Effect.as(`r:${task.request.input}`)))
    const layer = ApiServer.layerWith(JobRoutes.layer).pipe(
      Layer.provideMerge(JobPool.layer),
      Layer.provideMerge(
        Layer.mergeAll(
          lanes,
          JobsConfig.layerTest({ workerThreads: 1, queueSize: 1 }),
          Lifecycle.layerTest,
          AppConfig.layerTest({ shutdownDelay: Duration.seconds(5), shutdownTimeout: Duration.seconds(20) }),
          Layer.succeed(References.MinimumLogLevel, "Error")
        )
      )
    )
    const port = ApiServer.use((server) => Effect.succeed(server.address.port))
    return yield* Effect.flatMap(port, (p) => body(p, gate)).pipe(
      Effect.ensuring(Deferred.succeed(gate, undefined)),
      withLayer(layer, "30 seconds")
    )
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provideService(FiberDump, makeRegistry()))

describe("JobRoutes", () => {
  it.effect("POST answers 202 { id } with Location; GET follows the job to done with its result", () =>
    run((port, gate) =>
      Effect.gen(function* () {
        const accepted = yield* post(port, { kind: "hash", input: "a", rounds: 10 })
        expect(accepted.status).toBe(202)
        const id = accepted.json.id as string
        expect(accepted.headers.get("location")).toBe(`/api/jobs/${id}`)
        const pending = yield* call(port, "GET", `/api/jobs/${id}`)
        expect(pending.status).toBe(200)
        expect(pending.json).toEqual({ id, kind: "hash", rounds: 10, status: "running" })
        yield* Deferred.succeed(gate, undefined)
        const done = yield* call(port, "GET", `/api/jobs/${id}`)
        expect(done.json).toEqual({ id, kind: "hash", rounds: 10, status: "done", result: "r:a" })
      })
    )
  )

  it.effect("invalid input answers 400 naming what was wrong; a body too large answers 413", () =>
    run((port) =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
          [{ kind: "sleep", input: "a", rounds: 1 }, /invalid job: Expected "hash" at \["kind"\]/],
          [
            { kind: "hash", input: "a", rounds: 0 },
            /invalid job: Expected a value between 1 and 5000000 at \["rounds"\]/
          ],
          [{ kind: "hash", input: "a", rounds: 5_000_001 }, /between 1 and 5000000 at \["rounds"\]/],
          [{ kind: "hash", input: "a", rounds: 1.5 }, /Expected an integer.* at \["rounds"\]/],
          [{ kind: "hash", input: "a".repeat(maxInputLength + 1), rounds: 1 }, /at \["input"\]/],
          [{ kind: "hash", rounds: 1 }, /Missing key at \["input"\]/],
          [[1, 2], /invalid job/]
        ]
        for (const [body, message] of cases) {
          const answer = yield* post(port, body)
          expect([answer.status, answer.json.error]).toEqual([400, expect.stringMatching(message)])
        }
        const malformed = yield* call(port, "POST", "/api/jobs", "{not json")
        expect([malformed.status, malformed.json.error]).toEqual([
          400,
          expect.stringMatching(/^the body is not JSON: /)
        ])
        const empty = yield* call(port, "POST", "/api/jobs")
        expect(empty.status).toBe(400)

        const big = JSON.stringify({ kind: "hash", input: "x".repeat(JobRoutes.maxBodyBytes), rounds: 1 })
        const declared = yield* call(port, "POST", "/api/jobs", big)
        expect([declared.status, declared.json.error]).toEqual([
          413,
          `the body is larger than ${JobRoutes.maxBodyBytes} bytes`
        ])
        const chunked = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(big))
            controller.close()
          }
        })
        expect((yield* call(port, "POST", "/api/jobs", chunked)).status).toBe(413)
      })
    )
  )

  it.effect("a full queue answers 503 with Retry-After; an unknown id answers 404", () =>
    run((port) =>
      Effect.gen(function* () {
        expect((yield* post(port, { kind: "hash", input: "a", rounds: 1 })).status).toBe(202) // running
        expect((yield* post(port, { kind: "hash", input: "b", rounds: 1 })).status).toBe(202) // queued
        const full = yield* post(port, { kind: "hash", input: "c", rounds: 1 })
        expect([full.status, full.headers.get("retry-after"), full.json.error]).toEqual([
          503,
          "1",
          "the job queue is full (1 jobs waiting): retry later"
        ])
        const unknown = yield* call(port, "GET", "/api/jobs/no-such-id")
        expect([unknown.status, unknown.json.error]).toEqual([404, 'no job "no-such-id"'])
      })
    )
  )

  it.effect("once a shutdown has begun, POST answers 503 while the server still serves GET", () =>
    run((port) =>
      Effect.gen(function* () {
        const id = (yield* post(port, { kind: "hash", input: "a", rounds: 1 })).json.id as string
        const lifecycle = yield* Lifecycle
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        const refused = yield* post(port, { kind: "hash", input: "b", rounds: 1 })
        expect([refused.status, refused.headers.get("retry-after"), refused.json.error]).toEqual([
          503,
          "1",
          "the service is shutting down and accepts no new jobs"
        ])
        expect((yield* call(port, "GET", `/api/jobs/${id}`)).json.status).toBe("running")
        yield* Fiber.interrupt(shutdown)
      })
    )
  )
})
