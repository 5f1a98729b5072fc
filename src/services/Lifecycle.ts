/**
 * Lifecycle — readiness and the graceful-shutdown sequence, shared by every member of the group.
 *
 * Phases, in order, all inside one budget (`SHUTDOWN_TIMEOUT`) that starts when `shutdown` is called:
 * 1. unready   — `isReady()` turns false at once (both servers' `/readyz` answer 503), then `SHUTDOWN_DELAY` passes
 *                while the listeners still accept and serve, so load balancers can take the instance out;
 * 2. stop      — every registered listener closes: new connections are refused;
 * 3. drain     — in-flight requests finish; connections close (see `ConnectionTracker`); over when the last is gone;
 * 4. release   — the members' finalizers run when the layers are released (logged by this layer's own finalizer,
 *                which runs last because every member depends on it).
 * Budget exhausted during 1–3: every registered listener is forced (running requests are interrupted and answered
 * 503 when nothing was written yet; remaining sockets destroyed) and the outcome is `forced`. A termination signal
 * during shutdown, or the budget running out while finalizers still hang, ends the process through `Teardown.force`
 * (exit 2) — the only way out that does not return through the group.
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Metric } from "effect"
import { ShutdownRequested } from "../Errors.ts"
import { isTermination, Signals } from "../layers/Signals.ts"
import { AppConfig } from "./AppConfig.ts"
import { shutdownPhaseSeconds } from "./Metrics.ts"
import { Teardown } from "./Teardown.ts"

/** Lifecycle.Phase — where the process is: readiness is true only while `serving`. */
export type Phase = "starting" | "serving" | "stopping"

/** Lifecycle.Drainable — a listener that takes part in phases 2 and 3 (registered by each server). */
export interface Drainable {
  readonly name: string
  /** stop accepting and begin the drain; returns at once */
  readonly beginDrain: Effect.Effect<void>
  /** completes when the listener's last connection is gone */
  readonly awaitDrained: Effect.Effect<void>
  /**
   * the budget is gone: stop accepting if phase 2 was never reached (the budget can run out during SHUTDOWN_DELAY),
   * interrupt running requests, destroy remaining sockets
   */
  readonly force: Effect.Effect<void>
}

/** Lifecycle.Outcome — how phases 1–3 ended. */
export interface Outcome {
  readonly drained: boolean
}

/** Extra time for `force` and the finalizers after the budget, before `Teardown.force` ends the process anyway. */
const hardStopSlack = Duration.seconds(1)

