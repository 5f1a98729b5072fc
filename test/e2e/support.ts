/**
 * support — spawns the built program (`dist/program.js`) as a real process for the end-to-end tests.
 *
 * - Each program gets two free loopback ports (the OS picks them: listen on 0, then close), `HOST=127.0.0.1` and
 *   `LOG_FORMAT=json`, in an environment that inherits none of the program's variables from the test runner.
 * - It runs `dist/program.js` (or `$E2E_PROGRAM`) under `process.execPath` directly — never through npm/npx, whose
 *   wrapper would take the signals.
 * - Every stdout line that parses as JSON is kept as a `LogLine`; everything else is kept for diagnostics.
 * - `exited` resolves once the process has exited and its output is complete, with the code and the time of exit.
 * - Every wait is bounded, and its error carries the program's output.
 * `killLeftovers` (for `afterEach`) SIGKILLs whatever a test left running.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import http from "node:http"
import net from "node:net"
import path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

export { sleep }

export const host = "127.0.0.1"

/** programPath — the bundle `npm run build` writes (`E2E_PROGRAM` points elsewhere, e.g. at a mutated build). */
export const programPath = path.resolve(import.meta.dirname, "../..", process.env.E2E_PROGRAM ?? "dist/program.js")

/** LogLine — one JSON log line of the program. */
export interface LogLine {
  readonly message: unknown
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Exit — how the process ended; `at` is `performance.now()` in this process when it exited. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly at: number
}

/** Program — a spawned program and what it has said so far. */
export interface Program {
  readonly child: ChildProcess
  readonly port: number
  readonly adminPort: number
  /** the JSON log lines so far, in order */
  readonly logs: ReadonlyArray<LogLine>
  readonly exited: Promise<Exit>
  /** sends `signal`; returns `performance.now()` just before it was sent */
  readonly kill: (signal: NodeJS.Signals) => number
  /** the first log line (already written or to come) that `match` accepts */
  readonly waitForLog: (match: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  /** polls `GET /healthz` on the API port until it answers 200 */
  readonly waitForHealthy: (timeoutMs?: number) => Promise<void>
  /** everything written to stdout and stderr, for failure messages */
  readonly output: () => string
}

/** messageOf — the log line's message as text. */
export const messageOf = (line: LogLine): string =>
  typeof line.message === "string" ? line.message : JSON.stringify(line.message)

/** withMessage — matches a log line whose message contains `text`. */
export const withMessage =
  (text: string) =>
  (line: LogLine): boolean =>
    messageOf(line).includes(text)

/** within — `promise`, or a rejection naming `what` after `ms`. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** freePorts — `count` distinct ports the OS reports free on loopback (all held open together, then closed). */
export const freePorts = async (count: number): Promise<Array<number>> => {
  const servers = Array.from({ length: count }, () => net.createServer())
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once("error", reject)
          server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port))
        })
    )
  )
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

/** The program's own variables: never inherited from the test runner's environment. */
const programVariables = [
  "PORT",
  "HOST",
  "ADMIN_PORT",
  "ADMIN_HOST",
  "ADMIN_TOKEN",
  "ACCESS_LOG",
  "SHUTDOWN_TIMEOUT",
  "SHUTDOWN_DELAY",
  "DRAIN_IDLE_GRACE",
  "LOG_LEVEL",
  "LOG_FORMAT",
  "NODE_OPTIONS",
  "CONFIG_FILE",
  "WORKERS",
  "HEADERS_TIMEOUT",
  "REQUEST_TIMEOUT",
  "KEEP_ALIVE_TIMEOUT",
  "UNREAD_BODY_TIMEOUT",
  "UPSTREAM_URL",
  "AGGREGATE_CONCURRENCY",
  "AGGREGATE_TIMEOUT",
  "SIMULATED_LATENCY",
  "SIMULATED_FAILURE_RATE",
  "PROFILE_CACHE_SIZE",
  "PROFILE_CACHE_TTL",
  "WORKER_THREADS",
  "JOB_QUEUE_SIZE",
  "JOB_RETENTION"
]

const live = new Set<Program>()

/**
 * SpawnOptions — `program`: another entry point run the same way (e.g. the fault suite's `fault-program.ts`);
 * `nodeArgs` go to Node before the program's path.
 */
export interface SpawnOptions {
  readonly program?: string
  readonly nodeArgs?: ReadonlyArray<string>
}

