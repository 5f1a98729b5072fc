/**
 * The aggregation (`GET /api/aggregate/:userId`) under load, against the built program:
 *
 * - latency: 64 keep-alive connections in a closed loop, each asking for one of 64 users (profiles cached after the
 *   first round, so the critical path is recommendations → inventory: 2 dependent hops), simulated upstreams at
 *   `SIMULATED_LATENCY=5 millis`. Baseline, in the same process and rounds: `/api/delay/10`, a handler that waits the
 *   critical path in one timer, so the difference is what the fan-out costs. Slices alternate order each round;
 *   the figures are medians over rounds of each slice's p50 / p99 (per-request times, µs resolution).
 * - deadline: the same load with `x-request-timeout-ms: 7` (shorter than the critical path): every answer a 504,
 *   late by how much past its deadline (p99 over all requests).
 * - singleflight: the program over real HTTP upstreams (`UPSTREAM_URL`, a counting server in this process whose
 *   `/profiles/` answers after 300 ms), 1000 concurrent requests for one new user: profile calls received, and how
 *   many requests were answered 200. Baseline: the same with `PROFILE_CACHE_SIZE=0` (no cache).
 * - pool: the aggregation in process (no HTTP, upstreams answering at once, so the scratch's cost is not drowned),
 *   64 at a time, with its scratch from the `ObjectPool` against a fresh one per request; paired rounds whose order
 *   alternates, µs per request and GC time, median of per-round ratios.
 */
import http from "node:http"
import { PerformanceObserver } from "node:perf_hooks"
import { Duration, Effect, Layer } from "effect"
import { make as makeAggregate } from "../src/api/Aggregate.ts"
import * as AggregateScratch from "../src/api/AggregateScratch.ts"
import { AppConfig } from "../src/services/AppConfig.ts"
import { ProfileCache } from "../src/services/ProfileCache.ts"
import { RuntimeConfig } from "../src/services/RuntimeConfig.ts"
import { Upstreams } from "../src/services/Upstreams.ts"
import * as Simulated from "../src/services/UpstreamsSimulated.ts"
import { CLK_TCK, cpuTicks, HOST, type Server, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, type Row, type ScenarioResult } from "./report.ts"

const CONNECTIONS = 64
const USERS = 64
const SLICE_MS = 2_000
const TARGET_P50_MS = 12
const DEADLINE_MS = 7
const LIGHT_CONNECTIONS = 8
const DEADLINE_SLACK_MS = 50

/** startProgram — the built program with `env` added to the bench's own (set while it spawns) */
const startProgram = async (env: Record<string, string>): Promise<Server> => {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]))
  Object.assign(process.env, env)
  try {
    const server = await startServer("program")
    await waitReady(server)
    return server
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}

const get = (agent: http.Agent, port: number, path: string, headers: Record<string, string> = {}, timeout = 10_000) =>
  new Promise<number>((resolve) => {
    const req = http.get({ host: HOST, port, path, agent, headers }, (res) => {
      res.resume()
      res.once("end", () => resolve(res.statusCode ?? 0))
      res.once("error", () => resolve(0))
    })
    req.setTimeout(timeout, () => req.destroy(new Error("timeout")))
    req.once("error", () => resolve(0))
  })

interface Slice {
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly statuses: Record<string, number>
  /** the program's CPU time (user + system) per request in the slice, µs */
  readonly cpuMicros?: number
}

/** measured — `slice`, with the program's CPU time per request over it */
const measured = async (server: Server, slice: () => Promise<Slice>): Promise<Slice> => {
  const before = cpuTicks(server.pid)
  const result = await slice()
  const ticks = cpuTicks(server.pid) - before
  return { ...result, cpuMicros: (ticks * (1e6 / CLK_TCK)) / result.requests }
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number)

/** load — `CONNECTIONS` closed loops for `ms`: each sends its next request when the previous one is answered */
const load = async (
  port: number,
  pathOf: (connection: number) => string,
  ms: number,
  headers: Record<string, string> = {},
  late: (millis: number) => number = (millis) => millis,
  connections = CONNECTIONS
): Promise<Slice> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const samples: Array<number> = []
  const statuses: Record<string, number> = {}
  const end = performance.now() + ms
  await Promise.all(
    Array.from({ length: connections }, async (_, connection) => {
      while (performance.now() < end) {
        const started = performance.now()
        const status = await get(agent, port, pathOf(connection), headers)
        samples.push(late(performance.now() - started))
        statuses[status] = (statuses[status] ?? 0) + 1
      }
    })
  )
  agent.destroy()
  samples.sort((a, b) => a - b)
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), requests: samples.length, statuses }
}

