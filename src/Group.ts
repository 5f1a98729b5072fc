/**
 * Group — errgroup for the members of a service: run them together; the first to end ends them all.
 *
 * `run` starts every member concurrently with `Effect.all` in fail-fast mode. A critical member (the default) ends
 * the group whichever way it ends — failing with its own reason, returning, or dying — and the others are
 * interrupted: Go's `errgroup.WithContext` cancelling its context, oklog/run's "the first actor to return interrupts
 * the rest". The first reason is logged once, with its message. Then the lifecycle's shutdown runs
 * (`Lifecycle.shutdown`: readiness off, delay, stop, drain, under one budget) and the exit code follows:
 * - the reason's own code: Effect's `[Runtime.errorExitCode]` marker on the error (0 for `SignalReceived` and
 *   `ShutdownRequested`; declare any other on your own errors), 1 for an error without it or a defect, 0 for a member
 *   that returned;
 * - 2 instead when the budget ran out (forced).
 * An optional member (`Group.optional`) that fails is logged and counted in `group_member_failures_total{member}`;
 * the others keep running. Optional members are interrupted when the group ends.
 */
import { Cause, Data, Effect, Exit, Metric, Runtime } from "effect"
import { FiberDump } from "./services/FiberDump.ts"
import { Lifecycle } from "./services/Lifecycle.ts"
import { memberFailures } from "./services/Metrics.ts"

/** Group.Stop — why the group stopped and the process exit code that follows. */
export interface Stop {
  readonly reason: string
  readonly exitCode: number
}

/** MemberFinished — a critical member returned: the group stops gracefully (exit 0). */
export class MemberFinished extends Data.TaggedError("MemberFinished")<{ readonly member: string }> {
  override readonly [Runtime.errorExitCode] = 0
  override get message() {
    return `member ${this.member} finished`
  }
}

const OptionalTypeId = "~lifecycle/Group/Optional"

/** Group.Optional — a member whose end does not end the group. */
export interface Optional<R> {
  readonly [OptionalTypeId]: Effect.Effect<unknown, unknown, R>
}

/** Group.optional — `member` runs with the group but its failure is only logged and counted. */
export const optional = <A, E, R>(member: Effect.Effect<A, E, R>): Optional<R> => ({ [OptionalTypeId]: member })

/** Group.Member — a critical member (an Effect) or an optional one. */
export type Member = Effect.Effect<unknown, unknown, unknown> | Optional<unknown>

type ServicesOf<M> = M extends Optional<infer R> ? R : M extends Effect.Effect<unknown, unknown, infer R> ? R : never

const isOptional = (member: Member): member is Optional<unknown> => OptionalTypeId in member

/** runs one member, listed in the fiber dump as `member <name>` while it runs */
const listed = <A, E, R>(name: string, run: Effect.Effect<A, E, R>) =>
  Effect.withFiber((fiber) => {
    const dump = fiber.getRef(FiberDump)
    dump.add(fiber, `member ${name}`)
    return Effect.ensuring(
      run,
      Effect.sync(() => dump.delete(fiber))
    )
  })

const messageOf = (error: unknown): string =>
  error instanceof Error && error.message !== "" ? error.message : String(error)

/** Group.describe — the first cause as one line, its exit code, and whether it is a graceful stop (code 0). */
export const describe = (cause: Cause.Cause<unknown>): { reason: string; exitCode: number; detail?: string } => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") return { reason: messageOf(error.value), exitCode: Runtime.getErrorExitCode(error.value) }
  const pretty = Cause.pretty(cause)
  return { reason: `a member died: ${pretty.split("\n")[0]}`, exitCode: 1, detail: pretty }
}

/** an optional member: its end is logged (and a failure counted); it never ends the group */
const supervise = (name: string, run: Effect.Effect<unknown, unknown, unknown>) =>
  listed(name, run).pipe(
    Effect.matchCauseEffect({
      onSuccess: () => Effect.logInfo(`optional member ${name} finished`),
      onFailure: (cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Metric.update(Metric.withAttributes(memberFailures, { member: name }), 1).pipe(
              Effect.andThen(Effect.logError(`optional member ${name} failed: ${describe(cause).reason}`)),
              Effect.annotateLogs({ member: name })
            )
    })
  )

/** Group.run — runs the members until the first critical one ends, then shuts down; see the module comment. */
export const run = <const Members extends Readonly<Record<string, Member>>>(
  members: Members
): Effect.Effect<Stop, never, ServicesOf<Members[keyof Members]>> =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle.current
    yield* Effect.logInfo("serving").pipe(
      Effect.annotateLogs({
        members: Object.keys(members).join(","),
        startupMillis: Math.round(process.uptime() * 1000)
      })
    )
    const entries = Object.entries(members) as Array<[string, Member]>
    const critical = entries.flatMap(([name, member]) =>
      isOptional(member)
        ? []
        : [listed(name, member).pipe(Effect.andThen(Effect.fail(new MemberFinished({ member: name }))))]
    )
    const exit = yield* Effect.scoped(
      Effect.gen(function* () {
        for (const [name, member] of entries) {
          if (isOptional(member)) yield* Effect.forkScoped(supervise(name, member[OptionalTypeId]))
        }
        return yield* Effect.all(critical.length === 0 ? [Effect.never] : critical, {
          concurrency: "unbounded",
          discard: true
        })
      })
    ).pipe(Effect.exit)
    const first = describe(Exit.isFailure(exit) ? exit.cause : Cause.die("the group ended without a reason"))
    const log =
      first.exitCode === 0 ? Effect.logInfo(`stopping: ${first.reason}`) : Effect.logError(`stopping: ${first.reason}`)
    yield* log.pipe(
      Effect.annotateLogs(
        first.detail === undefined ? { exitCode: first.exitCode } : { exitCode: first.exitCode, cause: first.detail }
      )
    )
    const outcome = yield* lifecycle.shutdown(first.reason)
    return { reason: first.reason, exitCode: outcome.drained ? first.exitCode : 2 } satisfies Stop
  }) as Effect.Effect<Stop, never, ServicesOf<Members[keyof Members]>>
