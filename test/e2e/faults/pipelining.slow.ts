/**
 * Fault suite: pipelined requests per connection are bounded (issue #8). Slow (two servers under load), so it runs
 * in `npm run test:faults` (whose include matches `*.slow.ts`), not in `npm test`.
 *
 * 128 clients pipeline `GET /healthz` without ever reading a response, for a few seconds, first against a raw
 * `node:http` server with the same routes (`bench/baseline.ts`), then against the program. The program's peak RSS
 * must stay within 2× the raw server's. Without the bound the program kept answering into sockets nobody reads
 * (the issue measured 258 MiB against 36 MiB; this client measured 2.11× before the bound).
 */
import net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { HOST, type Kind, rssKb, type Server, startServer, stopServer, waitReady } from "../../../bench/proc.ts"
import { sleep } from "../support.ts"

const clients = 128
const seconds = Number(process.env.FAULT_PIPELINE_SECONDS ?? 4)
const request = `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`
const batch = request.repeat(Number(process.env.FAULT_PIPELINE_BATCH ?? 4096))

const started: Array<Server> = []
afterEach(async () => {
  for (const server of started.splice(0)) server.child.kill("SIGKILL")
})

/** the peak RSS (KiB) of `kind` while `clients` sockets pipeline requests into it without reading */
const peakRssUnderPipelining = async (kind: Kind): Promise<number> => {
  const server = await startServer(kind)
  started.push(server)
  await waitReady(server)
  const sockets = Array.from({ length: clients }, () => {
    const socket = net.connect({ host: HOST, port: server.port })
    socket.on("error", () => {})
    socket.pause() // never read: responses pile up wherever the server lets them
    return socket
  })
  const writer = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed && !socket.writableNeedDrain) socket.write(batch)
  }, 10)
  let peak = rssKb(server.pid)
  const end = performance.now() + seconds * 1_000
  while (performance.now() < end) {
    await sleep(100)
    peak = Math.max(peak, rssKb(server.pid))
  }
  clearInterval(writer)
  for (const socket of sockets) socket.destroy()
  await stopServer(server)
  return peak
}

describe("fault suite: pipelining", () => {
  it(`${clients} clients pipelining without reading: RSS within 2× raw node:http for the same clients`, async () => {
    const baseline = await peakRssUnderPipelining("baseline")
    const program = await peakRssUnderPipelining("program")
    const ratio = program / baseline
    console.log(
      `pipelining, ${clients} clients, ${seconds} s: program ${Math.round(program / 1024)} MiB, raw node:http ` +
        `${Math.round(baseline / 1024)} MiB, ratio ${ratio.toFixed(2)}`
    )
    expect(ratio).toBeLessThanOrEqual(2)
  }, 60_000)
})
