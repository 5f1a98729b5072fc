/**
 * End-to-end: OTLP traces from the built program to an in-process receiver (`support/otlp-receiver.ts`). With only
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set, a request's server span (route, status, the package name as `service.name`) and
 * the shutdown's spans — the root and one per phase, each with its outcome — have all arrived by the time the
 * process has exited (the export interval is left at 5 s: they come from the flush at shutdown). In both OTLP/HTTP
 * encodings. An aggregate request's trace has the fan-out's shape. An unreachable collector does not hold the exit.
 */
import { afterEach, describe, expect, it } from "vitest"
import packageJson from "../../package.json" with { type: "json" }
import { type ReceivedSpan, type Receiver, startReceiver } from "../support/otlp-receiver.ts"
import { exitOf, freePorts, get, killLeftovers, startProgram } from "./support.ts"

const receivers: Array<Receiver> = []
afterEach(async () => {
  await killLeftovers()
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

describe.each(["http/protobuf", "http/json"])("OTLP export over %s", (protocol) => {
  it("a request's span and every shutdown phase's span arrive before the process exits", async () => {
    const otlp = await startReceiver()
    receivers.push(otlp)
    const program = await startProgram({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol })
    const reply = await get(program.port, "/api/delay/20", { timeoutMs: 5_000 })
    expect(reply.status).toBe(200)
    expect((await get(program.port, "/healthz")).status).toBe(200)
    expect(otlp.requests(), "nothing is posted before the export interval").toBe(0)
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)

    // nothing can arrive after the exit: what is here was flushed at shutdown
    const servers = otlp.spans.filter((span) => span.kind === 2)
    expect(servers.map((span) => span.attributes["http.route"])).toEqual(["/api/delay/:ms"]) // /healthz: untraced
    expect(servers[0]).toMatchObject({
      name: "GET",
      serviceName: packageJson.name,
      encoding: protocol === "http/json" ? "json" : "protobuf",
      attributes: { "http.response.status_code": 200, "url.path": "/api/delay/20" },
      status: { code: 1 }
    })
    const [root] = otlp.named("shutdown")
    expect(root, program.output()).toBeDefined()
    expect(root?.attributes).toMatchObject({
      "shutdown.reason": "received SIGTERM",
      "shutdown.drained": true,
      "shutdown.servers": ["api", "admin"]
    })
    expect(otlp.tree(root as ReceivedSpan)).toEqual([
      "shutdown",
      "  shutdown hook jobs: refuse new",
      "  shutdown unready",
      "  shutdown stop",
      "  shutdown drain",
      "  shutdown hook jobs: finish",
      "  shutdown release"
    ])
    for (const phase of otlp.children(root as ReceivedSpan)) expect(phase.attributes["shutdown.outcome"]).toBe("done")
  })
})

describe("OTLP export", () => {
  it("an aggregate request's trace shows the fan-out: the profile first, then orders, recommendations and inventory", async () => {
    const otlp = await startReceiver()
    receivers.push(otlp)
    const program = await startProgram({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, SIMULATED_LATENCY: "20 millis" })
    const reply = await get(program.port, "/api/aggregate/u-42", { timeoutMs: 5_000 })
    expect(reply.status, reply.body).toBe(200)
    program.kill("SIGTERM")
    expect((await exitOf(program)).code, program.output()).toBe(0)

    const request = otlp.spans.find(
      (span) => span.kind === 2 && span.attributes["http.route"] === "/api/aggregate/:userId"
    )
    expect(request, program.output()).toBeDefined()
    const items = (JSON.parse(reply.body) as { recommendations: ReadonlyArray<unknown> }).recommendations.length
    const tree = otlp.tree(request as ReceivedSpan)
    // children in order of start; orders and recommendations start together, in either order
    expect([...tree.slice(0, 3), ...tree.slice(3, 5).sort(), ...tree.slice(5)]).toEqual([
      "GET",
      "  aggregate",
      "    upstream profile",
      "    upstream orders",
      "    upstream recommendations",
      ...Array.from({ length: items }, () => "    upstream inventory")
    ])
    // dependent, then parallel: orders and recommendations start after the profile ended; inventory after recommendations
    const [profile] = otlp.named("upstream profile")
    const [orders] = otlp.named("upstream orders")
    const [recommendations] = otlp.named("upstream recommendations")
    const inventory = otlp.named("upstream inventory")
    for (const span of [orders, recommendations]) {
      expect(span!.startTimeUnixNano >= profile!.endTimeUnixNano).toBe(true)
    }
    expect(orders!.startTimeUnixNano < recommendations!.endTimeUnixNano, "orders and recommendations overlap").toBe(
      true
    )
    expect(inventory.length).toBe(items)
    for (const span of inventory) expect(span.startTimeUnixNano >= recommendations!.endTimeUnixNano).toBe(true)
  })

  it("an unreachable collector does not hold the exit", async () => {
    const [closed] = (await freePorts(1)) as [number]
    const program = await startProgram({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}` })
    expect((await get(program.port, "/api/delay/1")).status).toBe(200)
    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(3_000) // drain (idle: at once) + the flush's bound (1 s) + margin
  })
})
