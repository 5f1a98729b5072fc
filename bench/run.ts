/**
 * Benchmark entry (`npm run bench`): runs the selected scenarios against the
 * program (`BENCH_PROGRAM`, default dist/program.js) and the raw node:http
 * baseline, prints the comparison table and writes bench/results.latest.json.
 *
 * Env: BENCH_ROUNDS (default 5), BENCH_ONLY=cpu,startup,memory,drain,lost,idle,pipelining,aggregate,singleflight,pool,jobs,
 * cluster
 * (`aggregate` selects all three of the aggregation's); BENCH_BASELINE=<script> makes
 * another build of the program the baseline (an A/B of two versions).
 */
import os from "node:os"
import { aggregateScenario, poolScenario, singleflightScenario } from "./aggregate.ts"
import { clusterScenario } from "./cluster.ts"
import { cpuScenario } from "./cpu.ts"
import { drainScenario } from "./drain.ts"
import { idleScenario } from "./idle.ts"
import { jobsScenario } from "./jobs.ts"
import { lostScenario } from "./lost.ts"
import { pipeliningScenario } from "./pipelining.ts"
import { scriptFor } from "./proc.ts"
import { log, printTable, type Row, type ScenarioResult, writeResults } from "./report.ts"
import { startupScenario } from "./startup.ts"

const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5) || 5)
const only = new Set(
  (process.env.BENCH_ONLY ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
)
const selected = (...names: ReadonlyArray<string>): boolean => only.size === 0 || names.some((n) => only.has(n))

const scenarios: ReadonlyArray<{
  readonly name: string
  readonly aliases: ReadonlyArray<string>
  readonly run: () => Promise<ScenarioResult>
}> = [
  { name: "startup", aliases: ["startup", "memory"], run: () => startupScenario(rounds) },
  { name: "cpu", aliases: ["cpu"], run: () => cpuScenario(rounds) },
  { name: "drain", aliases: ["drain"], run: drainScenario },
  { name: "lost", aliases: ["lost"], run: lostScenario },
  { name: "idle", aliases: ["idle"], run: () => idleScenario(Math.min(rounds, 3)) },
  { name: "pipelining", aliases: ["pipelining"], run: () => pipeliningScenario(Math.min(rounds, 3)) },
  { name: "aggregate", aliases: ["aggregate"], run: () => aggregateScenario(rounds) },
  { name: "singleflight", aliases: ["singleflight", "aggregate"], run: singleflightScenario },
  { name: "pool", aliases: ["pool", "aggregate"], run: () => poolScenario(Math.max(rounds, 7)) },
  { name: "jobs", aliases: ["jobs"], run: () => jobsScenario(rounds) },
  { name: "cluster", aliases: ["cluster", "workers"], run: () => clusterScenario(rounds) }
]

log(`program ${scriptFor("program")}, baseline ${scriptFor("baseline")}, node ${process.version}, rounds ${rounds}`)
const [load1 = 0] = os.loadavg()
if (load1 > 0.5) log(`note: 1-minute load average is ${load1.toFixed(2)} — figures will be noisy`)
const rows: Array<Row> = []
const raw: Record<string, unknown> = {}
let failed = false
for (const scenario of scenarios) {
  if (!selected(...scenario.aliases)) continue
  log(`— ${scenario.name}`)
  try {
    const result = await scenario.run()
    rows.push(...result.rows)
    raw[scenario.name] = result.raw
  } catch (error) {
    failed = true
    const message = error instanceof Error ? error.message : String(error)
    log(`${scenario.name} failed: ${message}`)
    rows.push({ metric: `${scenario.name}: error`, program: "-", baseline: "-", target: "runs", pass: false })
    raw[scenario.name] = { error: message }
  }
}

console.log()
printTable(rows)
log(`wrote ${writeResults(rounds, rows, raw)}`)
process.exit(failed ? 1 : 0)
