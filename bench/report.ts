/**
 * Reporting for the bench: the row shape every scenario returns, small
 * statistics helpers, the console table and the `results.latest.json` file.
 */
import { spawnSync } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { CAN_PIN } from "./pin.ts"
import { ROOT, scriptFor } from "./proc.ts"

export interface Row {
  readonly metric: string
  readonly program: string
  readonly baseline: string
  /** e.g. `1.04× (≤ 1.10×)` or `≤ 1100 ms`. */
  readonly target: string
  /** `null` for informational rows. */
  readonly pass: boolean | null
}

export interface ScenarioResult {
  readonly rows: ReadonlyArray<Row>
  readonly raw: unknown
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export const fixed = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a")

/** `ratio× (≤ limit×)` cell, with the pass verdict. */
export const ratioCell = (ratio: number, limit: number): { target: string; pass: boolean } => ({
  target: `${fixed(ratio, 2)}× (≤ ${fixed(limit, 2)}×)`,
  pass: Number.isFinite(ratio) && ratio <= limit
})

export const printTable = (rows: ReadonlyArray<Row>): void => {
  const header = ["metric", "program", "baseline", "ratio / target", "result"]
  const body = rows.map((r) => [
    r.metric,
    r.program,
    r.baseline,
    r.target,
    r.pass === null ? "info" : r.pass ? "PASS" : "MISS"
  ])
  const all = [header, ...body]
  const widths = header.map((_, i) => Math.max(...all.map((line) => (line[i] ?? "").length)))
  const format = (line: ReadonlyArray<string>): string => line.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")
  console.log(format(header))
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"))
  for (const line of body) console.log(format(line))
}

export const writeResults = (rounds: number, rows: ReadonlyArray<Row>, raw: Record<string, unknown>): string => {
  const file = path.join(ROOT, "bench", "results.latest.json")
  const doc = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    node: process.version,
    program: path.relative(ROOT, scriptFor("program")),
    baseline:
      process.env.BENCH_BASELINE_TS === "1" ? "bench/baseline.ts" : "bench/baseline.ts (types stripped to .mjs)",
    pinned: CAN_PIN ? "cpu scenario: server on the last core, harness on core 0" : "no",
    rounds,
    loadavgAtEnd: os.loadavg(),
    rows,
    raw
  }
  return writeJson(file, doc)
}

/** writeJson — `doc` as JSON in `file`, fractions rounded to 3 digits, laid out by the project's formatter. */
export const writeJson = (file: string, doc: unknown): string => {
  const round = (_key: string, value: unknown): unknown =>
    typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value
  writeFileSync(file, `${JSON.stringify(doc, round, 2)}\n`)
  // Keep `biome check .` clean: let the project's formatter lay the file out.
  const biome = path.join(ROOT, "node_modules", ".bin", "biome")
  if (existsSync(biome)) spawnSync(biome, ["format", "--write", file], { cwd: ROOT, stdio: "ignore" })
  return file
}

/** Progress line on stderr, so stdout holds only the table. */
export const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}
