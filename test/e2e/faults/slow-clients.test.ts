/**
 * Fault suite: slow clients (issue #8) — during the drain a trickling client gets a deadline, not a restart; outside
 * shutdown the headers timeout ends a slowloris.
 *
 * Before the fix each case failed for the reason the issue gives: a trickling client restarted the idle grace with
 * every byte, so the drain waited for the whole budget and the exit was 2; Node's 60 s headers timeout never ended a
 * slowloris. (A 100 MB body to a route that does not read it already held: Node closes that connection right after
 * the answer; see `requests.test.ts`.)
 */
import { afterEach, describe, expect, it } from "vitest"
import { exitOf, get, host, killLeftovers, type Program, sleep, startProgram, within, withMessage } from "../support.ts"
import { loggedAt, type RawConnection, rawConnection, slices, trickle } from "./support.ts"

/**
 * The variable that sets the headers timeout outside shutdown. Its name is chosen by the `hostile` branch: correct it
 * here if it differs (the value below keeps the test short).
 */
const HEADERS_TIMEOUT_VARIABLE = "HEADERS_TIMEOUT"
const headersTimeoutMillis = 2_000

afterEach(killLeftovers)

const grace = 250
const budget = 5_000

/** SIGTERM; then the exit is 0 and `connection` closed within the idle grace + 500 ms of the program seeing it */
const expectDrainWithinGrace = async (program: Program, connection: RawConnection) => {
  program.kill("SIGTERM")
  const exit = await exitOf(program)
  // from the moment the program saw the signal (a loaded machine may take a while to deliver it)
  const began = loggedAt(await program.waitForLog(withMessage("shutting down")))
  const closed = await within(connection.closed, 1_000, "the slow connection to be closed")

  expect(exit.code, program.output()).toBe(0)
  expect(exit.at - began).toBeLessThan(grace + 500)
  expect(closed - began).toBeLessThan(grace + 500)
}

describe("fault suite: slow clients", () => {
  it("headers trickled at 10 B/s, SIGTERM, 5 s budget: exit 0 within the idle grace + 500 ms", async () => {
    const program = await startProgram({ SHUTDOWN_TIMEOUT: `${budget} millis`, DRAIN_IDLE_GRACE: `${grace} millis` })
    const slow = await rawConnection(program.port)
    const head = `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Padding: ${"p".repeat(10_000)}\r\n\r\n`
    trickle(slow.socket, slices(head, 1), 100)
    await sleep(1_000)
    await expectDrainWithinGrace(program, slow)
  })

  it("an endless chunked body, SIGTERM, 5 s budget: the request is cut, exit 0 within the idle grace + 500 ms", async () => {
    const program = await startProgram({ SHUTDOWN_TIMEOUT: `${budget} millis`, DRAIN_IDLE_GRACE: `${grace} millis` })
    const endless = await rawConnection(program.port)
    endless.socket.write(`GET /api/delay/0 HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n`)
    trickle(endless.socket, () => "1\r\nx\r\n", 50)
    await sleep(500)
    expect(endless.received(), "answered while its body still arrives").toMatch(/^HTTP\/1\.1 200 /)
    await expectDrainWithinGrace(program, endless)
  })

  it("slowloris at 1 B/s while serving: 408 or close at the headers timeout; other clients unaffected", async () => {
    const program = await startProgram({ [HEADERS_TIMEOUT_VARIABLE]: `${headersTimeoutMillis} millis` })
    const loris = await rawConnection(program.port)
    const opened = performance.now()
    const head = `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${"s".repeat(1_000)}\r\n\r\n`
    trickle(loris.socket, slices(head, 1), 1_000)

    const latencies: Array<number> = []
    while (performance.now() - opened < headersTimeoutMillis + 500) {
      const start = performance.now()
      expect((await get(program.port, "/healthz")).status).toBe(200)
      latencies.push(performance.now() - start)
      await sleep(100)
    }
    const closed = await within(loris.closed, headersTimeoutMillis + 2_000, "the slowloris to be closed")

    expect(closed - opened).toBeGreaterThanOrEqual(headersTimeoutMillis - 100)
    // Node checks its timeouts every second (ServerTimeouts sets `connectionsCheckingInterval` to 1 s): the close
    // comes up to a second after the timeout, plus the event loop's lag on a loaded machine
    expect(closed - opened).toBeLessThan(headersTimeoutMillis + 2_000)
    const answer = loris.received()
    expect(answer === "" || /^HTTP\/1\.1 408 /.test(answer), answer).toBe(true)
    expect(Math.max(...latencies), "other clients were served as usual").toBeLessThan(500)
    expect(program.child.exitCode).toBeNull()
  })
})
