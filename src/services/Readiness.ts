/**
 * Readiness — whether the process should get traffic, as `/readyz` reports it: the lifecycle's phase, a switch code
 * can turn off, and the named checks users register (a database ping, a cache warm-up).
 *
 * A report is ready only while the lifecycle is serving, the switch is on, and every check succeeds within its
 * timeout. Checks run concurrently, on each report, so a report takes at most the longest timeout; a failed check
 * is named with its reason, so an operator reading `/readyz` sees which dependency is missing.
 */
import { Cause, Duration, Effect, Exit, type Scope } from "effect"

/** Readiness.Check — one named check; it fails (or dies) when the dependency is not usable. */
export interface Check {
  readonly name: string
  readonly timeout: Duration.Duration
  readonly run: Effect.Effect<unknown, unknown>
}

/** Readiness.CheckResult — what one check answered. */
export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  /** why it failed: the error's message, `timed out after …`, or the defect */
  readonly error?: string | undefined
}

/** Readiness.Report — the answer of `/readyz`. */
export interface Report {
  readonly ready: boolean
  /** why not ready: `starting`, `shutting down`, `turned off`, or the failed checks */
  readonly reason?: string | undefined
  readonly checks: ReadonlyArray<CheckResult>
}

/** Readiness.notReady — the report of a lifecycle that is not serving. */
export const notReady = (phase: "idle" | "stopping"): Report => ({
  ready: false,
  reason: phase === "stopping" ? "shutting down" : "starting",
  checks: []
})

const ready: Report = { ready: true, checks: [] }
const turnedOff: Report = { ready: false, reason: "turned off", checks: [] }

const messageOf = (error: unknown): string =>
  error instanceof Error && error.message !== "" ? error.message : String(error)

/** runs one check under its timeout; never fails */
const runCheck = (check: Check): Effect.Effect<CheckResult> =>
  check.run.pipe(
    Effect.timeoutOption(check.timeout),
    Effect.exit,
    Effect.map((exit): CheckResult => {
      if (Exit.isSuccess(exit)) {
        return exit.value._tag === "Some"
          ? { name: check.name, ok: true }
          : { name: check.name, ok: false, error: `timed out after ${Duration.format(check.timeout)}` }
      }
      const error = Cause.findErrorOption(exit.cause)
      return {
        name: check.name,
        ok: false,
        error: error._tag === "Some" ? messageOf(error.value) : Cause.pretty(exit.cause).split("\n")[0]
      }
    })
  )

/** Readiness.make — the readiness state of one lifecycle. */
export const make = () => {
  const checks: Array<Check> = []
  let enabled = true
  return {
    enabled: () => enabled,
    setEnabled: (value: boolean) => {
      enabled = value
    },
    /** back to the state of a fresh start (the switch on; checks stay: their layers remove them) */
    reset: () => {
      enabled = true
    },
    add: (check: Check): Effect.Effect<void, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.sync(() => checks.push(check)),
        () => Effect.sync(() => checks.splice(checks.indexOf(check), 1))
      ).pipe(Effect.asVoid),
    check: Effect.suspend((): Effect.Effect<Report> => {
      if (!enabled) return Effect.succeed(turnedOff)
      if (checks.length === 0) return Effect.succeed(ready)
      return Effect.map(Effect.forEach(checks, runCheck, { concurrency: "unbounded" }), (results) => {
        const failed = results.filter((result) => !result.ok)
        return failed.length === 0
          ? { ready: true, checks: results }
          : {
              ready: false,
              reason: failed.map((result) => `${result.name}: ${result.error}`).join("; "),
              checks: results
            }
      })
    })
  }
}
