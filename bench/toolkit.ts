/**
 * Toolkit benchmark (`npm run bench:toolkit`): the Go primitives against Effect's own parts, in one process and one
 * run — `Channel` against raw `Queue`, the pipeline against the same pipeline on raw queues, `ErrGroup` against
 * `Effect.forEach`. Each figure is the median of paired, interleaved rounds (`toolkit-harness.ts`).
 *
 * Go's figures come from `bench/go/channels.go`, run in the same session when `go` is on PATH (GOMAXPROCS=1, CPU
 * time: like for like with one Node thread), else from issue 10's statement (`bench/go/figures.ts`). Beside `Queue`,
 * the channel rows show Effect's floor for the same work: what the steps a channel cannot avoid cost by themselves.
 * Env: BENCH_ROUNDS (default 7).
 */
import { spawnSync } from "node:child_process"
import os from "node:os"
import path from "node:path"
import { type Cause, Effect, Fiber, Option, Queue } from "effect"
import * as Channel from "../src/toolkit/Channel.ts"
import * as ErrGroup from "../src/toolkit/ErrGroup.ts"
import * as Pipeline from "../src/toolkit/examples/Pipeline.ts"
import { goFigures } from "./go/figures.ts"
import { ROOT } from "./proc.ts"
import { fixed, log, median, printTable, type Row, writeJson } from "./report.ts"
import { compare, nsCell, type Pair, rateCell, type Workload } from "./toolkit-harness.ts"

const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 7) || 7)
/** chunked scenarios: values per `sendAll`, and the channels' capacity */
const [CHUNK, CAPACITY] = [2048, 4096]

/** one producer fiber offers `n` values one at a time, one consumer fiber takes them */
const queueOneByOne = (capacity: number, n: number): Workload => ({
  name: `Queue.bounded(${capacity}) offer/take`,
  run: Effect.gen(function* () {
    const queue = yield* Queue.bounded<number>(capacity)
    const consumer = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* Queue.take(queue)
      })
    )
    for (let i = 0; i < n; i++) yield* Queue.offer(queue, i)
    yield* Fiber.join(consumer)
  })
})

const channelOneByOne = (capacity: number, n: number): Workload => ({
  name: `Channel.make(${capacity}) send/receive`,
  run: Effect.gen(function* () {
    const channel = yield* Channel.make<number>(capacity)
    const consumer = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* Channel.receive(channel)
      })
    )
    for (let i = 0; i < n; i++) yield* Channel.send(channel, i)
    yield* Fiber.join(consumer)
  }).pipe(Effect.orDie)
})

/**
 * the floor under a buffered send + receive: the "two `Effect.sync` steps in a generator" per message, one
 * fiber, a plain array for the buffer — what any channel built from Effect steps pays at least
 */
const syncFloor = (n: number): Workload => ({
  name: "two Effect.sync steps per message",
  run: Effect.gen(function* () {
    const buffer: Array<number> = []
    for (let i = 0; i < n; i++) {
      yield* Effect.sync(() => buffer.push(i))
      yield* Effect.sync(() => buffer.pop())
    }
  })
})

/**
 * the floor under a rendezvous: each message parks one fiber with `Effect.callback` and the other resumes it — the
 * least a hand-over between two fibers costs in Effect (one side must wait for the other every time)
 */
const callbackFloor = (n: number): Workload => ({
  name: "one Effect.callback park + resume per message",
  run: Effect.gen(function* () {
    let parked: ((effect: Effect.Effect<void>) => void) | undefined
    let value = 0
    const park = Effect.callback<void>((resume) => {
      parked = resume
      return Effect.sync(() => {
        parked = undefined
      })
    })
    const resumeParked = Effect.suspend(() => {
      const resume = parked
      parked = undefined
      resume?.(Effect.void)
      return Effect.succeed(value)
    })
    const consumer = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* resumeParked
      })
    )
    for (let i = 0; i < n; i++) {
      value = i
      yield* park
    }
    yield* Fiber.join(consumer)
  })
})

const chunkOf = (size: number) => Array.from({ length: size }, (_, i) => i)

/** `n` values in chunks of `chunk` through one buffered queue, `offerAll` → `takeAll`, ended at the end */
const queueChunked = (n: number, chunk: number, capacity: number): Workload => ({
  name: "Queue offerAll/takeAll",
  run: Effect.gen(function* () {
    const queue = yield* Queue.bounded<number, Cause.Done>(capacity)
    const consumer = yield* Effect.forkChild(
      Effect.gen(function* () {
        let sum = 0
        while (true) {
          const values = yield* Effect.option(Queue.takeAll(queue))
          if (Option.isNone(values)) return sum
          for (const value of values.value) sum += value
        }
      })
    )
    const values = chunkOf(chunk)
    for (let sent = 0; sent < n; sent += chunk) yield* Queue.offerAll(queue, values)
    yield* Queue.end(queue)
    yield* Fiber.join(consumer)
  })
})

