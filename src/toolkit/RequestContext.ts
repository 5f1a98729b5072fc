/**
 * RequestContext — Go's `context.Context` for fibers: a deadline and the request-scoped values, carried by the fiber.
 *
 * What Go's `ctx` parameter does explicitly, Effect does implicitly: every fiber carries a `Context`, and every fiber
 * it forks (`forkChild`, `Effect.all`, `Effect.timeout`, a `FiberSet`…) starts with a copy of it. So:
 * - cancellation (`context.WithCancel`) is interruption: interrupting a fiber interrupts the fibers it forked, at any
 *   depth; there is no `ctx.Done()` to poll and no "forgot to pass ctx" leak (`Effect.onInterrupt` is the `<-ctx.Done()`
 *   arm of a select);
 * - a deadline (`WithDeadline` / `WithTimeout`) is `withDeadline` / `withTimeout`: one timer that interrupts the work
 *   when it fires and fails with `DeadlineExceeded` (Go's `ctx.Err() == context.DeadlineExceeded`). The deadline is
 *   also recorded in the `RequestContext` reference, so code running inside — an outgoing call (`UpstreamClient`) —
 *   can read what is left (`remaining`) and pass it on;
 * - values (`WithValue`) are `Context.Reference`s, provided with `Effect.provideService` and read with `yield* Ref`,
 *   visible in every fiber forked inside. `RequestContext` itself is one.
 *
 * Caution, as the lesson says of `WithValue`: values inform, never control. Put request-scoped data there that crosses
 * API boundaries (a deadline, a request id, a trace span); never an optional parameter of a function — a parameter
 * passed through the context is invisible at the call site and in the types.
 *
 * Time is Effect's `Clock` (epoch milliseconds), so a `TestClock` drives deadlines in tests.
 */
import { Clock, Context, Data, Duration, Effect, ErrorReporter, type Fiber, Option } from "effect"
import { dual } from "effect/Function"
import * as HttpServerRespondable from "effect/http/HttpServerRespondable"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/** RequestContext — what the current fiber knows of the work it is part of. */
export interface RequestContext {
  /** when the work must end, in `Clock` epoch milliseconds; `None`: no deadline (Go: `ctx.Deadline()` `ok == false`) */
  readonly deadline: Option.Option<number>
}

/** background — the context of work that belongs to no request: no deadline (Go's `context.Background()`). */
export const background: RequestContext = { deadline: Option.none() }

/**
 * RequestContext — the reference every fiber reads its context from; `background` unless set by `withDeadline`,
 * `withTimeout` or the HTTP middleware (`DeadlineHeader.middleware`). Providing it directly changes what code reads,
 * not when the work is interrupted: only those three start a timer.
 */
export const RequestContext = Context.Reference<RequestContext>("toolkit/RequestContext", {
  defaultValue: () => background
})

/**
 * DeadlineExceeded — the work did not finish before its deadline (Go's `context.DeadlineExceeded`). Raised by
 * `withDeadline`/`withTimeout` when their timer fires (after the work was interrupted and its finalizers ran), or at
 * once when the deadline had already passed; and by `UpstreamClient` for a call with no time left. An HTTP server
 * answers it `504 {"error":"deadline exceeded"}`; it is an expected outcome of a caller's budget, not a failure of
 * this service, so it is marked `ErrorReporter.ignore` (no error log, like 404 and 499).
 */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{
  /** the deadline that passed, in `Clock` epoch milliseconds */
  readonly deadline: number
}> {
  override readonly [ErrorReporter.ignore] = true
  override get message() {
    return "deadline exceeded"
  }
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(gatewayTimeout)
  }
}

const gatewayTimeout = HttpServerResponse.jsonUnsafe({ error: "deadline exceeded" }, { status: 504 })

/** deadline — the current deadline (Go's `ctx.Deadline()`), `None` when there is none. */
export const deadline: Effect.Effect<Option.Option<number>> = RequestContext.useSync((context) => context.deadline)

