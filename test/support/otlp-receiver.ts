/**
 * otlp-receiver — an in-process OTLP/HTTP trace receiver for tests: what a collector would see, span by span.
 *
 * `startReceiver()` listens on 127.0.0.1 (a free port) and accepts `POST /v1/traces` in both OTLP/HTTP encodings —
 * `application/x-protobuf` (the default of `Tracing`, decoded here with a minimal reader of the trace messages of
 * opentelemetry-proto) and `application/json` — answering 200 `{}` as a collector does. Every span is kept flat with
 * its ids in hex, its parent's id (`undefined` for a root), its resource's `service.name`, its attributes as plain
 * values and its status. `url` is the base to put in `OTEL_EXPORTER_OTLP_ENDPOINT`.
 *
 * Helpers for assertions: `waitFor(match)` (bounded), `named(name)`, `children(span)` (in start order) and
 * `tree(root)` — the names of a span's subtree, indented — so a test can check a span tree's shape in one
 * `toEqual`, e.g. the aggregate's `profile` before the parallel `orders`/`recommendations`. `receiver` is the same
 * receiver as a scoped Effect resource.
 */
import http from "node:http"
import type net from "node:net"
import { Effect } from "effect"

/** ReceivedSpan — one exported span as the receiver decoded it. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** `undefined` for a root span */
  readonly parentSpanId: string | undefined
  readonly name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  readonly kind: number
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly attributes: Readonly<Record<string, unknown>>
  /** OTLP's status code: 0 unset, 1 ok, 2 error */
  readonly status: { readonly code: number; readonly message: string }
  readonly serviceName: string | undefined
  /** `protobuf` or `json`: how it arrived */
  readonly encoding: "protobuf" | "json"
}

/** Receiver — a running receiver and what it has received so far. */
export interface Receiver {
  readonly url: string
  readonly spans: ReadonlyArray<ReceivedSpan>
  /** the number of export requests received */
  readonly requests: () => number
  readonly waitFor: (match: (spans: ReadonlyArray<ReceivedSpan>) => boolean, timeoutMs?: number) => Promise<void>
  readonly named: (name: string) => ReadonlyArray<ReceivedSpan>
  readonly children: (parent: ReceivedSpan) => ReadonlyArray<ReceivedSpan>
  readonly tree: (root: ReceivedSpan) => ReadonlyArray<string>
  readonly close: () => Promise<void>
}

// ---- a minimal protobuf reader: varints, fixed64, length-delimited fields ----

interface Field {
  readonly number: number
  readonly wire: number
  readonly varint?: bigint
  readonly bytes?: Uint8Array
}

const fields = (buffer: Uint8Array): Array<Field> => {
  const out: Array<Field> = []
  let at = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    while (true) {
      const byte = buffer[at++]
      if (byte === undefined) throw new Error("truncated varint")
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  while (at < buffer.length) {
    const key = Number(varint())
    const number = key >>> 3
    const wire = key & 7
    if (wire === 0) out.push({ number, wire, varint: varint() })
    else if (wire === 1) {
      out.push({ number, wire, bytes: buffer.subarray(at, at + 8) })
      at += 8
    } else if (wire === 2) {
      const length = Number(varint())
      out.push({ number, wire, bytes: buffer.subarray(at, at + length) })
      at += length
    } else if (wire === 5) {
      out.push({ number, wire, bytes: buffer.subarray(at, at + 4) })
      at += 4
    } else throw new Error(`unsupported wire type ${wire}`)
  }
  return out
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes)
const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("hex")
const fixed64 = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array(8)).readBigUInt64LE(0)

const anyValue = (buffer: Uint8Array): unknown => {
  for (const f of fields(buffer)) {
    switch (f.number) {
      case 1:
        return text(f.bytes)
      case 2:
        return f.varint !== 0n
      case 3:
        return Number(BigInt.asIntN(64, f.varint ?? 0n))
      case 4:
        return Buffer.from(f.bytes ?? new Uint8Array(8)).readDoubleLE(0)
      case 5:
        return fields(f.bytes ?? new Uint8Array())
          .filter((v) => v.number === 1)
          .map((v) => anyValue(v.bytes ?? new Uint8Array()))
      default:
        return hex(f.bytes)
    }
  }
  return undefined
}

const keyValue = (buffer: Uint8Array): [string, unknown] => {
  let key = ""
  let value: unknown
  for (const f of fields(buffer)) {
    if (f.number === 1) key = text(f.bytes)
    else if (f.number === 2) value = anyValue(f.bytes ?? new Uint8Array())
  }
  return [key, value]
}

