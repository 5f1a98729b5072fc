/**
 * Errors — the reasons a member of the group ends, and the failures that stop start-up.
 *
 * Every member of the group ends by *failing* with one of these (Go's errgroup cancels on the first non-nil error,
 * and oklog/run stops on the first actor to return): `Effect.all` in fail-fast mode then interrupts the others. The
 * first reason is kept and decides the exit code — see `exitCodeOf` in `Main.ts`:
 *
 * | reason               | meaning                                              | exit |
 * |----------------------|------------------------------------------------------|------|
 * | `SignalReceived`     | SIGINT or SIGTERM: a graceful stop was asked         | 0    |
 * | `ShutdownRequested`  | `POST /shutdown` on the admin server                 | 0    |
 * | `ServeError`         | a server could not listen, or failed while serving   | 1    |
 * | `ConfigInvalid`      | an environment variable has an invalid value         | 1    |
 * | `ProcessFault`       | `uncaughtException` / `unhandledRejection`           | 1    |
 * | (a defect)           | a member died                                        | 1    |
 */
import { Data } from "effect"

/** SignalReceived — a termination signal (SIGINT or SIGTERM) arrived; the group stops gracefully. */
export class SignalReceived extends Data.TaggedError("SignalReceived")<{ readonly signal: string }> {
  override get message() {
    return `received ${this.signal}`
  }
}

/** ShutdownRequested — someone asked for a graceful stop (the admin server's `POST /shutdown`). */
export class ShutdownRequested extends Data.TaggedError("ShutdownRequested")<{ readonly source: string }> {
  override get message() {
    return `shutdown requested by ${this.source}`
  }
}

/**
 * ServeError — a server could not bind (`EADDRINUSE`, `EACCES`, …) or its listener failed later. The message names
 * the server, the address and Node's reason, so "port taken" never surfaces as "interrupted".
 */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly server: string
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    const code = (this.cause as { code?: unknown } | undefined)?.code
    const reason =
      code === "EADDRINUSE"
        ? "address already in use"
        : code === "EACCES"
          ? "permission denied"
          : String((this.cause as Error | undefined)?.message ?? this.cause)
    return `${this.server} server cannot listen on ${this.host}:${this.port}: ${reason}`
  }
}

/** ConfigInvalid — an environment variable could not be read; names the variable and the value given. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string
  readonly value: string | undefined
  readonly reason: string
}> {
  override get message() {
    return `invalid configuration: ${this.variable}=${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/** ProcessFault — the process reported an `uncaughtException` or `unhandledRejection`. */
export class ProcessFault extends Data.TaggedError("ProcessFault")<{
  readonly kind: "uncaughtException" | "unhandledRejection"
  readonly cause: unknown
}> {
  override get message() {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.kind}: ${detail}`
  }
}

/** MemberExit — every way a member can end the group. */
export type MemberExit = SignalReceived | ShutdownRequested | ServeError | ProcessFault
