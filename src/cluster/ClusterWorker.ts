/**
 * ClusterWorker — a worker's side of the cluster (`WORKERS` > 1): it serves the API like the single process does,
 * and over the IPC channel it
 * 1. says `cluster/serving` once its group runs (every server bound): the primary counts it as started;
 * 2. answers the primary's queries — its metric snapshot (`Metric.snapshot`) and its readiness report (the current
 *    `Lifecycle`'s, checks included) — for the primary's `/metrics` and `/readyz`;
 * 3. on `cluster/shutdown` turns its readiness off at once (before anything else is scheduled: this is the hop that
 *    stands between the kubelet's SIGTERM to the primary and the worker's `/readyz`) and ends its `member` with
 *    `ShutdownRequested` (exit code 0), so it drains exactly as on a SIGTERM: readiness off, the shutdown delay, stop
 *    accepting, drain, under the same budget.
 * A worker whose primary disappears (the channel closes) is ended by Node's cluster module at once (exit 0, no
 * drain): a primary that vanished was killed, and the orchestrator is already replacing the pod.
 */
import { Context, Deferred, Effect, Layer, Metric } from "effect"
import { ShutdownRequested } from "../Errors.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import * as ClusterMessage from "./ClusterMessage.ts"
import * as Ipc from "./Ipc.ts"

/** the answer to one query, computed in this process */
const answer = (what: ClusterMessage.Query): Effect.Effect<ClusterMessage.Answers[ClusterMessage.Query]> =>
  what === "metrics" ? Metric.snapshot : Effect.flatMap(Lifecycle.current, (lifecycle) => lifecycle.readiness)

const make = (ipc: Ipc.Ipc) =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle.current
    const shutdown = yield* Deferred.make<never, ShutdownRequested>()
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const onMessage = (message: unknown) => {
      if (!ClusterMessage.isToWorker(message)) return
      if (message._tag === "cluster/shutdown") {
        const request = new ShutdownRequested({ source: `the primary (${message.reason})` })
        run(lifecycle.setReady(false).pipe(Effect.andThen(Deferred.fail(shutdown, request))))
        return
      }
      const { id, what } = message
      run(
        Effect.flatMap(answer(what), (value) =>
          Effect.sync(() => ipc.send({ _tag: "cluster/answer", id, value } satisfies ClusterMessage.ToPrimary))
        )
      )
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => ipc.listen(onMessage)),
      (remove) => Effect.sync(remove)
    )
    return ClusterWorker.of({
      run: Effect.sync(() => ipc.send({ _tag: "cluster/serving" } satisfies ClusterMessage.ToPrimary)).pipe(
        Effect.andThen(Deferred.await(shutdown))
      )
    })
  })

/** ClusterWorker — this process as a worker of the cluster; `member` is its part in the worker's group. */
export class ClusterWorker extends Context.Service<
  ClusterWorker,
  {
    /** ClusterWorker.run — announces `cluster/serving`, then fails with the primary's `ShutdownRequested`. */
    readonly run: Effect.Effect<never, ShutdownRequested>
  }
>()("lifecycle/ClusterWorker") {
  /** ClusterWorker.layerWith — the worker's side over `ipc` (tests pass one end of `Ipc.pair`). */
  static readonly layerWith = (ipc: Ipc.Ipc): Layer.Layer<ClusterWorker> => Layer.effect(ClusterWorker, make(ipc))

  /** ClusterWorker.layer — over this process's channel to the primary; dies if the process has none. */
  static readonly layer: Layer.Layer<ClusterWorker> = Layer.unwrap(
    Effect.sync(() => {
      const ipc = Ipc.ofProcess()
      if (ipc === undefined) throw new Error("ClusterWorker.layer: this process has no IPC channel to a primary")
      return ClusterWorker.layerWith(ipc)
    })
  )

  /** ClusterWorker.member — serves until the primary asks this worker to shut down. */
  static readonly member: Effect.Effect<never, ShutdownRequested, ClusterWorker> = ClusterWorker.use(
    (worker) => worker.run
  )
}
