/**
 * End-to-end: forced stops of the built program — a second termination signal, and the shutdown budget running out
 * with a request still in flight. Both end with exit code 2.
 */
import { afterEach, describe, expect, it } from "vitest"
import { exitOf, get, killLeftovers, messageOf, settle, sleep, startProgram, withMessage } from "./support.ts"

afterEach(killLeftovers)

describe("forced stop", () => {
  it("exits 2 at once on a second signal during the drain, logging one line about forcing", async () => {
    const program = await startProgram()
    const reply = settle(get(program.port, "/api/delay/5000"))
    await sleep(200)
    program.kill("SIGTERM")
    await program.waitForLog(withMessage("api server stopped accepting"))
    await sleep(200)
    const second = program.kill("SIGINT")
    const exit = await exitOf(program)

    expect(exit.code, program.output()).toBe(2)
    expect(exit.at - second).toBeLessThan(1_000)
    const forcing = program.logs.filter((line) => /forc/i.test(messageOf(line)))
    expect(forcing.map(messageOf)).toEqual(["received SIGINT during shutdown: forcing exit"])
    expect(forcing[0]?.level).toBe("ERROR")
    expect(program.logs.find(withMessage("api server stopped accepting"))?.annotations).toMatchObject({
      inFlightAtStart: 1
    })
    // the request was cut off with the process: no response, or at least not a 200
    const settled = await reply
    if (settled.ok) expect(settled.reply.status).not.toBe(200)
  })

  it("answers 503 and exits 2 when SHUTDOWN_TIMEOUT runs out with a request in flight", async () => {
    const program = await startProgram({ SHUTDOWN_TIMEOUT: "1 second" })
    const reply = get(program.port, "/api/delay/10000")
    await sleep(200)
    const sent = program.kill("SIGTERM")
    const answered = await reply
    const exit = await exitOf(program)

    expect(answered.status).toBe(503)
    expect(exit.code, program.output()).toBe(2)
    expect(exit.at - sent).toBeGreaterThanOrEqual(900)
    expect(exit.at - sent).toBeLessThan(2_500)
    expect(answered.at - sent).toBeGreaterThanOrEqual(900)
    expect(program.logs.some(withMessage("shutdown budget exhausted"))).toBe(true)
  })
})
