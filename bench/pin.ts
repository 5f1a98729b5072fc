/**
 * CPU pinning for the CPU-per-request scenario: with `taskset` and ≥ 2 cores
 * (and BENCH_PIN not "0"), the server runs on the last core and the harness
 * (the autocannon load generator) on core 0, so they never trade places
 * mid-measurement. Start-up, memory and shutdown scenarios run unpinned.
 */
import { spawnSync } from "node:child_process"
import os from "node:os"

const cores = os.cpus().length

export const CAN_PIN =
  process.env.BENCH_PIN !== "0" && cores >= 2 && spawnSync("taskset", ["-p", String(process.pid)]).status === 0

/** `argv` prefixed so that it runs on the last core. */
export const pinned = (argv: ReadonlyArray<string>): Array<string> => ["taskset", "-c", String(cores - 1), ...argv]

/** Pins every thread of the harness to core 0 (`on`) or back to all cores. */
export const pinHarness = (on: boolean): void => {
  if (!CAN_PIN) return
  spawnSync("taskset", ["-a", "-p", "-c", on ? "0" : `0-${cores - 1}`, String(process.pid)])
}
