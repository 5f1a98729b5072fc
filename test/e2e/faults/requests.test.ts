/**
 * Fault suite — hostile requests that hold today: headers over the limit (431), invalid HTTP (400, no crash, no log
 * flood), a body over a route's limit (413 before the body is read), a 100 MB body nobody reads (the connection
 * closed soon after the answer), secrets in a query string or a header (absent
 * from the fiber dump), and a SIGHUP storm (no crash, nothing left behind).
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { exitOf, get, host, killLeftovers, sleep, startProgram, within } from "../support.ts"
import { faultBundle, fiberDump, rawConnection, startFaultProgram, trickle } from "./support.ts"

afterEach(killLeftovers)
beforeAll(() => faultBundle().then(() => {}), 60_000)

/** the status line's code of a raw answer, or 0 */
const statusOf = (text: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)

/** sends `bytes` on a new connection; resolves with what came back once the server closed it */
const exchange = async (port: number, bytes: string, timeoutMs = 5_000) => {
  const connection = await rawConnection(port)
  connection.socket.write(bytes)
  await within(connection.closed, timeoutMs, "the server to close the connection")
  return connection.received()
}

describe("fault suite: hostile requests", () => {
  it("headers over the limit: 431, connection closed, service fine", async () => {
    const program = await startProgram()
    const answer = await exchange(
      program.port,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`
    )
    expect(statusOf(answer), answer.slice(0, 200)).toBe(431)
    expect((await get(program.port, "/healthz")).status).toBe(200)
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  })

  it("malformed request lines and invalid HTTP: 400 each, no crash, no log flood", async () => {
    const program = await startProgram()
    const bad = [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nBad Header\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`,
      `POST /healthz HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
      "GET /\x00 HTTP/1.1\r\n\r\n"
    ]
    const before = program.logs.length
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(bad.map((bytes) => exchange(program.port, bytes)))
      for (const [i, answer] of answers.entries()) expect(statusOf(answer), JSON.stringify(bad[i])).toBe(400)
    }
    expect((await get(program.port, "/healthz")).status).toBe(200)
    expect(program.child.exitCode).toBeNull()
    expect(program.logs.length - before, "120 bad requests, at most a few log lines").toBeLessThanOrEqual(10)
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)
  })

  it("a body over the limit on a body route: 413 before the whole body is read", async () => {
    const program = await startFaultProgram()
    const declared = 50 * 1024 * 1024
    const connection = await rawConnection(program.port)
    connection.socket.write(
      `POST /fault/small HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: ${declared}\r\n\r\n`
    )
    connection.socket.write("x".repeat(64 * 1024)) // a small part of what was declared, then nothing more
    const deadline = performance.now() + 5_000
    while (statusOf(connection.received()) === 0 && performance.now() < deadline) await sleep(20)
    expect(statusOf(connection.received()), connection.received().slice(0, 200)).toBe(413)
    connection.socket.destroy()
    expect((await get(program.port, "/healthz")).status).toBe(200)
  })

  it("a 100 MB body to a route that does not read it: answered, connection closed within 5 s of the answer", async () => {
    const program = await startProgram()
    const uploader = await rawConnection(program.port)
    const size = 100 * 1024 * 1024
    uploader.socket.write(`GET /api/delay/0 HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\n\r\n`)
    // a steady uploader (~12 MB/s, about 8 s for all of it) that never stops by itself before the server does
    const chunk = Buffer.alloc(64 * 1024, 120)
    let written = 0
    const stop = trickle(
      uploader.socket,
      () => {
        if (written >= size) return ""
        written += chunk.length
        return chunk.toString("latin1")
      },
      5
    )
    const deadline = performance.now() + 5_000
    while (!/^HTTP\/1\.1 \d{3} /.test(uploader.received()) && performance.now() < deadline) await sleep(10)
    const answeredAt = performance.now()
    expect(uploader.received()).toMatch(/^HTTP\/1\.1 200 /)
    const closed = await within(uploader.closed, 6_000, "the connection to be closed after the answer").finally(stop)

    expect(closed - answeredAt).toBeLessThan(5_000)
    expect(written, "closed before the whole body was sent").toBeLessThan(size)
    expect((await get(program.port, "/healthz")).status).toBe(200)
  })

  it("a secret in a query string or a header during a request is absent from /debug/fibers", async () => {
    const program = await startProgram()
    const secret = "s3cr3t-token-value"
    const connection = await rawConnection(program.port)
    connection.socket.write(
      `GET /api/delay/1500?access_token=${secret}&x=1 HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer ${secret}-header\r\nCookie: session=${secret}-cookie\r\n\r\n`
    )
    let dump = await fiberDump(program.adminPort)
    const deadline = performance.now() + 3_000
    while (!dump.text.includes("/api/delay/1500") && performance.now() < deadline) {
      await sleep(20)
      dump = await fiberDump(program.adminPort)
    }
    expect(dump.entries.map((entry) => entry.label)).toContain("api GET /api/delay/1500")
    expect(dump.text).not.toContain(secret)
    expect(dump.text).not.toContain("access_token")
    connection.socket.destroy()
  })

  it("a SIGHUP storm (100 in 1 s): no crash, still serving, nothing left behind, then a clean exit", async () => {
    const program = await startProgram()
    const before = await fiberDump(program.adminPort)
    for (let i = 0; i < 100; i++) {
      program.kill("SIGHUP")
      await sleep(10)
    }
    await sleep(300)
    expect(program.child.exitCode, program.output()).toBeNull()
    expect(program.child.signalCode, program.output()).toBeNull()
    expect((await get(program.port, "/healthz")).status).toBe(200)
    expect((await get(program.port, "/readyz")).status).toBe(200)
    const after = await fiberDump(program.adminPort)
    expect(after.entries.map((entry) => entry.label)).toEqual(before.entries.map((entry) => entry.label))
    expect(program.logs.some((line) => line.level === "ERROR")).toBe(false)

    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(1_500)
  })
})
