/**
 * Run as deployed: the signal reaches the service whichever way it is started, and every Node either runs the
 * entry point or says which version it needs.
 *
 * - `npm start` (Docker's `CMD ["npm", "start"]`, most supervisors): SIGTERM to npm's own pid. npm forwards it to
 *   its child, which must be the service itself — `sh -c` does not `exec` a lone command on every shell (Debian's
 *   dash keeps itself as the parent and dies of the signal, orphaning `node`), so the script says `exec`. The build
 *   runs in `prestart`. Expected: a request in flight is answered, the drain is logged, npm exits 0, and nothing npm
 *   started is left running.
 * - `tsx src/program.ts`: the same, SIGTERM to tsx's pid (tsx relays it to the node it starts).
 * - Ctrl-C in a terminal: SIGINT to the whole foreground process group (npm and the service), so the service gets it
 *   twice — directly and forwarded by npm.
 * - `dist/program.js` on every Node of the machine (`nodesOnMachine`): where `engines` admits the version it serves
 *   and drains on SIGTERM (exit 0); elsewhere it prints one line naming the required version and exits 1.
 */
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import http from "node:http"
import os from "node:os"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  admitted,
  commandOf,
  descendants,
  engineFloor,
  exitOf,
  host,
  isAlive,
  killLeftovers,
  manifest,
  nodesOnMachine,
  repoRoot,
  type Spawned,
  type SpawnOptions,
  spawnLogged
} from "./spawned.ts"
import { get, settle } from "./support.ts"

/**
 * Preloaded into every Node process the starter runs: each says when it exits by itself (`process.on("exit")`), so a
 * process that is gone without saying so was killed (SIGKILL).
 */
let exitProbe = ""
beforeAll(async () => {
  exitProbe = path.join(await mkdtemp(path.join(os.tmpdir(), "exit-probe-")), "exit-probe.mjs")
  await writeFile(
    exitProbe,
    'process.on("exit", (code) => process.stderr.write("exit event pid=" + process.pid + " code=" + code + "\\n"))\n'
  )
})
afterAll(async () => {
  if (exitProbe !== "") await rm(path.dirname(exitProbe), { recursive: true, force: true })
})

/** the program's environment: both ports chosen by the OS, loopback, JSON logs, the exit probe */
const programEnv = () => ({
  PORT: "0",
  ADMIN_PORT: "0",
  HOST: host,
  ADMIN_HOST: host,
  LOG_FORMAT: "json",
  NODE_OPTIONS: `--import=${pathToFileURL(exitProbe).href}`
})

const orphans = new Set<number>()
afterEach(async () => {
  for (const pid of orphans) if (isAlive(pid)) process.kill(pid, "SIGKILL")
  orphans.clear()
  await killLeftovers()
})

/**
 * deploy — starts `command` (which runs the program), waits until it serves, puts a `GET /api/delay/500` in flight on
 * a keep-alive connection, sends `signal` (to the process, or to its whole process group as a terminal does), and
 * returns the reply, the exit, and the processes it had started that are still alive after it exited.
 */
const deploy = async (
  command: string,
  args: ReadonlyArray<string>,
  signal: { readonly name: NodeJS.Signals; readonly toGroup: boolean },
  options: SpawnOptions = {}
) => {
  const started: Spawned = spawnLogged(command, args, {
    ...options,
    env: { ...programEnv(), ...options.env },
    detached: signal.toGroup
  })
  const listening = await started.waitFor(/api server listening on http:\/\/127\.0\.0\.1:(\d+)/, 60_000)
  await started.waitFor(/"message":"serving"/)
  const port = Number(listening[1])
  const tree = descendants(started.pid).map((pid) => ({ pid, command: commandOf(pid) }))
  for (const { pid } of tree) orphans.add(pid)
  const treeText = tree.map(({ pid, command }) => `${pid} ${command}`).join("\n")

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    assert.strictEqual((await get(port, "/healthz", { agent })).status, 200)
    const inFlight = settle(get(port, "/api/delay/500", { agent, timeoutMs: 15_000 }))
    // the request is on a connection the service has accepted: it is answered even if it arrives after the signal
    if (signal.toGroup) process.kill(-started.pid, signal.name)
    else started.kill(signal.name)
    const reply = await inFlight
    const exit = await exitOf(started, 20_000)
    const leftovers = tree.filter(({ pid }) => isAlive(pid)).map(({ pid, command }) => `${pid} ${command}`)
    const output = started.output()
    const exitedByItself = (pid: number) => output.includes(`exit event pid=${pid} `)
    return { reply, exit, leftovers, tree, treeText, output, exitedByItself }
  } finally {
    agent.destroy()
  }
}

