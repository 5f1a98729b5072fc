/**
 * ShutdownSequence — phases 1–3 of a shutdown (see `Lifecycle`), run once for every server registered at its start.
 *
 * Order: log the reason and the budget; `beforeDrain` hooks in declared order; the shutdown delay (servers keep
 * serving); `beginDrain` on every server at once (stop accepting); `awaitDrained` on every server; `afterDrain` hooks
 * in declared order. All of it runs under `budget`: when it runs out, whatever phase or hook is running is
 * interrupted and every server is forced (`force`), and the outcome says `drained: false`. A hook that fails is
 * logged and the sequence goes on; a hook never stops the drain.
 *
 * Traced: the sequence runs in a root span `shutdown` (attributes `shutdown.reason`, `shutdown.budget_ms`,
 * `shutdown.servers`, and `shutdown.drained` once known), with one child span per phase (`shutdown unready`,
 * `shutdown stop`, `shutdown drain`, `shutdown force`, and `shutdown release` once the servers have left: see
 * `released`) and per hook (`shutdown hook <name>`), each with `shutdown.outcome`: `done`, `failed` or `interrupted`
 * (the budget ran out during it).
 */
import { Cause, Clock, Duration, Effect, Exit, Metric, Option, type Tracer } from "effect"
import { shutdownPhaseSeconds } from "./Metrics.ts"

/** ShutdownSequence.Drainable — a server's part in the shutdown. */
export interface Drainable {
  readonly name: string
  /** time to keep serving, unready, before the listener closes */
  readonly shutdownDelay: Duration.Duration
  /** the most the whole shutdown may take, counted from its start */
  readonly budget: Duration.Duration
  /** stop accepting and begin the drain; returns at once */
  readonly beginDrain: Effect.Effect<void>
  /** completes when the server's last connection is gone */
  readonly awaitDrained: Effect.Effect<void>
  /** the budget is gone: stop accepting if not yet, interrupt running requests (503), destroy what is left */
  readonly force: Effect.Effect<void>
}

/** ShutdownSequence.Hook — work that belongs to the shutdown (deregister, flush, stop consuming). */
export interface Hook {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown>
}

/** ShutdownSequence.HookTime — when a hook runs: as the shutdown begins, or once every server has drained. */
export type HookTime = "beforeDrain" | "afterDrain"

/** ShutdownSequence.Hooks — the hooks of one lifecycle, in declared order. */
export type Hooks = Readonly<Record<HookTime, Array<Hook>>>

/** ShutdownSequence.Outcome — why the shutdown ran and whether everything drained within the budget. */
export interface Outcome {
  readonly reason: string
  readonly drained: boolean
}

/** ShutdownSequence.phaseDone — logs a finished phase with its duration and records it in `shutdown_phase_seconds`. */
export const phaseDone = (phase: string, millis: number) =>
  Metric.update(Metric.withAttributes(shutdownPhaseSeconds, { phase }), millis / 1000).pipe(
    Effect.andThen(Effect.logInfo(`shutdown phase ${phase} done`)),
    Effect.annotateLogs({ phase, millis })
  )

/** ShutdownSequence.outcomeOf — a phase's or hook's `shutdown.outcome` span attribute. */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): "done" | "failed" | "interrupted" =>
  Exit.isSuccess(exit) ? "done" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

/** `effect` in span `name` (a child of the current span), its outcome recorded as `shutdown.outcome` */
const spanned = <A, E, R>(name: string, attributes: Record<string, unknown>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.onExit((exit) => Effect.annotateCurrentSpan("shutdown.outcome", outcomeOf(exit))),
    Effect.withSpan(name, { attributes })
  )

/** `effect` as phase `phase`: in its span; its duration logged and recorded once it completes */
const timed = <A, E, R>(phase: string, effect: Effect.Effect<A, E, R>) =>
  spanned(
    `shutdown ${phase}`,
    { "shutdown.phase": phase },
    Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.tap(effect, () => Effect.flatMap(Clock.currentTimeMillis, (now) => phaseDone(phase, now - start)))
    )
  )

/**
 * ShutdownSequence.released — the `release` phase is over (the servers' scopes finished closing `elapsed`
 * nanoseconds after the drain): logged and recorded like the others, and its span, which began `elapsed` ago (never
 * before the drain's end: nanoseconds, not rounded milliseconds), ends now under `parent` (the `shutdown` span,
 * already ended: release follows the sequence).
 */
