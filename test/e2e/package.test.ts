/**
 * The package as a consumer gets it: `npm pack` (which builds, `prepack`), then `npm install` of the tarball into a
 * temporary copy of `examples/embed` — once for the whole file, from the npm cache the root install filled
 * (`--prefer-offline`). Then:
 * - the tarball holds the built library (`dist/lib`: `.js`, `.d.ts`, maps) and its sources, and nothing else; its
 *   `exports` give `types` and `import`; `effect` and `@effect/platform-node` are peers, so the consumer has one copy
 *   of each;
 * - plain `node` loads it, on every Node of the machine that `engines` admits;
 * - `tsc` (`strict`, `module: NodeNext`, no `allowImportingTsExtensions`: the example's tsconfig) accepts the example
 *   and the package's own declarations, and the app's requirements stay in its type: serving a route that needs an
 *   unprovided service does not compile;
 * - the example, a stock Effect app under `NodeRuntime.runMain`, on SIGTERM with a slow request in flight on a
 *   keep-alive connection and another keep-alive connection idle: on `GracefulHttpServer.layer` the request gets
 *   its 200, new connections are refused, and the process exits within 100 ms of that response; on Effect's stock
 *   `NodeHttpServer.layer` (`EMBED_SERVER=stock`), the same run shows how long the process stays. Both figures are
 *   printed.
 */
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import http from "node:http"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  admitted,
  exitOf,
  host,
  killLeftovers,
  manifest,
  nodesOnMachine,
  refusesConnections,
  repoRoot,
  run,
  spawnLogged,
  within
} from "./spawned.ts"
import { get, settle } from "./support.ts"

const exampleDir = path.join(repoRoot, "examples/embed")
const tarball = `${manifest.name}-${manifest.version}.tgz`
/** the installed package inside the consumer */
const installed = (project: string) => path.join(project, "node_modules", manifest.name)

let project = ""

beforeAll(async () => {
  project = await mkdtemp(path.join(os.tmpdir(), "embed-"))
  await cp(exampleDir, project, {
    recursive: true,
    filter: (source) => !/(^|\/)(node_modules|package-lock\.json|[^/]*\.tgz)$/.test(path.relative(exampleDir, source))
  })
  const example = JSON.parse(await readFile(path.join(project, "package.json"), "utf8")) as {
    readonly dependencies: Readonly<Record<string, string>>
  }
  assert.strictEqual(
    example.dependencies[manifest.name],
    `file:${tarball}`,
    `examples/embed/package.json must depend on the tarball \`npm pack\` makes, file:${tarball}`
  )
  await run("npm", ["pack", "--pack-destination", project], { timeoutMs: 120_000 })
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock"], {
    cwd: project,
    timeoutMs: 120_000
  })
}, 240_000)

afterAll(async () => {
  if (project !== "") await rm(project, { recursive: true, force: true })
})

afterEach(killLeftovers)

/** every file under `dir`, relative to it, with `/` separators */
const filesUnder = async (dir: string): Promise<ReadonlyArray<string>> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .sort()

