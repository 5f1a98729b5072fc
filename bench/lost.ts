/**
 * Lost requests: 16 raw keep-alive sockets send `GET /healthz` back to back
 * (next request once the previous response is complete); SIGTERM after 1 s.
 * A request is lost if it was written but its socket reset/ended/closed
 * before the response arrived. `Connection: close` stops a socket's sending.
 */
import net from "node:net"
import { HOST, type Kind, type Server, sleep, waitExit, waitReady, withServer } from "./proc.ts"
import { fixed, log, type ScenarioResult } from "./report.ts"
import { HEALTHZ_REQUEST, responseReader } from "./wire.ts"

const SOCKETS = 16
const SIGTERM_AFTER_MS = 1000
const DEADLINE_MS = 10_000

export interface SocketTally {
  sent: number
  answered: number
  ok: number
  lost: number
  sawClose: boolean
  error: string | null
}

export interface LostRun {
  readonly lost: number
  readonly sent: number
  readonly answered: number
  readonly ok: number
  readonly closeAnswers: number
  readonly allClosed: boolean
  readonly exitCode: number | null
  readonly exitMs: number
  readonly killed: boolean
  readonly sockets: ReadonlyArray<SocketTally>
}

/** Runs one hammering socket; resolves with its tally when it closes. */
const hammer = (port: number, abort: AbortSignal): Promise<SocketTally> =>
  new Promise((resolve) => {
    const tally: SocketTally = { sent: 0, answered: 0, ok: 0, lost: 0, sawClose: false, error: null }
    const feed = responseReader()
    const socket = net.connect({ host: HOST, port })
    let outstanding = false
    const next = (): void => {
      if (tally.sawClose || abort.aborted || socket.destroyed) return
      outstanding = true
      tally.sent++
      socket.write(HEALTHZ_REQUEST)
    }
    const onAbort = (): void => {
      outstanding = false // our own teardown does not lose anything
      socket.destroy()
    }
    abort.addEventListener("abort", onAbort, { once: true })
    socket.setNoDelay(true)
    socket.once("connect", next)
    socket.on("data", (chunk: Buffer) => {
      for (const response of feed(chunk)) {
        outstanding = false
        tally.answered++
        if (response.status >= 200 && response.status < 300) tally.ok++
        if (response.close) tally.sawClose = true
      }
      if (!outstanding) next()
    })
    socket.on("error", (e: NodeJS.ErrnoException) => {
      tally.error = e.code ?? e.message
    })
    socket.once("close", () => {
      abort.removeEventListener("abort", onAbort)
      if (outstanding) tally.lost++
      resolve(tally)
    })
  })

const lostOnce = async (server: Server): Promise<LostRun> => {
  await waitReady(server)
  const abort = new AbortController()
  const deadline = setTimeout(() => abort.abort(), DEADLINE_MS)
  const tallies = Array.from({ length: SOCKETS }, () => hammer(server.port, abort.signal))
  await sleep(SIGTERM_AFTER_MS)
  const sigtermAt = performance.now()
  server.child.kill("SIGTERM")
  const sockets = await Promise.all(tallies)
  const allClosed = !abort.signal.aborted
  clearTimeout(deadline)
  const stopped = await waitExit(server, Math.max(1000, DEADLINE_MS - (performance.now() - sigtermAt)))
  const sum = (f: (t: SocketTally) => number): number => sockets.reduce((n, t) => n + f(t), 0)
  return {
    lost: sum((t) => t.lost),
    sent: sum((t) => t.sent),
    answered: sum((t) => t.answered),
    ok: sum((t) => t.ok),
    closeAnswers: sum((t) => (t.sawClose ? 1 : 0)),
    allClosed,
    exitCode: stopped.exit.code,
    exitMs: stopped.exit.at - sigtermAt,
    killed: stopped.killed,
    sockets
  }
}

export const lostScenario = async (): Promise<ScenarioResult> => {
  const raw: Partial<Record<Kind, LostRun>> = {}
  for (const kind of ["program", "baseline"] as const) {
    const run = await withServer(kind, lostOnce)
    raw[kind] = run
    log(
      `lost ${kind}: ${run.lost} lost of ${run.sent} sent (${run.answered} answered, ` +
        `${run.closeAnswers}/${SOCKETS} sockets got Connection: close, all closed by server: ${run.allClosed}, ` +
        `${run.killed ? "killed" : `exit ${run.exitCode}`} ${fixed(run.exitMs, 0)} ms after SIGTERM)`
    )
  }
  const p = raw.program as LostRun
  const b = raw.baseline as LostRun
  return {
    rows: [
      {
        metric: `lost requests (${SOCKETS} busy sockets)`,
        program: `${p.lost} of ${p.sent}`,
        baseline: `${b.lost} of ${b.sent}`,
        target: "= 0",
        pass: p.lost === 0
      },
      {
        metric: "busy sockets told Connection: close",
        program: `${p.closeAnswers}/${SOCKETS}`,
        baseline: `${b.closeAnswers}/${SOCKETS}`,
        target: "(info)",
        pass: null
      }
    ],
    raw
  }
}