/** spawnProgram — starts the program and returns at once; `env` overrides the defaults described above. */
export const spawnProgram = async (
  env: Readonly<Record<string, string>> = {},
  options: SpawnOptions = {}
): Promise<Program> => {
  const entry = options.program ?? programPath
  if (!existsSync(entry)) {
    throw new Error(`${entry} does not exist: run \`npm run build\` first (\`npm test\` does)`)
  }
  const [port, adminPort] = (await freePorts(2)) as [number, number]
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !programVariables.includes(name) && !name.startsWith("OTEL_"))
  )
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    env: {
      ...inherited,
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      HOST: host,
      LOG_FORMAT: "json",
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })

  const logs: Array<LogLine> = []
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>()
  let raw = ""
  let pending = ""
  const onLine = (text: string) => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      return
    }
    logs.push(line)
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter)
        waiter.resolve(line)
      }
    }
  }
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    raw += chunk
    pending += chunk
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    for (const text of lines) onLine(text)
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    raw += `[stderr] ${chunk}`
  })

  let exitAt = 0
  child.once("exit", () => {
    exitAt = performance.now()
  })
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code, signal) => {
      if (pending !== "") onLine(pending)
      pending = ""
      resolve({ code, signal, at: exitAt || performance.now() })
    })
  })
  const output = () => raw || "(no output)"
  const failWith = (what: string) => (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (${what})\n--- output ---\n${output()}`)
  }

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 5_000) => {
    const found = logs.find(match)
    if (found !== undefined) return Promise.resolve(found)
    const waiter = { match, resolve: (_: LogLine) => {} }
    const line = new Promise<LogLine>((resolve) => {
      waiter.resolve = resolve
      waiters.add(waiter)
    })
    const exitedFirst = exited.then((exit): never => {
      throw new Error(`the program exited (code ${exit.code}, signal ${exit.signal}) before the log line`)
    })
    return within(Promise.race([line, exitedFirst]), timeoutMs, "a log line")
      .catch(failWith("waitForLog"))
      .finally(() => waiters.delete(waiter))
  }

  const waitForHealthy = async (timeoutMs = 5_000) => {
    const deadline = performance.now() + timeoutMs
    while (true) {
      if (child.exitCode !== null || child.signalCode !== null) failWith("waitForHealthy")(new Error("exited"))
      const reply = await get(port, "/healthz", { timeoutMs: 1_000 }).catch(() => undefined)
      if (reply?.status === 200) return
      if (performance.now() > deadline) failWith("waitForHealthy")(new Error(`/healthz not 200 in ${timeoutMs} ms`))
      await sleep(25)
    }
  }

  const kill = (signal: NodeJS.Signals) => {
    const at = performance.now()
    child.kill(signal)
    return at
  }

  const program: Program = { child, port, adminPort, logs, exited, kill, waitForLog, waitForHealthy, output }
  live.add(program)
  void exited.finally(() => live.delete(program)).catch(() => {})
  return program
}

/** startProgram — `spawnProgram`, then waits for the `serving` log line (every port bound, readiness true). */
export const startProgram = async (
  env: Readonly<Record<string, string>> = {},
  options: SpawnOptions = {}
): Promise<Program> => {
  const program = await spawnProgram(env, options)
  await program.waitForLog(withMessage("serving"), 10_000)
  return program
}

/** exitOf — `program.exited`, bounded by `timeoutMs`, with the output in the error. */
export const exitOf = (program: Program, timeoutMs = 10_000): Promise<Exit> =>
  within(program.exited, timeoutMs, "the program to exit").catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- output ---\n${program.output()}`)
  })

/** killLeftovers — for `afterEach`: SIGKILLs every program still running and waits (bounded) for it to go. */
export const killLeftovers = async (): Promise<void> => {
  const programs = [...live]
  for (const program of programs) program.child.kill("SIGKILL")
  await within(Promise.allSettled(programs.map((program) => program.exited)), 5_000, "leftover programs to die")
}

/** Reply — a complete HTTP response; `at` is `performance.now()` when its body ended. */
export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly at: number
}

/** RequestOptions — `agent: false` (the default) is a fresh connection closed after the response. */
export interface RequestOptions {
  readonly method?: string
  readonly agent?: http.Agent | false
  readonly timeoutMs?: number
}

/** get — one request to `host:port`; rejects on a socket error or after `timeoutMs` (default 8 s). */
export const get = (port: number, urlPath: string, options: RequestOptions = {}): Promise<Reply> =>
  new Promise<Reply>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 8_000
    const request = http.request(
      { host, port, path: urlPath, method: options.method ?? "GET", agent: options.agent ?? false },
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          body += chunk
        })
        response.once("error", reject)
        response.once("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body, at: performance.now() })
        )
      }
    )
    request.setTimeout(timeoutMs, () =>
      request.destroy(new Error(`${options.method ?? "GET"} ${urlPath}: no response in ${timeoutMs} ms`))
    )
    request.once("error", reject)
    request.end()
  })

/** Settled — how a request that may be cut off ended. */
export type Settled = { readonly ok: true; readonly reply: Reply } | { readonly ok: false; readonly error: Error }

/** settle — never rejects: tells a response from a socket error. */
export const settle = (reply: Promise<Reply>): Promise<Settled> =>
  reply.then(
    (value) => ({ ok: true, reply: value }) as const,
    (error: unknown) => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }) as const
  )

/** IdleConnection — a raw keep-alive connection that has had one response and now sits idle. */
export interface IdleConnection {
  readonly socket: net.Socket
  /** resolves with `performance.now()` when the server closes (or resets) the connection */
  readonly closed: Promise<number>
}

/** openIdleConnection — connects, sends one keep-alive `GET /healthz`, reads the whole response, and stays open. */
export const openIdleConnection = (port: number, timeoutMs = 5_000): Promise<IdleConnection> => {
  const socket = net.connect({ host, port })
  socket.on("error", () => {})
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())))
  const answered = new Promise<IdleConnection>((resolve, reject) => {
    let received = ""
    socket.once("connect", () =>
      socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`)
    )
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      received += chunk
      if (/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/.test(received)) resolve({ socket, closed })
    })
    void closed.then(() =>
      reject(new Error(`connection closed before the response; received ${JSON.stringify(received)}`))
    )
  })
  return within(answered, timeoutMs, "a keep-alive response")
}
