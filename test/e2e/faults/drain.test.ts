/**
 * Fault suite — the drain against clients that keep it busy: keep-alive load at SIGTERM, a silent connection, a
 * handler that never ends, a finalizer that hangs, a WebSocket. Real processes, real signals, loopback sockets;
 * every wait is bounded and every timing bound has a margin for a loaded two-core machine.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { exitOf, get, killLeftovers, sleep, startProgram, withMessage } from "../support.ts"
import { faultBundle, keepAliveLoad, loggedAt, rawConnection, startFaultProgram } from "./support.ts"

afterEach(killLeftovers)
beforeAll(() => faultBundle().then(() => {}), 60_000)

describe("fault suite: the drain", () => {
  it("SIGTERM under keep-alive load (16 connections, back to back): no written request is reset; refusals only after the listener closed", async () => {
    const program = await startProgram()
    const load = keepAliveLoad(program.port, 16, ["/healthz", "/api/delay/5", "/readyz", "/api/delay/20"])
    await sleep(1_000)
    const answeredBefore = load.fates.length
    const sent = program.kill("SIGTERM")
    await load.done
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(0)
    expect(answeredBefore, "the load was running").toBeGreaterThan(100)
    const lost = load.fates.filter((fate) => fate.kind === "lost")
    expect(lost, "a request written to an accepted connection was reset").toEqual([])
    const refused = load.fates.filter((fate) => fate.kind === "refused")
    expect(refused.length, "every client ends at a refused connection").toBe(16)
    // the first refusal comes after the listener closed, and everything answered before it was a real answer
    const closedAt = program.logs.find(withMessage("api server stopped accepting"))
    expect(closedAt, program.output()).toBeDefined()
    for (const fate of refused) expect(fate.at).toBeGreaterThan(sent)
    for (const fate of load.fates) {
      if (fate.kind === "answered") expect([200, 503]).toContain(fate.status)
    }
    expect(exit.at - sent).toBeLessThan(2_000)
  })

  it("a client connected that never sends a byte is closed within the idle grace; the exit is unaffected", async () => {
    const program = await startProgram({ DRAIN_IDLE_GRACE: "300 millis" })
    const silent = await rawConnection(program.port)
    await sleep(100)
    const sent = program.kill("SIGTERM")
    const closed = await silent.closed
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(0)
    expect(closed - sent, "closed within the grace (plus scheduling)").toBeLessThan(300 + 400)
    expect(silent.received(), "nothing is sent to a connection that asked nothing").toBe("")
    expect(exit.at - sent).toBeLessThan(1_500)
  })

  it("a handler that never ends is interrupted at the budget: 503, exit 2 at the budget ± 10%", async () => {
    const budget = 3_000
    const program = await startFaultProgram({ SHUTDOWN_TIMEOUT: `${budget} millis` })
    const reply = get(program.port, "/fault/never", { timeoutMs: 20_000 })
    const beside = get(program.port, "/api/delay/300")
    await sleep(150)
    const sent = program.kill("SIGTERM")
    const [stuck, finished] = await Promise.all([reply, beside])
    const exit = await exitOf(program, 20_000)

    expect(finished.status, "the request that could finish did").toBe(200)
    expect(stuck.status).toBe(503)
    expect(exit.code, program.output()).toBe(2)
    // the budget runs from the moment the program saw the signal (its "shutting down" line): on a loaded machine the
    // signal itself can take a while to reach the event loop
    const began = loggedAt(await program.waitForLog(withMessage("shutting down")))
    expect(began - sent, "the signal was seen").toBeGreaterThanOrEqual(-50)
    expect(exit.at - began).toBeGreaterThanOrEqual(budget * 0.9)
    expect(exit.at - began).toBeLessThanOrEqual(budget * 1.1)
    expect(stuck.at - began).toBeGreaterThanOrEqual(budget * 0.9)
  })

  it("a finalizer that hangs, then a second SIGINT: exit 2 within 200 ms of the second signal", async () => {
    const program = await startFaultProgram({ FAULT_HANGING_FINALIZER: "1", SHUTDOWN_TIMEOUT: "20 seconds" })
    const reply = get(program.port, "/api/delay/200")
    await sleep(50)
    program.kill("SIGTERM")
    expect((await reply).status, "the drain ran before the finalizers").toBe(200)
    await program.waitForLog(withMessage("fault: finalizer hanging"))
    await sleep(400) // beyond the 300 ms in which a repeated signal counts as one delivery
    const second = program.kill("SIGINT")
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(2)
    expect(exit.at - second).toBeLessThan(200)
    expect(program.logs.some(withMessage("received SIGINT during shutdown: forcing exit"))).toBe(true)
  })

  it("a WebSocket open at shutdown gets close frame 1001, then the exit is 0 within the idle grace", async () => {
    const grace = 500
    const program = await startFaultProgram({ DRAIN_IDLE_GRACE: `${grace} millis` })
    const socket = new WebSocket(`ws://127.0.0.1:${program.port}/fault/ws`)
    const closed = new Promise<{ code: number; at: number }>((resolve) =>
      socket.addEventListener("close", (event) => resolve({ code: event.code, at: performance.now() }))
    )
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve())
      socket.addEventListener("error", () => reject(new Error("the WebSocket did not open")))
    })
    const echoed = new Promise<unknown>((resolve) => socket.addEventListener("message", (event) => resolve(event.data)))
    socket.send("ping")
    expect(await echoed).toBe("ping")

    const sent = program.kill("SIGTERM")
    const close = await closed
    const exit = await exitOf(program)

    expect(close.code).toBe(1001)
    expect(close.at - sent).toBeLessThan(grace + 500)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(grace + 1_000)
  })
})
