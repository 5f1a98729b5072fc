/**
 * UpstreamClient — the HTTP client for calls made while serving a request: it passes the request's deadline on.
 *
 * Go does this by hand: `req = req.WithContext(ctx)` and a header computed from `ctx.Deadline()`. Here the deadline
 * rides on the fiber (`RequestContext`), so every call through this client, at any depth of the request's work:
 * - inside a deadline (the API's `x-request-timeout-ms`, or `RequestContext.withDeadline`/`withTimeout`): sends the
 *   REMAINING budget in the same header (`DeadlineHeader.format`: whole milliseconds, rounded down, at least 1), and
 *   is interrupted when the deadline comes — the connection is aborted, so the upstream sees its socket close — failing
 *   with `DeadlineExceeded`. With less than 1 ms left it fails at once with `DeadlineExceeded` and sends nothing
 *   (a request the upstream could only answer late is not worth its work);
 * - outside any deadline: sends no header and sets no timer — the client is the wrapped one, unchanged;
 * - always: interrupting the caller (a client that disconnects, a sibling's failure) aborts the call.
 * The timer covers the call until the response head arrives; reading the body afterwards is bounded by the deadline's
 * own timer around the request's work, which fires at the same instant.
 */
import { Clock, Context, Duration, Effect, type Fiber, Layer, Option } from "effect"
import { FetchHttpClient, HttpClient, type HttpClientError, HttpClientRequest } from "effect/http"
import * as DeadlineHeader from "./DeadlineHeader.ts"
import { DeadlineExceeded, RequestContext } from "./RequestContext.ts"

/**
 * propagate — `client` with the deadline propagation described in the module comment: each request executed inside a
 * deadline carries the remaining budget in `x-request-timeout-ms` (replacing any value already set) and is interrupted
 * at the deadline. Works over any `HttpClient` (its own pre- and post-processing kept).
 */
export const propagate = <E, R>(
  client: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | DeadlineExceeded, R> =>
  HttpClient.makeWith(
    (request) =>
      Effect.flatMap(request, (request) =>
        Effect.withFiber((fiber: Fiber.Fiber<unknown, unknown>) => {
          const current = fiber.getRef(RequestContext).deadline
          if (Option.isNone(current)) return client.postprocess(Effect.succeed(request))
          const deadline = current.value
          const left = Math.floor(deadline - fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
          if (left < 1) return Effect.fail(new DeadlineExceeded({ deadline }))
          const sent = HttpClientRequest.setHeader(request, DeadlineHeader.name, DeadlineHeader.format(left))
          return Effect.timeoutOrElse(client.postprocess(Effect.succeed(sent)), {
            duration: Duration.millis(left),
            orElse: () => Effect.fail(new DeadlineExceeded({ deadline }))
          })
        })
      ),
    client.preprocess
  )

/**
 * UpstreamClient — an `HttpClient` that propagates the request deadline (`propagate`); it fails with the client's
 * `HttpClientError` or with `DeadlineExceeded`.
 */
export class UpstreamClient extends Context.Service<
  UpstreamClient,
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | DeadlineExceeded>
>()("toolkit/UpstreamClient") {
  /** UpstreamClient.make — `propagate` over the `HttpClient` in the context (choose the transport yourself). */
  static readonly make = HttpClient.HttpClient.useSync((client) => propagate(client))

  /**
   * UpstreamClient.layer — over Effect's `FetchHttpClient` (Node's built-in `fetch`: no extra package; aborting a
   * call closes its connection).
   */
  static readonly layer = Layer.effect(UpstreamClient, UpstreamClient.make).pipe(Layer.provide(FetchHttpClient.layer))
}
