/**
 * Idle stop: one keep-alive connection does one request and then sits idle;
 * SIGTERM → process exit must take ≤ DRAIN_IDLE_GRACE (250 ms) + 150 ms.
 * Median of a few fresh-process runs per side.
 */
import net from "node:net"
import { HOST, type Server, sleep, waitExit, waitReady, withServer } from "./proc.ts"
import { fixed, log, median, type ScenarioResult } from "./report.ts"
import { HEALTHZ_REQUEST, responseReader } from "./wire.ts"

const IDLE_GRACE_MS = 250
const LIMIT_MS = IDLE_GRACE_MS + 150
const IDLE_BEFORE_SIGTERM_MS = 100
const GIVE_UP_MS = 10_000

export interface IdleRun {
  readonly exitMs: number
  readonly exitCode: number | null
  readonly killed: boolean
  /** When the server closed our idle socket, ms after SIGTERM (null: never). */
  readonly socketClosedMs: number | null
}

/** Opens a socket, completes one request on it and leaves it open. */
const idleConnection = (port: number): Promise<{ socket: net.Socket; closedAt: () => number | null }> =>
  new Promise((resolve, reject) => {
    const feed = responseReader()
    const socket = net.connect({ host: HOST, port })
    let closedAt: number | null = null
    socket.once("close", () => {
      closedAt = performance.now()
    })
    socket.on("error", reject)
    socket.once("connect", () => socket.write(HEALTHZ_REQUEST))
    socket.on("data", (chunk: Buffer) => {
      const [response] = feed(chunk)
      if (response === undefined) return
      if (response.status !== 200 || response.close) reject(new Error(`unexpected response ${response.status}`))
      else resolve({ socket, closedAt: () => closedAt })
    })
    socket.setTimeout(5000, () => reject(new Error("idle connection timed out")))
  })

const idleOnce = async (server: Server): Promise<IdleRun> => {
  await waitReady(server)
  const { socket, closedAt } = await idleConnection(server.port)
  socket.setTimeout(0)
  socket.removeAllListeners("error")
  socket.on("error", () => {})
  try {
    await sleep(IDLE_BEFORE_SIGTERM_MS)
    const sigtermAt = performance.now()
    server.child.kill("SIGTERM")
    const stopped = await waitExit(server, GIVE_UP_MS)
    const closed = closedAt()
    return {
      exitMs: stopped.exit.at - sigtermAt,
      exitCode: stopped.exit.code,
      killed: stopped.killed,
      socketClosedMs: closed === null ? null : closed - sigtermAt
    }
  } finally {
    socket.destroy()
  }
}

export const idleScenario = async (rounds: number): Promise<ScenarioResult> => {
  const raw: Record<"program" | "baseline", Array<IdleRun>> = { program: [], baseline: [] }
  for (let i = 0; i < rounds; i++) {
    for (const kind of ["program", "baseline"] as const) {
      const run = await withServer(kind, idleOnce)
      raw[kind].push(run)
      log(
        `idle ${kind} ${i + 1}/${rounds}: ${run.killed ? "killed" : `exit ${run.exitCode}`} in ${fixed(run.exitMs, 0)} ms`
      )
    }
  }
  const ms = (kind: "program" | "baseline"): number => median(raw[kind].map((r) => r.exitMs))
  const allClean = raw.program.every((r) => !r.killed && r.exitCode === 0)
  return {
    rows: [
      {
        metric: "idle keep-alive: SIGTERM → exit (median)",
        program: `${fixed(ms("program"), 0)} ms`,
        baseline: `${fixed(ms("baseline"), 0)} ms`,
        target: `code 0, ≤ ${LIMIT_MS} ms`,
        pass: allClean && ms("program") <= LIMIT_MS
      }
    ],
    raw
  }
}
