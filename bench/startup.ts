/**
 * Start-up time and memory: spawn → first 200 on `/healthz`, then RSS
 * (VmRSS) ~200 ms later. Fresh process per run, order alternating; medians.
 */
import { type Kind, rssKb, sleep, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, ratioCell, type ScenarioResult } from "./report.ts"

const STARTUP_LIMIT = 1.5
const RSS_LIMIT = 1.3
const SETTLE_MS = 200

export interface StartupRun {
  readonly startupMs: number
  readonly rssKb: number
}

const once = async (kind: Kind): Promise<StartupRun> => {
  const server = await startServer(kind)
  try {
    const readyAt = await waitReady(server)
    await sleep(SETTLE_MS)
    return { startupMs: readyAt - server.spawnedAt, rssKb: rssKb(server.pid) }
  } finally {
    await stopServer(server, 3_000)
  }
}

export const startupScenario = async (rounds: number): Promise<ScenarioResult> => {
  const raw: Record<"program" | "baseline", Array<StartupRun>> = { program: [], baseline: [] }
  for (let i = 0; i < rounds; i++) {
    const order: ReadonlyArray<"program" | "baseline"> = i % 2 === 0 ? ["program", "baseline"] : ["baseline", "program"]
    for (const kind of order) raw[kind].push(await once(kind))
    const p = raw.program[i] as StartupRun
    const b = raw.baseline[i] as StartupRun
    log(
      `startup ${i + 1}/${rounds}: program ${fixed(p.startupMs)} ms ${fixed(p.rssKb / 1024)} MiB, ` +
        `baseline ${fixed(b.startupMs)} ms ${fixed(b.rssKb / 1024)} MiB`
    )
  }
  const ms = (kind: "program" | "baseline"): number => median(raw[kind].map((r) => r.startupMs))
  const mib = (kind: "program" | "baseline"): number => median(raw[kind].map((r) => r.rssKb)) / 1024
  return {
    rows: [
      {
        metric: "start-up to first 200 (median)",
        program: `${fixed(ms("program"))} ms`,
        baseline: `${fixed(ms("baseline"))} ms`,
        ...ratioCell(ms("program") / ms("baseline"), STARTUP_LIMIT)
      },
      {
        metric: "RSS after start-up (median)",
        program: `${fixed(mib("program"))} MiB`,
        baseline: `${fixed(mib("baseline"))} MiB`,
        ...ratioCell(mib("program") / mib("baseline"), RSS_LIMIT)
      }
    ],
    raw
  }
}