describe("the tarball", () => {
  it("holds the built library, its sources and nothing else", async () => {
    const files = await filesUnder(installed(project))
    for (const file of ["package.json", "README.md", "dist/lib/index.js", "dist/lib/index.d.ts", "src/index.ts"]) {
      assert.include(files, file)
    }
    const outside = files.filter((file) => !/^(package\.json|README\.md|LICENSE|dist\/lib\/.*|src\/.*)$/.test(file))
    assert.deepStrictEqual(outside, [], "files outside dist/lib and src")
    const notLibrary = files.filter((file) => /^src\/(program\.ts|toolkit\/examples\/)/.test(file))
    assert.deepStrictEqual(notLibrary, [], "the reference program and the examples are not the library")
    // every module has its .js, .d.ts and both maps
    const modules = files.filter((file) => /^dist\/lib\/.*\.js$/.test(file))
    assert.isAtLeast(modules.length, 20)
    for (const module of modules) {
      for (const companion of [".js.map", ".d.ts", ".d.ts.map"]) {
        assert.include(files, module.replace(/\.js$/, companion))
      }
    }
  })

  it("declares types with `.js` specifiers only (what every tool resolves)", async () => {
    const declarations = (await filesUnder(installed(project))).filter((file) => file.endsWith(".d.ts"))
    for (const file of declarations) {
      const text = await readFile(path.join(installed(project), file), "utf8")
      assert.notMatch(text, /(from|import)\s*\(?\s*"\.{1,2}\/[^"]*\.ts"/, `${file} imports a .ts file`)
    }
  })

  it("exports types then import, and takes effect and @effect/platform-node as peers: one copy of each", async () => {
    const pkg = JSON.parse(await readFile(path.join(installed(project), "package.json"), "utf8")) as {
      readonly exports: Readonly<Record<string, Readonly<Record<string, string>>>>
      readonly dependencies?: Readonly<Record<string, string>>
      readonly peerDependencies?: Readonly<Record<string, string>>
      readonly engines: Readonly<Record<string, string>>
    }
    const root = pkg.exports["."] ?? {}
    // TypeScript reads conditions in order: `types` must come first
    assert.deepStrictEqual(Object.entries(root), [
      ["types", "./dist/lib/index.d.ts"],
      ["import", "./dist/lib/index.js"]
    ])
    assert.deepStrictEqual(Object.keys(pkg.peerDependencies ?? {}).sort(), ["@effect/platform-node", "effect"])
    assert.deepStrictEqual(Object.keys(pkg.dependencies ?? {}), [])
    assert.strictEqual(pkg.engines.node, manifest.engines.node)

    const copies = async (name: string) =>
      (await filesUnder(path.join(project, "node_modules")))
        .filter((file) => file === `${name}/package.json` || file.endsWith(`/node_modules/${name}/package.json`))
        .map((file) => path.dirname(file))
    assert.deepStrictEqual(await copies("effect"), ["effect"])
    assert.deepStrictEqual(await copies("@effect/platform-node"), ["@effect/platform-node"])
  })
})

describe("a consumer", () => {
  const nodes = nodesOnMachine()
  const admittedNodes = nodes.filter((node) => admitted(node.version))

  it.each(admittedNodes.map((node) => [node.version, node.path] as const))(
    "loads it with plain node %s (%s)",
    async (_version, node) => {
      const script = [
        `const lib = await import("${manifest.name}")`,
        `console.log(JSON.stringify({ url: import.meta.resolve("${manifest.name}"), layer: typeof lib.GracefulHttpServer.layer }))`
      ].join("\n")
      const output = await run(node, ["--input-type=module", "-e", script], { cwd: project, timeoutMs: 30_000 })
      const loaded = JSON.parse(output.trim().split("\n").at(-1) ?? "") as { url: string; layer: string }
      assert.match(loaded.url, new RegExp(`/node_modules/${manifest.name}/dist/lib/index\\.js$`))
      assert.strictEqual(loaded.layer, "function")
    }
  )

  it("type-checks with tsc (strict, NodeNext, the example's tsconfig), the package's declarations included", async () => {
    // The app's requirements stay in its type: a route that needs a service nobody provides does not compile.
    // (Were the package's types lost to `any`, the directive below would be unused: an error too.)
    await writeFile(
      path.join(project, "requirements.ts"),
      `import { createServer } from "node:http"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { GracefulHttpServer } from "${manifest.name}"

class Database extends Context.Service<Database, { readonly ping: Effect.Effect<void> }>()("Database") {}

const Routes = HttpRouter.add("GET", "/db", Effect.as(Database.use((db) => db.ping), HttpServerResponse.text("ok")))
const App = HttpRouter.serve(Routes).pipe(Layer.provide(GracefulHttpServer.layer(createServer, { port: 0 })))
// @ts-expect-error Database is not provided
export const launched: Effect.Effect<never, unknown, never> = Layer.launch(App)
`
    )
    // The example's tsconfig has `skipLibCheck`, which skips our .d.ts along with Effect's. Checking every .d.ts costs
    // 20-40 s here and fails on Effect's own under a Node-only `lib` (12 errors: they name the DOM's `CryptoKey`,
    // `JsonWebKey`, `Transferable`). So the package's declarations are checked as sources: copied as `.ts` (their
    // `./X.js` imports then resolve to the copies) into the same program, under the consumer's options.
    const declarations = (await filesUnder(installed(project))).filter((file) => file.endsWith(".d.ts"))
    assert.isAtLeast(declarations.length, 20)
    for (const file of declarations) {
      const copy = path.join(project, "declarations", file.replace(/\.d\.ts$/, ".ts"))
      await mkdir(path.dirname(copy), { recursive: true })
      await copyFile(path.join(installed(project), file), copy)
    }
    await writeFile(
      path.join(project, "tsconfig.check.json"),
      JSON.stringify({ extends: "./tsconfig.json", include: ["*.ts", "declarations/**/*.ts"] })
    )
    const tsc = path.join(project, "node_modules/typescript/bin/tsc")
    await run(process.execPath, [tsc, "-p", "tsconfig.check.json", "--pretty", "false"], {
      cwd: project,
      timeoutMs: 120_000
    })
  }, 150_000)
})

/** Reply — a complete response; `at` is `performance.now()` when its body ended. */
type Reply = Awaited<ReturnType<typeof get>>

/** a raw keep-alive connection that has had one answer (`GET /`) and now sits idle, as a real client's would */
const openIdleConnection = async (port: number) => {
  const socket = net.connect({ host, port })
  socket.on("error", () => {})
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())))
  let received = ""
  const answered = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`))
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      received += chunk
      if (/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nhello$/.test(received)) resolve()
    })
    void closed.then(() => reject(new Error(`closed before its answer; got ${JSON.stringify(received)}`)))
  })
  await within(answered, 5_000, "the idle connection's first answer")
  return { socket, closed }
}

/** Drain — what one SIGTERM did, in ms from the signal (`performance.now()` of this process). */
interface Drain {
  readonly server: "graceful" | "stock"
  readonly reply: Reply
  /** the first refused connection attempt after the signal (undefined: none before the reply) */
  readonly refusedMs: number | undefined
  readonly replyMs: number
  readonly idleClosedMs: number | undefined
  readonly exitMs: number
  /** from the end of the last response to the exit, as this process saw it (Node's own teardown included) */
  readonly exitAfterReplyMs: number
  /** from the end of the last response to the app's `process.on("exit")` (the program is done; teardown begins) */
  readonly exitEventAfterReplyMs: number
  readonly exitCode: number | null
}

const workMs = 1_000
const drains: Array<Drain> = []

/**
 * drain — starts the example on `server`, opens a keep-alive connection with a `GET /work/1000` in flight and an idle
 * one, sends SIGTERM once the route has started, and records what happens until the process exits.
 */
const drain = async (server: "graceful" | "stock"): Promise<Drain> => {
  // The app's own `exit` event, in epoch ms: where the program ends and Node's teardown (tens of ms, more on a loaded
  // machine) begins. Preloaded, so the example stays as written.
  const probe = path.join(project, "exit-probe.mjs")
  await writeFile(
    probe,
    'process.on("exit", () => process.stderr.write("exit event at " + (performance.timeOrigin + performance.now()) + "\\n"))\n'
  )
  const app = spawnLogged(process.execPath, ["main.ts"], {
    cwd: project,
    env: { PORT: "0", HOST: host, EMBED_SERVER: server, NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` }
  })
  const listening = await app.waitFor(/Listening on http:\/\/127\.0\.0\.1:(\d+)/, 20_000)
  const port = Number(listening[1])

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    assert.strictEqual((await get(port, "/", { agent })).status, 200)
    const idle = await openIdleConnection(port)
    const inFlight = settle(get(port, `/work/${workMs}`, { agent, timeoutMs: 30_000 }))
    await app.waitFor(/working for 1000 ms/)
    const signalAt = app.kill("SIGTERM")

    const refused = refusesConnections(port, signalAt + workMs).then((yes) => (yes ? performance.now() : undefined))
    const settled = await inFlight
    if (!settled.ok)
      throw new Error(`${server}: the in-flight request failed: ${settled.error.message}\n${app.output()}`)
    const exit = await exitOf(app, 30_000)
    const exitEvent = Number(app.output().match(/exit event at ([\d.]+)/)?.[1])
    assert.isFalse(Number.isNaN(exitEvent), `no exit event in the output\n${app.output()}`)
    const refusedAt = await refused
    const idleClosedAt = await Promise.race([idle.closed, Promise.resolve(undefined)])
    idle.socket.destroy()
    return {
      server,
      reply: settled.reply,
      refusedMs: refusedAt === undefined ? undefined : refusedAt - signalAt,
      replyMs: settled.reply.at - signalAt,
      idleClosedMs: idleClosedAt === undefined ? undefined : idleClosedAt - signalAt,
      exitMs: exit.at - signalAt,
      exitAfterReplyMs: exit.at - settled.reply.at,
      exitEventAfterReplyMs: exitEvent - (performance.timeOrigin + settled.reply.at),
      exitCode: exit.code
    }
  } finally {
    agent.destroy()
  }
}

