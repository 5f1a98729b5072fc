/**
 * ClusterPrimary — the cluster's primary process (`WORKERS` = N > 1): the errgroup of N worker processes that share
 * the API port through `node:cluster` (the primary accepts connections and hands them to the workers in turn).
 *
 * - **Start.** The layer forks N workers and is built once every one of them says `cluster/serving` (its API server
 *   is bound and its group runs). A worker that exits before that fails the build with `ClusterStartFailed` (exit 1;
 *   the worker's own log says why, e.g. the port in use); the others are stopped.
 * - **One exits, all exit.** `member` fails with `WorkerExited` when a worker exits while the primary is not stopping
 *   — killed, crashed, or even exited 0 on its own. Exit code 1, or 0 for a worker that exited 0.
 * - **Shutdown.** The workers take part in the primary's `Lifecycle` as one drainable: the moment the primary's
 *   shutdown begins (a signal, `POST /shutdown`, a worker's death) every live worker is asked to shut down over IPC
 *   (`cluster/shutdown`; SIGTERM if its channel is gone) and drains exactly as a single process does on SIGTERM, its
 *   shutdown delay running alongside the primary's. The drain is over when every worker has exited. The workers'
 *   budget is the primary's plus `workerSlack`, so a worker's own forcing (its budget, then its watchdog) comes first;
 *   only then does the primary SIGKILL what is left. Why IPC and not the signal itself: Ctrl-C already delivers
 *   SIGINT to every process of the group, and a forwarded second signal is, to a worker, "force now".
 * - **Exit code** (`withWorkerExits`): the worst of the primary's own and those of the workers that exited during the
 *   shutdown — 2 if any was forced (exit 2, or SIGKILLed), else 1 if any failed, else 0.
 * - **Never orphaned.** SIGHUP is passed on to every worker. When the primary exits, by whatever path (including a
 *   forced exit), any worker still running is SIGKILLed; a worker whose primary is gone is ended by Node itself.
 */
import cluster, { type Worker } from "node:cluster"
import { Context, Data, Deferred, Duration, Effect, Layer, Runtime } from "effect"
import type { Stop } from "../Group.ts"
import { AppConfig } from "../services/AppConfig.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import * as ClusterMessage from "./ClusterMessage.ts"
import * as Ipc from "./Ipc.ts"

/** ClusterPrimary.workerSlack — how much longer than the budget the primary waits for workers before SIGKILL. */
export const workerSlack = Duration.seconds(2)

/** WorkerExit — how a worker ended, and whether the primary was already stopping. */
export interface WorkerExit {
  readonly id: number
  readonly pid: number
  readonly code: number | null
  readonly signal: string | null
  readonly duringShutdown: boolean
}

