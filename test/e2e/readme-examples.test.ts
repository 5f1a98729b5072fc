/**
 * The README's complete examples (`examples/readme/*.ts`, each shown verbatim in the README: `test/Readme.test.ts`)
 * run here as a user runs them — `node examples/readme/<name>.ts`, importing the package by its name (Node resolves
 * it to this package's own built `dist/lib` through `exports`) — and do what the README says they do.
 */
import { describe, expect, it } from "@effect/vitest"
import { exitOf, spawnLogged } from "./spawned.ts"
import { freePorts, get, settle } from "./support.ts"

const start = async (file: string, env: Readonly<Record<string, string>> = {}) => {
  const [port = 0, adminPort = 0] = await freePorts(2)
  const spawned = spawnLogged(process.execPath, [`examples/readme/${file}`], {
    env: { PORT: String(port), ADMIN_PORT: String(adminPort), HOST: "127.0.0.1", LOG_FORMAT: "json", ...env }
  })
  return { spawned, port, adminPort }
}

describe("README examples", () => {
  it("drop-in.ts: serves; on SIGTERM the request in flight is answered, then it exits", async () => {
    const { spawned, port } = await start("drop-in.ts")
    await spawned.waitFor(/Listening on/)
    expect(await get(port, "/")).toMatchObject({ status: 200, body: "hello" })
    const slow = settle(get(port, "/slow"))
    await new Promise((resolve) => setTimeout(resolve, 200)) // the request reaches its 1 s handler
    spawned.kill("SIGTERM")
    const answer = await slow
    expect(answer.ok && [answer.reply.status, answer.reply.body]).toEqual([200, "done"])
    const exit = await exitOf(spawned, 10_000)
    expect(exit.code).toBe(130) // NodeRuntime.runMain's code for an interrupted program
    expect(spawned.output()).toContain("shutdown phase drain done")
  }, 30_000)

  it("production.ts: ready, then on SIGTERM the hooks run around the drain after the 5 s delay", async () => {
    const { spawned, port } = await start("production.ts")
    await spawned.waitFor(/Listening on/)
    expect(await get(port, "/readyz")).toMatchObject({ status: 200, body: "ready" })
    spawned.kill("SIGTERM")
    await spawned.waitFor(/leaving service discovery/)
    expect(await get(port, "/readyz")).toMatchObject({ status: 503, body: "not ready: shutting down" })
    await exitOf(spawned, 15_000)
    const output = spawned.output()
    const at = [
      "leaving service discovery",
      "shutdown phase unready done",
      "shutdown phase drain done",
      "flushing telemetry"
    ].map((line) => output.indexOf(line))
    expect(
      at.every((index, i) => index > (at[i - 1] ?? -1)),
      `in this order:\n${output}`
    ).toBe(true)
  }, 30_000)

  it("group.ts: your route on the API server; SIGTERM stops the group, exit 0", async () => {
    const { spawned, port, adminPort } = await start("group.ts")
    await spawned.waitFor(/"serving"/)
    expect(await get(port, "/api/hello")).toMatchObject({ status: 200, body: "hello" })
    expect(await get(adminPort, "/readyz")).toMatchObject({ status: 200, body: "ready" })
    spawned.kill("SIGTERM")
    const exit = await exitOf(spawned, 10_000)
    expect(exit.code).toBe(0)
    expect(spawned.output()).toContain("stopping: received SIGTERM")
  }, 30_000)
})