const aggregatePath = (connection: number) => `/api/aggregate/user-${connection % USERS}`
const statusText = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .map(([status, n]) => `${n}×${status}`)
    .join(", ")

export const aggregateScenario = async (rounds: number): Promise<ScenarioResult> => {
  const server = await startProgram({ SIMULATED_LATENCY: "5 millis", SIMULATED_FAILURE_RATE: "0" })
  try {
    // warm-up: every user's profile cached, the JIT warm
    await load(server.port, aggregatePath, 1_000)
    await load(server.port, () => "/api/delay/10", 500)
    const aggregate: Array<Slice> = []
    const baseline: Array<Slice> = []
    for (let round = 0; round < rounds; round++) {
      const turn = [
        async () => aggregate.push(await measured(server, () => load(server.port, aggregatePath, SLICE_MS))),
        async () => baseline.push(await measured(server, () => load(server.port, () => "/api/delay/10", SLICE_MS)))
      ]
      if (round % 2 === 1) turn.reverse()
      for (const slice of turn) await slice()
      const a = aggregate.at(-1) as Slice
      const b = baseline.at(-1) as Slice
      log(
        `aggregate round ${round + 1}: p50 ${fixed(a.p50, 2)} / p99 ${fixed(a.p99, 2)} ms, ${fixed(a.cpuMicros ?? Number.NaN, 0)} µs CPU (${statusText(a.statuses)}); ` +
          `delay/10 p50 ${fixed(b.p50, 2)} / p99 ${fixed(b.p99, 2)} ms, ${fixed(b.cpuMicros ?? Number.NaN, 0)} µs CPU`
      )
    }
    const light = await load(server.port, aggregatePath, SLICE_MS, {}, (millis) => millis, LIGHT_CONNECTIONS)
    const lightBase = await load(
      server.port,
      () => "/api/delay/10",
      SLICE_MS,
      {},
      (millis) => millis,
      LIGHT_CONNECTIONS
    )
    log(
      `${LIGHT_CONNECTIONS} connections: aggregate p50 ${fixed(light.p50, 2)} / p99 ${fixed(light.p99, 2)} ms; ` +
        `delay/10 p50 ${fixed(lightBase.p50, 2)} / p99 ${fixed(lightBase.p99, 2)} ms`
    )
    const deadline = await load(
      server.port,
      aggregatePath,
      SLICE_MS,
      { "x-request-timeout-ms": String(DEADLINE_MS) },
      (millis) => millis - DEADLINE_MS
    )
    log(
      `deadline ${DEADLINE_MS} ms: late by p50 ${fixed(deadline.p50, 2)} / p99 ${fixed(deadline.p99, 2)} ms (${statusText(deadline.statuses)})`
    )
    const p50 = median(aggregate.map((s) => s.p50))
    const p99 = median(aggregate.map((s) => s.p99))
    const baseP50 = median(baseline.map((s) => s.p50))
    const baseP99 = median(baseline.map((s) => s.p99))
    const allOk = aggregate.every((s) => Object.keys(s.statuses).every((status) => status === "200"))
    const all504 = Object.keys(deadline.statuses).every((status) => status === "504")
    const rows: Array<Row> = [
      {
        metric: `aggregate: p50, ${CONNECTIONS} connections, simulated upstreams at 5 ms, profiles cached (baseline /api/delay/10)`,
        program: `${fixed(p50, 2)} ms`,
        baseline: `${fixed(baseP50, 2)} ms`,
        target: `≤ ${TARGET_P50_MS} ms (2 hops of 5 ms + 2)`,
        pass: allOk && p50 <= TARGET_P50_MS
      },
      {
        metric: "aggregate: p99, same rounds",
        program: `${fixed(p99, 2)} ms`,
        baseline: `${fixed(baseP99, 2)} ms`,
        target: "reported",
        pass: null
      },
      {
        metric: `aggregate: p50 / p99 at ${LIGHT_CONNECTIONS} connections (one slice, not CPU-bound)`,
        program: `${fixed(light.p50, 2)} / ${fixed(light.p99, 2)} ms`,
        baseline: `${fixed(lightBase.p50, 2)} / ${fixed(lightBase.p99, 2)} ms`,
        target: "reported",
        pass: null
      },
      {
        metric: `aggregate: program CPU per request, same rounds (${CONNECTIONS} connections at ${TARGET_P50_MS} ms need ≤ ${fixed(
          (TARGET_P50_MS * 1000) / CONNECTIONS,
          0
        )} µs on one thread)`,
        program: `${fixed(median(aggregate.map((s) => s.cpuMicros ?? Number.NaN)), 0)} µs`,
        baseline: `${fixed(median(baseline.map((s) => s.cpuMicros ?? Number.NaN)), 0)} µs`,
        target: "reported",
        pass: null
      },
      {
        metric: `aggregate: x-request-timeout-ms ${DEADLINE_MS} under the same load: 504 late by (p99)`,
        program: `${fixed(deadline.p99, 2)} ms (${statusText(deadline.statuses)})`,
        baseline: "-",
        target: `all 504, ≤ ${DEADLINE_SLACK_MS} ms`,
        pass: all504 && deadline.p99 <= DEADLINE_SLACK_MS
      }
    ]
    return { rows, raw: { aggregate, baseline, light, lightBase, deadline } }
  } finally {
    await stopServer(server, 3_000)
  }
}

