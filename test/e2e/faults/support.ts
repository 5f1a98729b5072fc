/**
 * faults/support — what the fault suite adds to `../support.ts`: the fault program, raw sockets that misbehave on
 * purpose, keep-alive load that classifies every request it wrote, and readers for the admin port.
 *
 * - `startFaultProgram` runs `fault-program.ts` (the reference service with faults on request) like the built one:
 *   bundled by esbuild as `npm run build` bundles the program (once per test worker, into a temporary directory), so
 *   that it starts as fast as the program does rather than type-stripping all of `src` at each start.
 * - `rawConnection` is a loopback socket that records everything it received and when the server closed it (a
 *   reset counts as closed); it never throws on a socket error. `slices` feeds `trickle` a text piece by piece.
 * - `trickle` writes bytes one slice at a time at a fixed rate until stopped or the socket closes.
 * - `keepAliveLoad` runs `clients` keep-alive connections, each sending its next request as soon as the previous
 *   response ended, and records every request's fate: answered, refused (a new connection refused: never accepted),
 *   or lost (anything else after the request was written — a reset, a hang-up).
 * - `metricCount` sums `http_requests_total` samples of the admin port's `/metrics` matching some labels;
 *   `fiberDump` reads `/debug/fibers`; `loggedAt` places a log line's timestamp on this process's clock.
 */
import { mkdtempSync } from "node:fs"
import http from "node:http"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { build } from "esbuild"
import { get, host, type LogLine, type Program, type Reply, startProgram } from "../support.ts"

/** faultProgram — the reference service with faults on request (see `fault-program.ts`). */
export const faultProgram = path.resolve(import.meta.dirname, "fault-program.ts")

let bundled: Promise<string> | undefined

/** faultBundle — `fault-program.ts` bundled (once per process) with the program's esbuild settings; its path. */
export const faultBundle = (): Promise<string> => {
  bundled ??= (async () => {
    const outfile = path.join(mkdtempSync(path.join(os.tmpdir(), "fault-program-")), "fault-program.js")
    await build({
      entryPoints: [faultProgram],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      logLevel: "warning",
      // `ws` (WebSocket upgrades) is CommonJS and `require`s Node's built-ins, as in scripts/build.ts
      banner: {
        js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
      }
    })
    return outfile
  })()
  return bundled
}

/** startFaultProgram — `startProgram` for `fault-program.ts` (bundled: `faultBundle`). */
export const startFaultProgram = async (env: Readonly<Record<string, string>> = {}): Promise<Program> =>
  startProgram(env, { program: await faultBundle() })

/**
 * loggedAt — when the program wrote `line` (its `timestamp`), on this process's `performance.now()` scale: the time
 * the program itself saw something happen, without the delay a loaded machine adds to signal delivery.
 */
export const loggedAt = (line: LogLine): number =>
  Date.parse((line as LogLine & { readonly timestamp: string }).timestamp) - performance.timeOrigin

/** RawConnection — a raw loopback socket and what the server sent on it. */
export interface RawConnection {
  readonly socket: net.Socket
  /** everything received so far (latin1) */
  readonly received: () => string
  /** resolves with `performance.now()` when the connection closed (by either side, or by a reset) */
  readonly closed: Promise<number>
}

/** rawConnection — connects to `host:port`; resolves once connected. */
export const rawConnection = (port: number): Promise<RawConnection> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let text = ""
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1")
    })
    socket.on("error", () => {}) // a reset is seen as `closed`
    const closed = new Promise<number>((done) => socket.once("close", () => done(performance.now())))
    socket.once("connect", () => resolve({ socket, received: () => text, closed }))
    socket.once("error", reject)
  })

/** trickle — writes `next()` every `everyMillis` until `stop()` or the socket closes; returns `stop`. */
export const trickle = (socket: net.Socket, next: () => string, everyMillis: number): (() => void) => {
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) return clearInterval(timer)
    socket.write(next())
  }, everyMillis)
  socket.once("close", () => clearInterval(timer))
  return () => clearInterval(timer)
}

/** slices — `next()` for `trickle`: `text` `size` characters at a time, then empty strings. */
export const slices = (text: string, size: number): (() => string) => {
  let offset = 0
  return () => {
    const slice = text.slice(offset, offset + size)
    offset += size
    return slice
  }
}

/** Fate — how one request of `keepAliveLoad` ended. */
export type Fate =
  | { readonly kind: "answered"; readonly status: number; readonly at: number }
  | { readonly kind: "refused"; readonly at: number }
  | { readonly kind: "lost"; readonly error: string; readonly at: number }

/** Load — a running `keepAliveLoad`. */
export interface Load {
  readonly fates: ReadonlyArray<Fate>
  /** resolves when every client has stopped (its connection refused or its request lost) */
  readonly done: Promise<void>
}

const isRefused = (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED"

/**
 * keepAliveLoad — `clients` connections, each with an agent of one keep-alive socket, requesting `paths` in turn back
 * to back. A client stops at its first refused connection (the listener is closed: everything after would be refused
 * too) or its first lost request. A refused request was never written to an accepted connection; anything else that fails is
 * `lost`.
 */
export const keepAliveLoad = (port: number, clients: number, paths: ReadonlyArray<string>): Load => {
  const fates: Array<Fate> = []
  const agents: Array<http.Agent> = []
  const client = async (index: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(agent)
    for (let n = index; ; n++) {
      const target = paths[n % paths.length] ?? "/healthz"
      const fate = await get(port, target, { agent, timeoutMs: 30_000 }).then(
        (reply: Reply): Fate => ({ kind: "answered", status: reply.status, at: reply.at }),
        (error: NodeJS.ErrnoException): Fate =>
          isRefused(error)
            ? { kind: "refused", at: performance.now() }
            : { kind: "lost", error: `${error.code ?? ""} ${error.message}`, at: performance.now() }
      )
      fates.push(fate)
      if (fate.kind !== "answered") break
    }
  }
  const done = Promise.all(Array.from({ length: clients }, (_, index) => client(index))).then(() => {
    for (const agent of agents) agent.destroy()
  })
  return { fates, done }
}

/** metricCount — the sum of `http_requests_total` samples on `/metrics` whose labels include all of `labels`. */
export const metricCount = async (adminPort: number, labels: Readonly<Record<string, string>>): Promise<number> => {
  const text = (await get(adminPort, "/metrics")).body
  let total = 0
  for (const line of text.split("\n")) {
    const match = /^http_requests_total\{([^}]*)\} (\S+)/.exec(line)
    if (match === null) continue
    const present = match[1] ?? ""
    if (Object.entries(labels).every(([name, value]) => present.includes(`${name}="${value}"`))) {
      total += Number(match[2])
    }
  }
  return total
}

/** fiberDump — the admin port's `/debug/fibers` as text and as its list of entries. */
export const fiberDump = async (
  adminPort: number
): Promise<{ readonly text: string; readonly entries: ReadonlyArray<{ readonly label: string }> }> => {
  const text = (await get(adminPort, "/debug/fibers")).body
  return { text, entries: (JSON.parse(text) as { fibers: ReadonlyArray<{ label: string }> }).fibers }
}
