/**
 * Go's figures for `npm run bench:toolkit`: runs `bench/go/channels.go` (the toolkit bench's channel workloads,
 * written in Go) when `go` is on PATH, and otherwise returns the figures issue 10 states for this machine.
 *
 * The like-for-like figure is Go with GOMAXPROCS=1 in CPU time: one thread runs every goroutine, as one thread runs
 * every fiber in Node, and the toolkit harness counts CPU time too. The all-cores figures are kept in the JSON.
 */
import { spawnSync } from "node:child_process"
import path from "node:path"
import { ROOT } from "../proc.ts"
import { log } from "../report.ts"

/** GoFigures — ns per message (buffered, unbuffered) or per value (chunked, pipeline); `undefined`: not stated. */
export interface GoFigures {
  /** where the figures come from: the Go version measured in this run, or the statement */
  readonly source: string
  readonly buffered: number
  readonly unbuffered: number
  readonly chunked: number | undefined
  readonly pipeline: number
  /** the program's whole output, when it ran */
  readonly raw?: unknown
}

/** stated — issue 10's figures for this machine (Go 1.x, default GOMAXPROCS): used when Go is not installed. */
const stated: GoFigures = {
  source: "issue 10's stated figures (Go not installed)",
  buffered: 36,
  unbuffered: 104,
  chunked: undefined,
  pipeline: 2.2
}

interface Figure {
  readonly cpuNs: number
  readonly wallNs: number
}
interface Output {
  readonly version: string
  readonly oneThread: Record<"buffered" | "unbuffered" | "chunked" | "pipeline", Figure>
}

/** goFigures — measures Go now (`rounds` rounds per workload) if it can, else the stated figures. */
export const goFigures = (rounds: number): GoFigures => {
  const version = spawnSync("go", ["version"], { encoding: "utf8" })
  if (version.status !== 0) return stated
  log(`running bench/go/channels.go (${version.stdout.trim()})`)
  const run = spawnSync("go", ["run", path.join(ROOT, "bench", "go", "channels.go"), "-rounds", String(rounds)], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "" },
    timeout: 600_000
  })
  if (run.status !== 0) {
    log(`bench/go/channels.go failed (${run.stderr.trim()}); using the stated figures`)
    return stated
  }
  const output = JSON.parse(run.stdout) as Output
  const { buffered, unbuffered, chunked, pipeline } = output.oneThread
  return {
    source: `${output.version}, GOMAXPROCS=1, measured in this run`,
    buffered: buffered.cpuNs,
    unbuffered: unbuffered.cpuNs,
    chunked: chunked.cpuNs,
    pipeline: pipeline.cpuNs,
    raw: output
  }
}
