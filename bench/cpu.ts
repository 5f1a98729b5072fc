/**
 * CPU per request on `GET /healthz`: autocannon (64 connections) warms each
 * server up for 1 s, then the server's user+sys ticks are read around each
 * measured slice and divided by the 2xx answers. Each round starts a fresh
 * program and baseline; the ~4 s measured window of each is cut into 1 s
 * slices interleaved A B B A …, so drifting machine noise hits both alike.
 */
import autocannon from "autocannon"
import { CAN_PIN, pinHarness } from "./pin.ts"
import { CLK_TCK, cpuTicks, HOST, type Kind, type Server, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, ratioCell, type ScenarioResult } from "./report.ts"

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

/** One round: both servers fresh, warmed up, then measured in interleaved slices. */
const measureRound = async (order: readonly [Kind, Kind]): Promise<Record<Kind, CpuRound>> => {
  const servers: Array<Server> = []
  try {
    for (const kind of order) servers.push(await startServer(kind, { pin: CAN_PIN }))
    for (const server of servers) await waitReady(server)
    for (const server of servers) await load(server, WARMUP_S)
    const acc = servers.map(() => ({ ticks: 0, ok: 0, non2xx: 0, errors: 0, slices: [] as Array<number> }))
    for (let slice = 0; slice < SLICES; slice++) {
      const turn = slice % 2 === 0 ? [0, 1] : [1, 0]
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
    const done = acc.map(
      (a): CpuRound => ({ ...a, usPerRequest: usPer(a.ticks, a.ok), rps: a.ok / (SLICES * SLICE_S) })
    )
    const [first, second] = done as [CpuRound, CpuRound]
    return order[0] === "program" ? { program: first, baseline: second } : { program: second, baseline: first }
  } finally {
    await Promise.all(servers.map((server) => stopServer(server, 3_000)))
  }
}

export const cpuScenario = async (rounds: number): Promise<ScenarioResult> => {
  const raw: Array<{ program: CpuRound; baseline: CpuRound; ratio: number }> = []
  pinHarness(true)
  try {
    for (let i = 0; i < rounds; i++) {
      const { program, baseline } = await measureRound(i % 2 === 0 ? ["program", "baseline"] : ["baseline", "program"])
      const ratio = program.usPerRequest / baseline.usPerRequest
      raw.push({ program, baseline, ratio })
      log(
        `cpu ${i + 1}/${rounds}: program ${fixed(program.usPerRequest)} µs/req (${fixed(program.rps, 0)} rps), ` +
          `baseline ${fixed(baseline.usPerRequest)} µs/req (${fixed(baseline.rps, 0)} rps), ratio ${fixed(ratio, 2)}`
      )
    }
  } finally {
    pinHarness(false)
  }
  const pick = (f: (r: (typeof raw)[number]) => number): number => median(raw.map(f))
  const rps = (kind: Kind): number => pick((r) => r[kind].rps)
  return {
    rows: [
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
        program: `${fixed(rps("program"), 0)} rps`,
        baseline: `${fixed(rps("baseline"), 0)} rps`,
        target: `${fixed(
          pick((r) => r.program.rps / r.baseline.rps),
          2
        )}× (info)`,
        pass: null
      }
    ],
    raw
  }
}
