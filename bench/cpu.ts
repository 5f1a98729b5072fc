/**
 * CPU per request on `GET /healthz`: autocannon (64 connections) warms each
 * server up for 1 s, then the server's user+sys ticks are read around each
 * measured slice and divided by the 2xx answers. Each round starts a fresh
 * program, baseline (raw node:http) and Effect's stock stack (`bench/stock.ts`:
 * `HttpRouter.serve` on `NodeHttpServer.layer`, logger off — the same request
 * path the program runs, without its metrics, deadline header and drain); the
 * ~4 s measured window of each is cut into 1 s slices whose order rotates, so
 * drifting machine noise hits all three alike. `BENCH_STOCK=0` leaves the stock
 * stack out.
 */
import autocannon from "autocannon"
import { CAN_PIN, pinHarness } from "./pin.ts"
import { CLK_TCK, cpuTicks, HOST, type Kind, type Server, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, type Row, ratioCell, type ScenarioResult } from "./report.ts"

const CONNECTIONS = 64
const WARMUP_S = 1
const SLICE_S = 1
const SLICES = 4
const LIMIT = 1.1

export interface CpuRound {
  readonly usPerRequest: number
  readonly ticks: number
  readonly ok: number
  readonly non2xx: number
  readonly errors: number
  readonly rps: number
  /** µs/request of each slice, for judging noise. */
  readonly slices: ReadonlyArray<number>
}

const load = (server: Server, seconds: number) =>
  autocannon({ url: `http://${HOST}:${server.port}/healthz`, connections: CONNECTIONS, duration: seconds })

const usPer = (ticks: number, ok: number): number => (ok > 0 ? (ticks * (1e6 / CLK_TCK)) / ok : Number.NaN)

const kinds: ReadonlyArray<Kind> =
  process.env.BENCH_STOCK === "0" ? ["program", "baseline"] : ["program", "baseline", "stock"]

/** One round: every server fresh, warmed up, then measured in slices whose order rotates. */
const measureRound = async (first: number): Promise<Partial<Record<Kind, CpuRound>>> => {
  const order = kinds.map((_, i) => kinds[(first + i) % kinds.length] as Kind)
  const servers: Array<Server> = []
  try {
    for (const kind of order) servers.push(await startServer(kind, { pin: CAN_PIN }))
    for (const server of servers) await waitReady(server)
    for (const server of servers) await load(server, WARMUP_S)
    const acc = servers.map(() => ({ ticks: 0, ok: 0, non2xx: 0, errors: 0, slices: [] as Array<number> }))
    for (let slice = 0; slice < SLICES; slice++) {
      // A B C, then C B A, …: each server is measured early and late in the round alike
      const turn = servers.map((_, i) => i)
      if (slice % 2 === 1) turn.reverse()
      for (const i of turn) {
        const server = servers[i] as Server
        const a = acc[i] as (typeof acc)[number]
        const before = cpuTicks(server.pid)
        const result = await load(server, SLICE_S)
        const ticks = cpuTicks(server.pid) - before
        a.ticks += ticks
        a.ok += result["2xx"]
        a.non2xx += result.non2xx
        a.errors += result.errors
        a.slices.push(usPer(ticks, result["2xx"]))
      }
    }
    return Object.fromEntries(
      acc.map((a, i) => [order[i], { ...a, usPerRequest: usPer(a.ticks, a.ok), rps: a.ok / (SLICES * SLICE_S) }])
    )
  } finally {
    await Promise.all(servers.map((server) => stopServer(server, 3_000)))
  }
}

interface CpuRow {
  readonly program: CpuRound
  readonly baseline: CpuRound
  readonly stock: CpuRound | undefined
  readonly ratio: number
  readonly stockRatio: number
}

export const cpuScenario = async (rounds: number): Promise<ScenarioResult> => {
  const raw: Array<CpuRow> = []
  pinHarness(true)
  try {
    for (let i = 0; i < rounds; i++) {
      const round = await measureRound(i % kinds.length)
      const program = round.program as CpuRound
      const baseline = round.baseline as CpuRound
      const stock = round.stock
      const ratio = program.usPerRequest / baseline.usPerRequest
      const stockRatio = stock === undefined ? Number.NaN : stock.usPerRequest / baseline.usPerRequest
      raw.push({ program, baseline, stock, ratio, stockRatio })
      log(
        `cpu ${i + 1}/${rounds}: program ${fixed(program.usPerRequest)} µs/req (${fixed(program.rps, 0)} rps), ` +
          `baseline ${fixed(baseline.usPerRequest)} µs/req (${fixed(baseline.rps, 0)} rps), ratio ${fixed(ratio, 2)}` +
          (stock === undefined ? "" : `; stock ${fixed(stock.usPerRequest)} µs/req, ratio ${fixed(stockRatio, 2)}`)
      )
    }
  } finally {
    pinHarness(false)
  }
  const pick = (f: (r: CpuRow) => number): number => median(raw.map(f))
  const rows: Array<Row> = [
    {
      metric: "CPU/request /healthz (median)",
      program: `${fixed(pick((r) => r.program.usPerRequest))} µs`,
      baseline: `${fixed(pick((r) => r.baseline.usPerRequest))} µs`,
      ...ratioCell(
        pick((r) => r.ratio),
        LIMIT
      )
    },
    {
      metric: "throughput /healthz (info)",
      program: `${fixed(
        pick((r) => r.program.rps),
        0
      )} rps`,
      baseline: `${fixed(
        pick((r) => r.baseline.rps),
        0
      )} rps`,
      target: `${fixed(
        pick((r) => r.program.rps / r.baseline.rps),
        2
      )}× (info)`,
      pass: null
    }
  ]
  if (raw[0]?.stock !== undefined) {
    rows.push({
      metric: "Effect's stock stack, CPU/request (info)",
      program: `${fixed(pick((r) => r.stock?.usPerRequest ?? Number.NaN))} µs (stock)`,
      baseline: `${fixed(pick((r) => r.baseline.usPerRequest))} µs`,
      target: `${fixed(
        pick((r) => r.stockRatio),
        2
      )}× (program/stock ${fixed(
        pick((r) => r.ratio / r.stockRatio),
        2
      )}×)`,
      pass: null
    })
  }
  return { rows, raw }
}
