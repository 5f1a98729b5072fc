/**
 * Requests per second on `GET /healthz`, `WORKERS=2` against `WORKERS=1`, in the same rounds: does a second server
 * process buy throughput on this machine?
 *
 * Each round starts both programs fresh (unpinned: the cluster's primary and workers, and the single process, may
 * use every core), warms each up for 1 s with autocannon (64 keep-alive connections), then measures them in 2 s
 * slices whose order alternates (1 2, 2 1, …) so that drifting machine noise hits both alike. A round's figure is the
 * 2xx answers over the measured time; the row is the median over rounds, and the ratio the median of the rounds'
 * ratios. The load generator runs on the same machine and takes its share of the cores: on a 2-core machine the
 * cluster competes with it for the second core, so the ratio says what a second process buys *here*, with the load
 * average and the cores each side used (the server's processes from /proc, the load generator's own CPU time)
 * printed beside it.
 */
import { readFileSync } from "node:fs"
import os from "node:os"
import autocannon from "autocannon"
import { CLK_TCK, cpuTicks, HOST, type Server, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, type Row, type ScenarioResult } from "./report.ts"

const CONNECTIONS = 64
const WARMUP_S = 1
const SLICE_S = 2
const SLICES = 4
/** the aim for two workers over one */
const AIM = 1.5

interface ClusterRound {
  readonly single: number
  readonly cluster: number
  readonly ratio: number
  readonly errors: number
  readonly load: number
  /** cores used while measured: each server's processes (the cluster's primary and workers together), the harness */
  readonly cores: { readonly single: number; readonly cluster: number; readonly harness: number }
}

/** `pid` and its children (the cluster's workers), from /proc */
const family = (pid: number): ReadonlyArray<number> => {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()
  return [pid, ...(children === "" ? [] : children.split(" ").map(Number))]
}
const ticksOf = (pids: ReadonlyArray<number>) => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0)

const load = (server: Server, seconds: number) =>
  autocannon({ url: `http://${HOST}:${server.port}/healthz`, connections: CONNECTIONS, duration: seconds })

const measureRound = async (round: number): Promise<ClusterRound> => {
  const servers: Array<Server> = []
  try {
    const single = await startServer("program", { env: { WORKERS: "1" } })
    servers.push(single)
    const cluster = await startServer("program", { env: { WORKERS: "2" } })
    servers.push(cluster)
    for (const server of servers) await waitReady(server)
    for (const server of servers) await load(server, WARMUP_S)
    const pids = servers.map((server) => family(server.pid))
    const ok = [0, 0]
    const ticks = [0, 0]
    let harness = 0
    let errors = 0
    for (let slice = 0; slice < SLICES; slice++) {
      const turn = (slice + round) % 2 === 0 ? [0, 1] : [1, 0]
      for (const i of turn) {
        const before = ticksOf(pids[i] ?? [])
        const usage = process.cpuUsage()
        const result = await load(servers[i] as Server, SLICE_S)
        const used = process.cpuUsage(usage)
        harness += (used.user + used.system) / 1e6
        ticks[i] = (ticks[i] ?? 0) + ticksOf(pids[i] ?? []) - before
        ok[i] = (ok[i] ?? 0) + result["2xx"]
        errors += result.errors + result.non2xx
      }
    }
    const seconds = SLICES * SLICE_S
    const [singleRps, clusterRps] = ok.map((n) => n / seconds) as [number, number]
    const [singleCores, clusterCores] = ticks.map((t) => t / CLK_TCK / seconds) as [number, number]
    return {
      single: singleRps,
      cluster: clusterRps,
      ratio: clusterRps / singleRps,
      errors,
      load: os.loadavg()[0] ?? 0,
      cores: { single: singleCores, cluster: clusterCores, harness: harness / (2 * seconds) }
    }
  } finally {
    await Promise.all(servers.map((server) => stopServer(server, 10_000)))
  }
}

export const clusterScenario = async (rounds: number): Promise<ScenarioResult> => {
  const raw: Array<ClusterRound> = []
  for (let i = 0; i < rounds; i++) {
    const round = await measureRound(i)
    raw.push(round)
    log(
      `cluster ${i + 1}/${rounds}: WORKERS=2 ${fixed(round.cluster, 0)} rps, WORKERS=1 ${fixed(round.single, 0)} rps, ` +
        `ratio ${fixed(round.ratio, 2)}; cores used: WORKERS=2 ${fixed(round.cores.cluster, 2)}, WORKERS=1 ` +
        `${fixed(round.cores.single, 2)}, load generator ${fixed(round.cores.harness, 2)}; requests per CPU second ` +
        `${fixed(round.cluster / round.cores.cluster, 0)} against ${fixed(round.single / round.cores.single, 0)} ` +
        `(errors ${round.errors}, load ${fixed(round.load, 2)}, ${os.cpus().length} cores)`
    )
  }
  const ratio = median(raw.map((r) => r.ratio))
  const rows: Array<Row> = [
    {
      metric: "requests/s /healthz, WORKERS=2 vs 1 (median)",
      program: `${fixed(median(raw.map((r) => r.cluster)), 0)} rps`,
      baseline: `${fixed(median(raw.map((r) => r.single)), 0)} rps (WORKERS=1)`,
      target: `${fixed(ratio, 2)}× (aim ≥ ${fixed(AIM, 1)}×; load ${fixed(median(raw.map((r) => r.load)), 1)})`,
      pass: Number.isFinite(ratio) && ratio >= AIM
    }
  ]
  return { rows, raw }
}
