/**
 * ServerRequest — Effect's `HttpServerRequest` over a `node:http` request, for `RequestHandler`.
 *
 * Body reading (`text`, `json`, `urlParamsBody`, `arrayBuffer`, `stream`, with `MaxBodySize`) is platform-node's own
 * `NodeHttpIncomingMessage`; multipart is platform-node's `NodeMultipart`. Everything else is computed lazily from
 * Node's request, so a handler that never looks at the headers never pays for them. Connection upgrades (WebSocket)
 * are not offered by this server: `upgrade` fails with a `RequestParseError`.
 */

import type { IncomingMessage, ServerResponse } from "node:http"
import { NodeHttpIncomingMessage } from "@effect/platform-node/NodeHttpIncomingMessage"
import * as NodeMultipart from "@effect/platform-node/NodeMultipart"
import { MaxBytesError } from "@effect/platform-node/NodeStream"
import { Effect, type Option, Stream } from "effect"
import { Cookies, Headers, HttpServerError, HttpServerRequest, UrlParams } from "effect/http"
import type * as Socket from "effect/socket/Socket"
import type { Observed, RouteObserver } from "../services/Metrics.ts"

const requestError = (request: HttpServerRequest.HttpServerRequest) => (cause: unknown) =>
  new HttpServerError.HttpServerError({
    reason: new HttpServerError.RequestParseError({
      request,
      reason: cause instanceof MaxBytesError ? "BodyTooLarge" : "Parse",
      cause
    })
  })

/** What `modify` may change. */
interface Overrides {
  readonly url?: string | undefined
  readonly headers?: Headers.Headers | undefined
  readonly remoteAddress?: Option.Option<string> | undefined
  readonly peerAddress?: Option.Option<string> | undefined
  readonly protocol?: "http" | "https" | undefined
}

/** ServerRequest — one request; `response` is Node's response object for it. */
export class ServerRequest
  extends NodeHttpIncomingMessage<HttpServerError.HttpServerError>
  implements HttpServerRequest.HttpServerRequest, Observed
{
  readonly [HttpServerRequest.TypeId]: typeof HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly response: ServerResponse
  readonly url: string
  readonly protocol: "http" | "https" | undefined
  /** a body over `MaxBodySize` is answered 413 (the connection is not destroyed under the client) */
  protected override readonly destroyOnOverflow = false
  /** the request `modify` copies were made from (itself for the original): it holds the shared state */
  private readonly root: ServerRequest
  private rootObserver: RouteObserver | undefined = undefined
  private readonly receivedAt: number
  private readonly headersOverride: Headers.Headers | undefined
  private readonly peerAddressOverride: Option.Option<string> | undefined
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Record<string, string> | undefined

  constructor(source: IncomingMessage, response: ServerResponse, overrides?: Overrides, root?: ServerRequest) {
    super(source, (cause) => requestError(this as ServerRequest)(cause), overrides?.remoteAddress)
    this.response = response
    this.url = overrides?.url ?? source.url ?? "/"
    this.headersOverride = overrides?.headers
    this.peerAddressOverride = overrides?.peerAddress
    this.protocol = overrides?.protocol
    this.root = root ?? this
    this.receivedAt = root === undefined ? performance.now() : root.receivedAt
  }

  /** when the request was received (`performance.now()`), for its duration */
  get startedAt(): number {
    return this.receivedAt
  }

  /** the route's observer, set by `Metrics.observe`; `RequestHandler` reports the answer to it */
  get observer(): RouteObserver | undefined {
    return this.root.rootObserver
  }

  set observer(observer: RouteObserver | undefined) {
    this.root.rootObserver = observer
  }

  get method(): string {
    return this.source.method ?? "GET"
  }

  override get headers(): Headers.Headers {
    this.cachedHeaders ??= this.headersOverride ?? Headers.fromInput(this.source.headers as Headers.Input)
    return this.cachedHeaders
  }

  get originalUrl(): string {
    const url = this.source.url ?? "/"
    const host = this.source.headers.host
    if (url[0] !== "/" || host === undefined) return url
    const encrypted = (this.source.socket as { encrypted?: boolean } | undefined)?.encrypted === true
    return `${encrypted ? "https" : "http"}://${host}${url}`
  }

  get cookies(): Record<string, string> {
    this.cachedCookies ??= Cookies.parseHeader(this.headers.cookie ?? "")
    return this.cachedCookies
  }

  get peerAddress(): Option.Option<string> {
    return this.peerAddressOverride ?? this.remoteAddress
  }

  get multipart() {
    return NodeMultipart.persisted(this.source, this.source.headers)
  }

  get multipartStream() {
    return Stream.suspend(() => NodeMultipart.stream(this.source, this.source.headers))
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.HttpServerError> {
    return this.upgradeWith({})
  }

  upgradeWith(_options: {
    readonly headers?: Headers.Input | undefined
  }): Effect.Effect<Socket.Socket, HttpServerError.HttpServerError> {
    return Effect.fail(
      new HttpServerError.HttpServerError({
        reason: new HttpServerError.RequestParseError({ request: this, description: "upgrades are not served" })
      })
    )
  }

  modify(options: {
    readonly url?: string
    readonly headers?: Headers.Headers
    readonly remoteAddress?: Option.Option<string>
    readonly peerAddress?: Option.Option<string>
    readonly protocol?: "http" | "https"
  }): ServerRequest {
    return new ServerRequest(
      this.source,
      this.response,
      {
        url: options.url ?? this.url,
        headers: options.headers ?? this.headersOverride,
        remoteAddress: "remoteAddress" in options ? options.remoteAddress : this.remoteAddressOverride,
        peerAddress: options.peerAddress ?? this.peerAddressOverride,
        protocol: options.protocol ?? this.protocol
      },
      this.root
    )
  }

  override toString(): string {
    return `ServerRequest(${this.method} ${UrlParams.redactUrl(this.url)})`
  }

  override toJSON(): unknown {
    return { _id: "HttpServerRequest", method: this.method, url: UrlParams.redactUrl(this.originalUrl) }
  }
}
