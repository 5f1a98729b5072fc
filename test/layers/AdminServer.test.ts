/**
 * AdminServer — the real `AdminServer.layer` and `ApiServer.layer` on 127.0.0.1:0 sharing one real `Lifecycle`,
 * reached over real sockets: `/metrics` (Prometheus text, exact counts, the in-flight gauge read at scrape time, the
 * shutdown phases), `/debug/fibers` (in-flight requests and the group's members) and `POST /shutdown`. Each test gets
 * its own metric registry and fiber dump; handler delays and shutdown phases run on the TestClock.
 */
import net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Redacted, References, Scope } from "effect"
import { TestClock } from "effect/testing"
import { ShutdownRequested } from "../../src/Errors.ts"
import * as Group from "../../src/Group.ts"
import * as AdminGuard from "../../src/http/AdminGuard.ts"
import { AdminServer } from "../../src/layers/AdminServer.ts"
import { ApiServer } from "../../src/layers/ApiServer.ts"
import { AppConfig, type AppConfigValues } from "../../src/services/AppConfig.ts"
import {
  type Dump,
  detailLimit,
  FiberDump,
  type FiberEntry,
  type FiberRegistry,
  makeRegistry,
  maxLabelLength
} from "../../src/services/FiberDump.ts"
import { Lifecycle, make as makeLifecycle } from "../../src/services/Lifecycle.ts"
import { connect, fetchAnswer, realSleep, waitFor, within } from "../support/http-client.ts"
import { captureLogs, fakeServer, type LogLine, withLayer } from "../support/lifecycle.ts"
import { request } from "./request.ts"

/** both servers, as the program builds them: one (fresh) Lifecycle they register with, ports 0; logs kept quiet */
const serversLayer = (config: Partial<AppConfigValues>, logs?: Array<LogLine>) =>
  Layer.mergeAll(ApiServer.layer, AdminServer.layer).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Lifecycle.layerTest,
        AppConfig.layerTest(config),
        logs === undefined ? Layer.succeed(References.MinimumLogLevel, "Error") : captureLogs(logs)
      )
    )
  )

/** run — `body` with both servers bound, a fresh metric registry and the given (default: fresh) fiber dump. */
const run = <A, E>(
  body: Effect.Effect<A, E, ApiServer | AdminServer | Lifecycle | Scope.Scope>,
  options: {
    readonly config?: Partial<AppConfigValues>
    readonly dump?: FiberRegistry
    readonly logs?: Array<LogLine>
  } = {}
) =>
  body.pipe(
    withLayer(serversLayer(options.config ?? {}, options.logs)),
    Effect.provideService(Metric.MetricRegistry, new Map()),
    Effect.provideService(FiberDump, options.dump ?? makeRegistry())
  )

/** http — one request with `fetch` (bounded by 2 s of real time). */
const http = fetchAnswer

const ports = Effect.gen(function* () {
  return { api: (yield* ApiServer).address.port, admin: (yield* AdminServer).address.port }
})

/** Sample — one line of the exposition: `name{labels} value`. */
interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** parse — the samples of a Prometheus text exposition; throws on a line that is neither a sample nor a comment. */
const parse = (text: string): ReadonlyArray<Sample> =>
  text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = sampleLine.exec(line)
      if (match === null) throw new Error(`not a Prometheus sample: ${JSON.stringify(line)}`)
      const labels = Object.fromEntries([...(match[2] ?? "").matchAll(labelPair)].map((m) => [m[1]!, m[2]!]))
      const value = match[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[3])
      return { name: match[1]!, labels, value }
    })

const sameLabels = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v)

/** value — the value of the sample with exactly these labels, `undefined` if there is none. */
const value = (samples: ReadonlyArray<Sample>, name: string, labels: Readonly<Record<string, string>>) =>
  samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value

