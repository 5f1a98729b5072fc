/**
 * The toolkit bench's harness: paired, interleaved rounds of in-process workloads, reported as the median of the
 * per-round ratios against a baseline measured in the same round — never a lone absolute time. Times are CPU time.
 *
 * A workload is an Effect that moves `messages` values (or runs `messages` tasks). Each round runs the baseline and
 * the candidate back to back, alternating which goes first, after warm-up rounds that are not counted, so JIT and
 * machine noise fall on both alike.
 */
import { Effect } from "effect"
import { fixed, median } from "./report.ts"

/** Workload — one side of a comparison: `run` does `messages` units of work. */
export interface Workload {
  readonly name: string
  readonly run: Effect.Effect<void>
}

/** Pair — what one comparison measured, per unit of work. */
export interface Pair {
  readonly baselineNs: number
  readonly candidateNs: number
  /** median of the per-round candidate / baseline ratios */
  readonly ratio: number
  readonly ratios: ReadonlyArray<number>
}

/**
 * timeOnce — the process's CPU time (user + system, µs → ns) per unit: on a shared VM, wall time also counts the
 * time other tenants hold the core (steal), which swings a round by ±30%; CPU time does not.
 */
const timeOnce = async (workload: Workload, units: number): Promise<number> => {
  const start = process.cpuUsage()
  await Effect.runPromise(workload.run)
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1e3) / units
}

/** compare — `rounds` paired rounds (after `warmup`), returning ns per unit for each side and the median ratio. */
export const compare = async (
  baseline: Workload,
  candidate: Workload,
  options: { readonly units: number; readonly rounds: number; readonly warmup?: number }
): Promise<Pair> => {
  const { units, rounds, warmup = 2 } = options
  for (let i = 0; i < warmup; i++) {
    await timeOnce(baseline, units)
    await timeOnce(candidate, units)
  }
  const base: Array<number> = []
  const cand: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      base.push(await timeOnce(baseline, units))
      cand.push(await timeOnce(candidate, units))
    } else {
      cand.push(await timeOnce(candidate, units))
      base.push(await timeOnce(baseline, units))
    }
  }
  const ratios = base.map((b, i) => (cand[i] as number) / b)
  return { baselineNs: median(base), candidateNs: median(cand), ratio: median(ratios), ratios }
}

/** nsCell — `123.4 ns` per unit. */
export const nsCell = (ns: number): string => `${fixed(ns, 1)} ns`

/** rateCell — units per second from ns per unit, in millions: `57.1 M/s`. */
export const rateCell = (ns: number): string => `${fixed(1e3 / ns, 1)} M/s`
