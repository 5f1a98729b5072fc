/**
 * Tracing — OTLP/HTTP export of the service's spans with Effect's own exporter (`effect/observability` `OtlpTracer`),
 * configured by the standard OpenTelemetry variables. Off unless an endpoint is set.
 *
 * With a tracer in place, Effect's HTTP server makes one server span per request (`http.request.method`, `http.route`,
 * `http.response.status_code`, W3C `traceparent` honoured as the parent), the shutdown makes one span per phase (see
 * `ShutdownSequence`), and every `Effect.fn`/`Effect.withSpan` in the code adds its own. Liveness, readiness and
 * metrics scrapes (`/healthz`, `/readyz`, `/metrics`) are not traced: probes every few seconds would drown the
 * requests.
 *
 * Variables (an invalid value stops start-up naming the variable, exit 1):
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended);
 * - `OTEL_SERVICE_NAME` (default: the package name), `OTEL_RESOURCE_ATTRIBUTES` (read by Effect's `OtlpResource`);
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `…_TRACES_PROTOCOL`): `http/protobuf` (default) or `http/json`;
 * - `OTEL_EXPORTER_OTLP_HEADERS` (or `…_TRACES_HEADERS`): `key=value,key2=value2`, values percent-decoded;
 * - `OTEL_BSP_SCHEDULE_DELAY`: milliseconds between exports (default 5000);
 * - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`: no export.
 *
 * Flushed at shutdown: the exporter's scope is the layer's, released after the servers' (the layers that need the
 * tracer are built on it), so the last spans — the shutdown phases — are posted before the process exits; the final
 * flush waits at most `flushTimeout` (1 s) so an unreachable collector cannot hold the exit.
 *
 * Why not `OtlpTracer.layerFromConfig`: in effect 4.1 it exports only when `OTEL_TRACES_EXPORTER` is set to `otlp`
 * (the specification's default is `otlp`) and dies when `OTEL_SERVICE_NAME` is unset; the exporter itself is Effect's.
 */
import { Config, Duration, Effect, Layer } from "effect"
import { FetchHttpClient, HttpMiddleware } from "effect/http"
import { OtlpExporter, OtlpSerialization, OtlpTracer } from "effect/observability"
import type { ConfigInvalid } from "./Errors.ts"
import * as AppConfig from "./services/AppConfig.ts"

/** Tracing.defaultServiceName — `service.name` when `OTEL_SERVICE_NAME` is unset: the package's name. */
export const defaultServiceName = "effect-service-lifecycle"

/** Tracing.flushTimeout — the most the final flush at shutdown may take. */
export const flushTimeout = Duration.seconds(1)

/** Tracing.untracedPaths — requests to these paths make no span (probes and scrapes). */
export const untracedPaths: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"])

/** Tracing.Settings — where and how spans are exported; `undefined` endpoint: not at all. */
export interface Settings {
  readonly endpoint: string | undefined
  readonly serviceName: string
  readonly protocol: "http/protobuf" | "http/json"
  readonly headers: Readonly<Record<string, string>>
  readonly exportInterval: Duration.Duration
}

const optional = (name: string) => AppConfig.read(name, Config.String(name), undefined as string | undefined)
const url = (text: string | undefined) =>
  text === undefined || /^https?:\/\/[^/\s]+/.test(text) ? undefined : "expected an http:// or https:// URL"

/** parses `key=value,key2=value2` (OTLP headers); a malformed entry names itself */
const parseHeaders = (text: string): Record<string, string> | string => {
  const headers: Record<string, string> = {}
  for (const entry of text.split(",")) {
    if (entry.trim() === "") continue
    const at = entry.indexOf("=")
    if (at <= 0) return `expected key=value pairs separated by commas, got ${JSON.stringify(entry.trim())}`
    const value = entry.slice(at + 1).trim()
    try {
      headers[entry.slice(0, at).trim()] = decodeURIComponent(value)
    } catch {
      return `invalid percent-encoding in ${JSON.stringify(value)}`
    }
  }
  return headers
}

/** Tracing.settings — the settings from the current `ConfigProvider` (the environment by default). */
export const settings: Effect.Effect<Settings, ConfigInvalid> = Effect.gen(function* () {
  const disabled = yield* AppConfig.read("OTEL_SDK_DISABLED", Config.Boolean("OTEL_SDK_DISABLED"), false)
  const exporter = yield* AppConfig.read(
    "OTEL_TRACES_EXPORTER",
    Config.Literals(["otlp", "none"], "OTEL_TRACES_EXPORTER"),
    "otlp" as const
  )
  const traces = yield* AppConfig.read(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    Config.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    undefined as string | undefined,
    url
  )
  const base = yield* AppConfig.read(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    Config.String("OTEL_EXPORTER_OTLP_ENDPOINT"),
    undefined as string | undefined,
    url
  )
  const protocolOf = (name: string) =>
    AppConfig.read(
      name,
      Config.Literals(["http/protobuf", "http/json"], name),
      undefined as "http/protobuf" | "http/json" | undefined
    )
  const protocol =
    (yield* protocolOf("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")) ?? (yield* protocolOf("OTEL_EXPORTER_OTLP_PROTOCOL"))
  const headersOf = (name: string) =>
    AppConfig.read(
      name,
      Config.String(name).pipe(Config.map(parseHeaders)),
      undefined as ReturnType<typeof parseHeaders> | undefined,
      (h) => (typeof h === "string" ? h : undefined)
    )
  const headers =
    (yield* headersOf("OTEL_EXPORTER_OTLP_TRACES_HEADERS")) ?? (yield* headersOf("OTEL_EXPORTER_OTLP_HEADERS"))
  const interval = yield* AppConfig.read(
    "OTEL_BSP_SCHEDULE_DELAY",
    Config.Int("OTEL_BSP_SCHEDULE_DELAY"),
    5000,
    (ms) => (ms >= 0 ? undefined : "expected a number of milliseconds, 0 or more")
  )
  const serviceName = (yield* optional("OTEL_SERVICE_NAME")) ?? defaultServiceName
  const endpoint =
    disabled || exporter === "none"
      ? undefined
      : (traces ?? (base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`))
  return {
    endpoint,
    serviceName,
    protocol: protocol ?? "http/protobuf",
    headers: typeof headers === "object" ? headers : {},
    exportInterval: Duration.millis(interval)
  }
})

const untraced = Layer.succeed(HttpMiddleware.TracerDisabledWhen)((request) =>
  untracedPaths.has(request.url.split("?", 1)[0] ?? request.url)
)

/**
 * Tracing.layerWith — exports spans as `settings` say (nothing when there is no endpoint). Its `Flusher` posts the
 * buffered spans on demand.
 */
export const layerWith = (settings: Settings): Layer.Layer<OtlpExporter.Flusher> =>
  settings.endpoint === undefined
    ? OtlpExporter.layerFlusher
    : Layer.mergeAll(
        OtlpTracer.layer({
          url: settings.endpoint,
          resource: { serviceName: settings.serviceName },
          headers: settings.headers,
          exportInterval: settings.exportInterval,
          shutdownTimeout: flushTimeout
        }).pipe(
          Layer.provide(
            settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
          ),
          Layer.provide(FetchHttpClient.layer)
        ),
        untraced
      )

/** Tracing.layer — reads the variables above; exports when an endpoint is set. */
export const layer: Layer.Layer<OtlpExporter.Flusher, ConfigInvalid> = Layer.unwrap(Effect.map(settings, layerWith))
