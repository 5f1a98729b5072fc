/**
 * Teardown — the entry point's way out when the group cannot return in time.
 *
 * Normally the group returns an outcome and the entry point exits with the matching code. Two events cannot wait for
 * that: a second termination signal during shutdown, and the budget running out while finalizers still hang. For
 * those, `force` logs one line and ends the process with exit code 2 at once, through the `exit` function given to
 * `Teardown.layerWith` — the entry point (`Main.run`) passes `process.exit`, the only call to it in the service.
 * `Teardown.layerTest` records the request instead, so tests can assert it.
 */
import { Context, Deferred, Effect, Layer } from "effect"

/** Teardown.forcedExitCode — the exit code of a forced stop. */
export const forcedExitCode = 2

/** Teardown — how the process is ended when graceful shutdown is abandoned. */
export class Teardown extends Context.Service<
  Teardown,
  {
    /** Teardown.force — logs `message` and ends the process with exit code 2. Live: never returns. */
    readonly force: (message: string) => Effect.Effect<void>
    /** Teardown.forced — completes with the first `force` message (for tests and observers). */
    readonly forced: Effect.Effect<string>
  }
>()("lifecycle/Teardown") {
  /** Teardown.make — `exit` is called with 2 after the log line is written. */
  static readonly make = (exit: (code: number) => void) =>
    Effect.gen(function* () {
      const first = yield* Deferred.make<string>()
      return Teardown.of({
        force: (message) =>
          Effect.logError(message).pipe(
            Effect.andThen(Deferred.succeed(first, message)),
            Effect.andThen(Effect.sync(() => exit(forcedExitCode)))
          ),
        forced: Deferred.await(first)
      })
    })

  /** Teardown.layerWith — ends the process with `exit` (the entry point passes `process.exit`). */
  static readonly layerWith = (exit: (code: number) => void): Layer.Layer<Teardown> =>
    Layer.effect(Teardown, Teardown.make(exit))

  /** Teardown.layerTest — records the first forced stop; the process keeps running. */
  static readonly layerTest: Layer.Layer<Teardown> = Layer.effect(
    Teardown,
    Teardown.make(() => {})
  )
}
