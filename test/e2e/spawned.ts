/**
 * spawned — any command as a real process, for the tests of the package and of the ways the service is started
 * (`npm pack`/`npm install`, `npm start`, `tsx`, the embed example under plain `node`).
 *
 * - `spawnLogged` keeps everything the process writes (stdout and stderr, in order) and can wait for a pattern in it;
 *   `exited` resolves once the process has exited and its output is complete — or 2 s after it exited, if something
 *   it started still holds its output open. Every wait is bounded, and its error carries the output.
 * - `run` runs a command to completion and rejects, with its output, on a non-zero exit or after its time limit.
 * - The environment is the test runner's minus what describes an outer npm invocation (`npm test` sets
 *   `npm_config_local_prefix`, `npm_package_*`, …), which would make an inner `npm` act on this repository.
 * - `descendants` lists a process's live descendants (Linux `/proc`): what would be orphaned if it died.
 * - `nodesOnMachine` finds every Node on the machine: this one, each `node` on `PATH` outside `node_modules`, and
 *   `$E2E_NODES` (colon-separated paths); `engineFloor` is the lowest version `engines.node` admits.
 * `killLeftovers` (for `afterEach`) SIGKILLs whatever a test left running.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs"
import net from "node:net"
import path from "node:path"

export const repoRoot = path.resolve(import.meta.dirname, "../..")
export const host = "127.0.0.1"

/** within — `promise`, or a rejection naming `what` after `ms`. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** the runner's environment without the variables of an outer npm invocation */
export const cleanEnv = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/.test(name)
    )
  ),
  ...extra
})

/** Exit — how the process ended; `at` is `performance.now()` in this process when it exited. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly at: number
}

/** Spawned — a running process and what it has written so far. */
export interface Spawned {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<Exit>
  /** stdout and stderr so far */
  readonly output: () => string
  /** the first match of `pattern` in the output (already written or to come); rejects if the process exits first */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  /** sends `signal`; returns `performance.now()` just before it was sent */
  readonly kill: (signal: NodeJS.Signals) => number
}

const live = new Set<Spawned>()

export interface SpawnOptions {
  readonly cwd?: string
  /** added to `cleanEnv()` */
  readonly env?: Readonly<Record<string, string>>
  /** a process group of its own (its pid is the group's id), as a terminal's foreground job */
  readonly detached?: boolean
}

/** spawnLogged — starts `command` and returns at once. */
export const spawnLogged = (command: string, args: ReadonlyArray<string>, options: SpawnOptions = {}): Spawned => {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: cleanEnv(options.env),
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  const waiters = new Set<() => void>()
  const append = (chunk: string) => {
    text += chunk
    for (const waiter of waiters) waiter()
  }
  child.stdout?.setEncoding("utf8").on("data", append)
  child.stderr?.setEncoding("utf8").on("data", append)

  let exitAt = 0
  child.once("exit", () => {
    exitAt = performance.now()
  })
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once("error", reject)
    const done = (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal, at: exitAt || performance.now() })
    child.once("close", done)
    // A descendant that outlives the process (an orphan) holds its stdout and stderr open, and `close` never comes.
    child.once("exit", (code, signal) => setTimeout(() => done(code, signal), 2_000).unref())
  })
  const output = () => text || "(no output)"

  const waitFor = (pattern: RegExp, timeoutMs = 10_000) => {
    let waiter = () => {}
    const found = new Promise<RegExpMatchArray>((resolve) => {
      waiter = () => {
        const match = text.match(pattern)
        if (match !== null) resolve(match)
      }
      waiters.add(waiter)
      waiter()
    })
    const exitedFirst = exited.then((exit): never => {
      const match = text.match(pattern)
      if (match !== null) return match as never
      throw new Error(`exited (code ${exit.code}, signal ${exit.signal}) before writing ${pattern}`)
    })
    return within(Promise.race([found, exitedFirst]), timeoutMs, `${pattern} in the output`)
      .catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- output ---\n${output()}`)
      })
      .finally(() => waiters.delete(waiter))
  }

  const kill = (signal: NodeJS.Signals) => {
    const at = performance.now()
    child.kill(signal)
    return at
  }

  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const spawned: Spawned = { child, pid: child.pid, exited, output, waitFor, kill }
  live.add(spawned)
  void exited.finally(() => live.delete(spawned)).catch(() => {})
  return spawned
}

/** exitOf — `spawned.exited`, bounded by `timeoutMs`, with the output in the error. */
export const exitOf = (spawned: Spawned, timeoutMs: number): Promise<Exit> =>
  within(spawned.exited, timeoutMs, "the process to exit").catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- output ---\n${spawned.output()}`)
  })