/** the drain's log lines, in order, and the exit line */
const drainLines = ["shutting down: received", "stopped accepting", "shutdown phase drain done", "exiting with code 0"]

const assertDrained = (run: Awaited<ReturnType<typeof deploy>>) => {
  const context = `\n--- processes ---\n${run.treeText}\n--- output ---\n${run.output}`
  assert.isTrue(run.reply.ok, `the in-flight request failed${context}`)
  if (run.reply.ok) {
    assert.strictEqual(run.reply.reply.status, 200, context)
    assert.strictEqual(run.reply.reply.body, '{"waited":500}', context)
  }
  let from = 0
  for (const line of drainLines) {
    const at = run.output.indexOf(line, from)
    assert.isAtLeast(at, 0, `no "${line}" after the previous drain line${context}`)
    from = at
  }
  assert.deepStrictEqual(run.leftovers, [], `still running after the starter exited${context}`)
  assert.deepStrictEqual([run.exit.code, run.exit.signal], [0, null], context)
}

describe("run as deployed", () => {
  it("npm start: SIGTERM to npm drains the service, npm exits 0, nothing is orphaned", async () => {
    const run = await deploy("npm", ["start"], { name: "SIGTERM", toGroup: false })
    assertDrained(run)
  }, 90_000)

  // tsx relays SIGTERM to the node it starts, then gives it 30 ms to acknowledge (its preflight handler answers over
  // IPC) before SIGKILLing it: on a loaded machine the service can be killed without a drain. That is tsx's, not the
  // service's: such a run is skipped with the reason, never passed. `node src/program.ts` (below) has no wrapper.
  it("tsx src/program.ts: SIGTERM to tsx drains the service, tsx exits 0, nothing is orphaned", async (ctx) => {
    const tsx = path.join(repoRoot, "node_modules/tsx/dist/cli.mjs")
    const run = await deploy(process.execPath, [tsx, "src/program.ts"], { name: "SIGTERM", toGroup: false })
    const service = run.tree.find(({ command }) => command.includes("src/program.ts"))
    assert.isDefined(service, `no service process under tsx:\n${run.treeText}`)
    if (service !== undefined && !run.exitedByItself(service.pid) && !isAlive(service.pid)) {
      ctx.skip(`tsx SIGKILLed the service (${service.pid}): no acknowledgement within tsx's 30 ms relay window`)
    }
    assertDrained(run)
  }, 90_000)

  it("node src/program.ts (Node strips the types itself): SIGTERM drains, exit 0", async () => {
    const run = await deploy(process.execPath, ["src/program.ts"], { name: "SIGTERM", toGroup: false })
    assertDrained(run)
  }, 90_000)

  // The service gets this SIGINT twice, milliseconds apart: from the terminal (the whole process group) and from npm,
  // which forwards its own copy. `Signals` takes a repeat within 300 ms as the same delivery, not a second Ctrl-C.
  it("npm start, Ctrl-C in a terminal: SIGINT to the process group drains, npm exits 0", async () => {
    const run = await deploy("npm", ["start"], { name: "SIGINT", toGroup: true })
    assertDrained(run)
  }, 90_000)
})

describe("dist/program.js on every Node of the machine", () => {
  const programPath = path.join(repoRoot, "dist/program.js")
  const nodes = nodesOnMachine()
  const floor = `${engineFloor[0]}.${engineFloor[1]}`
  const below = nodes.filter((node) => !admitted(node.version))
  const above = nodes.filter((node) => admitted(node.version))
  const assertBuilt = () =>
    assert.isTrue(
      existsSync(programPath),
      `${programPath} does not exist: run \`npm run build\` first (\`npm test\` does)`
    )

  it.each(above.map((node) => [node.version, node.path] as const))(
    "Node %s (%s), admitted by engines: serves and drains on SIGTERM",
    async (_version, node) => {
      assertBuilt()
      const run = await deploy(node, [programPath], { name: "SIGTERM", toGroup: false })
      assertDrained(run)
    },
    60_000
  )

  it.each(below.map((node) => [node.version, node.path] as const))(
    "Node %s (%s), below engines: one line naming the required version, exit 1",
    async (version, node) => {
      assertBuilt()
      const started = spawnLogged(node, [programPath], { env: { ...programEnv(), NODE_OPTIONS: "" } })
      const exit = await exitOf(started, 10_000)
      assert.strictEqual(started.output(), `${manifest.name} needs Node >= ${floor} (found ${version})\n`)
      assert.deepStrictEqual([exit.code, exit.signal], [1, null])
    },
    30_000
  )

  if (below.length === 0) it.skip(`Node below ${floor}: none on this machine (E2E_NODES=/path/to/node adds one)`)
})