/** scrape — `GET /metrics` on the admin server, checked to be Prometheus text, parsed. */
const scrape = (adminPort: number) =>
  Effect.gen(function* () {
    const answer = yield* http(adminPort, "/metrics")
    expect([answer.status, answer.contentType]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8"])
    return { text: answer.body, samples: parse(answer.body) }
  })

const fibers = (adminPort: number) =>
  Effect.gen(function* () {
    const answer = yield* http(adminPort, "/debug/fibers")
    expect([answer.status, answer.contentType]).toEqual([200, "application/json"])
    return (JSON.parse(answer.body) as { fibers: ReadonlyArray<FiberEntry> }).fibers
  })

/**
 * openAll — one connection per path, each sending `GET path` with `headers`; resolves once all are connected and
 * written (bounded by 30 s of real time). Plain sockets: a thousand of them cost a thousand handles, nothing more.
 */
const openAll = (port: number, paths: ReadonlyArray<string>, headers: ReadonlyArray<string>) =>
  Effect.promise(() => {
    const sockets = paths.map((path) => {
      const socket = net.connect({ port, host: "127.0.0.1" })
      socket.on("error", () => {})
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`)
      return socket
    })
    const connected = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once("connect", resolve))))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${paths.length} connections not open after 30 s`)), 30_000)
    })
    return Promise.race([connected, timeout])
      .then(() => sockets)
      .finally(() => clearTimeout(timer))
  })

/**
 * otherLifecycle — a second, independent Lifecycle recording into the same metric registry, so the one under test
 * can shut down while the admin server stays up to be scraped.
 */
const otherLifecycle = Effect.sync(makeLifecycle)

const inFlight = (server: ApiServer["Service"], n: number) =>
  waitFor(`${n} request(s) in flight`, () => server.tracker.inFlight() === n)

