/**
 * End-to-end: graceful stops of the built program — real process, real signals, real sockets on loopback.
 * Timing bounds are generous (the machine is noisy); every wait is bounded.
 */
import http from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import {
  exitOf,
  get,
  killLeftovers,
  type LogLine,
  messageOf,
  openIdleConnection,
  sleep,
  startProgram,
  withMessage
} from "./support.ts"

afterEach(killLeftovers)

const phases = ["unready", "stop", "drain", "release"]

const phaseLines = (logs: ReadonlyArray<LogLine>) =>
  logs.filter((line) => /^shutdown phase \w+ done$/.test(messageOf(line)))

describe("graceful stop", () => {
  it("exits 0 within 1 s of SIGTERM when idle", async () => {
    const program = await startProgram()
    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(1_000)
  })

  it("answers every in-flight keep-alive request, then exits 0 right after the last response", async () => {
    const program = await startProgram()
    const agent = new http.Agent({ keepAlive: true })
    try {
      const replies = Array.from({ length: 5 }, () => get(program.port, "/api/delay/800", { agent }))
      await sleep(200)
      const sent = program.kill("SIGTERM")
      const all = await Promise.all(replies)
      const exit = await exitOf(program)

      expect(exit.code, program.output()).toBe(0)
      for (const reply of all) {
        expect(reply.status).toBe(200)
        expect(JSON.parse(reply.body)).toEqual({ waited: 800 })
        // drain began while the response was pending: the client is told the connection ends with it
        expect(reply.headers.connection).toBe("close")
      }
      const last = Math.max(...all.map((reply) => reply.at))
      expect(last).toBeGreaterThan(sent)
      expect(exit.at - last).toBeLessThan(500)
      const stopped = program.logs.find(withMessage("api server stopped accepting"))
      expect(stopped?.annotations, "all five were in flight at SIGTERM").toMatchObject({ inFlightAtStart: 5 })
    } finally {
      agent.destroy()
    }
  })

  it("POST /shutdown on the admin port answers 202, then exits 0", async () => {
    const program = await startProgram()
    const reply = await get(program.adminPort, "/shutdown", { method: "POST" })
    const exit = await exitOf(program)
    expect(reply.status).toBe(202)
    expect(JSON.parse(reply.body)).toEqual({ shutdown: "started" })
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at).toBeGreaterThan(reply.at)
    expect(program.logs.some(withMessage("stopping: shutdown requested by POST /shutdown"))).toBe(true)
  })

  it("keeps serving after SIGHUP, then exits 0 on SIGTERM", async () => {
    const program = await startProgram()
    program.kill("SIGHUP")
    await program.waitForLog(withMessage("received SIGHUP"))
    expect((await get(program.port, "/healthz")).status).toBe(200)
    expect((await get(program.port, "/readyz")).status).toBe(200)
    expect(program.child.exitCode).toBeNull()
    expect(program.child.signalCode).toBeNull()

    program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
  })

  it("with SHUTDOWN_DELAY, is unready but still serving new connections during the delay", async () => {
    const program = await startProgram({ SHUTDOWN_DELAY: "1 second" })
    expect((await get(program.port, "/readyz")).status).toBe(200)
    const sent = program.kill("SIGTERM")
    await program.waitForLog(withMessage("shutting down"))

    const [readyz, healthz, delay, adminReadyz] = await Promise.all([
      get(program.port, "/readyz"),
      get(program.port, "/healthz"),
      get(program.port, "/api/delay/10"),
      get(program.adminPort, "/readyz")
    ])
    expect(readyz.status).toBe(503)
    expect(adminReadyz.status).toBe(503)
    expect(healthz.status).toBe(200)
    expect(delay.status).toBe(200)
    expect(JSON.parse(delay.body)).toEqual({ waited: 10 })

    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeGreaterThanOrEqual(950)
    expect(exit.at - sent).toBeLessThan(2_500)
  })

  it("logs one line per phase, in order, each with its duration", async () => {
    const program = await startProgram()
    const reply = get(program.port, "/api/delay/300")
    await sleep(100)
    program.kill("SIGTERM")
    expect((await reply).status).toBe(200)
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)

    const lines = phaseLines(program.logs)
    expect(lines.map((line) => line.annotations.phase)).toEqual(phases)
    for (const line of lines) {
      expect(line.level).toBe("INFO")
      expect(line.annotations.millis).toBeTypeOf("number")
      expect(line.annotations.millis).toBeGreaterThanOrEqual(0)
    }
    const drain = lines.find((line) => line.annotations.phase === "drain")
    expect(drain?.annotations.millis, "the drain waited for the request").toBeGreaterThanOrEqual(100)
  })

  it("closes an idle keep-alive connection after DRAIN_IDLE_GRACE and exits 0 promptly", async () => {
    const program = await startProgram({ DRAIN_IDLE_GRACE: "250 millis" })
    const idle = await openIdleConnection(program.port)
    try {
      const sent = program.kill("SIGTERM")
      const exit = await exitOf(program)
      const closed = await idle.closed

      expect(exit.code, program.output()).toBe(0)
      expect(exit.at - sent).toBeLessThan(1_000)
      expect(closed - sent, "the grace was honoured").toBeGreaterThanOrEqual(200)
      const stopped = program.logs.find(withMessage("api server stopped accepting"))
      expect(stopped?.annotations).toMatchObject({ connectionsAtStart: 1, inFlightAtStart: 0 })
      const drain = phaseLines(program.logs).find((line) => line.annotations.phase === "drain")
      expect(drain?.annotations.millis, "the drain ended with the grace").toBeGreaterThanOrEqual(200)
    } finally {
      idle.socket.destroy()
    }
  })
})
