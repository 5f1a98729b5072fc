/**
 * End-to-end: start-up failures of the built program — a port already taken, an invalid variable. Each exits 1
 * with one line naming the cause, never a bare "interrupted".
 */
import net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import {
  exitOf,
  freePorts,
  get,
  host,
  killLeftovers,
  type LogLine,
  messageOf,
  spawnProgram,
  startProgram
} from "./support.ts"

afterEach(killLeftovers)

const errors = (logs: ReadonlyArray<LogLine>) => logs.filter((line) => line.level === "ERROR").map(messageOf)

/** occupy — a plain TCP server holding a free loopback port until closed. */
const occupy = async (): Promise<{ readonly port: number; readonly close: () => Promise<void> }> => {
  const [port] = (await freePorts(1)) as [number]
  const server = net.createServer((socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => resolve())
  })
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

describe("start-up failure", () => {
  it.each([
    { variable: "PORT", server: "api" },
    { variable: "ADMIN_PORT", server: "admin" }
  ])("exits 1 naming the address when $variable is in use", async ({ variable, server }) => {
    const taken = await occupy()
    try {
      const program = await spawnProgram({ [variable]: String(taken.port) })
      const exit = await exitOf(program)

      expect(exit.code, program.output()).toBe(1)
      expect(errors(program.logs)).toEqual([
        `${server} server cannot listen on ${host}:${taken.port}: address already in use`
      ])
      expect(program.output()).not.toMatch(/interrupted/i)
      expect(program.logs.some((line) => messageOf(line) === "serving")).toBe(false)
    } finally {
      await taken.close()
    }
  })

  it.each([
    { variable: "PORT", value: "abc" },
    { variable: "PORT", value: "70000" },
    { variable: "SHUTDOWN_TIMEOUT", value: "soon" }
  ])("exits 1 with one line naming $variable=$value", async ({ variable, value }) => {
    const program = await spawnProgram({ [variable]: value })
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(1)
    const lines = errors(program.logs)
    expect(lines, program.output()).toHaveLength(1)
    expect(lines[0]).toContain(`${variable}="${value}"`)
    expect(program.output()).not.toMatch(/interrupted/i)
  })
})

describe("admin port beyond loopback", () => {
  it("ADMIN_HOST=0.0.0.0 without ADMIN_TOKEN exits 1 with one line naming ADMIN_TOKEN", async () => {
    const program = await spawnProgram({ ADMIN_HOST: "0.0.0.0" })
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(1)
    expect(errors(program.logs)).toEqual([
      'invalid configuration: ADMIN_TOKEN="": required when ADMIN_HOST (0.0.0.0) is beyond loopback: the admin routes would be open to the network'
    ])
    expect(program.logs.some((line) => messageOf(line) === "serving")).toBe(false)
  })

  // Loopback only in tests: the token is checked the same way whatever ADMIN_HOST is.
  it("with ADMIN_TOKEN, /metrics needs the bearer token; the token is never printed", async () => {
    const token = "e2e-token-0123456789abcdef"
    const program = await startProgram({ ADMIN_TOKEN: token })
    expect((await get(program.adminPort, "/metrics")).status).toBe(401)
    expect((await get(program.adminPort, "/healthz")).status).toBe(200)
    program.child.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(program.output()).not.toContain(token)
  })
})
