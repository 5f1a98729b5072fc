/**
 * endings — the four ways an effect can end (success, failure, defect, interruption), for table-driven "released on
 * every way out" tests of locks and pools; and `settle`, which lets every runnable fiber take a few steps.
 */
import { Cause, Effect, Exit } from "effect"

/** Ending — one way out: a body that ends that way (`success` answers "ok"), and a check of its exit. */
export interface Ending {
  readonly name: "success" | "failure" | "defect" | "interruption"
  readonly body: Effect.Effect<string, string>
  readonly check: (exit: Exit.Exit<string, string>) => boolean
}

/** endings — success ("ok"), failure ("boom"), defect ("bug"), interruption. */
export const endings: ReadonlyArray<Ending> = [
  { name: "success", body: Effect.succeed("ok"), check: (exit) => Exit.isSuccess(exit) && exit.value === "ok" },
  { name: "failure", body: Effect.fail("boom"), check: (exit) => Exit.isFailure(exit) && Cause.hasFails(exit.cause) },
  { name: "defect", body: Effect.die("bug"), check: (exit) => Exit.isFailure(exit) && Cause.hasDies(exit.cause) },
  {
    name: "interruption",
    body: Effect.interrupt,
    check: (exit) => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
  }
]

/** settle — lets every runnable fiber run `n` times over (no time passes). */
export const settle = (n = 10) => Effect.forEach(Array.from({ length: n }), () => Effect.yieldNow, { discard: true })