/** run — runs `command` to completion; resolves with its output, rejects with it on failure or after `timeoutMs`. */
export const run = async (
  command: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions & { readonly timeoutMs?: number } = {}
): Promise<string> => {
  const spawned = spawnLogged(command, args, options)
  const exit = await exitOf(spawned, options.timeoutMs ?? 60_000).catch((error: unknown) => {
    spawned.kill("SIGKILL")
    throw error
  })
  if (exit.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${exit.code ?? exit.signal}\n${spawned.output()}`)
  }
  return spawned.output()
}

/** killLeftovers — for `afterEach`: SIGKILLs every process still running and waits (bounded) for it to go. */
export const killLeftovers = async (): Promise<void> => {
  const running = [...live]
  for (const spawned of running) spawned.child.kill("SIGKILL")
  await within(Promise.allSettled(running.map((spawned) => spawned.exited)), 5_000, "leftover processes to die")
}

/** parentOf — the parent pid of a live process (Linux), or undefined if it is gone. */
const parentOf = (pid: number): number | undefined => {
  try {
    // /proc/<pid>/stat: `pid (comm) state ppid …`; comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

/** commandOf — a live process's command line (Linux), for messages. */
export const commandOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
  } catch {
    return "(gone)"
  }
}

/** descendants — the live descendants of `pid` (Linux `/proc`; empty elsewhere). */
export const descendants = (pid: number): ReadonlyArray<number> => {
  if (!existsSync("/proc")) return []
  const children = new Map<number, Array<number>>()
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const parent = parentOf(Number(name))
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(name)])
  }
  const found: Array<number> = []
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child)
      visit(child)
    }
  }
  visit(pid)
  return found
}

/** isAlive — the process exists and is not a zombie. */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

/** refusesConnections — resolves true once a connection to `port` is refused, false if it never is by `deadline`. */
export const refusesConnections = async (port: number, deadline: number): Promise<boolean> => {
  while (performance.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port })
      socket.once("connect", () => {
        socket.destroy()
        resolve(false)
      })
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"))
    })
    if (refused) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return false
}

/** NodeBinary — a Node executable and its version. */
export interface NodeBinary {
  readonly path: string
  readonly version: string
}

/** manifest — this repository's package.json: the package's name, version and engines. */
export const manifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
  readonly name: string
  readonly version: string
  readonly engines: { readonly node: string }
}

/** engineFloor — `[major, minor]` of `engines.node` (`>=22.19` → `[22, 19]`). */
export const engineFloor = ((): readonly [number, number] => {
  const match = /^>=\s*(\d+)\.(\d+)/.exec(manifest.engines.node)
  if (match === null) throw new Error(`engines.node is not ">=MAJOR.MINOR": ${manifest.engines.node}`)
  return [Number(match[1]), Number(match[2])]
})()

/** admitted — `version` (`v22.19.0`) is one `engines.node` admits. */
export const admitted = (version: string): boolean => {
  const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number)
  return major > engineFloor[0] || (major === engineFloor[0] && minor >= engineFloor[1])
}

/** nodesOnMachine — every distinct Node executable found (see the module comment), with its version. */
export const nodesOnMachine = (): ReadonlyArray<NodeBinary> => {
  const onPath = (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((dir) => dir !== "" && !dir.split(path.sep).includes("node_modules"))
    .map((dir) => path.join(dir, "node"))
  const extra = (process.env.E2E_NODES ?? "").split(":").filter((file) => file !== "")
  const seen = new Map<string, NodeBinary>()
  for (const candidate of [process.execPath, ...onPath, ...extra]) {
    if (!existsSync(candidate)) continue
    const real = realpathSync(candidate)
    if (seen.has(real)) continue
    const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim()
    seen.set(real, { path: candidate, version })
  }
  return [...seen.values()]
}
