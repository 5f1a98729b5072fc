/**
 * build — bundles `src/program.ts` into `dist/main.js` (one ESM file for Node ≥ 22) behind a tiny entry point,
 * `dist/program.js`, that turns on Node's compile cache before loading it.
 *
 * Bundling is what makes start-up fast: importing the effect barrel and the HTTP modules unbundled costs 0.4–0.7 s.
 * The compile cache (`module.enableCompileCache`, in the OS temp directory unless `NODE_COMPILE_CACHE` says
 * otherwise) spares every start after the first the time V8 spends compiling the bundle; where the directory is not
 * writable Node just runs without it.
 */
import { writeFile } from "node:fs/promises"
import { build } from "esbuild"

await build({
  entryPoints: ["src/program.ts"],
  outfile: "dist/main.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: "linked",
  legalComments: "none",
  // `ws` (WebSocket upgrades) is CommonJS and `require`s Node's built-ins: give the ESM bundle a `require`.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
  },
  logLevel: "warning"
})

await writeFile(
  "dist/program.js",
  `// Entry point: enable the compile cache, then load the bundle (see scripts/build.ts).
import { enableCompileCache } from "node:module"
enableCompileCache?.()
await import("./main.js")
`
)