describe("AdminServer /metrics", () => {
  it.effect("is Prometheus text with the exact count of each route, method and status, by route pattern", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        for (let i = 0; i < 3; i++) yield* http(port.api, "/healthz")
        yield* http(port.api, "/nope")
        yield* http(port.api, "/nope/deeper")
        yield* http(port.api, "/nope", "DELETE")
        yield* http(port.api, "/nope", "POST")
        yield* (yield* Lifecycle).setReady(false)
        yield* http(port.api, "/readyz") // turned off: 503
        yield* http(port.api, "/api/delay/abc")

        const { text, samples } = yield* scrape(port.admin)
        const total = (route: string, method: string, status: string) =>
          value(samples, "http_requests_total", { server: "api", route, method, status })
        expect(total("/healthz", "GET", "200")).toBe(3)
        expect(total("*", "GET", "404")).toBe(2)
        expect(total("*", "DELETE", "404")).toBe(1)
        expect(total("*", "POST", "404")).toBe(1)
        expect(total("/readyz", "GET", "503")).toBe(1)
        expect(total("/api/delay/:ms", "GET", "400")).toBe(1)
        expect(samples.filter((s) => s.name === "http_requests_total" && s.labels.server === "api")).toHaveLength(6)
        expect(text).toContain('http_requests_total{server="api",route="/healthz",method="GET",status="200"} 3\n')
        expect(text).toContain('http_requests_total{server="api",route="*",method="DELETE",status="404"} 1\n')
        // the raw path never becomes a label
        expect(text).not.toContain("/nope")
        expect(text).not.toContain("abc")
        expect(text).toMatch(/^# TYPE http_requests_total counter$/m)
        expect(text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m)
        expect(text).toMatch(/^# TYPE http_requests_in_flight gauge$/m)

        // the scrape is itself observed, once it has been answered
        const again = yield* scrape(port.admin)
        expect(
          value(again.samples, "http_requests_total", {
            server: "admin",
            route: "/metrics",
            method: "GET",
            status: "200"
          })
        ).toBe(1)
      })
    )
  )

  it.effect("counts every request whatever its method or path: TRACE, PROPFIND, /%ZZ, 405s, with bounded labels", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const answers = [
          yield* request(port.api, "/x", { method: "TRACE" }),
          yield* request(port.api, "/x", { method: "PROPFIND" }),
          yield* request(port.api, "/x", { method: "MKCOL" }),
          yield* request(port.api, "/%ZZ"),
          yield* request(port.api, "/%ZZ", { method: "POST" }),
          yield* request(port.api, "/healthz", { method: "POST" }),
          yield* request(port.api, "/healthz", { method: "HEAD" }),
          yield* request(port.api, "/x?access_token=abc")
        ]
        expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 405, 200, 404])
        expect(answers[5]!.headers.allow).toBe("GET, HEAD")

        const { text, samples } = yield* scrape(port.admin)
        const total = (route: string, method: string, status: string) =>
          value(samples, "http_requests_total", { server: "api", route, method, status })
        expect(total("*", "TRACE", "404")).toBe(1)
        expect(total("*", "_OTHER", "404")).toBe(2)
        expect(total("*", "GET", "404")).toBe(2)
        expect(total("*", "POST", "404")).toBe(1)
        expect(total("*", "POST", "405")).toBe(1)
        expect(total("/healthz", "HEAD", "200")).toBe(1)
        expect(samples.filter((s) => s.name === "http_requests_total" && s.labels.server === "api")).toHaveLength(6)
        for (const raw of ["PROPFIND", "MKCOL", "%ZZ", "/x", "access_token"]) expect(text).not.toContain(raw)
      })
    )
  )

  it.effect("the duration histogram has cumulative buckets whose +Inf bucket equals the count", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        for (let i = 0; i < 4; i++) yield* http(port.api, "/healthz")
        yield* http(port.api, "/nope")
        yield* http(port.api, "/nope", "PUT")

        const { samples } = yield* scrape(port.admin)
        for (const [route, count] of [
          ["/healthz", 4],
          ["*", 2]
        ] as const) {
          const labels = { server: "api", route }
          const buckets = samples.filter(
            (s) => s.name === "http_request_duration_seconds_bucket" && s.labels.route === route
          )
          expect(buckets.map((b) => b.labels.le)).toEqual([
            ...["0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60"],
            "+Inf"
          ])
          buckets.forEach((b, i) => {
            if (i > 0) expect(b.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value)
          })
          expect(value(samples, "http_request_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(count)
          expect(value(samples, "http_request_duration_seconds_count", labels)).toBe(count)
          // every request here took far less than a minute
          expect(value(samples, "http_request_duration_seconds_bucket", { ...labels, le: "60" })).toBe(count)
          const sum = value(samples, "http_request_duration_seconds_sum", labels)!
          expect(sum).toBeGreaterThan(0)
          expect(sum).toBeLessThan(count * 60)
        }
      })
    )
  )

  it.effect("http_requests_in_flight is the number of requests held at scrape time", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const api = yield* ApiServer
        const inFlightOf = (samples: ReadonlyArray<Sample>, server: string) =>
          value(samples, "http_requests_in_flight", { server })
        expect(inFlightOf((yield* scrape(port.admin)).samples, "api")).toBe(0)

        const first = yield* connect(port.api)
        const second = yield* connect(port.api)
        yield* first.send("/api/delay/10000")
        yield* second.send("/api/delay/20000")
        yield* inFlight(api, 2)
        const held = (yield* scrape(port.admin)).samples
        expect(inFlightOf(held, "api")).toBe(2)
        expect(inFlightOf(held, "admin")).toBe(1) // the scrape itself

        yield* TestClock.adjust("10 seconds")
        expect((yield* first.next()).body).toBe('{"waited":10000}')
        yield* inFlight(api, 1)
        expect(inFlightOf((yield* scrape(port.admin)).samples, "api")).toBe(1)

        yield* TestClock.adjust("10 seconds")
        expect((yield* second.next()).body).toBe('{"waited":20000}')
        yield* inFlight(api, 0)
        expect(inFlightOf((yield* scrape(port.admin)).samples, "api")).toBe(0)
      })
    )
  )

  it.effect("shutdown_phase_seconds has a series per phase once a shutdown completed, and release once released", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const before = yield* scrape(port.admin)
        expect(before.text).not.toContain("shutdown_phase_seconds")

        // A second Lifecycle (same registry) is shut down, so the admin server stays up to be scraped.
        const scope = yield* Scope.make()
        const lifecycle = yield* otherLifecycle
        yield* lifecycle.register(fakeServer([], "other", { shutdownDelay: "2 seconds" })).pipe(Scope.provide(scope))
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })

        const phase = (samples: ReadonlyArray<Sample>, name: string) =>
          value(samples, "shutdown_phase_seconds", { phase: name })
        const after = (yield* scrape(port.admin)).samples
        expect(after.filter((s) => s.name === "shutdown_phase_seconds").map((s) => s.labels.phase)).toEqual([
          "unready",
          "stop",
          "drain"
        ])
        expect([phase(after, "unready"), phase(after, "stop"), phase(after, "drain")]).toEqual([2, 0, 0])

        yield* TestClock.adjust("3 seconds")
        yield* Scope.close(scope, Exit.void)
        expect(phase((yield* scrape(port.admin)).samples, "release")).toBe(3)
      })
    )
  )

  it.effect("a shutdown whose budget runs out records the force phase instead of drain", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const scope = yield* Scope.make()
        const lifecycle = yield* otherLifecycle
        yield* lifecycle
          .register(fakeServer([], "stuck", { drained: Effect.never, budget: "1 second" }))
          .pipe(Scope.provide(scope))
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })

        const samples = (yield* scrape(port.admin)).samples
        expect(
          samples.filter((s) => s.name === "shutdown_phase_seconds").map((s) => [s.labels.phase, s.value])
        ).toEqual([
          ["unready", 0],
          ["stop", 0],
          ["force", 0]
        ])
        yield* Scope.close(scope, Exit.void)
      })
    )
  )
})

