/**
 * Group — errgroup for the members of the service: run them together; the first to end ends them all.
 *
 * `run` starts every member concurrently with `Effect.all` in fail-fast mode. A member ends only by failing with a
 * `MemberExit` (a signal, a shutdown request, a listen error, a process fault) or by dying; whichever comes first
 * interrupts the others — Go's `errgroup.WithContext` cancelling its context, oklog/run's "the first actor to return
 * interrupts the rest". The first cause is kept and logged once, with its meaning. Then the shutdown sequence runs
 * (`Lifecycle.shutdown`) and the outcome decides the exit code:
 *   0 — a signal or a shutdown request, everything drained;
 *   1 — a member failed or died (after draining what could be drained);
 *   2 — forced: the budget ran out (a second signal never returns here: `Teardown` exits at once).
 * Readiness turns true when the members start, i.e. once every layer has been built (every port is bound).
 */
import { Cause, Effect, Exit } from "effect"
import type { MemberExit } from "./Errors.ts"
import { FiberDump } from "./services/FiberDump.ts"
import { Lifecycle } from "./services/Lifecycle.ts"

/** Group.Stop — why the group stopped and the process exit code that follows. */
export interface Stop {
  readonly reason: string
  readonly exitCode: 0 | 1 | 2
}

const graceful = new Set(["SignalReceived", "ShutdownRequested"])

/** member — runs one member, listed in the fiber dump as `member <name>` while it runs. */
const member = <R>(name: string, run: Effect.Effect<never, MemberExit, R>) =>
  Effect.withFiber((fiber) => {
    const dump = fiber.getRef(FiberDump)
    dump.add(fiber, `member ${name}`)
    return Effect.ensuring(
      run,
      Effect.sync(() => dump.delete(fiber))
    )
  })

/** describe — the first cause as one log line and whether it is a graceful stop. */
const describe = (cause: Cause.Cause<MemberExit>) => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    return { reason: error.value.message, graceful: graceful.has(error.value._tag), detail: undefined }
  }
  const pretty = Cause.pretty(cause)
  return { reason: `a member died: ${pretty.split("\n")[0]}`, graceful: false, detail: pretty }
}

/** Group.run — runs the members until the first ends, then shuts down; see the module comment. */
export const run = <const Members extends Readonly<Record<string, Effect.Effect<never, MemberExit, unknown>>>>(
  members: Members
): Effect.Effect<Stop, never, Lifecycle | Effect.Services<Members[keyof Members]>> =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle
    yield* lifecycle.markServing
    yield* Effect.logInfo("serving").pipe(
      Effect.annotateLogs({
        members: Object.keys(members).join(","),
        startupMillis: Math.round(process.uptime() * 1000)
      })
    )
    type R = Effect.Services<Members[keyof Members]>
    const entries = Object.entries(members) as Array<[string, Effect.Effect<never, MemberExit, R>]>
    const exit = yield* Effect.all(
      entries.map(([name, run]) => member(name, run)),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.exit)
    const first = describe(Exit.isFailure(exit) ? exit.cause : Cause.die("a member returned"))
    yield* first.graceful
      ? Effect.logInfo(`stopping: ${first.reason}`)
      : Effect.logError(`stopping: ${first.reason}`).pipe(
          first.detail === undefined ? (log) => log : Effect.annotateLogs({ cause: first.detail })
        )
    const outcome = yield* lifecycle.shutdown(first.reason)
    const exitCode = !outcome.drained ? 2 : first.graceful ? 0 : 1
    return { reason: first.reason, exitCode } satisfies Stop
  })