/**
 * a counting upstream server: the documented paths with the simulated data, `/profiles/` answering after `delay`,
 * recommendations empty unless `recommend`
 */
const countingUpstream = async (delay: number, recommend: boolean) => {
  const counts = { profile: 0, other: 0 }
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "")
    const send = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    const [, kind, id = "", tail] = /^\/(profiles|users|inventory)\/([^/]+)\/?(.*)$/.exec(path) ?? []
    if (kind === "profiles") {
      counts.profile++
      setTimeout(() => send(Simulated.profileOf(id)), delay)
      return
    }
    counts.other++
    if (kind === "inventory") return send(Simulated.inventoryOf(id))
    if (tail === "orders") return send(Simulated.ordersOf(id))
    if (tail === "recommendations") return send(recommend ? Simulated.recommendationsOf(id) : [])
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://${HOST}:${port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const MISSES = 1000

const burst = async (env: Record<string, string>, upstreamUrl: string, user: string) => {
  // a generous AGGREGATE_TIMEOUT: the 1000 requests' 5000 other upstream calls take seconds of CPU on a loaded
  // machine, and this measures the calls, not the latency
  const server = await startProgram({ ...env, UPSTREAM_URL: upstreamUrl, AGGREGATE_TIMEOUT: "60 seconds" })
  try {
    const agent = new http.Agent({ keepAlive: false, maxSockets: MISSES })
    const statuses = await Promise.all(
      Array.from({ length: MISSES }, () => get(agent, server.port, `/api/aggregate/${user}`, {}, 60_000))
    )
    agent.destroy()
    return statuses.filter((status) => status === 200).length
  } finally {
    await stopServer(server, 3_000)
  }
}

export const singleflightScenario = async (): Promise<ScenarioResult> => {
  // no recommended items: 2 other calls per request instead of 5, so that the burst is about the profile
  const upstream = await countingUpstream(300, false)
  try {
    const ok = await burst({}, upstream.url, "singleflight")
    const calls = upstream.counts.profile
    upstream.counts.profile = 0
    const baseOk = await burst({ PROFILE_CACHE_SIZE: "0" }, upstream.url, "singleflight")
    const baseCalls = upstream.counts.profile
    log(
      `singleflight: ${calls} profile call(s), ${ok}/${MISSES} × 200; without the cache ${baseCalls}, ${baseOk} × 200`
    )
    const rows: Array<Row> = [
      {
        metric: `singleflight: ${MISSES} concurrent misses for one user over HTTP upstreams → profile calls (baseline PROFILE_CACHE_SIZE=0)`,
        program: `${calls} (${ok}/${MISSES} × 200)`,
        baseline: `${baseCalls} (${baseOk}/${MISSES} × 200)`,
        target: "= 1",
        pass: calls === 1 && ok === MISSES
      }
    ]
    return { rows, raw: { calls, ok, baseCalls, baseOk } }
  } finally {
    await upstream.close()
  }
}