const make = Effect.gen(function* () {
  const config = yield* AppConfig
  const signals = yield* Signals
  const teardown = yield* Teardown
  const scope = yield* Effect.scope
  const requested = yield* Deferred.make<never, ShutdownRequested>()
  const drainables: Array<Drainable> = []
  let phase: Phase = "starting"
  let drainEnded = 0

  /** a finished phase: logged with its duration and recorded in `shutdown_phase_seconds` */
  const phaseDone = (name: string, since: number) =>
    Effect.gen(function* () {
      const millis = (yield* Clock.currentTimeMillis) - since
      yield* Metric.update(Metric.withAttributes(shutdownPhaseSeconds, { phase: name }), millis / 1000)
      yield* Effect.logInfo(`shutdown phase ${name} done`).pipe(Effect.annotateLogs({ phase: name, millis }))
    })

  const timed = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const result = yield* effect
      yield* phaseDone(name, start)
      return result
    })

  const eachListener = (f: (d: Drainable) => Effect.Effect<void>) =>
    Effect.forEach(drainables, f, { concurrency: "unbounded", discard: true })

  /** After the first stop reason, any SIGINT/SIGTERM forces exit; SIGHUP is only logged. */
  const watchSecondSignal = Effect.gen(function* () {
    while (true) {
      const signal = yield* signals.next
      if (isTermination(signal)) return yield* teardown.force(`received ${signal} during shutdown: forcing exit`)
      yield* Effect.logInfo(`received ${signal} during shutdown: ignored`)
    }
  })

  const graceful = Effect.gen(function* () {
    yield* timed("unready", Effect.sleep(config.shutdownDelay))
    yield* timed(
      "stop",
      eachListener((d) => d.beginDrain)
    )
    yield* timed(
      "drain",
      eachListener((d) => d.awaitDrained)
    )
  })

  const outcome = yield* Deferred.make<Outcome>()

  const sequence = Effect.fn("Lifecycle.shutdown")(function* (reason: string) {
    yield* Effect.logInfo(`shutting down: ${reason}`).pipe(
      Effect.annotateLogs({ budgetMillis: Duration.toMillis(config.shutdownTimeout) })
    )
    // Both watchers live in this layer's scope, which is released last: they cover the release phase too.
    yield* Effect.forkIn(watchSecondSignal, scope, { startImmediately: true })
    yield* Effect.forkIn(
      Effect.sleep(Duration.sum(config.shutdownTimeout, hardStopSlack)).pipe(
        Effect.andThen(teardown.force("shutdown budget exhausted and finalizers still running: forcing exit"))
      ),
      scope,
      { startImmediately: true }
    )
    const finished = yield* graceful.pipe(Effect.timeoutOption(config.shutdownTimeout))
    const drained = finished._tag === "Some"
    if (!drained) {
      yield* Effect.logWarning("shutdown budget exhausted: interrupting requests and closing connections")
      yield* timed(
        "force",
        eachListener((d) => d.force)
      )
    }
    drainEnded = yield* Clock.currentTimeMillis
    return { drained } satisfies Outcome
  })

  /** the first call runs the sequence; later calls wait for its outcome */
  const shutdown = (reason: string) =>
    Effect.suspend(() => {
      if (phase === "stopping") return Deferred.await(outcome)
      phase = "stopping"
      return sequence(reason).pipe(Effect.tap((result) => Deferred.succeed(outcome, result)))
    })

  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => (drainEnded === 0 ? Effect.void : phaseDone("release", drainEnded)))
  )

  return Lifecycle.of({
    isReady: () => phase === "serving",
    phase: () => phase,
    markServing: Effect.sync(() => {
      if (phase === "starting") phase = "serving"
    }),
    register: (drainable) => Effect.sync(() => void drainables.push(drainable)),
    requestShutdown: (source) => Deferred.fail(requested, new ShutdownRequested({ source })),
    awaitShutdownRequest: Deferred.await(requested),
    shutdown
  })
})

/** Lifecycle — readiness, the shutdown request, and the shutdown sequence. */
export class Lifecycle extends Context.Service<
  Lifecycle,
  {
    /** Lifecycle.isReady — true only between `markServing` and the start of `shutdown`. Synchronous: `/readyz`. */
    readonly isReady: () => boolean
    readonly phase: () => Phase
    /** Lifecycle.markServing — every member has started; readiness turns true (once; never after shutdown). */
    readonly markServing: Effect.Effect<void>
    /** Lifecycle.register — adds a listener to phases 2–3; call once the listener is bound. */
    readonly register: (drainable: Drainable) => Effect.Effect<void>
    /** Lifecycle.requestShutdown — asks the group to stop; true for the first request, false afterwards. */
    readonly requestShutdown: (source: string) => Effect.Effect<boolean>
    /** Lifecycle.awaitShutdownRequest — a member: fails with the first `ShutdownRequested`. */
    readonly awaitShutdownRequest: Effect.Effect<never, ShutdownRequested>
    /** Lifecycle.shutdown — phases 1–3 under the budget (see the module comment); later calls await the first. */
    readonly shutdown: (reason: string) => Effect.Effect<Outcome>
  }
>()("lifecycle/Lifecycle") {
  static readonly layer: Layer.Layer<Lifecycle, never, AppConfig | Signals | Teardown> = Layer.effect(Lifecycle, make)
}
