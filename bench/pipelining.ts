/**
 * Pipelining without reading: 128 clients each write `GET /healthz` requests back to back (as fast as the kernel
 * takes them) and never read a response. Node stops reading a connection once its unsent responses pass the socket's
 * high-water mark, but only between two reads: every request of a read (up to 64 KiB, ~1,500 requests) is handled at
 * once. RSS of the server after the clients have pushed for `PUSH_MS`, program against raw node:http, same clients,
 * paired interleaved rounds, medians; the target is the issue's: at most 2× raw node:http.
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
const PATH = process.env.BENCH_PIPELINE_PATH ?? "/healthz"
const BATCH = Buffer.from(HEALTHZ_REQUEST.replace("/healthz", PATH).repeat(64))

export interface PipeliningRun {
  readonly rssBeforeMiB: number
  readonly rssMiB: number
  /** request bytes the server took off the wire (what the clients could write), MiB */
  readonly writtenMiB: number
}

/** a client that writes as long as the socket takes it and never reads */
const pusher = (port: number) => {
  const socket = net.connect({ host: HOST, port })
  let written = 0
  let stopped = false
  socket.on("error", () => {})
  socket.pause() // never read: what the server sends stays in the kernel buffers, then in the server
  const push = () => {
    while (!stopped && !socket.destroyed) {
      if (PER_CLIENT > 0 && written >= (PER_CLIENT / 64) * BATCH.length) return
      written += BATCH.length
      if (!socket.write(BATCH)) return void socket.once("drain", push)
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

const pipelineOnce = async (server: Server): Promise<PipeliningRun> => {
  await waitReady(server)
  await sleep(200)
  const rssBeforeMiB = rssKb(server.pid) / 1024
  const clients = Array.from({ length: CLIENTS }, () => pusher(server.port))
  try {
    await sleep(PUSH_MS)
    const rssMiB = rssKb(server.pid) / 1024
    const writtenMiB = clients.reduce((sum, c) => sum + c.written(), 0) / 1024 / 1024
    return { rssBeforeMiB, rssMiB, writtenMiB }
  } finally {
    for (const client of clients) client.stop()
  }
}

export const pipeliningScenario = async (rounds: number): Promise<ScenarioResult> => {
  const runs: Record<"program" | "baseline", Array<PipeliningRun>> = { program: [], baseline: [] }
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? (["program", "baseline"] as const) : (["baseline", "program"] as const)) {
      const run = await withServer(kind, pipelineOnce)
      runs[kind].push(run)
      log(
        `pipelining ${kind}: RSS ${fixed(run.rssBeforeMiB)} → ${fixed(run.rssMiB)} MiB, ` +
          `${fixed(run.writtenMiB)} MiB of requests taken`
      )
    }
  }
  const rss = (kind: "program" | "baseline") => median(runs[kind].map((r) => r.rssMiB))
  const taken = (kind: "program" | "baseline") => median(runs[kind].map((r) => r.writtenMiB))
  const ratio = rss("program") / rss("baseline")
  const rows: Array<Row> = [
    {
      metric: `pipelining: RSS, ${CLIENTS} clients not reading (MiB)`,
      program: fixed(rss("program")),
      baseline: fixed(rss("baseline")),
      target: `${fixed(ratio, 2)}× (≤ ${fixed(LIMIT, 2)}×)`,
      pass: Number.isFinite(ratio) && ratio <= LIMIT
    },
    {
      metric: "pipelining: requests taken off the wire (MiB)",
      program: fixed(taken("program")),
      baseline: fixed(taken("baseline")),
      target: "info",
      pass: null
    }
  ]
  return { rows, raw: runs }
}
