/**
 * Errors — the reasons this service's members end the group, and the failures that stop start-up.
 *
 * A member ends the group by failing (Go's errgroup cancels on the first non-nil error; oklog/run stops on the first
 * actor to return). Any tagged error can be a member's reason; its exit code is Effect's own marker
 * `[Runtime.errorExitCode]` when it has one (what `NodeRuntime.runMain` reads too), and 1 otherwise — see `Group`.
 *
 * | reason               | meaning                                                          | exit |
 * |----------------------|------------------------------------------------------------------|------|
 * | `SignalReceived`     | SIGINT or SIGTERM: a graceful stop was asked                     | 0    |
 * | `ShutdownRequested`  | `POST /shutdown` on the admin server                             | 0    |
 * | `ListenError`        | a server could not bind, or its listener failed (`src/http`)     | 1    |
 * | `ConfigInvalid`      | an environment variable has an invalid value                     | 1    |
 * | `ProcessFault`       | `uncaughtException` / `unhandledRejection`                       | 1    |
 * | any other error      | a member of yours failed: its marker, or 1                       | 1    |
 * | (a defect)           | a member died                                                    | 1    |
 * A budget that runs out turns any of these into 2.
 */
import { Data, Runtime } from "effect"

/** SignalReceived — a termination signal (SIGINT or SIGTERM) arrived; the group stops gracefully (exit 0). */
export class SignalReceived extends Data.TaggedError("SignalReceived")<{ readonly signal: string }> {
  override readonly [Runtime.errorExitCode] = 0
  override get message() {
    return `received ${this.signal}`
  }
}

/** ShutdownRequested — someone asked for a graceful stop (the admin server's `POST /shutdown`; exit 0). */
export class ShutdownRequested extends Data.TaggedError("ShutdownRequested")<{ readonly source: string }> {
  override readonly [Runtime.errorExitCode] = 0
  override get message() {
    return `shutdown requested by ${this.source}`
  }
}

/** ConfigInvalid — an environment variable could not be read; names the variable and the value given (exit 1). */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string
  readonly value: string | undefined
  readonly reason: string
}> {
  override get message() {
    return `invalid configuration: ${this.variable}=${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/** ProcessFault — the process reported an `uncaughtException` or `unhandledRejection` (exit 1). */
export class ProcessFault extends Data.TaggedError("ProcessFault")<{
  readonly kind: "uncaughtException" | "unhandledRejection"
  readonly cause: unknown
}> {
  override get message() {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.kind}: ${detail}`
  }
}
