/**
 * Main — the entry point's runner: runs the program, prints why it ended, and exits with the code that says so.
 *
 * - The program's `Stop` carries the exit code (see `Group`): 0 graceful, 1 a member failed, 2 forced.
 * - A failure before the group starts (invalid configuration, a port that cannot be bound) prints one line naming
 *   the cause — the variable and its value, or the address and Node's reason — and exits 1.
 * - `Teardown` is provided here with `process.exit`: a second signal (see `Signals`) ends the process with 2 from
 *   inside, and so does a shutdown still running one second after its budget (finalizers that hang): once the
 *   lifecycle starts stopping, a watchdog waits for budget + 1 s, then forces.
 * - A broken stdout (EPIPE: the log reader went away) loses logs, not the service.
 * This is the only place that calls `process.exit`; nothing else in the service ends the process.
 */
import { Cause, Duration, Effect, Layer } from "effect"
import type { Stop } from "./Group.ts"
import * as Logging from "./Logging.ts"
import { Lifecycle } from "./services/Lifecycle.ts"
import { Teardown } from "./services/Teardown.ts"

/** Main.exitCodeOfFailure — a failure before or outside the group. */
export const exitCodeOfFailure = 1

/** Main.report — the one line that says why start-up failed. */
export const report = <E>(cause: Cause.Cause<E>): Effect.Effect<void> => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const value = error.value
    return Effect.logError(value instanceof Error ? value.message : String(value))
  }
  return Effect.logError(`start-up failed: ${Cause.pretty(cause)}`)
}

/** Main.toExitCode — the program with every failure reported and turned into exit code 1. */
export const toExitCode = <E, R>(program: Effect.Effect<Stop, E, R>): Effect.Effect<number, never, R> =>
  program.pipe(
    Effect.map((stop) => stop.exitCode),
    Effect.catchCause((cause) => report(cause).pipe(Effect.as(exitCodeOfFailure))),
    Effect.tap((exitCode) => Effect.logInfo(`exiting with code ${exitCode}`).pipe(Effect.annotateLogs({ exitCode })))
  )

/** Extra time for forcing and the finalizers after the budget, before the watchdog ends the process anyway. */
const hardStopSlack = Duration.seconds(1)

/** Main.watchdog — once a shutdown begins, forces exit 2 if it is still running one second after its budget. */
export const watchdog: Effect.Effect<void, never, Teardown> = Effect.gen(function* () {
  const lifecycle = yield* Lifecycle.current
  const teardown = yield* Teardown
  const { budget } = yield* lifecycle.stopping
  yield* Effect.sleep(Duration.sum(budget, hardStopSlack))
  yield* teardown.force("shutdown budget exhausted and finalizers still running: forcing exit")
})

/** Main.run — runs `program` as the process; exits when it ends (or when `Teardown` forces it). */
export const run = <E>(program: Effect.Effect<Stop, E, Teardown>): void => {
  // A fiber waiting on a signal holds no Node handle: keep the event loop alive until the program ends.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  // Logs go to stdout. If its reader goes away (EPIPE), the logs are lost but the service is not: without this
  // listener Node would turn the stream's error into an uncaught exception.
  process.stdout.on("error", () => {})
  const fiber = Effect.runFork(
    Effect.forkDetach(watchdog).pipe(
      Effect.andThen(toExitCode(program)),
      Effect.provide(
        Layer.merge(
          Teardown.layerWith((code) => process.exit(code)),
          Logging.layer
        )
      )
    )
  )
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    process.exit(exit._tag === "Success" ? exit.value : exitCodeOfFailure)
  })
}