const describeExit = (exit: WorkerExit) =>
  `worker ${exit.id} (pid ${exit.pid}) ${exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`}`

/** WorkerExited — a worker exited while the primary was not stopping: the group stops (exit 1; 0 for a clean exit). */
export class WorkerExited extends Data.TaggedError("WorkerExited")<{ readonly exit: WorkerExit }> {
  override get [Runtime.errorExitCode]() {
    return this.exit.code === 0 ? 0 : 1
  }
  override get message() {
    return describeExit(this.exit)
  }
}

/** ClusterStartFailed — a worker exited before it was serving: the primary does not start (exit 1). */
export class ClusterStartFailed extends Data.TaggedError("ClusterStartFailed")<{ readonly exit: WorkerExit }> {
  override get message() {
    return `${describeExit(this.exit)} before serving`
  }
}

/** ClusterPrimary.severity — a worker's exit as an exit code of the primary: 0, 1, or 2 (forced). */
export const severity = (exit: Pick<WorkerExit, "code" | "signal">): number =>
  exit.signal !== null || exit.code === 2 ? 2 : exit.code === 0 ? 0 : 1

const plural = (n: number) => `${n} worker${n === 1 ? "" : "s"}`

/** one worker as the primary sees it */
export interface Tracked {
  readonly id: number
  readonly pid: number
  readonly ipc: Ipc.Ipc
  readonly node: Worker
  readonly serving: Deferred.Deferred<void>
  readonly exited: Deferred.Deferred<WorkerExit>
  /** how it exited, once it has */
  exit: WorkerExit | undefined
}

const isRunning = (worker: Tracked) => worker.exit === undefined

const make = Effect.gen(function* () {
  const config = yield* AppConfig
  const lifecycle = yield* Lifecycle.current
  const run = Effect.runForkWith(yield* Effect.context<never>())
  const budget = Duration.sum(config.shutdownTimeout, workerSlack)
  cluster.setupPrimary({ serialization: ClusterMessage.serialization })

  const fork = (): Tracked => {
    const node = cluster.fork()
    const pid = node.process.pid ?? 0
    const worker: Tracked = {
      id: node.id,
      pid,
      ipc: Ipc.ofWorker(node),
      node,
      serving: Deferred.makeUnsafe(),
      exited: Deferred.makeUnsafe(),
      exit: undefined
    }
    node.on("message", (message: unknown) => {
      if (ClusterMessage.isToPrimary(message) && message._tag === "cluster/serving") {
        Deferred.doneUnsafe(worker.serving, Effect.void)
      }
    })
    node.once("exit", (code: number | null, signal: string | null) => {
      const exit = { id: node.id, pid, code, signal, duringShutdown: lifecycle.phase() === "stopping" }
      worker.exit = exit
      Deferred.doneUnsafe(worker.exited, Effect.succeed(exit))
      run(
        (severity(exit) === 0 ? Effect.logInfo(describeExit(exit)) : Effect.logWarning(describeExit(exit))).pipe(
          Effect.annotateLogs({ worker: exit.id, pid, code, signal })
        )
      )
    })
    return worker
  }

  const kill = (signal: NodeJS.Signals) => (worker: Tracked) => {
    if (isRunning(worker)) worker.node.process.kill(signal)
  }

  const workers = yield* Effect.acquireRelease(
    Effect.sync(() => Array.from({ length: config.workers }, fork)),
    // Normally every worker has exited by now (the drain waited for them). If not — start-up failed, or the scope
    // closed without a shutdown — SIGTERM, wait the budget, then SIGKILL.
    (all) => {
      const running = all.filter(isRunning)
      if (running.length === 0) return Effect.void
      const awaitAll = Effect.forEach(running, (worker) => Deferred.await(worker.exited), { discard: true })
      return Effect.sync(() => running.forEach(kill("SIGTERM"))).pipe(
        Effect.andThen(Effect.timeoutOption(awaitAll, budget)),
        Effect.andThen(Effect.sync(() => running.forEach(kill("SIGKILL")))),
        Effect.andThen(Effect.timeoutOption(awaitAll, Duration.seconds(1)))
      )
    }
  )

  // never orphaned: on any exit of the primary, and SIGHUP passed on
  const onExit = () => workers.forEach(kill("SIGKILL"))
  const onHangup = () => workers.forEach(kill("SIGHUP"))
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      process.on("exit", onExit)
      process.on("SIGHUP", onHangup)
    }),
    () =>
      Effect.sync(() => {
        process.off("exit", onExit)
        process.off("SIGHUP", onHangup)
      })
  )

  const anyExit = Effect.raceAll(workers.map((worker) => Deferred.await(worker.exited)))
  yield* Effect.logInfo(`starting ${plural(workers.length)}`).pipe(
    Effect.annotateLogs({ workers: workers.map((w) => `${w.id}:${w.pid}`).join(",") })
  )
  yield* Effect.raceFirst(
    Effect.forEach(workers, (worker) => Deferred.await(worker.serving), { discard: true }),
    Effect.flatMap(anyExit, (exit) => Effect.fail(new ClusterStartFailed({ exit })))
  )

  // the moment the primary's shutdown begins, every worker is asked to begin its own
  yield* Effect.forkScoped(
    Effect.flatMap(lifecycle.stopping, ({ reason }) =>
      Effect.sync(() => {
        for (const worker of workers.filter(isRunning)) {
          const asked = worker.ipc.send({ _tag: "cluster/shutdown", reason } satisfies ClusterMessage.ToWorker)
          if (!asked) kill("SIGTERM")(worker)
        }
      }).pipe(Effect.andThen(Effect.logInfo(`asked ${plural(workers.filter(isRunning).length)} to shut down`)))
    ),
    { startImmediately: true }
  )
  const awaitExits = Effect.forEach(workers, (worker) => Deferred.await(worker.exited))
  yield* lifecycle.register({
    name: "workers",
    shutdownDelay: Duration.zero,
    budget,
    beginDrain: Effect.void,
    awaitDrained: Effect.asVoid(awaitExits),
    force: Effect.sync(() => workers.forEach(kill("SIGKILL"))).pipe(
      Effect.andThen(Effect.timeoutOption(awaitExits, Duration.seconds(1)))
    )
  })
  yield* Effect.logInfo(`${plural(workers.length)} serving`)

  return ClusterPrimary.of({
    workers: () => workers,
    run: Effect.flatMap(anyExit, (exit) => Effect.fail(new WorkerExited({ exit }))),
    exitCode: (own) =>
      workers.reduce((worst, { exit }) => {
        const code = exit?.duringShutdown === true ? severity(exit) : 0
        return worst === 2 || code === 2 ? 2 : Math.max(worst, code)
      }, own)
  })
})

/** ClusterPrimary — the workers of this primary; `member` is their part in the primary's group. */
export class ClusterPrimary extends Context.Service<
  ClusterPrimary,
  {
    /** ClusterPrimary.workers — every worker forked, running or exited, in order of their ids. */
    readonly workers: () => ReadonlyArray<Tracked>
    /** ClusterPrimary.run — fails with `WorkerExited` when the first worker exits (see the module comment). */
    readonly run: Effect.Effect<never, WorkerExited>
    /** ClusterPrimary.exitCode — `own` combined with the exits of the workers during the shutdown. */
    readonly exitCode: (own: number) => number
  }
>()("lifecycle/ClusterPrimary") {
  /** ClusterPrimary.layer — forks `WORKERS` workers; built once they all serve (see the module comment). */
  static readonly layer: Layer.Layer<ClusterPrimary, ClusterStartFailed, AppConfig> = Layer.effect(ClusterPrimary, make)

  /** ClusterPrimary.member — ends the group when a worker exits while the primary is not stopping. */
  static readonly member: Effect.Effect<never, WorkerExited, ClusterPrimary> = ClusterPrimary.use(
    (primary) => primary.run
  )

  /** ClusterPrimary.withWorkerExits — the primary's group, its exit code combined with the workers' (`exitCode`). */
  static readonly withWorkerExits = <E, R>(group: Effect.Effect<Stop, E, R>) =>
    ClusterPrimary.use((primary) =>
      Effect.map(group, (stop): Stop => ({ ...stop, exitCode: primary.exitCode(stop.exitCode) }))
    )
}