export const released = (elapsed: bigint, parent: Tracer.AnySpan | undefined): Effect.Effect<void> =>
  Effect.gen(function* () {
    // the tracer directly: `Effect.makeSpan` has no start time, and this span began before the call
    const tracer = yield* Effect.tracer
    const now = yield* Clock.currentTimeNanos
    const span = tracer.span({
      name: "shutdown release",
      parent: Option.fromNullishOr(parent),
      annotations: parent?.annotations ?? (yield* Effect.context<never>()),
      links: [],
      startTime: now - elapsed,
      kind: "internal",
      root: parent === undefined,
      sampled: parent?.sampled ?? true
    })
    span.attribute("shutdown.phase", "release")
    span.attribute("shutdown.outcome", "done")
    yield* phaseDone("release", Math.round(Number(elapsed) / 1_000_000))
    span.end(now, Exit.void)
  })

/** runs the hooks in order; a failing hook is logged with its cause and does not stop the others */
const runHooks = (when: HookTime, hooks: ReadonlyArray<Hook>) =>
  Effect.forEach(
    [...hooks],
    (hook) =>
      Effect.withSpan(
        Effect.flatMap(Clock.currentTimeMillis, (start) =>
          Effect.flatMap(Effect.exit(hook.run), (exit) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const annotations = { hook: hook.name, when, millis: now - start }
              return Exit.isSuccess(exit)
                ? Effect.logInfo(`shutdown hook ${hook.name} done`).pipe(Effect.annotateLogs(annotations))
                : Effect.logError(`shutdown hook ${hook.name} failed`, Cause.pretty(exit.cause)).pipe(
                    Effect.annotateLogs(annotations)
                  )
            }).pipe(Effect.andThen(Effect.annotateCurrentSpan("shutdown.outcome", outcomeOf(exit))))
          )
        ).pipe(Effect.onInterrupt(() => Effect.annotateCurrentSpan("shutdown.outcome", "interrupted"))),
        `shutdown hook ${hook.name}`,
        { attributes: { "shutdown.hook": hook.name, "shutdown.when": when } }
      ),
    { discard: true }
  )

/** ShutdownSequence.run — the sequence for `servers`; see the module comment. Never fails. */
export const run = (options: {
  readonly reason: string
  readonly budget: Duration.Duration
  readonly shutdownDelay: Duration.Duration
  readonly servers: ReadonlyArray<Drainable>
  readonly hooks: Hooks
  /** receives the `shutdown` span as it starts (the parent of the `release` span, see `released`) */
  readonly onSpan?: ((span: Tracer.Span) => void) | undefined
}): Effect.Effect<Outcome> => {
  const { reason, budget, servers, hooks } = options
  const each = (f: (server: Drainable) => Effect.Effect<void>) =>
    Effect.forEach(servers, f, { concurrency: "unbounded", discard: true })
  const graceful = Effect.gen(function* () {
    yield* runHooks("beforeDrain", hooks.beforeDrain)
    yield* timed("unready", Duration.isZero(options.shutdownDelay) ? Effect.void : Effect.sleep(options.shutdownDelay))
    yield* timed(
      "stop",
      each((server) => server.beginDrain)
    )
    yield* timed(
      "drain",
      each((server) => server.awaitDrained)
    )
    yield* runHooks("afterDrain", hooks.afterDrain)
  })
  return Effect.gen(function* () {
    yield* Effect.logInfo(`shutting down: ${reason}`).pipe(
      Effect.annotateLogs({ budgetMillis: Duration.toMillis(budget), servers: servers.map((s) => s.name).join(",") })
    )
    const span = yield* Effect.currentSpan.pipe(Effect.option)
    if (span._tag === "Some") options.onSpan?.(span.value)
    const finished = yield* Effect.timeoutOption(graceful, budget)
    if (finished._tag === "Some") {
      yield* Effect.annotateCurrentSpan("shutdown.drained", true)
      return { reason, drained: true }
    }
    yield* Effect.logWarning("shutdown budget exhausted: interrupting requests and closing connections")
    yield* timed(
      "force",
      each((server) => server.force)
    )
    yield* Effect.annotateCurrentSpan("shutdown.drained", false)
    return { reason, drained: false }
  }).pipe(
    Effect.withSpan("shutdown", {
      root: true,
      attributes: {
        "shutdown.reason": reason,
        "shutdown.budget_ms": Duration.toMillis(budget),
        "shutdown.servers": servers.map((s) => s.name)
      }
    })
  )
}