describe("AdminServer /debug/fibers", () => {
  it.effect("lists an in-flight API request with its label and age, until it completes", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const api = yield* ApiServer
        const client = yield* connect(port.api)
        yield* client.send("/api/delay/10000")
        yield* inFlight(api, 1)
        yield* realSleep(50)

        const listed = yield* fibers(port.admin)
        const entry = listed.find((f) => f.label === "api GET /api/delay/10000")
        expect(entry).toBeDefined()
        expect(entry!.done).toBe(false)
        expect(entry!.ageMillis).toBeGreaterThanOrEqual(40)
        // and the dump's own request, in flight while it answers
        expect(listed.map((f) => f.label).sort()).toEqual(["admin GET /debug/fibers", "api GET /api/delay/10000"])

        yield* TestClock.adjust("10 seconds")
        yield* client.next()
        yield* inFlight(api, 0)
        expect((yield* fibers(port.admin)).map((f) => f.label)).toEqual(["admin GET /debug/fibers"])
      })
    )
  )

  it.effect("1100 requests in flight with secrets in queries and headers: bounded, redacted, counted by group", () => {
    const dump = makeRegistry()
    return run(
      Effect.gen(function* () {
        const port = yield* ports
        const api = yield* ApiServer
        const secret = `access-${"s".repeat(2_000)}`
        const headers = [`Authorization: Bearer hdr-${secret}`, `X-Api-Key: key-${secret}`]
        const count = 1_100
        const paths = Array.from({ length: count }, (_, i) =>
          // every tenth one with a 3000-character path (duplicate slashes still match the route)
          i % 10 === 0
            ? `${"/".repeat(3_000)}api/delay/10000?access_token=${secret}`
            : `/api/delay/10000?access_token=${secret}&i=${i}`
        )
        const sockets = yield* Effect.acquireRelease(openAll(port.api, paths, headers), (sockets) =>
          Effect.sync(() => {
            for (const socket of sockets) socket.destroy()
          })
        )
        yield* waitFor(`${count} requests in flight`, () => api.tracker.inFlight() === count, 20_000)
        yield* realSleep(5)

        const answer = yield* http(port.admin, "/debug/fibers")
        expect(answer.status).toBe(200)
        const body = JSON.parse(answer.body) as Dump
        const unbounded = JSON.stringify({ fibers: dump.snapshot() }).length
        expect(answer.body.length, `bounded dump ${answer.body.length} B, unbounded ${unbounded} B`).toBeLessThan(
          20_000
        )
        expect(answer.body).not.toContain("access")
        expect(answer.body).not.toContain("hdr-")
        expect(answer.body).not.toContain("key-")
        expect(body.total).toBe(count + 1) // and the dump's own request
        expect(body.fibers).toHaveLength(detailLimit)
        for (const entry of body.fibers) {
          expect(entry.label).toMatch(/^api GET (\/api\/delay\/10000|\/{200}…)$/)
          expect(entry.label.length).toBeLessThanOrEqual(maxLabelLength + 1)
        }
        // the oldest in detail, oldest first
        const ages = body.fibers.map((entry) => entry.ageMillis)
        expect([...ages].sort((a, b) => b - a)).toEqual(ages)
        expect(body.omitted).toEqual([
          { group: "api GET", count: count - detailLimit },
          { group: "admin GET", count: 1 }
        ])

        yield* TestClock.adjust("10 seconds")
        yield* waitFor("every request answered", () => api.tracker.inFlight() === 0, 20_000)
        expect(sockets).toHaveLength(count)
      }),
      { dump }
    )
  })

  it.effect("under Group.run, lists each member as `member <name>`; POST /shutdown stops the group with exit 0", () => {
    const dump = makeRegistry()
    return run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        const group = yield* Effect.forkChild(
          Group.run({ api: ApiServer.member, admin: AdminServer.member, idle: Effect.never }),
          { startImmediately: true }
        )
        yield* waitFor("serving", lifecycle.isReady)

        const listed = yield* fibers(port.admin)
        const members = listed.filter((f) => f.label.startsWith("member "))
        expect(members.map((f) => f.label).sort()).toEqual(["member admin", "member api", "member idle"])
        for (const member of members) {
          expect(Number.isInteger(member.id)).toBe(true)
          expect(member.done).toBe(false)
        }
        expect(new Set(members.map((f) => f.id)).size).toBe(3)

        const answer = yield* http(port.admin, "/shutdown", "POST")
        expect([answer.status, JSON.parse(answer.body)]).toEqual([202, { shutdown: "started" }])
        const admin = yield* AdminServer
        const api = yield* ApiServer
        yield* waitFor("both servers draining", () => api.tracker.draining() && admin.tracker.draining())
        yield* TestClock.adjust("1 second") // the idle keep-alive connections' grace
        const stop = yield* Fiber.join(group).pipe(within(2_000, "group stop"))
        expect(stop).toEqual({ reason: "shutdown requested by POST /shutdown", exitCode: 0 })
        expect(dump.snapshot().filter((f) => f.label.startsWith("member "))).toEqual([])
      }),
      { dump }
    )
  })
})