const describeDrain = (d: Drain) =>
  `${d.server === "graceful" ? "GracefulHttpServer.layer" : "NodeHttpServer.layer (stock)"}: in-flight ${d.reply.status} ` +
  `at ${d.replyMs.toFixed(0)} ms, new connections refused from ${d.refusedMs?.toFixed(0) ?? "-"} ms, idle ` +
  `connection closed at ${d.idleClosedMs?.toFixed(0) ?? "-"} ms, exit ${d.exitCode} at ${d.exitMs.toFixed(0)} ms ` +
  `(${d.exitAfterReplyMs.toFixed(0)} ms after the last response; its exit event ${d.exitEventAfterReplyMs.toFixed(0)} ms after)`

describe("examples/embed, SIGTERM with a request in flight and an idle keep-alive connection", () => {
  afterAll(() => {
    if (drains.length > 0)
      console.log(`embed drain, same run (ms from SIGTERM):\n  ${drains.map(describeDrain).join("\n  ")}`)
  })

  it("on GracefulHttpServer.layer: the request gets 200, new connections are refused, exit within 100 ms", async () => {
    const d = await drain("graceful")
    drains.push(d)
    assert.strictEqual(d.reply.status, 200)
    assert.strictEqual(d.reply.body, `worked ${workMs} ms`)
    assert.strictEqual(d.reply.headers.connection, "close")
    assert.isDefined(d.refusedMs, "new connections were still accepted while the request ran")
    assert.isBelow(d.refusedMs ?? Number.POSITIVE_INFINITY, d.replyMs)
    assert.isDefined(d.idleClosedMs, "the idle connection was still open when the process exited")
    // The program is done within 100 ms of the last response; the process is gone once Node has torn down, which
    // takes from ~15 ms on a quiet machine to 100+ ms on a loaded one (measured: `node -e 'process.exit()'` alike).
    assert.isBelow(d.exitEventAfterReplyMs, 100, describeDrain(d))
    assert.isBelow(d.exitAfterReplyMs, 1_000, describeDrain(d))
    // `runMain`'s code for an interrupted program, as for any stock Effect app
    assert.strictEqual(d.exitCode, 130)
  }, 60_000)

  it("on NodeHttpServer.layer (stock): the process stays for Node's keep-alive timeout after the last response", async () => {
    const d = await drain("stock")
    drains.push(d)
    assert.strictEqual(d.reply.status, 200)
    // `server.close()` closed the idle connection, but the answered request's connection stays open until Node's
    // keep-alive timeout (5 s, plus a 1 s buffer since Node 24) closes it; only then does the scope finish closing
    const server = http.createServer()
    const keepAliveMs =
      server.keepAliveTimeout + ((server as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 0)
    assert.isAbove(d.exitAfterReplyMs, keepAliveMs - 500, describeDrain(d))
    assert.isBelow(d.exitAfterReplyMs, keepAliveMs + 4_000, describeDrain(d))
  }, 60_000)
})
