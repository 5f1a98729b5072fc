/**
 * ProcessFaults — turns the process-level faults into a member failure, so they take the graceful path.
 *
 * While the layer is alive, the first `uncaughtException` or `unhandledRejection` ends the `member` with
 * `ProcessFault` (exit code 1 after a graceful shutdown); later ones, and any fault after the group stopped, are
 * logged. Without this layer Node would crash at once, dropping every in-flight request. Released: the handlers are
 * removed and Node's defaults apply again.
 */
import { Context, Deferred, Effect, Layer } from "effect"
import { ProcessFault } from "../Errors.ts"

/** ProcessFaults — the first process-level fault, as a member of the group. */
export class ProcessFaults extends Context.Service<
  ProcessFaults,
  {
    /** ProcessFaults.run — fails with the first `ProcessFault`. */
    readonly run: Effect.Effect<never, ProcessFault>
    /** ProcessFaults.report — reports a fault as the process would (used by the handlers and by tests). */
    readonly report: (fault: ProcessFault) => Effect.Effect<void>
  }
>()("lifecycle/ProcessFaults") {
  static readonly layer = Layer.effect(
    ProcessFaults,
    Effect.gen(function* () {
      const first = yield* Deferred.make<never, ProcessFault>()
      // Once the member has been interrupted the group is over: nobody will read `first`, so log every fault
      // (otherwise an uncaughtException thrown during shutdown would vanish without a trace).
      let groupOver = false
      const report = (fault: ProcessFault) =>
        Effect.suspend(() => {
          const isFirst = Deferred.doneUnsafe(first, Effect.fail(fault))
          if (isFirst && !groupOver) return Effect.void
          return Effect.logError(
            `${isFirst ? "process fault" : "another process fault"} during shutdown: ${fault.message}`
          )
        })
      const run = Effect.runForkWith(yield* Effect.context<never>())
      const onException = (cause: unknown) => void run(report(new ProcessFault({ kind: "uncaughtException", cause })))
      const onRejection = (cause: unknown) => void run(report(new ProcessFault({ kind: "unhandledRejection", cause })))
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.on("uncaughtException", onException)
          process.on("unhandledRejection", onRejection)
        }),
        () =>
          Effect.sync(() => {
            process.off("uncaughtException", onException)
            process.off("unhandledRejection", onRejection)
          })
      )
      const member = Deferred.await(first).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            groupOver = true
          })
        )
      )
      return ProcessFaults.of({ run: member, report })
    })
  )

  /** ProcessFaults.member — fails with the first process fault. */
  static readonly member = ProcessFaults.use((faults) => faults.run)
}