/**
 * remaining — the time left before the current deadline, never negative (Go's `time.Until(deadline)`); `None` when
 * there is no deadline.
 */
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = Effect.withFiber((fiber) => {
  const left = remainingMillis(fiber)
  return Effect.succeed(left === undefined ? Option.none() : Option.some(Duration.millis(Math.max(0, left))))
})

/**
 * remainingMillis — the milliseconds left before the deadline of `fiber`'s context (zero or negative once it passed),
 * `undefined` without a deadline. For code that already holds the fiber (`Effect.withFiber`), on hot paths.
 */
export const remainingMillis = (fiber: Fiber.Fiber<unknown, unknown>): number | undefined => {
  const current = fiber.getRef(RequestContext).deadline
  return Option.isNone(current) ? undefined : current.value - fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
}

/**
 * withDeadlineUnsafe — the body of `withDeadline`, for code that already holds the running fiber and the time (`now`,
 * `Clock` epoch milliseconds), with the outcome of a passed deadline chosen by `orElse` (given the deadline): the HTTP
 * middleware answers 504 there instead of failing. No step of its own; no allocation when an earlier deadline governs.
 */
export const withDeadlineUnsafe = <A, E, R, B, E2, R2>(
  self: Effect.Effect<A, E, R>,
  fiber: Fiber.Fiber<unknown, unknown>,
  at: number,
  now: number,
  orElse: (deadline: number) => Effect.Effect<B, E2, R2>
): Effect.Effect<A | B, E | E2, R | R2> => {
  const current = fiber.getRef(RequestContext)
  // the earlier deadline governs: a parent's earlier deadline is already enforced by the parent's own timer
  const governed = Option.isSome(current.deadline) && current.deadline.value <= at
  const effective = governed ? (current.deadline as Option.Some<number>).value : at
  if (effective - now <= 0) return orElse(effective)
  if (governed) return self
  return Effect.timeoutOrElse(Effect.provideService(self, RequestContext, { ...current, deadline: Option.some(at) }), {
    duration: Duration.millis(at - now),
    orElse: () => orElse(at)
  })
}

const exceeded = (deadline: number) => Effect.fail(new DeadlineExceeded({ deadline }))

/**
 * withDeadline — runs `self` with the deadline `at` (`Clock` epoch milliseconds), Go's `context.WithDeadline`: when
 * `at` comes, `self` is interrupted (its forks with it, its finalizers run) and the result is `DeadlineExceeded`; if
 * `self` ends first, the timer is dropped and `self`'s result is returned unchanged. As in Go, a deadline later than
 * the current one changes nothing (the current one governs), and a deadline already past fails at once without
 * running `self`. Work that shields itself from interruption (`Effect.uninterruptible`) delays the answer until it
 * ends, as a Go function that ignores `ctx.Done()` returns late. Inside, `deadline`/`remaining` report the governing
 * deadline.
 */
export const withDeadline: {
  (at: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceeded, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, at: number): Effect.Effect<A, E | DeadlineExceeded, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, at: number): Effect.Effect<A, E | DeadlineExceeded, R> =>
    Effect.withFiber((fiber) =>
      withDeadlineUnsafe(self, fiber, at, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe(), exceeded)
    )
)

/**
 * withTimeout — `withDeadline(now + timeout)`, Go's `context.WithTimeout`. Unlike a bare `Effect.timeout`, the
 * deadline is recorded for the code inside (an outgoing call sends what is left) and an earlier enclosing deadline
 * still governs. An infinite timeout sets no deadline.
 */
export const withTimeout: {
  (timeout: Duration.Input): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceeded, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, timeout: Duration.Input): Effect.Effect<A, E | DeadlineExceeded, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, timeout: Duration.Input): Effect.Effect<A, E | DeadlineExceeded, R> =>
    Effect.withFiber((fiber) => {
      const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout))
      if (!Number.isFinite(millis)) return self
      const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
      return withDeadlineUnsafe(self, fiber, now + millis, now, exceeded)
    })
)
