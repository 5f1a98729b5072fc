/**
 * Tracing — against an in-process OTLP/HTTP receiver (`support/otlp-receiver.ts`), in both encodings: a request to a
 * `GracefulHttpServer` makes a server span with its route and status, and a span made inside the handler is its
 * child; probes are not traced; the shutdown makes a root span with one child per phase and hook, each with its
 * outcome (a forced one included), and a release span once the servers have left; every span is posted when the
 * layer is released, not before (the export interval is a minute). The settings follow the OpenTelemetry variables.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { HttpClient, HttpRouter, HttpServerResponse } from "effect/http"
import packageJson from "../package.json" with { type: "json" }
import { ConfigInvalid } from "../src/Errors.ts"
import * as GracefulHttpServer from "../src/http/GracefulHttpServer.ts"
import { Lifecycle } from "../src/services/Lifecycle.ts"
import * as Tracing from "../src/Tracing.ts"
import { fakeServer } from "./support/lifecycle.ts"
import { type ReceivedSpan, receiver } from "./support/otlp-receiver.ts"

const settings = (url: string, protocol: Tracing.Settings["protocol"]): Tracing.Settings => ({
  endpoint: `${url}/v1/traces`,
  serviceName: "tracing-test",
  protocol,
  headers: { "x-tenant": "t1" },
  exportInterval: Duration.minutes(1) // nothing is posted before the layer's release
})

const env = (vars: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env: vars }))

const routes = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/hello/:name",
    Effect.gen(function* () {
      const { name } = yield* HttpRouter.params
      yield* Effect.void.pipe(Effect.withSpan("greet", { attributes: { name } }))
      return HttpServerResponse.text(`hello ${name}`)
    })
  ),
  HttpRouter.add("GET", "/healthz", HttpServerResponse.text("ok"))
)

describe.each(["http/protobuf", "http/json"] as const)("Tracing over %s", (protocol) => {
  it.live("a request makes a server span with its route and status; a span inside is its child; probes make none", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        expect(yield* (yield* client.get("/hello/ann")).text).toBe("hello ann")
        expect((yield* client.get("/healthz")).status).toBe(200)
        expect(otlp.requests()).toBe(0) // still buffered
      }).pipe(
        Effect.provide(
          HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
            Layer.provideMerge(GracefulHttpServer.layerTest),
            Layer.provide(Lifecycle.layerTest),
            Layer.provideMerge(Tracing.layerWith(settings(otlp.url, protocol)))
          )
        )
      )
      // released: the exporter's finalizer has posted everything
      // the test's HttpClient is traced too: its span is the root, and the server continues its trace from the
      // W3C traceparent header
      const [server] = otlp.spans.filter((span) => span.kind === 2)
      const [client] = otlp.spans.filter((span) => span.kind === 3 && span.attributes["url.path"] === "/hello/ann")
      expect(otlp.spans.filter((span) => span.kind === 2)).toHaveLength(1)
      expect(client?.parentSpanId).toBeUndefined()
      expect(server).toMatchObject({
        name: "GET",
        parentSpanId: client?.spanId,
        traceId: client?.traceId,
        serviceName: "tracing-test",
        encoding: protocol === "http/json" ? "json" : "protobuf",
        attributes: { "http.route": "/hello/:name", "http.response.status_code": 200, "http.request.method": "GET" }
      })
      const greet = otlp.named("greet")[0] as ReceivedSpan
      expect(greet).toMatchObject({
        parentSpanId: server?.spanId,
        traceId: server?.traceId,
        attributes: { name: "ann" }
      })
      expect(otlp.tree(client as ReceivedSpan)).toEqual(["GET", "  GET", "    greet"])
    })
  )

  it.live("a shutdown is a root span with a child per phase and hook, each with its outcome, then release", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const events: Array<string> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          const lifecycle = yield* Lifecycle
          yield* lifecycle.register(fakeServer(events, "api"))
          yield* lifecycle.addHook("beforeDrain", { name: "deregister", run: Effect.void })
          yield* lifecycle.addHook("afterDrain", { name: "flush", run: Effect.fail("disk full") })
          expect(yield* lifecycle.shutdown("test")).toEqual({ reason: "test", drained: true })
        })
      ).pipe(Effect.provide(Layer.merge(Lifecycle.layerTest, Tracing.layerWith(settings(otlp.url, protocol)))))
      const [root] = otlp.named("shutdown")
      expect(root).toMatchObject({
        parentSpanId: undefined,
        attributes: {
          "shutdown.reason": "test",
          "shutdown.budget_ms": 10_000,
          "shutdown.servers": ["api"],
          "shutdown.drained": true
        }
      })
      expect(otlp.tree(root as ReceivedSpan)).toEqual([
        "shutdown",
        "  shutdown hook deregister",
        "  shutdown unready",
        "  shutdown stop",
        "  shutdown drain",
        "  shutdown hook flush",
        "  shutdown release"
      ])
      const outcome = (name: string) => otlp.named(name)[0]?.attributes["shutdown.outcome"]
      expect(["unready", "stop", "drain", "release"].map((phase) => outcome(`shutdown ${phase}`))).toEqual([
        "done",
        "done",
        "done",
        "done"
      ])
      expect([outcome("shutdown hook deregister"), outcome("shutdown hook flush")]).toEqual(["done", "failed"])
    })
  )
})

describe("Tracing", () => {
  it.live("a forced shutdown: the drain span is interrupted, the force span done, drained false", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* Effect.scoped(
        Effect.gen(function* () {
          const lifecycle = yield* Lifecycle
          yield* lifecycle.register(fakeServer([], "api", { drained: Effect.never, budget: "100 millis" }))
          expect((yield* lifecycle.shutdown("test")).drained).toBe(false)
        })
      ).pipe(Effect.provide(Layer.merge(Lifecycle.layerTest, Tracing.layerWith(settings(otlp.url, "http/json")))))
      const attributes = (name: string) => otlp.named(name)[0]?.attributes
      expect(attributes("shutdown")?.["shutdown.drained"]).toBe(false)
      expect(attributes("shutdown drain")?.["shutdown.outcome"]).toBe("interrupted")
      expect(attributes("shutdown drain")?.["effect.fiber.interrupted"]).toBe(true)
      expect(attributes("shutdown force")?.["shutdown.outcome"]).toBe("done")
    })
  )

  it.effect.each([
    [{}, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, "http://collector:4318/v1/traces"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/otlp/" }, "http://collector:4318/otlp/v1/traces"],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/traces" },
      "http://b:4318/traces"
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_SDK_DISABLED: "true" }, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_EXPORTER: "none" }, undefined]
  ] as const)("the endpoint from %j is %s", ([vars, endpoint]) =>
    Effect.gen(function* () {
      expect((yield* Tracing.settings).endpoint).toBe(endpoint)
    }).pipe(Effect.provide(env(vars)))
  )

  it.effect(
    "defaults: the package's name, protobuf, no headers, 5 s between exports; the variables override them",
    () =>
      Effect.gen(function* () {
        const defaults = yield* Tracing.settings.pipe(Effect.provide(env({})))
        expect(defaults).toMatchObject({ serviceName: packageJson.name, protocol: "http/protobuf", headers: {} })
        expect(Duration.toMillis(defaults.exportInterval)).toBe(5000)
        const set = yield* Tracing.settings.pipe(
          Effect.provide(
            env({
              OTEL_SERVICE_NAME: "checkout",
              OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
              OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20x, x-tenant=t1",
              OTEL_BSP_SCHEDULE_DELAY: "250"
            })
          )
        )
        expect(set).toMatchObject({
          serviceName: "checkout",
          protocol: "http/json",
          headers: { authorization: "Bearer x", "x-tenant": "t1" }
        })
        expect(Duration.toMillis(set.exportInterval)).toBe(250)
      })
  )

  it.effect.each([
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"],
    ["OTEL_EXPORTER_OTLP_HEADERS", "authorization=%E0%A4%A"],
    ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"],
    ["OTEL_EXPORTER_OTLP_HEADERS", "novalue"],
    ["OTEL_BSP_SCHEDULE_DELAY", "-1"],
    ["OTEL_TRACES_EXPORTER", "zipkin"]
  ] as const)("an invalid %s=%s stops start-up naming the variable", ([variable, value]) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Tracing.settings.pipe(Effect.provide(env({ [variable]: value }))))
      expect(error).toBeInstanceOf(ConfigInvalid)
      expect(error).toMatchObject({ variable, value })
    })
  )
})
