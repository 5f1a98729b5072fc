/**
 * fuzz/server — what the HTTP fuzzing shares: the real `ApiServer` (with the jobs routes, over a thread-less pool) built in this process on a free loopback port
 * (with the real `Lifecycle`, logs at error level), a raw-socket `exchange` that writes any request target and reads
 * the whole answer, the generators of request targets, and `wellBehaved`, the checks every answer passes.
 * `useApiServer()` (call it at the top of a test file) builds the server before the file's tests and releases it after.
 */
import net from "node:net"
import { afterAll, beforeAll, expect } from "@effect/vitest"
import { Context, Effect, Exit, Layer, References, Scope } from "effect"
import fc from "fast-check"
import { JobExecutor } from "../../src/jobs/JobExecutor.ts"
import { JobPool } from "../../src/jobs/JobPool.ts"
import * as JobRoutes from "../../src/jobs/JobRoutes.ts"
import { JobsConfig } from "../../src/jobs/JobsConfig.ts"
import { ApiServer, maxDelayMillis } from "../../src/layers/ApiServer.ts"
import { AppConfig } from "../../src/services/AppConfig.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"

/** seed, numRuns — fixed (FUZZ_SEED, FUZZ_RUNS override them), as `fc.assert` parameters */
export const runs = {
  seed: Number(process.env.FUZZ_SEED ?? 20261129),
  numRuns: Number(process.env.FUZZ_RUNS ?? 200),
  endOnFailure: true
}

/** the longest `ms` the fuzzer lets the route actually wait (longer valid values are generated only as invalid ones) */
export const maxWait = 20

/** Answer — a raw HTTP answer. */
export interface Answer {
  readonly status: number
  readonly body: string
  readonly raw: string
}

let port = 0

/** useApiServer — builds the server before the calling file's tests, releases it after them. */
export const useApiServer = (): void => {
  let scope: Scope.Closeable | undefined
  beforeAll(async () => {
    const built = Effect.runSync(Scope.make())
    scope = built
    // the jobs routes parse JSON bodies: served over a pool whose lanes answer at once (no threads)
    const jobs = JobPool.layer.pipe(
      Layer.provide(
        Layer.merge(
          JobExecutor.layerTest(() => Effect.succeed("digest")),
          JobsConfig.layerTest({ workerThreads: 1 })
        )
      )
    )
    const layer = ApiServer.layerWith(JobRoutes.layer).pipe(
      Layer.provide(jobs),
      Layer.provideMerge(
        Layer.mergeAll(
          Lifecycle.layerTest,
          AppConfig.layerTest({ host: "127.0.0.1", port: 0 }),
          Layer.succeed(References.MinimumLogLevel, "Error")
        )
      )
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, built))
    port = Context.get(context, ApiServer).address.port
  })
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })
}

/** exchange — writes one request (`Connection: close`) and reads the whole answer; rejects on a reset or after 5 s. */
export const exchange = (
  target: string,
  headers: ReadonlyArray<string> = [],
  request: { readonly method: string; readonly body: string } = { method: "GET", body: "" }
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    const timer = setTimeout(() => socket.destroy(new Error(`no answer in 5 s to ${JSON.stringify(target)}`)), 5_000)
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once("end", () => {
      clearTimeout(timer)
      const raw = Buffer.concat(chunks).toString("utf8")
      const [head = "", ...rest] = raw.split("\r\n\r\n")
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0)
      const chunked = /\r\ntransfer-encoding: chunked/i.test(head)
      const body = rest.join("\r\n\r\n")
      resolve({ status, body: chunked ? unchunk(body) : body, raw })
    })
    const length = request.body === "" ? [] : [`Content-Length: ${Buffer.byteLength(request.body)}`]
    const lines = [...headers, ...length, "Connection: close"].map((line) => `${line}\r\n`).join("")
    socket.write(`${request.method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}\r\n${request.body}`)
  })

const unchunk = (body: string) => {
  let out = ""
  let rest = body
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n")
    const size = Number.parseInt(rest.slice(0, end), 16)
    if (!(size > 0)) break
    out += rest.slice(end + 2, end + 2 + size)
    rest = rest.slice(end + 2 + size + 2)
  }
  return out
}

/** characters Node's parser accepts in a request target: RFC 3986 pchar, `/`, `?`, `%` and hex digits */
export const targetChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789-._~!$&'()*+,;=:@/?%".split(""),
  "%20",
  "%2F",
  "%00",
  "%ZZ",
  "%E2%82%AC",
  "%C3",
  "%FF"
)
export const targetText = fc.array(targetChar, { maxLength: 40 }).map((parts) => parts.join(""))

/** decodes — `decodeURIComponent` accepts `text` (no `%` without two hex digits, no broken UTF-8) */
export const decodes = (text: string): boolean => {
  try {
    decodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

/** safeDecode — `raw` decoded, or `raw` itself when it does not decode */
export const safeDecode = (raw: string): string => (decodes(raw) ? decodeURIComponent(raw) : raw)

/** pathText — a request path the router can decode (undecodable ones: `undecodablePath`) */
export const pathText = targetText.filter(decodes)

/** undecodablePath — a path holding a percent-sequence that does not decode (`%ZZ`, a lone `%C3`, `%FF`) */
export const undecodablePath = fc
  .tuple(targetText, fc.constantFrom("%ZZ", "%C3", "%FF", "%", "%4", "%E2%82"), targetText)
  .map(([before, bad, after]) => `${before}${bad}${after}`.replaceAll("?", ""))
  .filter((text) => !decodes(text))

/** what the service does with `ms`: wait, or refuse (the same test as the route's) */
export const isValidMs = (raw: string) => /^\d{1,9}$/.test(raw) && Number(raw) <= maxDelayMillis

/** a parameter: digits (valid, too long, too large), any text, or any Unicode percent-encoded; never a long wait */
export const param = fc
  .oneof(
    fc.integer({ min: 0, max: maxWait }).map(String),
    fc.stringMatching(/^\d{10,14}$/),
    fc.integer({ min: maxDelayMillis + 1, max: 999_999_999 }).map(String),
    fc.constantFrom("-1", "+5", "1e3", "0x10", "1.5", " 1", "1 ", "", "NaN", "Infinity", "٣").map(encodeURIComponent),
    pathText.map((text) => text.replaceAll("/", "").replaceAll("?", "")),
    fc.string({ unit: "grapheme", maxLength: 12 }).map(encodeURIComponent)
  )
  .filter((raw) => !(isValidMs(safeDecode(raw)) && Number(safeDecode(raw)) > maxWait))

/** the checks every answer passes: answered, no 5xx, a 4xx says why */
export const wellBehaved = (answer: Answer, what: string) => {
  expect(answer.status, `${what}: ${answer.raw.slice(0, 300)}`).toBeGreaterThanOrEqual(200)
  expect(answer.status, `${what}: ${answer.raw.slice(0, 300)}`).toBeLessThan(500)
  if (answer.status >= 400) expect(answer.body.length, `${what}: a 4xx carries a message`).toBeGreaterThan(0)
}