describe("AdminServer /shutdown", () => {
  it.effect("POST answers 202 started, then already started; awaitShutdownRequest fails with ShutdownRequested", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        const pending = Effect.raceFirst(
          lifecycle.awaitShutdownRequest.pipe(Effect.exit),
          Effect.succeed("pending" as const)
        )
        expect(yield* pending).toBe("pending")

        const first = yield* http(port.admin, "/shutdown", "POST")
        expect([first.status, first.contentType, JSON.parse(first.body)]).toEqual([
          202,
          "application/json",
          { shutdown: "started" }
        ])
        expect(yield* lifecycle.awaitShutdownRequest.pipe(Effect.exit)).toEqual(
          Exit.fail(new ShutdownRequested({ source: "POST /shutdown" }))
        )
        const second = yield* http(port.admin, "/shutdown", "POST")
        expect([second.status, JSON.parse(second.body)]).toEqual([202, { shutdown: "already started" }])

        const { samples } = yield* scrape(port.admin)
        expect(
          value(samples, "http_requests_total", { server: "admin", route: "/shutdown", method: "POST", status: "202" })
        ).toBe(2)
      })
    )
  )

  it.effect("GET /shutdown (or any other method) answers 405 with Allow: POST and requests nothing", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        for (const method of ["GET", "PUT", "DELETE", "HEAD"]) {
          const answer = yield* request(port.admin, "/shutdown", { method })
          expect([answer.status, answer.headers.allow], method).toEqual([405, "POST"])
        }
        expect(yield* pendingShutdown(lifecycle)).toBe("pending")
      })
    )
  )
})

