/**
 * Child-process plumbing for the bench: free ports, spawning the program or
 * the baseline, readiness polling, CPU ticks and RSS from /proc, and waiting
 * for (or forcing) exit. Every spawned child is SIGKILLed when the harness exits.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import http from "node:http"
import net from "node:net"
import path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { pinned } from "./pin.ts"
import { strippedCopy } from "./strip.ts"

export { CLK_TCK, cpuTicks, rssKb } from "./procfs.ts"
export { sleep }

export const HOST = "127.0.0.1"
export const ROOT = path.resolve(import.meta.dirname, "..")

export type Kind = "program" | "baseline" | "stock"

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** `performance.now()` when the harness saw the exit. */
  readonly at: number
}

export interface Server {
  readonly kind: Kind
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly adminPort: number
  readonly spawnedAt: number
  readonly exited: Promise<Exit>
  /** Last few KB of the child's stdout+stderr, for diagnostics. */
  readonly output: () => string
}

const live = new Set<ChildProcess>()
const killLeftovers = (): void => {
  for (const child of live) child.kill("SIGKILL")
}
process.on("exit", killLeftovers)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killLeftovers()
    process.exit(130)
  })
}

export const scriptFor = (kind: Kind): string => {
  // Effect's stock stack (HttpRouter.serve on NodeHttpServer.layer), for reference in the CPU scenario
  if (kind === "stock") return path.join(ROOT, "bench", "stock.ts")
  if (kind === "program") return path.resolve(ROOT, process.env.BENCH_PROGRAM ?? "dist/program.js")
  // another build of the program as the baseline: an A/B of two versions (e.g. before and after a change)
  if (process.env.BENCH_BASELINE !== undefined) return path.resolve(ROOT, process.env.BENCH_BASELINE)
  const source = path.join(ROOT, "bench", "baseline.ts")
  return process.env.BENCH_BASELINE_TS === "1" ? source : strippedCopy(source)
}

/** Ports handed out by the OS for port 0, all held open together so they differ. */
export const freePorts = async (count: number): Promise<Array<number>> => {
  const servers = Array.from({ length: count }, () => net.createServer())
  const ports = await Promise.all(
    servers.map(
      (s) =>
        new Promise<number>((resolve, reject) => {
          s.once("error", reject)
          s.listen(0, HOST, () => resolve((s.address() as net.AddressInfo).port))
        })
    )
  )
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

export interface StartOptions {
  /** Run the server on the last core (see pin.ts). */
  readonly pin?: boolean
  /** Variables set for this server on top of the harness's (e.g. `WORKERS`). */
  readonly env?: Readonly<Record<string, string>>
}

export const startServer = async (kind: Kind, options: StartOptions = {}): Promise<Server> => {
  const script = scriptFor(kind)
  if (!existsSync(script)) throw new Error(`${kind}: ${script} does not exist`)
  const [port, adminPort] = (await freePorts(2)) as [number, number]
  const env = {
    ...process.env,
    PORT: String(port),
    ADMIN_PORT: String(adminPort),
    HOST,
    LOG_FORMAT: "json",
    // Effect 4 LogLevel literal ("Warning" is rejected by the program's config).
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "Warn",
    ...options.env
  }
  const spawnedAt = performance.now()
  const [command = "", ...args] = options.pin === true ? pinned([process.execPath, script]) : [process.execPath, script]
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  live.add(child)
  let tail = ""
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-4096)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve({ code, signal, at: performance.now() })
    })
  })
  if (child.pid === undefined) throw new Error(`${kind}: spawn failed`)
  return { kind, child, pid: child.pid, port, adminPort, spawnedAt, exited, output: () => tail }
}

/** Runs `f` on a fresh server; SIGKILLs it afterwards if it is still alive. */
export const withServer = async <A>(kind: Kind, f: (server: Server) => Promise<A>): Promise<A> => {
  const server = await startServer(kind)
  try {
    return await f(server)
  } finally {
    if (live.has(server.child)) {
      server.child.kill("SIGKILL")
      await server.exited
    }
  }
}

/** One `GET /healthz` on a fresh, non-keep-alive connection; 0 on any failure. */
const probe = (port: number): Promise<number> =>
  new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: "/healthz", agent: false, timeout: 1000 }, (res) => {
      res.resume()
      res.once("end", () => resolve(res.statusCode ?? 0))
      res.once("error", () => resolve(0))
    })
    req.once("timeout", () => req.destroy())
    req.once("error", () => resolve(0))
  })

/** Polls `/healthz` until 200; returns `performance.now()` of the first 200. */
export const waitReady = async (server: Server, timeoutMs = 15_000): Promise<number> => {
  let exited = false
  void server.exited.then(() => {
    exited = true
  })
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if ((await probe(server.port)) === 200) return performance.now()
    if (exited) break
    await sleep(5)
  }
  server.child.kill("SIGKILL")
  throw new Error(`${server.kind} never became ready (exited=${exited}); output:\n${server.output()}`)
}

export interface Stopped {
  readonly exit: Exit
  /** True when the process was still alive at the deadline and got SIGKILL. */
  readonly killed: boolean
}

/** Waits up to `timeoutMs` for exit, then SIGKILLs and waits for that. */
export const waitExit = async (server: Server, timeoutMs: number): Promise<Stopped> => {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs)
  })
  const exit = await Promise.race([server.exited, timedOut])
  clearTimeout(timer)
  if (exit !== null) return { exit, killed: false }
  server.child.kill("SIGKILL")
  return { exit: await server.exited, killed: true }
}

/** SIGTERM, then SIGKILL after `timeoutMs`. */
export const stopServer = (server: Server, timeoutMs = 5_000): Promise<Stopped> => {
  server.child.kill("SIGTERM")
  return waitExit(server, timeoutMs)
}
