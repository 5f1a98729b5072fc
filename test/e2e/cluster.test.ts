/**
 * End-to-end: `WORKERS=2` — the built program as a cluster's primary and two workers sharing the API port. Real
 * processes, real signals, real sockets on loopback; the workers' pids come from the primary's `starting 2 workers`
 * log line. Timing bounds are generous (the machine is noisy); every wait is bounded.
 */
import http from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { isAlive } from "./spawned.ts"
import {
  exitOf,
  get,
  killLeftovers,
  type LogLine,
  messageOf,
  type Program,
  sleep,
  spawnProgram,
  startProgram,
  withMessage
} from "./support.ts"

const workerPids = new Set<number>()
afterEach(async () => {
  await killLeftovers()
  for (const pid of workerPids) if (isAlive(pid)) process.kill(pid, "SIGKILL")
  workerPids.clear()
})

/** the primary, once it and both workers serve; with the workers' pids by cluster id */
const startCluster = async (env: Readonly<Record<string, string>> = {}) => {
  const program = await startProgram({ WORKERS: "2", ...env })
  const starting = await program.waitForLog(withMessage("starting 2 workers"))
  const pids = new Map(
    String(starting.annotations.workers)
      .split(",")
      .map((entry) => entry.split(":").map(Number) as [number, number])
  )
  for (const pid of pids.values()) workerPids.add(pid)
  // the primary's own `serving` line: the one without a worker annotation
  await program.waitForLog((line) => messageOf(line) === "serving" && line.annotations.worker === undefined, 15_000)
  return { program, pids }
}

const ofWorker = (id: number) => (line: LogLine) => line.annotations.worker === id

/** the value of the series `name{labels}` in a Prometheus text, or undefined */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const metricsOf = async (program: Program) => {
  const reply = await get(program.adminPort, "/metrics")
  expect(reply.status).toBe(200)
  return reply.body
}

const waitGone = async (pid: number, timeoutMs = 5_000) => {
  const deadline = performance.now() + timeoutMs
  while (isAlive(pid) && performance.now() < deadline) await sleep(25)
  return !isAlive(pid)
}