const channelChunked = (n: number, chunk: number, capacity: number): Workload => ({
  name: "Channel sendAll/receiveAll",
  run: Effect.gen(function* () {
    const channel = yield* Channel.make<number>(capacity)
    const consumer = yield* Effect.forkChild(
      Effect.gen(function* () {
        let sum = 0
        while (true) {
          const values = yield* Channel.receiveAll(channel)
          if (Option.isNone(values)) return sum
          for (const value of values.value) sum += value
        }
      })
    )
    const values = chunkOf(chunk)
    for (let sent = 0; sent < n; sent += chunk) yield* Channel.sendAll(channel, values)
    yield* Channel.close(channel)
    yield* Fiber.join(consumer)
  }).pipe(Effect.orDie)
})

/** the pipeline's shape (gen → sq → sum, chunked) on raw queues and plain forked fibers: the baseline */
const queuePipeline = (nums: ReadonlyArray<number>, chunk: number, capacity: number): Workload => ({
  name: "gen → sq → sum on raw Queues",
  run: Effect.scoped(
    Effect.gen(function* () {
      const input = yield* Queue.bounded<number, Cause.Done>(capacity)
      const output = yield* Queue.bounded<number, Cause.Done>(capacity)
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          for (let i = 0; i < nums.length; i += chunk) yield* Queue.offerAll(input, nums.slice(i, i + chunk))
          yield* Queue.end(input)
        })
      )
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          while (true) {
            const values = yield* Effect.option(Queue.takeAll(input))
            if (Option.isNone(values)) return yield* Queue.end(output)
            const squares = values.value // a fresh array: squared in place, as the Channel pipeline does
            for (let i = 0; i < squares.length; i++) {
              const value = squares[i] as number
              squares[i] = value * value
            }
            yield* Queue.offerAll(output, squares)
          }
        })
      )
      let sum = 0
      while (true) {
        const values = yield* Effect.option(Queue.takeAll(output))
        if (Option.isNone(values)) return sum
        let chunkSum = 0
        for (const value of values.value) chunkSum += value
        sum += chunkSum
      }
    })
  )
})

const channelPipeline = (nums: ReadonlyArray<number>, chunk: number, capacity: number): Workload => ({
  name: "Pipeline.sumOfSquaresChunked (Channel + ErrGroup)",
  run: Effect.orDie(Pipeline.sumOfSquaresChunked(nums, { chunk, capacity }))
})

const rows: Array<Row> = []
const raw: Record<string, Pair> = {}
const record = (
  key: string,
  pair: Pair,
  row: Omit<Row, "target" | "pass">,
  target: Row["target"],
  pass: boolean | null
) => {
  raw[key] = pair
  rows.push({ ...row, target, pass })
  log(`${key}: ratio ${fixed(pair.ratio, 3)} (rounds ${pair.ratios.map((r) => fixed(r, 2)).join(" ")})`)
}

log(`node ${process.version}, rounds ${rounds}`)
const go = goFigures(rounds)
log(`Go: ${go.source}`)

// Today's figures, measured on this branch before the channel had its own buffer (Queue-based, 9 rounds):
// buffered 845 ns (1.01× Queue), unbuffered 826 ns (1.04×), pipeline 52.2 M/s (0.93× the raw-Queue pipeline).
const TODAY_PIPELINE_RATIO = 0.93

const oneByOne = 200_000
const buffered = await compare(queueOneByOne(128, oneByOne), channelOneByOne(128, oneByOne), {
  units: oneByOne,
  rounds
})
record(
  "buffered",
  buffered,
  {
    metric: "buffered send/receive per message (capacity 128)",
    program: nsCell(buffered.candidateNs),
    baseline: `${nsCell(buffered.baselineNs)} (Queue.offer/take)`
  },
  `${fixed(buffered.ratio, 2)}× (≤ 0.40×, or ≤ 250 ns)`,
  buffered.ratio <= 0.4 || buffered.candidateNs <= 250
)

const bufferedFloor = await compare(syncFloor(oneByOne), channelOneByOne(128, oneByOne), { units: oneByOne, rounds })
record(
  "bufferedFloor",
  bufferedFloor,
  {
    metric: "buffered send/receive against Effect's floor",
    program: nsCell(bufferedFloor.candidateNs),
    baseline: `${nsCell(bufferedFloor.baselineNs)} (two Effect.sync steps)`
  },
  `${fixed(bufferedFloor.ratio, 2)}×`,
  null
)

