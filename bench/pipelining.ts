/**
 * Pipelining without reading: 128 clients each write requests back to back (as fast as the kernel takes them) and
 * never read a response; RSS of the server after `PUSH_MS`, program against raw node:http (`bench/baseline.ts`), same
 * clients, paired interleaved rounds, medians; the target is the issue's: at most 2× raw node:http.
 *
 * Two paths. `GET /healthz` is answered at once: Node stops reading a connection once its unsent answers pass the
 * socket's high-water mark (between two reads: every request of one read, up to 64 KiB, is handled). `GET
 * /api/delay/1000` answers after a second: nothing is written meanwhile, so Node never stops reading and raw
 * node:http holds every request a client sends; the program handles 16 per connection (`maxPipelined`) and stops
 * reading the rest.
 */
import net from "node:net"
import { HOST, rssKb, type Server, sleep, waitReady, withServer } from "./proc.ts"
import { fixed, log, median, type Row, type ScenarioResult } from "./report.ts"
import { HEALTHZ_REQUEST } from "./wire.ts"

const CLIENTS = Number(process.env.BENCH_PIPELINE_CLIENTS ?? 128)
const PUSH_MS = Number(process.env.BENCH_PIPELINE_MS ?? 3_000)
const LIMIT = 2
/** requests each client writes (0: as many as the kernel takes) */
const PER_CLIENT = Number(process.env.BENCH_PIPELINE_REQUESTS ?? 0)
/** requests written per `write` call (~2.4 KiB) */
const PATHS = (process.env.BENCH_PIPELINE_PATHS ?? "/healthz,/api/delay/1000").split(",")
const batchFor = (path: string) => Buffer.from(HEALTHZ_REQUEST.replace("/healthz", path).repeat(64))

export interface PipeliningRun {
  readonly rssBeforeMiB: number
  readonly rssMiB: number
  /** request bytes the clients got written (taken by the kernel, then by the server), MiB */
  readonly writtenMiB: number
}

/** a client that writes as long as the socket takes it and never reads */
const pusher = (port: number, batch: Buffer) => {
  const socket = net.connect({ host: HOST, port })
  let written = 0
  let stopped = false
  socket.on("error", () => {})
  socket.pause() // never read: what the server sends stays in the kernel buffers, then in the server
  const push = () => {
    while (!stopped && !socket.destroyed) {
      if (PER_CLIENT > 0 && written >= (PER_CLIENT / 64) * batch.length) return
      written += batch.length
      if (!socket.write(batch)) return void socket.once("drain", push)
    }
  }
  socket.once("connect", push)
  return {
    written: () => written - socket.writableLength,
    stop: () => {
      stopped = true
      socket.destroy()
    }
  }
}

const pipelineOnce =
  (path: string) =>
  async (server: Server): Promise<PipeliningRun> => {
    await waitReady(server)
    await sleep(200)
    const rssBeforeMiB = rssKb(server.pid) / 1024
    const batch = batchFor(path)
    const clients = Array.from({ length: CLIENTS }, () => pusher(server.port, batch))
    try {
      await sleep(PUSH_MS)
      const rssMiB = rssKb(server.pid) / 1024
      const writtenMiB = clients.reduce((sum, c) => sum + c.written(), 0) / 1024 / 1024
      return { rssBeforeMiB, rssMiB, writtenMiB }
    } finally {
      for (const client of clients) client.stop()
    }
  }

type Side = "program" | "baseline"

const measurePath = async (path: string, rounds: number) => {
  const runs: Record<Side, Array<PipeliningRun>> = { program: [], baseline: [] }
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? (["program", "baseline"] as const) : (["baseline", "program"] as const)) {
      const run = await withServer(kind, pipelineOnce(path))
      runs[kind].push(run)
      log(
        `pipelining ${path} ${kind}: RSS ${fixed(run.rssBeforeMiB)} → ${fixed(run.rssMiB)} MiB, ` +
          `${fixed(run.writtenMiB)} MiB of requests written`
      )
    }
  }
  const rss = (kind: Side) => median(runs[kind].map((r) => r.rssMiB))
  const written = (kind: Side) => median(runs[kind].map((r) => r.writtenMiB))
  const ratio = rss("program") / rss("baseline")
  const rows: Array<Row> = [
    {
      metric: `pipelining ${path}: RSS, ${CLIENTS} clients not reading (MiB)`,
      program: fixed(rss("program")),
      baseline: fixed(rss("baseline")),
      target: `${fixed(ratio, 2)}× (≤ ${fixed(LIMIT, 2)}×)`,
      pass: Number.isFinite(ratio) && ratio <= LIMIT
    },
    {
      metric: `pipelining ${path}: requests the clients got written (MiB)`,
      program: fixed(written("program")),
      baseline: fixed(written("baseline")),
      target: "info",
      pass: null
    }
  ]
  return { rows, runs }
}

export const pipeliningScenario = async (rounds: number): Promise<ScenarioResult> => {
  const rows: Array<Row> = []
  const raw: Record<string, unknown> = {}
  for (const path of PATHS) {
    const result = await measurePath(path, rounds)
    rows.push(...result.rows)
    raw[path] = result.runs
  }
  return { rows, raw }
}
