/**
 * Fuzzing the API server (fast-check): every input that reaches the service's own parsing code — the path parameter
 * of `/api/delay/:ms`, query strings, the deadline header `x-request-timeout-ms` — over real loopback sockets to the
 * real `ApiServer.layer` built in this process (ports 0, the real `Lifecycle`).
 *
 * Properties, for any generated input that Node's HTTP parser lets through to the service:
 * - the answer is never a 5xx (except the deadline's own 504, when a valid deadline has passed) and never a reset;
 * - a 4xx carries a message (a non-empty body), and what the service answers agrees with a model of the route: a
 *   valid `ms` waits and answers `{"waited":ms}`, anything else is a 400 naming the value; a valid deadline header
 *   runs the handler, anything else is a 400 naming the header;
 * - after every run the server still answers `/healthz`.
 * Requests are written raw (a socket, not an HTTP client) so that targets an HTTP client would refuse still arrive.
 * Deterministic: a fixed seed (FUZZ_SEED overrides it) and FUZZ_RUNS runs per property (default 200).
 *
 * JSON bodies: every route that parses a JSON body is in `jsonBodyRoutes` below (`POST /api/jobs`), fuzzed with any
 * JSON value, truncated JSON and binary text under several content types.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as DeadlineHeader from "../../src/toolkit/DeadlineHeader.ts"
import {
  exchange,
  isValidMs,
  param,
  pathText,
  runs,
  safeDecode,
  targetText,
  useApiServer,
  wellBehaved
} from "./server.ts"

useApiServer()

/**
 * jsonBodyRoutes — the routes that parse a JSON body, fuzzed with arbitrary bodies (any JSON value, truncated JSON,
 * bytes that are not JSON, the wrong content type). Add `POST /api/jobs` here when the jobs route lands.
 */
const jsonBodyRoutes: ReadonlyArray<{ readonly method: "POST" | "PUT"; readonly path: string }> = [
  { method: "POST", path: "/api/jobs" }
]

describe("fuzz: the API server's inputs", () => {
  it("/api/delay/:ms with any parameter: the model's answer, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(param, async (raw) => {
        const answer = await exchange(`/api/delay/${raw}`)
        wellBehaved(answer, `ms=${JSON.stringify(raw)}`)
        if (answer.status === 404) return // the router found no route for this target (e.g. an empty parameter)
        const value = safeDecode(raw)
        if (isValidMs(value)) {
          expect([answer.status, JSON.parse(answer.body)]).toEqual([200, { waited: Number(value) }])
        } else {
          expect(answer.status, `ms=${JSON.stringify(raw)}`).toBe(400)
          expect(JSON.parse(answer.body).error).toMatch(/^ms must be an integer from 0 to 60000, got /)
        }
      }),
      runs
    )
  })

  it("any path and any query string: never a 5xx, and a query never changes the answer", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/healthz", "/readyz", "/api/delay/1", "/api/delay/x", "/unknown"),
        pathText,
        targetText,
        async (path, extra, query) => {
          const plain = await exchange(path)
          const withQuery = await exchange(`${path}?${query}`)
          expect(withQuery.status, `?${query}`).toBe(plain.status)
          wellBehaved(withQuery, `${path}?${query}`)
          wellBehaved(await exchange(`/${extra}`), `/${extra}`)
        }
      ),
      runs
    )
  })

  it(`${DeadlineHeader.name} with any value: runs under it when valid, 400 naming it otherwise`, async () => {
    const headerText = fc.oneof(
      fc.integer({ min: 1, max: 999_999_999 }).map(String),
      fc.stringMatching(/^\d{10,12}$/),
      fc.constantFrom("0", "00", "-1", "1.0", "1e3", "5s", "", "  7  ", "1, 2", "٣"),
      fc.string({ unit: fc.constantFrom(..." \t0123456789abc.,;:-+=/\"'()<>".split("")), maxLength: 16 })
    )
    await fc.assert(
      fc.asyncProperty(headerText, fc.boolean(), async (value, twice) => {
        const lines = twice
          ? [`${DeadlineHeader.name}: ${value}`, `${DeadlineHeader.name}: ${value}`]
          : [`${DeadlineHeader.name}: ${value}`]
        const answer = await exchange("/api/delay/1", lines)
        const sent = value.trim()
        const parsed = twice ? undefined : DeadlineHeader.parse(sent)
        if (parsed === 0) {
          expect(answer.status, "a deadline of 0 is already late").toBe(504)
        } else if (parsed !== undefined) {
          expect(answer.status, `${JSON.stringify(value)}: ${answer.raw.slice(0, 200)}`).toBe(200)
        } else {
          wellBehaved(answer, JSON.stringify(value))
          expect(answer.status).toBe(400)
          expect(JSON.parse(answer.body).error).toContain(DeadlineHeader.name)
        }
      }),
      runs
    )
  })

  it("DeadlineHeader.parse on any string: a number in range exactly for 1 to 9 ASCII digits", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 14 }), (value) => {
        const parsed = DeadlineHeader.parse(value)
        if (/^[0-9]{1,9}$/.test(value)) expect(parsed).toBe(Number(value))
        else expect(parsed).toBeUndefined()
      }),
      { ...runs, numRuns: runs.numRuns * 10 }
    )
  })

  it("JSON bodies on every body route: never a 5xx, a 4xx says why", async () => {
    const body = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.json({ maxDepth: 3 }).chain((json) => fc.nat(json.length).map((cut) => json.slice(0, cut))),
      fc.string({ unit: "binary", maxLength: 64 })
    )
    const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "")
    for (const route of jsonBodyRoutes) {
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, type) => {
          const headers = type === "" ? [] : [`Content-Type: ${type}`]
          const answer = await exchange(route.path, headers, { method: route.method, body: text })
          wellBehaved(answer, `${route.method} ${route.path} ${JSON.stringify(text)}`)
        }),
        runs
      )
    }
  })

  it("after the fuzzing the server still answers", async () => {
    expect((await exchange("/healthz")).status).toBe(200)
  })
})
