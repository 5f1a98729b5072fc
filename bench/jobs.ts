/**
 * Jobs per second on the worker pool: the program with `WORKER_THREADS=1` against the same program with the default
 * (`os.availableParallelism()`), started together and measured in paired, interleaved rounds (A B, then B A, …).
 * A round gives each a batch of `BATCH` hash jobs of `ROUNDS` SHA-256 rounds (~40 ms of one core each on a quiet
 * machine), posted at once, and times it from the first `POST` to the moment `/metrics` shows the batch done
 * (`jobs_done_total`, polled every 10 ms). jobs/s = `BATCH` / that time; the row is the median of the paired
 * speed-ups, with each side's median jobs/s. One warm-up batch per program first. The target (≥ 1.7× on 2 cores)
 * only means something on a quiet machine: each round logs the 1-minute load average and the CPU cores each process
 * actually got during its batch (user + sys time over wall time, all its threads) — a default pool that got 1.2
 * cores cannot be 1.7× faster, whatever the pool does. Jobs per CPU-second (jobs/s over cores obtained) is the figure
 * the load does not distort: it says what a second thread costs in overhead.
 */
import os from "node:os"
import { CLK_TCK, cpuTicks, HOST, type Server, startServer, stopServer, waitReady } from "./proc.ts"
import { fixed, log, median, type Row, type ScenarioResult } from "./report.ts"

const BATCH = Number(process.env.BENCH_JOBS_BATCH ?? 24)
const ROUNDS = Number(process.env.BENCH_JOBS_ROUNDS ?? 20_000)
const TARGET = 1.7

/** starts the program with `WORKER_THREADS` set (or left to its default) */
const start = async (threads: string | undefined): Promise<Server> => {
  const saved = process.env.WORKER_THREADS
  if (threads === undefined) delete process.env.WORKER_THREADS
  else process.env.WORKER_THREADS = threads
  try {
    return await startServer("program")
  } finally {
    if (saved === undefined) delete process.env.WORKER_THREADS
    else process.env.WORKER_THREADS = saved
  }
}

const doneCount = async (server: Server): Promise<number> => {
  const text = await (await fetch(`http://${HOST}:${server.adminPort}/metrics`)).text()
  const match = /^jobs_done_total(?:\{[^}]*\})? (\d+)/m.exec(text)
  return match === null ? 0 : Number(match[1])
}

/** one batch on `server`: seconds from the first POST until all of it is done, and the CPU cores it got meanwhile */
const batch = async (server: Server): Promise<{ readonly seconds: number; readonly cores: number }> => {
  const before = await doneCount(server)
  const ticks = cpuTicks(server.pid)
  const started = performance.now()
  const answers = await Promise.all(
    Array.from({ length: BATCH }, (_, i) =>
      fetch(`http://${HOST}:${server.port}/api/jobs`, {
        method: "POST",
        body: JSON.stringify({ kind: "hash", input: `bench ${i}`, rounds: ROUNDS })
      })
    )
  )
  const refused = answers.filter((answer) => answer.status !== 202).length
  if (refused > 0) throw new Error(`${refused} of ${BATCH} jobs refused (status ${answers[0]?.status})`)
  const deadline = started + 120_000
  while ((await doneCount(server)) < before + BATCH) {
    if (performance.now() > deadline) throw new Error(`batch not done in 120 s:\n${server.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const seconds = (performance.now() - started) / 1000
  return { seconds, cores: (cpuTicks(server.pid) - ticks) / CLK_TCK / seconds }
}

interface JobsRound {
  readonly one: number
  readonly all: number
  readonly speedUp: number
  /** CPU cores each process got during its batch (user + sys over wall time): 2 threads on a loaded machine get less */
  readonly oneCores: number
  readonly allCores: number
  readonly load1: number
}

export const jobsScenario = async (rounds: number): Promise<ScenarioResult> => {
  const threads = os.availableParallelism()
  const one = await start("1")
  const all = await start(undefined)
  const raw: Array<JobsRound> = []
  try {
    await Promise.all([waitReady(one), waitReady(all)])
    await batch(one)
    await batch(all)
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? [one, all] : [all, one]
      const measured = new Map<Server, { readonly seconds: number; readonly cores: number }>()
      for (const server of order) measured.set(server, await batch(server))
      const a = measured.get(one) as { readonly seconds: number; readonly cores: number }
      const b = measured.get(all) as { readonly seconds: number; readonly cores: number }
      const round = {
        one: BATCH / a.seconds,
        all: BATCH / b.seconds,
        speedUp: a.seconds / b.seconds,
        oneCores: a.cores,
        allCores: b.cores,
        load1: os.loadavg()[0] ?? 0
      }
      raw.push(round)
      log(
        `jobs ${i + 1}/${rounds}: WORKER_THREADS=1 ${fixed(round.one)} jobs/s, default (${threads}) ` +
          `${fixed(round.all)} jobs/s, speed-up ${fixed(round.speedUp, 2)}×; cores obtained ${fixed(round.oneCores, 2)} ` +
          `and ${fixed(round.allCores, 2)} (load ${fixed(round.load1, 2)})`
      )
    }
  } finally {
    await Promise.all([stopServer(one, 10_000), stopServer(all, 10_000)])
  }
  const speedUp = median(raw.map((r) => r.speedUp))
  const rows: Array<Row> = [
    {
      metric: `jobs/s, default (${threads} threads) vs WORKER_THREADS=1 (median)`,
      program: `${fixed(median(raw.map((r) => r.all)))} jobs/s`,
      baseline: `${fixed(median(raw.map((r) => r.one)))} jobs/s`,
      target: `${fixed(speedUp, 2)}× (≥ ${fixed(TARGET, 2)}×)`,
      pass: Number.isFinite(speedUp) && speedUp >= TARGET
    }
  ]
  rows.push({
    // the pool's own cost, whatever the machine's load: jobs per CPU-second spent by the whole process
    metric: "jobs per CPU-second, default vs 1 thread (median)",
    program: fixed(median(raw.map((r) => r.all / r.allCores))),
    baseline: fixed(median(raw.map((r) => r.one / r.oneCores))),
    target: `${fixed(median(raw.map((r) => r.all / r.allCores / (r.one / r.oneCores))), 2)}×`,
    pass: null
  })
  rows.push({
    metric: "jobs: CPU cores obtained, default vs 1 thread (median)",
    program: fixed(median(raw.map((r) => r.allCores)), 2),
    baseline: fixed(median(raw.map((r) => r.oneCores)), 2),
    target: `load ${fixed(median(raw.map((r) => r.load1)), 2)}`,
    pass: null
  })
  return { rows, raw: { batch: BATCH, rounds: ROUNDS, threads, perRound: raw } }
}
