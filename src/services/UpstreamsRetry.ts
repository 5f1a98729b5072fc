/**
 * UpstreamsRetry — the retry policy of the HTTP upstream calls: only idempotent GETs are retried, only for failures
 * a second try can cure, and never past the request's deadline.
 *
 * Guarantees:
 * - at most `attempts` tries in all; between two, an exponential backoff (`base`, ×2 each time) with Effect's jitter
 *   (each delay scaled by a random factor from 0.8 to 1.2, so callers that failed together do not retry together);
 * - retried: a failure to reach the upstream (connection refused or reset) and the statuses that say "try again"
 *   (`retryableStatuses`: 429, 502, 503, 504). Never retried: other statuses (a 404 stays a 404), a malformed
 *   answer, and `DeadlineExceeded` (the time is spent);
 * - inside a deadline (`RequestContext`), a retry is made only if, after its backoff, at least `minAttempt` would be
 *   left for it; otherwise the call fails at once with its last error — the caller learns the real reason (the
 *   upstream's 503) rather than a timeout, and no attempt is sent that the deadline would cut short. Outside any
 *   deadline only `attempts` bounds the retries.
 * The backoff is an `Effect.sleep` on Effect's `Clock` and is interrupted with the call.
 */
import { Duration, Effect, Option, Schedule } from "effect"
import * as RequestContext from "../toolkit/RequestContext.ts"
import type { UpstreamFailure } from "./UpstreamsModel.ts"

/** RetryPolicy — how many tries, and the first backoff. */
export interface RetryPolicy {
  /** tries in all, the first included (1 = no retry) */
  readonly attempts: number
  /** the first backoff; each next one doubles, before jitter */
  readonly base: Duration.Duration
  /** a retry is made only if at least this much of the deadline is left after its backoff */
  readonly minAttempt: Duration.Duration
}

/** defaultPolicy — 3 tries, backoff 10 ms then 20 ms (±20%), a retry only with 5 ms left after its backoff. */
export const defaultPolicy: RetryPolicy = {
  attempts: 3,
  base: Duration.millis(10),
  minAttempt: Duration.millis(5)
}

/** retryableStatuses — the upstream statuses that mean "try again later". */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 502, 503, 504])

/**
 * isRetryable — whether a failed HTTP exchange is worth a second try: the upstream was not reached (an
 * `UpstreamError` without a status) or answered a retryable status. Applied to the exchange alone (request and
 * status), never to the decoding of a body that arrived.
 */
export const isRetryable = (error: UpstreamFailure): boolean =>
  error._tag === "UpstreamError" && (error.status === undefined || retryableStatuses.has(error.status))

/**
 * retrying — `call` retried under `policy` while `isRetryable` says so (see the module comment). `call` must be
 * idempotent: it may run `policy.attempts` times.
 */
export const retrying =
  (policy: RetryPolicy) =>
  <A, R>(call: Effect.Effect<A, UpstreamFailure, R>): Effect.Effect<A, UpstreamFailure, R> => {
    if (policy.attempts <= 1) return call
    const schedule = Schedule.exponential(policy.base).pipe(
      Schedule.jittered,
      // a backoff that would leave less than `minAttempt` before the deadline ends the retries with the last error
      Schedule.modifyDelay(({ duration, input }) =>
        Effect.flatMap(RequestContext.remaining, (left) =>
          Option.isSome(left) &&
          Duration.toMillis(left.value) < Duration.toMillis(duration) + Duration.toMillis(policy.minAttempt)
            ? Effect.fail(input as UpstreamFailure)
            : Effect.succeed(duration)
        )
      )
    )
    return Effect.retry(call, { schedule, while: isRetryable, times: policy.attempts - 1 })
  }
