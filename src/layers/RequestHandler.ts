/**
 * RequestHandler — runs an Effect HTTP app (`HttpRouter.toHttpEffect`) for each `node:http` request.
 *
 * It does for this HTTP/1.1 server what platform-node's `NodeHttpServer.makeHandler` does, with less work per
 * request (the whole service, metrics included, costs ~1.1× the CPU of raw `node:http` per `/healthz` request where
 * Effect's stock stack costs ~1.2×; see the README's benchmark):
 * - each request runs in a fiber of its own, with `HttpServerRequest` (see `ServerRequest`) and a request `Scope`
 *   that is closed with the fiber's exit;
 * - the fiber is uninterruptible except inside the route handler (the router makes that interruptible), so an
 *   answer is always written whole: an interrupted handler is answered 503, or 499 when the client went away;
 * - a failed handler is answered as Effect's server answers it (`HttpServerError.causeResponse`: the error's own
 *   response, 400 for a bad request, 404 for no route, 500 otherwise); its cause goes to the `ErrorReporter`s and,
 *   unless it is only interruptions or ignored errors, to one error log line with the method, url and status;
 * - a client that disconnects before its answer is written interrupts the fiber;
 * - `interruptAll` interrupts every request still running and returns once each has been answered.
 * How a response is written is `ResponseWriter`'s contract.
 */

import type { IncomingMessage, ServerResponse } from "node:http"
import { Cause, Context, Effect, ErrorReporter, type Exit, Fiber, Scope } from "effect"
import { HttpServerError, type HttpServerResponse } from "effect/http"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import type { RouteObserver } from "../services/Metrics.ts"
import { writeBody } from "./ResponseWriter.ts"
import { ServerRequest } from "./ServerRequest.ts"

/** RequestHandler.Running — a request whose fiber did not end synchronously. */
export interface Running {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly method: string
  readonly url: string
  readonly ageMillis: number
}

/** RequestHandler — the Node `request` listener, and a handle on the requests it runs. */
export interface RequestHandler {
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void
  /** the requests whose fiber has not ended, oldest first (for `/debug/fibers`) */
  readonly running: () => ReadonlyArray<Running>
  /** interrupts every running request and waits until each has been answered */
  readonly interruptAll: Effect.Effect<void>
}

const requestOf = (fiber: Fiber.Fiber<unknown, unknown>) =>
  Context.getUnsafe(fiber.context, HttpServerRequest) as ServerRequest

/** the request of the fiber running now (these continuations run inside the request's fiber) */
const currentRequest = () => requestOf(Fiber.getCurrent() as Fiber.Fiber<unknown, unknown>)

/** reports an answered request to its route's observer (see `Metrics.observe`) */
const report = (request: ServerRequest, observer: RouteObserver, status: number) =>
  observer.record(
    request.method,
    status,
    (performance.now() - request.startedAt) / 1000,
    (Fiber.getCurrent() as Fiber.Fiber<unknown>).context
  )

/** writes `response`, then reports it to the route's observer */
const written = (request: ServerRequest, response: HttpServerResponse.HttpServerResponse) => {
  const write = writeBody(request, response)
  const observer = request.observer
  if (observer === undefined) return write
  if (write === Effect.void) {
    report(request, observer, response.status) // written synchronously
    return write
  }
  return Effect.andThen(
    write,
    Effect.sync(() => report(request, observer, response.status))
  )
}

const answer = (response: HttpServerResponse.HttpServerResponse) => written(currentRequest(), response)

/** the failures worth an error log: failures and defects that are not marked `ErrorReporter.ignore` (404s) */
const reportable = (cause: Cause.Cause<unknown>) =>
  cause.reasons.filter(
    (reason) =>
      (Cause.isFailReason(reason) && !ErrorReporter.isIgnored(reason.error)) ||
      (Cause.isDieReason(reason) && !ErrorReporter.isIgnored(reason.defect))
  )

const recover = (cause: Cause.Cause<unknown>) =>
  Effect.suspend(() => {
    const request = currentRequest()
    return Effect.flatMap(HttpServerError.causeResponse(cause), ([response]) => {
      // answered; the fiber still ends with the handler's cause, so its exit says what happened
      const answered = Effect.andThen(written(request, response), Effect.failCause(cause))
      const failures = reportable(cause)
      // interruptions (499 client gone, 503 shutdown) and ignored errors are not failures of the service
      if (failures.length === 0) return answered
      return ErrorReporter.report(cause).pipe(
        Effect.andThen(Effect.logError("request failed", Cause.fromReasons(failures))),
        Effect.annotateLogs({ method: request.method, url: request.url, status: response.status }),
        Effect.andThen(answered)
      )
    })
  })

/** closes the request's scope with the fiber's exit; nothing to run when it had no finalizers */
const closeScope = (exit: Exit.Exit<unknown, unknown>) => {
  const fiber = Fiber.getCurrent() as Fiber.Fiber<unknown, unknown>
  return Scope.closeUnsafe(Context.getUnsafe(fiber.context, Scope.Scope) as Scope.Closeable, exit)
}

/** request fibers start uninterruptible: only the route handler opens an interruptible region */
const uninterruptible = { uninterruptible: true } as const

/**
 * make — the handler for `app`, which runs with the services of the calling fiber plus, per request,
 * `HttpServerRequest` and `Scope`.
 */
export const make = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.contextWith((services: Context.Context<never>) => {
    /** request fibers that did not end synchronously, with when they were seen running */
    const running = new Map<
      Fiber.Fiber<unknown, unknown>,
      { readonly request: ServerRequest; readonly since: number }
    >()
    const handled = Effect.onExitPrimitive(
      Effect.matchCauseEffect(app as Effect.Effect<HttpServerResponse.HttpServerResponse, E>, {
        onSuccess: answer,
        onFailure: recover
      }),
      closeScope,
      false
    )

    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const request = new ServerRequest(req, res)
      const context = Context.add(Context.add(services, HttpServerRequest, request), Scope.Scope, Scope.makeUnsafe())
      const fiber = Effect.runForkWith(context)(handled, uninterruptible)
      if (fiber.pollUnsafe() !== undefined) return
      running.set(fiber, { request, since: performance.now() })
      fiber.addObserver(() => running.delete(fiber))
      res.once("close", () => {
        if (!res.writableFinished) fiber.interruptUnsafe(undefined, HttpServerError.ClientAbort.annotation)
      })
    }

    const list = () => {
      const now = performance.now()
      return [...running].map(([fiber, { request, since }]) => ({
        fiber,
        method: request.method,
        url: request.url,
        ageMillis: Math.round(now - since)
      }))
    }
    const interruptAll = Effect.suspend(() =>
      Effect.forEach([...running.keys()], Fiber.interrupt, { concurrency: "unbounded", discard: true })
    )
    return Effect.succeed({ handle, running: list, interruptAll } satisfies RequestHandler)
  })
