/**
 * End-to-end: configuration reload on the built program — a real file, real SIGHUPs, the admin server's
 * `GET /config`. A valid file becomes version 2 and its log level applies at once; an invalid one is logged naming
 * the file and the key while the version stays; an invalid file at start-up exits 1 naming them; a storm of 100
 * SIGHUPs in one second leaves the service serving, with a bounded number of reloads, and it still stops with 0.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  exitOf,
  get,
  killLeftovers,
  type LogLine,
  messageOf,
  type Program,
  sleep,
  spawnProgram,
  startProgram,
  withMessage
} from "./support.ts"

afterEach(killLeftovers)

let dir = ""
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "reload-e2e-"))
  return () => rm(dir, { recursive: true, force: true })
})

const config = async (program: Program) => {
  const reply = await get(program.adminPort, "/config")
  expect(reply.status, reply.body).toBe(200)
  return JSON.parse(reply.body) as Record<string, unknown>
}

/** the lines logged after `from` (an index into `program.logs`) */
const since = (program: Program, from: number): ReadonlyArray<LogLine> => program.logs.slice(from)

describe("SIGHUP reload", () => {
  it("a valid file becomes version 2 (its log level at once); an invalid one is logged and the version stays", async () => {
    const file = path.join(dir, "config.json")
    await writeFile(file, JSON.stringify({ aggregateConcurrency: 6 }))
    const program = await startProgram({
      CONFIG_FILE: file,
      UPSTREAM_URL: "https://svc:s3cret@upstream.internal/api?token=abc"
    })
    const first = await config(program)
    expect(first).toMatchObject({
      version: 1,
      source: `environment+${file}`,
      aggregateConcurrency: 6,
      logLevel: "Info",
      upstreamUrl: "https://***@upstream.internal/api?token=***"
    })
    expect(JSON.stringify(first)).not.toContain("s3cret")

    await writeFile(file, JSON.stringify({ aggregateConcurrency: 2, logLevel: "warn", simulatedLatency: "20 millis" }))
    program.kill("SIGHUP")
    const reloaded = await program.waitForLog(withMessage("configuration reloaded"))
    expect(reloaded.annotations).toMatchObject({
      version: 2,
      changed: "aggregateConcurrency,simulatedLatency,logLevel"
    })
    const second = await config(program)
    expect(second).toMatchObject({
      version: 2,
      aggregateConcurrency: 2,
      logLevel: "Warn",
      simulatedLatency: "20 millis"
    })
    expect(Date.parse(String(second.loadedAt))).toBeGreaterThan(Date.parse(String(first.loadedAt)))

    // the level is Warn now: the next SIGHUP's Info line is not written, its Error line is
    const mark = program.logs.length
    await writeFile(file, JSON.stringify({ aggregateConcurrency: 0 }))
    program.kill("SIGHUP")
    const failed = await program.waitForLog(withMessage("configuration reload failed"))
    expect(messageOf(failed)).toBe(
      `configuration reload failed: invalid configuration file ${file}: aggregateConcurrency: Expected a value greater than or equal to 1, got 0`
    )
    expect(failed.annotations).toMatchObject({ version: 2, kept: true })
    expect(since(program, mark).filter(withMessage("received SIGHUP"))).toEqual([])
    expect(await config(program)).toEqual(second)

    await writeFile(file, "{ not json")
    program.kill("SIGHUP")
    await program.waitForLog((line) => withMessage("not JSON")(line) && program.logs.indexOf(line) > mark)
    expect((await config(program)).version).toBe(2)

    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  })

  it("an invalid file at start-up exits 1 naming the file and the key", async () => {
    const file = path.join(dir, "config.json")
    await writeFile(file, JSON.stringify({ simulatedFailureRate: 2 }))
    const program = await spawnProgram({ CONFIG_FILE: file })
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(1)
    expect(program.logs.map(messageOf)).toContain(
      `invalid configuration file ${file}: simulatedFailureRate: Expected a value between 0 and 1, got 2`
    )
  })

  it("a missing file at start-up exits 1 naming it", async () => {
    const file = path.join(dir, "absent.json")
    const program = await spawnProgram({ CONFIG_FILE: file })
    expect((await exitOf(program)).code, program.output()).toBe(1)
    expect(
      program.logs.map(messageOf).find((m) => m.startsWith(`invalid configuration file ${file}: cannot read`))
    ).toBeDefined()
  })

  it("100 SIGHUPs in one second, each after an edit: still serving, the last edit applied, then a clean stop", async () => {
    const file = path.join(dir, "config.json")
    await writeFile(file, JSON.stringify({ aggregateConcurrency: 1 }))
    const program = await startProgram({ CONFIG_FILE: file })
    const fibersBefore = JSON.parse((await get(program.adminPort, "/debug/fibers")).body) as { fibers: Array<unknown> }
    for (let i = 2; i <= 101; i++) {
      await writeFile(file, JSON.stringify({ aggregateConcurrency: i }))
      program.kill("SIGHUP")
      await sleep(10)
    }
    // reloads during a reload coalesce into one more, which reads the file as it is then: the last edit lands
    const deadline = performance.now() + 5_000
    while ((await config(program)).aggregateConcurrency !== 101 && performance.now() < deadline) await sleep(50)
    const last = await config(program)
    expect(last.aggregateConcurrency, program.output()).toBe(101)
    const reloads = program.logs.filter(withMessage("configuration reloaded")).length
    expect(last.version).toBe(1 + reloads)
    expect(reloads).toBeLessThanOrEqual(100)
    expect((await get(program.port, "/healthz")).status).toBe(200)
    const fibersAfter = JSON.parse((await get(program.adminPort, "/debug/fibers")).body) as { fibers: Array<unknown> }
    expect(fibersAfter.fibers.length).toBe(fibersBefore.fibers.length) // the members and this request, no more
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  })
})
