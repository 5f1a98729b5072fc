/**
 * Lifecycle — readiness and the one graceful shutdown of a process, shared by every graceful HTTP server in it.
 *
 * Servers register once they are bound (`GracefulHttpServer` does it) and leave when their scope is released. The
 * first `shutdown` — a server's scope closing, or the group ending — starts the process's shutdown, which covers
 * every registered server under one budget (the largest `budget` of them, counted from that first call):
 * 1. unready   — `isReady()` turns false at once (`/readyz` answers 503); the `beforeDrain` hooks run, in declared
 *                order; then the shutdown delay (the largest of the servers') passes while every server still accepts
 *                and serves, so load balancers can take the instance out;
 * 2. stop      — every server stops accepting: new connections are refused;
 * 3. drain     — in-flight requests finish and connections close (see `ConnectionTracker`); over when the last
 *                connection of the last server is gone; then the `afterDrain` hooks run, in declared order;
 * 4. release   — the servers' scopes finish closing; logged when the last server has left.
 * Two servers drain together and never wait for two delays, whichever scope closes first and in whatever order.
 * When the budget runs out during 1–3, every server is forced (requests still running are interrupted and answered
 * 503, sockets destroyed) and the outcome is `drained: false`. Every phase and hook is logged with its duration and
 * recorded in `shutdown_phase_seconds`.
 *
 * The lifecycle in use is the one provided as `Lifecycle` (`Lifecycle.layer`: a fresh one, e.g. per test) or else the
 * process's own (`Lifecycle.current`). Once every server of a finished shutdown has left, the lifecycle is back to
 * `idle` and serves the next start (in-process restarts, tests).
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, type Scope, type Tracer } from "effect"
import { ShutdownRequested } from "../Errors.ts"
import * as Readiness from "./Readiness.ts"
import * as ShutdownSequence from "./ShutdownSequence.ts"

/** Lifecycle.Phase — `serving` once a server is registered; `stopping` from the first `shutdown` until all left. */
export type Phase = "idle" | "serving" | "stopping"

/** Lifecycle.Drainable — a server's part in the shutdown (registered by `GracefulHttpServer` once bound). */
export type Drainable = ShutdownSequence.Drainable

/** Lifecycle.Outcome — how a shutdown ended: `drained` is false when the budget ran out and servers were forced. */
export type Outcome = ShutdownSequence.Outcome

/** Lifecycle.Stopping — a shutdown that has begun: why, and the budget it runs under. */
export interface Stopping {
  readonly reason: string
  readonly budget: Duration.Duration
}

/** a shutdown under way: its outcome once known, when the drain ended (epoch nanos), its span (release's parent) */
interface Episode {
  readonly outcome: Deferred.Deferred<Outcome>
  drainEnded: bigint | undefined
  span?: Tracer.Span
}

/** the budget when no server is registered (NodeHttpServer's default `gracefulShutdownTimeout`) */
const defaultBudget = Duration.seconds(20)