const unbuffered = await compare(queueOneByOne(0, oneByOne), channelOneByOne(0, oneByOne), { units: oneByOne, rounds })
record(
  "unbuffered",
  unbuffered,
  {
    metric: "unbuffered rendezvous per message",
    program: nsCell(unbuffered.candidateNs),
    baseline: `${nsCell(unbuffered.baselineNs)} (Queue.bounded(0))`
  },
  `${fixed(unbuffered.ratio, 2)}× (≤ 0.50×)`,
  unbuffered.ratio <= 0.5
)

const rendezvousFloor = await compare(queueOneByOne(0, oneByOne), callbackFloor(oneByOne), { units: oneByOne, rounds })
record(
  "rendezvousFloor",
  rendezvousFloor,
  {
    metric: "rendezvous floor: one Effect.callback park + resume per message",
    program: nsCell(rendezvousFloor.candidateNs),
    baseline: `${nsCell(rendezvousFloor.baselineNs)} (Queue.bounded(0))`
  },
  `${fixed(rendezvousFloor.ratio, 2)}×`,
  null
)

const chunkedN = 4_000_000
const chunked = await compare(queueChunked(chunkedN, CHUNK, CAPACITY), channelChunked(chunkedN, CHUNK, CAPACITY), {
  units: chunkedN,
  rounds
})
record(
  "chunked",
  chunked,
  {
    metric: `chunked send/receive, ${CHUNK} per chunk, capacity ${CAPACITY}`,
    program: rateCell(chunked.candidateNs),
    baseline: `${rateCell(chunked.baselineNs)} (Queue.offerAll/takeAll)`
  },
  `${fixed(chunked.ratio, 2)}× time`,
  null
)

// values 0..1023: their squares stay small integers, which V8 keeps unboxed (as Go keeps its ints)
const nums = Array.from({ length: chunkedN }, (_, i) => i & 1023)
const pipeline = await compare(queuePipeline(nums, CHUNK, CAPACITY), channelPipeline(nums, CHUNK, CAPACITY), {
  units: chunkedN,
  rounds
})
record(
  "pipeline",
  pipeline,
  {
    metric: `pipeline gen → sq → sum, chunks of ${CHUNK} (values/s end to end)`,
    program: rateCell(pipeline.candidateNs),
    baseline: `${rateCell(pipeline.baselineNs)} (same on raw Queues)`
  },
  `${fixed(pipeline.ratio, 2)}× time (≤ ${fixed(TODAY_PIPELINE_RATIO, 2)}×: today's)`,
  pipeline.ratio <= TODAY_PIPELINE_RATIO
)

// Go, like for like: one value per send for the one-by-one rows, 2048-value slices for the chunked ones.
const goRow = (metric: string, channelNs: number, goNs: number | undefined, unit: string) =>
  rows.push({
    metric: `Go: ${metric}`,
    program: `${fixed(channelNs, channelNs < 10 ? 2 : 1)} ns/${unit} (Channel)`,
    baseline: goNs === undefined ? "not stated" : `${fixed(goNs, goNs < 10 ? 2 : 1)} ns/${unit} (Go)`,
    target: goNs === undefined ? "–" : `${fixed(channelNs / goNs, 1)}× Go`,
    pass: null
  })
goRow("buffered chan int (cap 128), one value per send", buffered.candidateNs, go.buffered, "msg")
goRow("unbuffered chan int", unbuffered.candidateNs, go.unbuffered, "msg")
goRow(`chan []int, ${CHUNK}-value slices`, chunked.candidateNs, go.chunked, "value")
goRow(`pipeline gen → sq → sum, ${CHUNK}-value slices`, pipeline.candidateNs, go.pipeline, "value")

/**
 * errGroupScenario — 100 no-op tasks, at most 10 at once, per group: `ErrGroup.run` against `Effect.forEach(…,
 * { concurrency: 10 })` (target ≤ 2×), the make / `go` in a loop / `wait` idiom against the same baseline
 * (informational: it adds the caller's own generator loop), and Go's errgroup on the same work — measured by
 * bench/go/errgroup when `go` is on PATH (CPU time, as here; default GOMAXPROCS and 1), the 25.2 µs otherwise.
 */
