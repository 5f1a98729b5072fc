/**
 * The baseline is written in TypeScript, but running a `.ts` file makes Node
 * load its type stripper (~17 MiB RSS and tens of ms of start-up) — a cost
 * the bundled program never pays. So by default the harness strips the types
 * once into a temporary `.mjs` and spawns that; BENCH_BASELINE_TS=1 spawns the
 * `.ts` directly instead.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { stripTypeScriptTypes } from "node:module"
import os from "node:os"
import path from "node:path"

let cached: string | undefined

/** Path of a plain-JS copy of `source`, created on first use, removed on exit. */
export const strippedCopy = (source: string): string => {
  if (cached !== undefined) return cached
  const emitWarning = process.emitWarning
  let code: string
  try {
    process.emitWarning = () => {} // stripTypeScriptTypes is flagged experimental
    code = stripTypeScriptTypes(readFileSync(source, "utf8"))
  } finally {
    process.emitWarning = emitWarning
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-baseline-"))
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }))
  cached = path.join(dir, `${path.basename(source, ".ts")}.mjs`)
  writeFileSync(cached, code)
  return cached
}
