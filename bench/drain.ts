/**
 * Drain: 32 keep-alive connections each carry one `GET /api/delay/1000`;
 * SIGTERM 200 ms in; a fresh raw connection 100 ms after SIGTERM must be
 * refused. Reports 200s, refusal, exit code and SIGTERM → exit time.
 */
import http from "node:http"
import net from "node:net"
import { HOST, type Kind, type Server, sleep, waitExit, waitReady, withServer } from "./proc.ts"
import { fixed, log, type Row, type ScenarioResult } from "./report.ts"

const REQUESTS = 32
const DELAY_MS = 1000
const SIGTERM_AFTER_MS = 200
const PROBE_AFTER_MS = 100
const EXIT_LIMIT_MS = 1100
const GIVE_UP_MS = 15_000

export interface DrainRun {
  readonly ok200: number
  /** Status code or error code per request. */
  readonly outcomes: ReadonlyArray<string>
  /** `refused` | `accepted` | another error code. */
  readonly newConnection: string
  readonly exitCode: number | null
  readonly exitSignal: string | null
  readonly exitMs: number
  readonly killed: boolean
}

const get = (agent: http.Agent, port: number, path: string): Promise<string> =>
  new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent }, (res) => {
      res.resume()
      res.once("end", () => resolve(String(res.statusCode)))
      res.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"))
    })
    req.setTimeout(DELAY_MS + GIVE_UP_MS, () => req.destroy(new Error("timeout")))
    req.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })

/** Attempts a new TCP connection; never sends anything on it. */
export const tryConnect = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port })
    socket.setTimeout(1000, () => {
      socket.destroy()
      resolve("timeout")
    })
    socket.once("connect", () => {
      socket.destroy()
      resolve("accepted")
    })
    socket.once("error", (e: NodeJS.ErrnoException) =>
      resolve(e.code === "ECONNREFUSED" ? "refused" : (e.code ?? "error"))
    )
  })

const drainOnce = async (server: Server): Promise<DrainRun> => {
  await waitReady(server)
  const agent = new http.Agent({ keepAlive: true, maxSockets: REQUESTS })
  try {
    const pending = Array.from({ length: REQUESTS }, () => get(agent, server.port, `/api/delay/${DELAY_MS}`))
    await sleep(SIGTERM_AFTER_MS)
    const sigtermAt = performance.now()
    server.child.kill("SIGTERM")
    await sleep(PROBE_AFTER_MS)
    const newConnection = await tryConnect(server.port)
    const stopped = await waitExit(server, GIVE_UP_MS - (performance.now() - sigtermAt))
    agent.destroy() // a killed server may leave requests hanging
    const outcomes = await Promise.all(pending)
    return {
      ok200: outcomes.filter((o) => o === "200").length,
      outcomes,
      newConnection,
      exitCode: stopped.exit.code,
      exitSignal: stopped.exit.signal,
      exitMs: stopped.exit.at - sigtermAt,
      killed: stopped.killed
    }
  } finally {
    agent.destroy()
  }
}

const describeExit = (r: DrainRun): string =>
  r.killed ? `killed after ${fixed(r.exitMs, 0)} ms` : `code ${r.exitCode ?? r.exitSignal} in ${fixed(r.exitMs, 0)} ms`

export const drainScenario = async (): Promise<ScenarioResult> => {
  const raw: Partial<Record<Kind, DrainRun>> = {}
  for (const kind of ["program", "baseline"] as const) {
    const run = await withServer(kind, drainOnce)
    raw[kind] = run
    log(`drain ${kind}: ${run.ok200}/${REQUESTS} ok, new connection ${run.newConnection}, ${describeExit(run)}`)
  }
  const p = raw.program as DrainRun
  const b = raw.baseline as DrainRun
  const rows: Array<Row> = [
    {
      metric: `drain: in-flight answered 200`,
      program: `${p.ok200}/${REQUESTS}`,
      baseline: `${b.ok200}/${REQUESTS}`,
      target: `= ${REQUESTS}/${REQUESTS}`,
      pass: p.ok200 === REQUESTS
    },
    {
      metric: "drain: new connection after SIGTERM",
      program: p.newConnection,
      baseline: b.newConnection,
      target: "refused",
      pass: p.newConnection === "refused"
    },
    {
      metric: "drain: SIGTERM → exit",
      program: describeExit(p),
      baseline: describeExit(b),
      target: `code 0, ≤ ${EXIT_LIMIT_MS} ms`,
      pass: !p.killed && p.exitCode === 0 && p.exitMs <= EXIT_LIMIT_MS
    }
  ]
  return { rows, raw }
}