const POOL_REQUESTS = 20_000

/** the aggregation in process over upstreams that answer at once, its scratch from `scratch` */
const inProcess = (scratch: AggregateScratch.ScratchSource) => {
  const immediate = {
    profile: (id: string) => Effect.succeed(Simulated.profileOf(id)),
    orders: (id: string) => Effect.succeed(Simulated.ordersOf(id)),
    recommendations: (id: string) => Effect.succeed(Simulated.recommendationsOf(id)),
    inventory: (id: string) => Effect.succeed(Simulated.inventoryOf(id))
  }
  const layer = ProfileCache.layer.pipe(
    Layer.provideMerge(Upstreams.layerTest(immediate)),
    Layer.provideMerge(
      Layer.mergeAll(RuntimeConfig.layerTest(), AppConfig.layerTest({ aggregateTimeout: Duration.seconds(10) }))
    )
  )
  const users = Array.from({ length: POOL_REQUESTS }, (_, i) => `user-${i % USERS}`)
  return Effect.gen(function* () {
    const aggregate = yield* makeAggregate({ scratch })
    return Effect.forEach(users, (user) => aggregate.run(user, false, (answer) => JSON.stringify(answer)), {
      concurrency: CONNECTIONS,
      discard: true
    })
  }).pipe(Effect.provide(layer))
}

export const poolScenario = async (rounds: number): Promise<ScenarioResult> => {
  let gcMillis = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMillis += entry.duration
  })
  observer.observe({ entryTypes: ["gc"] })
  const pooledBatch = await Effect.runPromise(Effect.flatMap(AggregateScratch.pooled(), (s) => inProcess(s)))
  const freshBatch = await Effect.runPromise(inProcess(AggregateScratch.fresh))
  const measure = async (batch: Effect.Effect<void, unknown>) => {
    gcMillis = 0
    const started = performance.now()
    await Effect.runPromise(batch)
    const micros = ((performance.now() - started) * 1000) / POOL_REQUESTS
    await new Promise((resolve) => setImmediate(resolve)) // let the observer report the slice's collections
    return { micros, gcMillis }
  }
  await measure(pooledBatch) // warm-up
  await measure(freshBatch)
  const pooled: Array<{ micros: number; gcMillis: number }> = []
  const fresh: Array<{ micros: number; gcMillis: number }> = []
  for (let round = 0; round < rounds; round++) {
    const turn = [
      async () => pooled.push(await measure(pooledBatch)),
      async () => fresh.push(await measure(freshBatch))
    ]
    if (round % 2 === 1) turn.reverse()
    for (const slice of turn) await slice()
    const p = pooled.at(-1) as { micros: number; gcMillis: number }
    const f = fresh.at(-1) as { micros: number; gcMillis: number }
    log(
      `pool round ${round + 1}: pooled ${fixed(p.micros, 2)} µs (GC ${fixed(p.gcMillis, 1)} ms), fresh ${fixed(f.micros, 2)} µs (GC ${fixed(f.gcMillis, 1)} ms)`
    )
  }
  observer.disconnect()
  const ratio = median(pooled.map((p, i) => p.micros / (fresh[i] as { micros: number }).micros))
  const rows: Array<Row> = [
    {
      metric: `aggregate scratch from ObjectPool vs fresh: µs per aggregation in process, ${CONNECTIONS} at a time (GC ms per ${POOL_REQUESTS})`,
      program: `${fixed(median(pooled.map((p) => p.micros)), 2)} µs (GC ${fixed(median(pooled.map((p) => p.gcMillis)), 1)})`,
      baseline: `${fixed(median(fresh.map((f) => f.micros)), 2)} µs (GC ${fixed(median(fresh.map((f) => f.gcMillis)), 1)})`,
      target: `${fixed(ratio, 3)}× (pays if < 1)`,
      pass: null
    }
  ]
  return { rows, raw: { pooled, fresh, ratio } }
}