describe("WORKERS=2", () => {
  it("both workers serve the API port; the primary serves admin and /metrics aggregates them", async () => {
    const { program } = await startCluster()
    expect((await get(program.adminPort, "/readyz")).body).toBe("ready")
    // four slow requests on four connections: the primary hands connections to the workers in turn
    const slow = Array.from({ length: 4 }, () => get(program.port, "/api/delay/1500"))
    await sleep(700)
    const during = await metricsOf(program)
    expect(sample(during, 'http_requests_in_flight{server="api",worker="1"}'), during).toBeGreaterThanOrEqual(1)
    expect(sample(during, 'http_requests_in_flight{server="api",worker="2"}'), during).toBeGreaterThanOrEqual(1)
    for (const reply of await Promise.all(slow)) expect(reply.status).toBe(200)

    // 20 requests, spread over both workers: the counter and the histogram are their sum, in one series
    for (let i = 0; i < 20; i++) expect((await get(program.port, "/healthz")).status).toBe(200)
    const after = await metricsOf(program)
    expect(sample(after, 'http_requests_total{server="api",route="/healthz",method="GET",status="200"}'), after).toBe(
      20
    )
    expect(sample(after, 'http_request_duration_seconds_count{server="api",route="/healthz"}'), after).toBe(20)
    expect(sample(after, 'http_requests_total{server="api",route="/api/delay/:ms",method="GET",status="200"}')).toBe(4)
    expect(sample(after, 'cluster_workers_running{worker="primary"}')).toBe(2)
    expect(after).not.toMatch(/^http_requests_total\{[^}]*worker=/m)

    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  }, 60_000)

  it("SIGTERM: both workers drain their requests in flight, every process exits, the primary exits 0", async () => {
    const { program, pids } = await startCluster()
    const slow = Array.from({ length: 4 }, () => get(program.port, "/api/delay/1000"))
    await sleep(500)
    program.kill("SIGTERM")
    for (const reply of await Promise.all(slow)) expect([reply.status, reply.body]).toEqual([200, '{"waited":1000}'])
    const exit = await exitOf(program, 20_000)
    expect([exit.code, exit.signal], program.output()).toEqual([0, null])
    for (const id of [1, 2]) {
      const stopped = program.logs.find(
        (line) => ofWorker(id)(line) && messageOf(line) === "api server stopped accepting"
      )
      expect(stopped?.annotations.inFlightAtStart, `worker ${id} had requests in flight`).toBeGreaterThanOrEqual(1)
      expect(program.logs.some((l) => ofWorker(id)(l) && messageOf(l) === "shutdown phase drain done")).toBe(true)
      expect(program.logs.some(withMessage(`worker ${id} (pid ${pids.get(id)}) exited with code 0`))).toBe(true)
      expect(isAlive(pids.get(id) ?? 0)).toBe(false)
    }
  }, 60_000)

  it("SIGKILL of one worker: the primary drains the other and exits 1", async () => {
    const { program, pids } = await startCluster()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
    try {
      // two connections, one per worker, each with a request in flight
      const slow = [get(program.port, "/api/delay/1500", { agent }), get(program.port, "/api/delay/1500", { agent })]
      await sleep(500)
      process.kill(pids.get(1) ?? 0, "SIGKILL")
      const replies = await Promise.allSettled(slow)
      const exit = await exitOf(program, 20_000)
      expect([exit.code, exit.signal], program.output()).toEqual([1, null])
      expect(program.logs.some(withMessage(`stopping: worker 1 (pid ${pids.get(1)}) was killed by SIGKILL`))).toBe(true)
      // worker 2 drained: its request was answered
      const answered = replies.filter((r) => r.status === "fulfilled" && r.value.status === 200)
      expect(answered.length, program.output()).toBeGreaterThanOrEqual(1)
      expect(program.logs.some((l) => ofWorker(2)(l) && messageOf(l) === "shutdown phase drain done")).toBe(true)
      expect(await waitGone(pids.get(2) ?? 0)).toBe(true)
    } finally {
      agent.destroy()
    }
  }, 60_000)

  it("a worker forced at the budget makes the primary exit 2", async () => {
    const { program } = await startCluster({ SHUTDOWN_TIMEOUT: "1 second" })
    const slow = Array.from({ length: 2 }, () => get(program.port, "/api/delay/8000"))
    await sleep(500)
    const sent = program.kill("SIGTERM")
    const replies = await Promise.allSettled(slow)
    const exit = await exitOf(program, 15_000)
    expect([exit.code, exit.signal], program.output()).toEqual([2, null])
    expect(exit.at - sent).toBeLessThan(6_000)
    // the workers forced their own requests (503) and exited 2; the primary did not need to SIGKILL them
    expect(replies.map((r) => (r.status === "fulfilled" ? r.value.status : r.reason))).toEqual([503, 503])
    expect(program.logs.filter(withMessage("exited with code 2"))).toHaveLength(2)
  }, 60_000)

  it("a second signal forces: exit 2 at once, no worker left behind", async () => {
    const { program, pids } = await startCluster({ SHUTDOWN_DELAY: "5 seconds" })
    program.kill("SIGTERM")
    await program.waitForLog(withMessage("asked 2 workers to shut down"))
    await sleep(400) // past the repeat window: a second delivery, not the same one twice
    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program, 10_000)
    expect([exit.code, exit.signal], program.output()).toEqual([2, null])
    expect(exit.at - sent).toBeLessThan(2_000)
    for (const pid of pids.values()) expect(await waitGone(pid)).toBe(true)
  }, 60_000)

  it("SIGHUP to the primary reaches every worker (each reloads its configuration)", async () => {
    const { program } = await startCluster()
    program.kill("SIGHUP")
    for (const id of [1, 2]) {
      await program.waitForLog((line) => ofWorker(id)(line) && messageOf(line).startsWith("received SIGHUP"))
    }
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  }, 60_000)

  it("WORKERS=1 runs no primary: one process serves API and admin", async () => {
    const program = await startProgram({ WORKERS: "1" })
    const serving = program.logs.find(withMessage("serving"))
    expect(serving?.annotations.members).toBe("signals,api,admin,faults")
    expect(program.logs.some(withMessage("workers"))).toBe(false)
    program.kill("SIGTERM")
    expect((await exitOf(program)).code).toBe(0)
  }, 30_000)

  it("an invalid WORKERS is one line naming it, exit 1", async () => {
    for (const value of ["0", "two", "1.5"]) {
      const program = await spawnProgram({ WORKERS: value })
      const exit = await exitOf(program)
      expect(exit.code, program.output()).toBe(1)
      const line = `invalid configuration: WORKERS=${JSON.stringify(value)}: `
      expect(program.logs.some(withMessage(line)), program.output()).toBe(true)
    }
  }, 30_000)
})