const errGroupScenario = async () => {
  // a task that is not already an `Exit` (`Effect.void` is one): both sides then run it in a fiber of its own
  const noop = Effect.sync(() => {})
  const tasks = Array.from({ length: 100 }, () => noop)
  const groups = 2_000
  const repeat = (name: string, run: Effect.Effect<void>): Workload => ({
    name,
    run: Effect.repeat(run, { times: groups - 1 })
  })
  const forEachTen = repeat(
    "Effect.forEach(100 × void, { concurrency: 10 })",
    Effect.forEach(tasks, (task) => task, { concurrency: 10, discard: true })
  )
  const runTen = repeat("ErrGroup.run(100 × void, { limit: 10 })", ErrGroup.run(tasks, { limit: 10 }))
  const idiomTen = repeat(
    "ErrGroup.make + go × 100 + wait, limit 10",
    Effect.scoped(
      Effect.gen(function* () {
        const group = yield* ErrGroup.make({ limit: 10 })
        for (const task of tasks) yield* ErrGroup.go(group, task)
        yield* ErrGroup.wait(group)
      })
    ).pipe(Effect.orDie)
  )
  const micros = (ns: number) => `${fixed(ns / 1e3, 1)} µs`

  const run = await compare(forEachTen, runTen, { units: groups, rounds })
  record(
    "errgroup",
    run,
    {
      metric: "100 no-op tasks, at most 10 at once (per group)",
      program: `${micros(run.candidateNs)} (ErrGroup.run)`,
      baseline: `${micros(run.baselineNs)} (Effect.forEach)`
    },
    `${fixed(run.ratio, 2)}× (≤ 2.00×)`,
    run.ratio <= 2
  )
  const idiom = await compare(forEachTen, idiomTen, { units: groups, rounds })
  record(
    "errgroupIdiom",
    idiom,
    {
      metric: "the same as make + `go` in a loop + wait",
      program: `${micros(idiom.candidateNs)} (ErrGroup.go)`,
      baseline: `${micros(idiom.baselineNs)} (Effect.forEach)`
    },
    `${fixed(idiom.ratio, 2)}×`,
    null
  )

  const go = goErrGroup()
  const cell = go === undefined ? "25.2 µs (Go, the issue's figure: go not on PATH)" : goCell(go)
  log(`go errgroup: ${go === undefined ? "not measured" : JSON.stringify(go)}`)
  rows.push({
    metric: "Go errgroup, same work (bench/go/errgroup)",
    program: `${micros(run.candidateNs)} (ErrGroup.run)`,
    baseline: cell,
    target:
      go === undefined ? `${fixed(run.candidateNs / 25_200, 2)}× Go` : `${fixed(run.candidateNs / go.cpuNs, 2)}× Go`,
    pass: null
  })
}

/** Go's errgroup figures from bench/go/errgroup, medians of 3 runs each: default GOMAXPROCS and GOMAXPROCS=1 */
interface GoFigure {
  readonly cpuNs: number
  readonly wallNs: number
  readonly cpuNsOneThread: number
  readonly gomaxprocs: number
  readonly version: string
}

const goErrGroup = (): GoFigure | undefined => {
  if (spawnSync("go", ["version"]).status !== 0) return undefined
  const once = (env: Record<string, string>) => {
    const out = spawnSync("go", ["run", "./bench/go/errgroup"], {
      cwd: ROOT,
      encoding: "utf8",
      // GOPATH mode against the Debian package golang-golang-x-sync-dev: no module download, no network
      env: { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", ...env }
    })
    if (out.status !== 0) throw new Error(`bench/go/errgroup failed: ${out.stderr}`)
    return JSON.parse(out.stdout) as { cpuNsPerGroup: number; wallNsPerGroup: number; gomaxprocs: number; go: string }
  }
  const runs = [0, 1, 2].map(() => [once({}), once({ GOMAXPROCS: "1" })] as const)
  return {
    cpuNs: median(runs.map(([all]) => all.cpuNsPerGroup)),
    wallNs: median(runs.map(([all]) => all.wallNsPerGroup)),
    cpuNsOneThread: median(runs.map(([, one]) => one.cpuNsPerGroup)),
    gomaxprocs: runs[0]?.[0].gomaxprocs ?? 0,
    version: runs[0]?.[0].go ?? "go"
  }
}

const goCell = (go: GoFigure) =>
  `${fixed(go.cpuNs / 1e3, 1)} µs CPU (${go.version}, GOMAXPROCS=${go.gomaxprocs}; wall ${fixed(go.wallNs / 1e3, 1)} µs; ` +
  `GOMAXPROCS=1: ${fixed(go.cpuNsOneThread / 1e3, 1)} µs)`

await errGroupScenario()

console.log()
printTable(rows)
const file = writeJson(path.join(ROOT, "bench", "toolkit-results.latest.json"), {
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  node: process.version,
  rounds,
  loadavgAtEnd: os.loadavg(),
  go: { source: go.source, raw: go.raw ?? null },
  rows,
  raw
})
log(`wrote ${path.relative(ROOT, file)}`)
