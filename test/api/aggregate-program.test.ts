/**
 * End-to-end: `GET /api/aggregate/:userId` on the built program (`dist/program.js`), real process and sockets on
 * loopback — with its default simulated upstreams, with every simulated call failing, with a deadline shorter than
 * the upstreams' latency (then a SIGTERM: nothing of the request is left to hold the shutdown), and over real HTTP
 * upstreams served by this test (`UPSTREAM_URL`). Timing bounds are generous (the machine is shared); the benchmark
 * measures the 504's lateness under load.
 */
import http from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { inventoryOf, ordersOf, profileOf, recommendationsOf } from "../../src/services/UpstreamsSimulated.ts"
import { exitOf, host, killLeftovers, startProgram } from "../e2e/support.ts"
import { expected } from "./aggregate-support.ts"

afterEach(killLeftovers)

/** ask — one GET with `headers`; the status, the parsed body and how long it took */
const ask = (port: number, path: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: unknown; millis: number }>((resolve, reject) => {
    const started = performance.now()
    const request = http.get({ host, port, path, headers, agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        body += chunk
      })
      response.once("end", () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(body), millis: performance.now() - started })
      )
    })
    request.setTimeout(8_000, () => request.destroy(new Error(`${path}: no response in 8 s`)))
    request.once("error", reject)
  })

describe("GET /api/aggregate/:userId on the built program", () => {
  it("answers from the simulated upstreams by default", async () => {
    const program = await startProgram()
    expect(await ask(program.port, "/api/aggregate/alice")).toMatchObject({ status: 200, body: expected("alice") })
    expect(await ask(program.port, "/api/aggregate/alice?partial=true")).toMatchObject({
      status: 200,
      body: { ...expected("alice"), errors: [] }
    })
  })

  it("SIMULATED_FAILURE_RATE=1: 502 naming the profile, the first upstream", async () => {
    const program = await startProgram({ SIMULATED_FAILURE_RATE: "1" })
    for (const path of ["/api/aggregate/bo", "/api/aggregate/bo?partial=true"]) {
      expect(await ask(program.port, path)).toMatchObject({
        status: 502,
        body: { error: "upstream profile failed: simulated failure", upstream: "profile" }
      })
    }
  })

  it("504 at the x-request-timeout-ms deadline, and nothing of the request holds the shutdown", async () => {
    const program = await startProgram({ SIMULATED_LATENCY: "5 seconds" })
    const answer = await ask(program.port, "/api/aggregate/cy", { "x-request-timeout-ms": "300" })
    expect(answer).toMatchObject({ status: 504, body: { error: "deadline exceeded" } })
    expect(answer.millis).toBeGreaterThanOrEqual(299)
    expect(answer.millis).toBeLessThan(1_300)
    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(2_000)
  })

  it("UPSTREAM_URL: real HTTP upstreams at the documented paths, each call with the remaining budget", async () => {
    const seen: Array<{ path: string; deadline: string | undefined }> = []
    const upstream = http.createServer((request, response) => {
      const path = request.url ?? ""
      const header = request.headers["x-request-timeout-ms"]
      seen.push({ path, deadline: typeof header === "string" ? header : undefined })
      const id = decodeURIComponent(path.split("/")[2] ?? "")
      const body = path.startsWith("/profiles/")
        ? profileOf(id)
        : path.startsWith("/inventory/")
          ? inventoryOf(id)
          : path.endsWith("/orders")
            ? ordersOf(id)
            : recommendationsOf(id)
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify(body))
    })
    await new Promise<void>((resolve) => upstream.listen(0, host, resolve))
    try {
      const { port } = upstream.address() as { port: number }
      const program = await startProgram({ UPSTREAM_URL: `http://${host}:${port}` })
      const answer = await ask(program.port, "/api/aggregate/dee", { "x-request-timeout-ms": "5000" })
      expect(answer).toMatchObject({ status: 200, body: expected("dee") })
      expect(seen.map((s) => s.path).slice(0, 3)).toEqual([
        "/profiles/dee",
        "/users/dee/orders",
        "/users/dee/recommendations"
      ])
      expect(seen).toHaveLength(6)
      // the profile lookup is shared and carries no caller's deadline; the others carry what is left of 5000 ms
      expect(seen[0]?.deadline).toBeUndefined()
      for (const call of seen.slice(1)) expect(Number(call.deadline)).toBeGreaterThan(3_000)
      for (const call of seen.slice(1)) expect(Number(call.deadline)).toBeLessThanOrEqual(5_000)
    } finally {
      upstream.closeAllConnections()
      await new Promise((resolve) => upstream.close(resolve))
    }
  })
})