/** Lifecycle.make — a lifecycle of its own, idle. */
export const make = (): Lifecycle["Service"] => {
  const servers = new Set<Drainable>()
  const readiness = Readiness.make()
  const hooks: ShutdownSequence.Hooks = { beforeDrain: [], afterDrain: [] }
  /** hooks whose layer was released while servers were there: removed when their shutdown is over */
  const retired: Array<readonly [ShutdownSequence.HookTime, ShutdownSequence.Hook]> = []
  let episode: Episode | undefined
  let started = Deferred.makeUnsafe<Stopping>()
  let requested = Deferred.makeUnsafe<never, ShutdownRequested>()
  let last: Outcome | undefined

  const phase = (): Phase => (episode !== undefined ? "stopping" : servers.size > 0 ? "serving" : "idle")

  /** a finished shutdown whose servers have all left: log the release, back to idle for the next start */
  const reset = (drainEnded: bigint) =>
    Effect.suspend(() => {
      const span = episode?.span
      episode = undefined
      for (const [when, hook] of retired.splice(0)) hooks[when].splice(hooks[when].indexOf(hook), 1)
      started = Deferred.makeUnsafe()
      requested = Deferred.makeUnsafe()
      readiness.reset()
      return Effect.flatMap(Clock.currentTimeNanos, (now) => ShutdownSequence.released(now - drainEnded, span))
    })

  const leave = (server: Drainable) =>
    Effect.suspend(() => {
      servers.delete(server)
      const ended = episode?.drainEnded
      return servers.size > 0 || ended === undefined ? Effect.void : reset(ended)
    })

  const begin = (reason: string) =>
    Effect.suspend(() => {
      if (episode !== undefined) return Effect.succeed(episode.outcome)
      const members = [...servers]
      const budget = members.reduce(
        (max, s) => Duration.max(max, s.budget),
        members.length > 0 ? Duration.zero : defaultBudget
      )
      const shutdownDelay = members.reduce((max, s) => Duration.max(max, s.shutdownDelay), Duration.zero)
      const current: Episode = { outcome: Deferred.makeUnsafe<Outcome>(), drainEnded: undefined }
      episode = current
      Deferred.doneUnsafe(started, Effect.succeed({ reason, budget }))
      const onSpan = (span: Tracer.Span) => {
        current.span = span
      }
      const run = ShutdownSequence.run({ reason, budget, shutdownDelay, servers: members, hooks, onSpan }).pipe(
        Effect.flatMap((outcome) =>
          Effect.flatMap(Clock.currentTimeNanos, (now) => {
            last = outcome
            current.drainEnded = now
            // servers still registered leave as their scopes close (`leave`); with none, the shutdown is over now
            const over = servers.size === 0 ? reset(now) : Effect.void
            return Effect.andThen(Deferred.succeed(current.outcome, outcome), over)
          })
        )
      )
      // Detached: whoever called first may be interrupted (a server's finalizer), the shutdown goes on.
      return Effect.as(Effect.forkDetach(run, { startImmediately: true }), current.outcome)
    })

  return {
    phase,
    isReady: () => phase() === "serving" && readiness.enabled(),
    readiness: Effect.suspend(() => {
      const now = phase()
      return now === "serving" ? readiness.check : Effect.succeed(Readiness.notReady(now))
    }),
    setReady: (ready) => Effect.sync(() => readiness.setEnabled(ready)),
    addCheck: readiness.add,
    addHook: (when, hook) =>
      Effect.acquireRelease(
        Effect.sync(() => hooks[when].push(hook)),
        // Released with the app, in parallel with the servers whose release starts the shutdown: a hook leaves only
        // once that shutdown is over (or at once, when no server is there to shut down).
        () =>
          Effect.sync(() => {
            if (phase() === "idle") hooks[when].splice(hooks[when].indexOf(hook), 1)
            else retired.push([when, hook])
          })
      ).pipe(Effect.asVoid),
    register: (server) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          servers.add(server)
          // a server bound while the process stops never accepts for long
          if (episode !== undefined) Effect.runFork(server.beginDrain)
        }),
        () => leave(server)
      ).pipe(Effect.asVoid),
    shutdown: (reason) => Effect.flatMap(begin(reason), Deferred.await),
    stopping: Effect.suspend(() => Deferred.await(started)),
    lastOutcome: () => Option.fromNullishOr(last),
    requestShutdown: (source) => Effect.suspend(() => Deferred.fail(requested, new ShutdownRequested({ source }))),
    awaitShutdownRequest: Effect.suspend(() => Deferred.await(requested))
  }
}

let processLifecycle: Lifecycle["Service"] | undefined

