/**
 * End-to-end: a SIGTERM at any moment after the program can first catch one gives a logged, graceful exit 0 — not a
 * death by the signal while the bundle is still loading (`EarlySignals`, inlined into `dist/program.js`).
 *
 * A preload (`--import`, a `data:` module) makes two moments visible on stderr: the first SIGTERM listener being
 * added (`process.on("newListener")`, emitted synchronously just before the listener is in place) and the bundle
 * `dist/main.js` beginning to load (a `module.registerHooks` load hook). The listener must come first, and a SIGTERM
 * sent 0, 10, 25 or 50 ms after it — inside the 40–150 ms the bundle takes to load and start, where the process used
 * to die — must end in exit 0 with the usual lines.
 *
 * Before Node runs the first line of JavaScript no program can catch anything: its bootstrap takes 30–100 ms here
 * (more on a loaded machine) with the default action for SIGTERM in place. So a SIGTERM 0, 10, 25 or 50 ms after the
 * spawn itself may end in a death by the signal only if no SIGTERM listener had been added yet.
 */
import { afterEach, describe, expect, it } from "vitest"
import { exitOf, killLeftovers, messageOf, type Program, sleep, spawnProgram } from "./support.ts"

afterEach(killLeftovers)

const listening = "\u0001sigterm-listener\n"
const loading = "\u0001loading-bundle\n"
const preload = `data:text/javascript,${encodeURIComponent(`
import { writeSync } from "node:fs"
import { registerHooks } from "node:module"
let first = true
process.on("newListener", (event) => {
  if (event === "SIGTERM" && first) { first = false; writeSync(2, ${JSON.stringify(listening)}) }
})
registerHooks({
  load(url, context, next) {
    if (url.endsWith("/main.js")) writeSync(2, ${JSON.stringify(loading)})
    return next(url, context)
  }
})
`)}`

/** spawnObserved — the program with the preload; `listening` resolves once a SIGTERM listener is in place. */
const spawnObserved = async () => {
  const program = await spawnProgram({}, { nodeArgs: ["--import", preload] })
  let seen = ""
  const listened = new Promise<string>((resolve) => {
    program.child.stderr?.on("data", (chunk: string) => {
      seen += chunk
      if (seen.includes(listening)) resolve(seen)
    })
  })
  return { program, listened, hadListener: () => seen.includes(listening) }
}

const expectGracefulExit = async (program: Program) => {
  const exit = await exitOf(program, 15_000)
  expect([exit.code, exit.signal], program.output()).toEqual([0, null])
  const lines = program.logs.map(messageOf)
  expect(lines, program.output()).toContain("stopping: received SIGTERM")
  expect(lines.at(-1), program.output()).toBe("exiting with code 0")
}

describe("SIGTERM while the program is loading", () => {
  it.each([0, 10, 25, 50])(
    "%i ms after the first SIGTERM listener (before the bundle loads): exit 0",
    async (delay) => {
      const { program, listened } = await spawnObserved()
      const seen = await listened
      // in stream order (one read may bring both): the listener first, then the bundle if it has started loading
      const bundle = seen.indexOf(loading)
      expect(bundle === -1 || bundle > seen.indexOf(listening), `listener before bundle: ${seen}`).toBe(true)
      if (delay > 0) await sleep(delay)
      program.kill("SIGTERM")
      await expectGracefulExit(program)
    }
  )

  it.each([0, 10, 25, 50])("%i ms after spawn: exit 0, unless no listener was in place yet", async (delay) => {
    const { program, hadListener } = await spawnObserved()
    await new Promise<void>((resolve) => program.child.once("spawn", () => resolve()))
    if (delay > 0) await sleep(delay)
    program.kill("SIGTERM")
    const exit = await exitOf(program, 15_000)
    if (exit.signal === "SIGTERM")
      expect(hadListener(), `killed with a listener in place\n${program.output()}`).toBe(false)
    else await expectGracefulExit(program)
  })
})