const decodeProtobuf = (body: Uint8Array): Array<ReceivedSpan> => {
  const spans: Array<ReceivedSpan> = []
  for (const resourceSpans of fields(body).filter((f) => f.number === 1)) {
    let serviceName: string | undefined
    const scopes: Array<Uint8Array> = []
    for (const f of fields(resourceSpans.bytes ?? new Uint8Array())) {
      if (f.number === 1) {
        for (const attribute of fields(f.bytes ?? new Uint8Array()).filter((a) => a.number === 1)) {
          const [key, value] = keyValue(attribute.bytes ?? new Uint8Array())
          if (key === "service.name") serviceName = String(value)
        }
      } else if (f.number === 2) scopes.push(f.bytes ?? new Uint8Array())
    }
    for (const scope of scopes) {
      for (const spanField of fields(scope).filter((f) => f.number === 2)) {
        const span = {
          traceId: "",
          spanId: "",
          parentSpanId: undefined as string | undefined,
          name: "",
          kind: 0,
          startTimeUnixNano: 0n,
          endTimeUnixNano: 0n,
          attributes: {} as Record<string, unknown>,
          status: { code: 0, message: "" },
          serviceName,
          encoding: "protobuf" as const
        }
        for (const f of fields(spanField.bytes ?? new Uint8Array())) {
          if (f.number === 1) span.traceId = hex(f.bytes)
          else if (f.number === 2) span.spanId = hex(f.bytes)
          else if (f.number === 4) span.parentSpanId = f.bytes?.length ? hex(f.bytes) : undefined
          else if (f.number === 5) span.name = text(f.bytes)
          else if (f.number === 6) span.kind = Number(f.varint)
          else if (f.number === 7) span.startTimeUnixNano = fixed64(f.bytes)
          else if (f.number === 8) span.endTimeUnixNano = fixed64(f.bytes)
          else if (f.number === 9) {
            const [key, value] = keyValue(f.bytes ?? new Uint8Array())
            span.attributes[key] = value
          } else if (f.number === 15) {
            for (const s of fields(f.bytes ?? new Uint8Array())) {
              if (s.number === 2) span.status.message = text(s.bytes)
              else if (s.number === 3) span.status.code = Number(s.varint)
            }
          }
        }
        spans.push(span)
      }
    }
  }
  return spans
}

// ---- OTLP/JSON ----

interface JsonValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values?: ReadonlyArray<JsonValue> }
}
interface JsonKeyValue {
  readonly key: string
  readonly value: JsonValue
}
const jsonValue = (value: JsonValue): unknown =>
  value.stringValue ??
  value.boolValue ??
  (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
  value.doubleValue ??
  value.arrayValue?.values?.map(jsonValue)

const decodeJson = (body: string): Array<ReceivedSpan> => {
  const data = JSON.parse(body) as {
    resourceSpans: ReadonlyArray<{
      resource?: { attributes?: ReadonlyArray<JsonKeyValue> }
      scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<Record<string, unknown>> }>
    }>
  }
  return data.resourceSpans.flatMap((resourceSpans) => {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === "service.name")
    return resourceSpans.scopeSpans.flatMap((scope) =>
      scope.spans.map((span): ReceivedSpan => {
        const status = (span.status ?? {}) as { code?: number; message?: string }
        return {
          traceId: String(span.traceId),
          spanId: String(span.spanId),
          parentSpanId:
            typeof span.parentSpanId === "string" && span.parentSpanId !== "" ? span.parentSpanId : undefined,
          name: String(span.name),
          kind: Number(span.kind),
          startTimeUnixNano: BigInt(String(span.startTimeUnixNano)),
          endTimeUnixNano: BigInt(String(span.endTimeUnixNano)),
          attributes: Object.fromEntries(
            ((span.attributes ?? []) as ReadonlyArray<JsonKeyValue>).map((a) => [a.key, jsonValue(a.value)])
          ),
          status: { code: status.code ?? 0, message: status.message ?? "" },
          serviceName: service === undefined ? undefined : String(jsonValue(service.value)),
          encoding: "json"
        }
      })
    )
  })
}

/** startReceiver — a receiver on a free loopback port; see the module comment. */
export const startReceiver = async (): Promise<Receiver> => {
  const spans: Array<ReceivedSpan> = []
  const waiters = new Set<() => void>()
  let requests = 0
  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = Buffer.concat(chunks)
      const type = request.headers["content-type"] ?? ""
      if (request.method !== "POST" || request.url !== "/v1/traces") {
        response.writeHead(404).end()
        return
      }
      try {
        requests++
        spans.push(...(type.includes("json") ? decodeJson(body.toString("utf8")) : decodeProtobuf(body)))
      } catch (error) {
        response.writeHead(400, { "content-type": "text/plain" }).end(String(error))
        return
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
      for (const wake of waiters) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as net.AddressInfo

  const children = (parent: ReceivedSpan) =>
    spans
      .filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId)
      .sort((a, b) =>
        a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0
      )
  const tree = (root: ReceivedSpan, depth = 0): Array<string> => [
    `${"  ".repeat(depth)}${root.name}`,
    ...children(root).flatMap((child) => tree(child, depth + 1))
  ]

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests: () => requests,
    waitFor: (match, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!match(spans)) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out after ${timeoutMs} ms; spans received: ${spans.map((s) => s.name).join(", ")}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
    named: (name) => spans.filter((span) => span.name === name),
    children,
    tree: (root) => tree(root),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** layer — a receiver for the scope: started now, closed with the scope. */
export const receiver = Effect.acquireRelease(
  Effect.promise(() => startReceiver()),
  (r) => Effect.promise(() => r.close())
)
