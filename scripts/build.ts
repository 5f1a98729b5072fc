/**
 * build — builds the two things `package.json` points at, without either touching the other's files:
 *
 * - `lib`: the library the package exports, `dist/lib/` — `.js`, `.d.ts` and their maps for `src/` minus the
 *   reference program and the examples (`tsconfig.build.json`). `tsc -b` keeps a build-info file, so a build with
 *   nothing changed takes 2–5 s instead of 16–20 (`npm test` builds, then packs). Two things `tsc` leaves undone are
 *   done here: relative `.ts` specifiers in the emitted `.d.ts` become `.js` (tsc rewrites them in `.js` only,
 *   microsoft/TypeScript#61037; tsc itself accepts either, other tools and older tsc do not), and files whose source
 *   is gone are deleted, so a renamed module leaves nothing behind in the package.
 * - `program`: the reference program, `src/program.ts` bundled into `dist/main.js` (one ESM file) behind a tiny entry
 *   point, `dist/program.js`; and its job worker thread, `src/jobs/worker.ts` bundled into `dist/worker.js`. Bundling is what makes start-up fast: importing the effect barrel and the HTTP modules
 *   unbundled costs 0.4–0.7 s. The entry point first checks the Node version against `engines` in `package.json` —
 *   with nothing a too-old Node could fail to parse or link — and prints one line naming the required version if it
 *   is too old; then it registers handlers that record SIGINT, SIGTERM and SIGHUP (`src/EarlySignals.ts`, inlined:
 *   a signal during the load is delivered once `Signals.layer` takes over, instead of killing the process unlogged);
 *   then it turns on Node's compile cache (`module.enableCompileCache`, in the OS temp directory unless
 *   `NODE_COMPILE_CACHE` says otherwise; where that is not writable Node runs without it), which spares every start
 *   after the first the time V8 spends compiling the bundle; then it loads the bundle.
 *
 * `node scripts/build.ts` builds both (`npm run build`); `node scripts/build.ts lib` the library alone (`prepack`: the
 * program is not in the package), `node scripts/build.ts program` the program alone (`prestart`, `bench`). It exits
 * non-zero, with tsc's or esbuild's errors, if a build fails.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import path from "node:path"
import { build } from "esbuild"

const root = path.resolve(import.meta.dirname, "..")
const targets = process.argv.slice(2)
const unknown = targets.filter((target) => target !== "lib" && target !== "program")
if (unknown.length > 0) throw new Error(`unknown build target ${unknown.join(", ")}: lib or program (none: both)`)
const wanted = (target: "lib" | "program") => targets.length === 0 || targets.includes(target)

const buildLib = async () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const run = spawnSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit" })
  if (run.status !== 0) throw new Error(`tsc -b tsconfig.build.json failed (exit ${run.status ?? run.signal})`)

  const config = JSON.parse(await readFile(path.join(root, "tsconfig.build.json"), "utf8")) as {
    readonly compilerOptions: { readonly rootDir: string; readonly outDir: string }
    readonly exclude: ReadonlyArray<string>
  }
  const { rootDir, outDir } = config.compilerOptions
  for (const entry of await readdir(path.join(root, outDir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    // dist/lib/http/X.d.ts.map -> src/http/X.ts
    const source = path
      .join(rootDir, path.relative(path.join(root, outDir), file))
      .split(path.sep)
      .join("/")
      .replace(/(\.d)?\.(js|ts)(\.map)?$/, ".ts")
    const excluded = config.exclude.some((prefix) => source === prefix || source.startsWith(`${prefix}/`))
    if (excluded || !existsSync(path.join(root, source))) await rm(file)
    else if (file.endsWith(".d.ts")) {
      const text = await readFile(file, "utf8")
      const rewritten = text.replace(/((?:from|import)\s*\(?\s*")(\.{1,2}\/[^"]*)\.ts"/g, '$1$2.js"')
      if (rewritten !== text) await writeFile(file, rewritten)
    }
  }
}

/**
 * writeAtomically — a program starting while the build runs (a test, a second terminal) reads the old file or the
 * new one, never half of one.
 */
const writeAtomically = async (file: string, contents: string | Uint8Array) => {
  await mkdir(path.dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}.tmp`
  await writeFile(temporary, contents)
  await rename(temporary, file)
}

const buildProgram = async () => {
  const manifest = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as {
    readonly name: string
    readonly engines: { readonly node: string }
  }
  const floor = /^>=\s*(\d+)\.(\d+)(?:\.\d+)?$/.exec(manifest.engines.node)
  if (floor === null) throw new Error(`engines.node must read ">=MAJOR.MINOR", not ${manifest.engines.node}`)
  const [, major, minor] = floor

  const bundle = await build({
    // dist/main.js, and the job worker thread's own entry beside it (see src/jobs/WorkerThreads.ts)
    entryPoints: { main: path.join(root, "src/program.ts"), worker: path.join(root, "src/jobs/worker.ts") },
    outdir: path.join(root, "dist"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${major}.${minor}`,
    minifySyntax: true,
    minifyWhitespace: true,
    sourcemap: "linked",
    legalComments: "none",
    // `ws` (WebSocket upgrades) is CommonJS and `require`s Node's built-ins: give the ESM bundle a `require`.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
    },
    logLevel: "warning",
    write: false
  })
  for (const file of bundle.outputFiles) await writeAtomically(file.path, file.contents)

  // src/EarlySignals.ts inlined: it imports nothing, so it runs before a byte of the bundle is read.
  const early = await build({
    stdin: {
      contents: 'import { install } from "./src/EarlySignals.ts"\ninstall()\n',
      resolveDir: root,
      loader: "ts"
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${major}.${minor}`,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
    write: false
  })
  const earlySignals = early.outputFiles[0]?.text.trim() ?? ""
  if (earlySignals.includes("import ")) throw new Error("src/EarlySignals.ts must import nothing: it is inlined")

  await writeAtomically(
    path.join(root, "dist/program.js"),
    `// Entry point (see scripts/build.ts): check the Node version, record early signals, enable the compile cache,
// load the bundle. No static import: a Node too old for the bundle must get as far as saying so.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < ${major} || (major === ${major} && minor < ${minor})) {
  console.error(${JSON.stringify(`${manifest.name} needs Node >= ${major}.${minor} (found `)} + process.version + ")")
  process.exit(1)
}
// src/EarlySignals.ts: SIGINT/SIGTERM/SIGHUP recorded from here on, handed to Signals.layer once it is built
{
${earlySignals}
}
;(await import("node:module")).enableCompileCache?.()
await import("./main.js")
`
  )
}

if (wanted("lib")) await buildLib()
if (wanted("program")) await buildProgram()