/** pendingShutdown — "pending" while nothing has asked the lifecycle to shut down. */
const pendingShutdown = (lifecycle: Lifecycle["Service"]) =>
  Effect.raceFirst(lifecycle.awaitShutdownRequest.pipe(Effect.exit), Effect.succeed("pending" as const))

const token = "s3cret-token-0123456789"

describe("AdminGuard on the admin server", () => {
  it.effect("POST /shutdown with a foreign Host is 403, says why, is counted, and shuts nothing down", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        for (const host of ["evil.example", `evil.example:${port.admin}`, "10.0.0.1", "[::2]:80", "localhost.evil"]) {
          const answer = yield* request(port.admin, "/shutdown", { method: "POST", headers: { host } })
          expect(answer.status, host).toBe(403)
          expect(answer.body).toContain("needs a loopback Host")
          expect(answer.body).toContain(JSON.stringify(host))
        }
        expect(yield* pendingShutdown(lifecycle)).toBe("pending")
        const { samples } = yield* scrape(port.admin)
        expect(
          value(samples, "http_requests_total", { server: "admin", route: "/shutdown", method: "POST", status: "403" })
        ).toBe(5)
      })
    )
  )

  it.effect("a request with an Origin is 403 on every route, state-changing or not", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        const origin = { origin: "http://evil.example" }
        const post = yield* request(port.admin, "/shutdown", { method: "POST", headers: origin })
        expect([post.status, post.body]).toEqual([
          403,
          'forbidden: the admin server refuses requests from web pages (Origin: "http://evil.example")'
        ])
        for (const path of ["/metrics", "/debug/fibers", "/healthz"]) {
          expect((yield* request(port.admin, path, { headers: origin })).status, path).toBe(403)
        }
        expect(yield* pendingShutdown(lifecycle)).toBe("pending")
      })
    )
  )

  it.effect.each(["localhost", "localhost:8081", "127.0.0.1", "127.1.2.3:9", "[::1]", "[::1]:8081", "LOCALHOST"])(
    "POST /shutdown with Host %s is accepted",
    (host) =>
      run(
        Effect.gen(function* () {
          const port = yield* ports
          const answer = yield* request(port.admin, "/shutdown", { method: "POST", headers: { host } })
          expect([answer.status, JSON.parse(answer.body)]).toEqual([202, { shutdown: "started" }])
        })
      )
  )

  it.effect("with ADMIN_TOKEN, every route but the probes needs the bearer token (401 with WWW-Authenticate)", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
        for (const path of ["/metrics", "/debug/fibers"]) {
          const missing = yield* request(port.admin, path)
          expect([missing.status, missing.headers["www-authenticate"]], path).toEqual([401, 'Bearer realm="admin"'])
          expect(missing.body).toBe('unauthorized: the admin server needs "Authorization: Bearer <ADMIN_TOKEN>"')
          const wrong = yield* request(port.admin, path, { headers: bearer(`${token}x`) })
          expect([wrong.status, wrong.body], path).toEqual([
            401,
            'unauthorized: the admin server needs "Authorization: Bearer <ADMIN_TOKEN>" (the token sent is not it)'
          ])
          expect((yield* request(port.admin, path, { headers: bearer(token.slice(1)) })).status).toBe(401)
          expect((yield* request(port.admin, path, { headers: { authorization: token } })).status).toBe(401)
          expect((yield* request(port.admin, path, { headers: bearer(token) })).status, path).toBe(200)
          expect((yield* request(port.admin, path, { headers: { authorization: `bearer  ${token}` } })).status).toBe(
            200
          )
        }
        for (const path of ["/healthz", "/readyz"]) {
          expect((yield* request(port.admin, path)).status, path).toBe(200)
        }
        expect((yield* request(port.admin, "/shutdown", { method: "POST" })).status).toBe(401)
        // the token does not stand in for a loopback Host
        const foreign = yield* request(port.admin, "/shutdown", {
          method: "POST",
          headers: { ...bearer(token), host: "evil.example" }
        })
        expect(foreign.status).toBe(403)
        expect(yield* pendingShutdown(lifecycle)).toBe("pending")
        const accepted = yield* request(port.admin, "/shutdown", { method: "POST", headers: bearer(token) })
        expect(accepted.status).toBe(202)
      }),
      { config: { adminToken: Redacted.make(token) } }
    )
  )
})