/** Lifecycle — readiness, checks, hooks and the shutdown of the servers registered with it. */
export class Lifecycle extends Context.Service<
  Lifecycle,
  {
    readonly phase: () => Phase
    /** Lifecycle.isReady — serving and not turned off with `setReady(false)` (checks not run). Synchronous. */
    readonly isReady: () => boolean
    /** Lifecycle.readiness — `isReady` and every readiness check passing within its timeout (checks run now). */
    readonly readiness: Effect.Effect<Readiness.Report>
    /** Lifecycle.setReady — turns readiness off (or back on) from code; a shutdown turns it off regardless. */
    readonly setReady: (ready: boolean) => Effect.Effect<void>
    /** Lifecycle.addCheck — a readiness check while the scope lives (see `Lifecycle.readinessCheck`). */
    readonly addCheck: (check: Readiness.Check) => Effect.Effect<void, never, Scope.Scope>
    /** Lifecycle.addHook — a shutdown hook while the scope lives, run after those added before it. */
    readonly addHook: (
      when: ShutdownSequence.HookTime,
      hook: ShutdownSequence.Hook
    ) => Effect.Effect<void, never, Scope.Scope>
    /** Lifecycle.register — a bound server takes part in the shutdown until the scope closes. */
    readonly register: (server: Drainable) => Effect.Effect<void, never, Scope.Scope>
    /**
     * Lifecycle.shutdown — the first call starts the shutdown of every registered server (see the module comment);
     * every call waits for its outcome. Interrupting a caller does not stop the shutdown.
     */
    readonly shutdown: (reason: string) => Effect.Effect<Outcome>
    /** Lifecycle.stopping — waits for the next shutdown to begin (or returns the current one). */
    readonly stopping: Effect.Effect<Stopping>
    /** Lifecycle.lastOutcome — the outcome of the last finished shutdown, if any. */
    readonly lastOutcome: () => Option.Option<Outcome>
    /** Lifecycle.requestShutdown — asks the group to stop (`POST /shutdown`); true for the first request only. */
    readonly requestShutdown: (source: string) => Effect.Effect<boolean>
    /** Lifecycle.awaitShutdownRequest — fails with the first `ShutdownRequested` of this start. */
    readonly awaitShutdownRequest: Effect.Effect<never, ShutdownRequested>
  }
>()("lifecycle/Lifecycle") {
  /** Lifecycle.layer — a lifecycle of its own for what it is provided to (servers, checks, hooks, the group). */
  static readonly layer: Layer.Layer<Lifecycle> = Layer.sync(Lifecycle, make)
  /** Lifecycle.layerTest — the same: a fresh lifecycle, so that a test's servers shut down only with each other. */
  static readonly layerTest: Layer.Layer<Lifecycle> = Layer.sync(Lifecycle, make)

  /** Lifecycle.process — the process's own lifecycle, used where none is provided. */
  static readonly process = (): Lifecycle["Service"] => (processLifecycle ??= make())

  /** Lifecycle.current — the provided lifecycle, or the process's own. Needs nothing. */
  static readonly current: Effect.Effect<Lifecycle["Service"]> = Effect.map(
    Effect.serviceOption(Lifecycle),
    (option) => (Option.isSome(option) ? option.value : Lifecycle.process())
  )

  /**
   * Lifecycle.readinessCheck — `/readyz` answers 503 naming `name` while `check` fails or takes longer than
   * `timeout` (default 1 s). Checks run concurrently on each readiness request, only while serving.
   */
  static readonly readinessCheck = <E, R>(
    name: string,
    check: Effect.Effect<unknown, E, R>,
    options?: { readonly timeout?: Duration.Input | undefined }
  ): Layer.Layer<never, never, R> =>
    Layer.effectDiscard(
      Effect.gen(function* () {
        const lifecycle = yield* Lifecycle.current
        const context = yield* Effect.context<R>()
        const timeout = Duration.fromInputUnsafe(options?.timeout ?? Duration.seconds(1))
        yield* lifecycle.addCheck({ name, timeout, run: Effect.provide(check, context) })
      })
    )

  /** Lifecycle.beforeDrain — runs `hook` when a shutdown begins, after readiness turned off (see the module comment). */
  static readonly beforeDrain = <E, R>(name: string, hook: Effect.Effect<unknown, E, R>) =>
    Lifecycle.hook("beforeDrain", name, hook)

  /** Lifecycle.afterDrain — runs `hook` once every server has drained, before the servers' scopes finish closing. */
  static readonly afterDrain = <E, R>(name: string, hook: Effect.Effect<unknown, E, R>) =>
    Lifecycle.hook("afterDrain", name, hook)

  private static hook<E, R>(
    when: ShutdownSequence.HookTime,
    name: string,
    hook: Effect.Effect<unknown, E, R>
  ): Layer.Layer<never, never, R> {
    return Layer.effectDiscard(
      Effect.gen(function* () {
        const lifecycle = yield* Lifecycle.current
        const context = yield* Effect.context<R>()
        yield* lifecycle.addHook(when, { name, run: Effect.provide(hook, context) })
      })
    )
  }

  /** Lifecycle.setReady — turns the current lifecycle's readiness off (or back on). */
  static readonly setReady = (ready: boolean): Effect.Effect<void> =>
    Effect.flatMap(Lifecycle.current, (lifecycle) => lifecycle.setReady(ready))
}