describe("access log", () => {
  it.effect("one Info line per request, matched or not, with the path but never the query", () => {
    const logs: Array<LogLine> = []
    return run(
      Effect.gen(function* () {
        const port = yield* ports
        yield* request(port.api, "/healthz?access_token=secret")
        yield* request(port.api, "/x", { method: "PROPFIND" })
        yield* request(port.api, "/%ZZ")
        yield* request(port.api, "/healthz", { method: "POST" })
        yield* request(port.admin, "/shutdown", { method: "POST", headers: { origin: "http://evil.example" } })
        const access = logs.filter((line) => line.annotations.route !== undefined)
        expect(access.map((line) => [line.level, line.message])).toEqual([
          ["Info", "GET /healthz 200"],
          ["Info", "PROPFIND /x 404"],
          ["Info", "GET /%ZZ 404"],
          ["Info", "POST /healthz 405"],
          ["Info", "POST /shutdown 403"]
        ])
        expect(access[0]!.annotations).toMatchObject({
          server: "api",
          method: "GET",
          path: "/healthz",
          route: "/healthz",
          status: 200
        })
        expect(access[0]!.annotations.millis).toBeTypeOf("number")
        expect(access[1]!.annotations).toMatchObject({ route: "*", status: 404, method: "PROPFIND" })
        expect(access[4]!.annotations).toMatchObject({ server: "admin", route: "/shutdown", status: 403 })
        expect(JSON.stringify(logs)).not.toContain("secret")
      }),
      { logs, config: { accessLog: 100 } }
    )
  })

  it.effect("ACCESS_LOG=off (0) writes no line; the requests are still counted", () => {
    const logs: Array<LogLine> = []
    return run(
      Effect.gen(function* () {
        const port = yield* ports
        yield* request(port.api, "/healthz")
        yield* request(port.api, "/nope")
        expect(logs.filter((line) => line.annotations.route !== undefined)).toEqual([])
        const { samples } = yield* scrape(port.admin)
        expect(value(samples, "http_requests_total", { server: "api", route: "*", method: "GET", status: "404" })).toBe(
          1
        )
      }),
      { logs, config: { accessLog: 0 } }
    )
  })
})

describe("AdminServer health", () => {
  it.effect("/healthz is 200 ok; /readyz follows the shared Lifecycle", () =>
    run(
      Effect.gen(function* () {
        const port = yield* ports
        const lifecycle = yield* Lifecycle
        expect(yield* http(port.admin, "/healthz")).toMatchObject({ status: 200, body: "ok" })
        expect(yield* http(port.admin, "/readyz")).toMatchObject({ status: 200, body: "ready" })
        yield* lifecycle.setReady(false)
        expect(yield* http(port.admin, "/readyz")).toMatchObject({ status: 503, body: "not ready: turned off" })
        expect(yield* http(port.admin, "/nope")).toMatchObject({ status: 404, body: "not found" })
      })
    )
  )
})

describe("AdminGuard.hostOf", () => {
  it("keeps the host of a Host header, without its port", () => {
    expect(
      ["localhost:8081", "127.0.0.1", "[::1]:8081", "[::1]", "evil.example:80", "::1", " localhost "].map(
        AdminGuard.hostOf
      )
    ).toEqual(["localhost", "127.0.0.1", "[::1]", "[::1]", "evil.example", "::1", "localhost"])
  })
})
