/**
 * ClusterWorker over an in-memory channel (`Ipc.pair`): the worker says it serves, answers the primary's queries
 * with its own metric snapshot and readiness, and on the primary's shutdown turns unready and ends its member with
 * `ShutdownRequested` (exit code 0).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Runtime } from "effect"
import type * as ClusterMessage from "../../src/cluster/ClusterMessage.ts"
import { ClusterWorker } from "../../src/cluster/ClusterWorker.ts"
import * as Ipc from "../../src/cluster/Ipc.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { fakeServer } from "../support/lifecycle.ts"

/** the primary's end: the worker's messages, each awaited in turn */
const primaryEnd = (ipc: Ipc.Ipc) =>
  Effect.gen(function* () {
    const received: Array<ClusterMessage.ToPrimary> = []
    let waiting: Deferred.Deferred<void> | undefined
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        ipc.listen((message) => {
          received.push(message as ClusterMessage.ToPrimary)
          if (waiting !== undefined) Deferred.doneUnsafe(waiting, Effect.void)
        })
      ),
      (remove) => Effect.sync(remove)
    )
    const next = Effect.suspend(() => {
      const first = received.shift()
      if (first !== undefined) return Effect.succeed(first)
      const arrived = Deferred.makeUnsafe<void>()
      waiting = arrived
      return Effect.andThen(
        Deferred.await(arrived),
        Effect.sync(() => received.shift() as ClusterMessage.ToPrimary)
      )
    })
    return { send: (message: ClusterMessage.ToWorker) => Effect.sync(() => ipc.send(message)), next }
  })

const served = Metric.counter("cluster_worker_test_total")

describe("ClusterWorker", () => {
  it.effect("serving, then the answers to the primary's queries, then its shutdown", () =>
    Effect.gen(function* () {
      const [primarySide, workerSide] = Ipc.pair()
      const primary = yield* primaryEnd(primarySide)
      const lifecycle = yield* Lifecycle.current
      yield* lifecycle.register(fakeServer([], "api")) // this worker's lifecycle is serving
      const context = yield* Layer.build(ClusterWorker.layerWith(workerSide))
      const member = yield* Effect.forkChild(ClusterWorker.member.pipe(Effect.provideContext(context)))
      expect(yield* primary.next).toEqual({ _tag: "cluster/serving" })

      yield* Metric.update(served, 3)
      yield* primary.send({ _tag: "cluster/query", id: 7, what: "metrics" })
      const metrics = yield* primary.next
      expect(metrics._tag === "cluster/answer" && metrics.id).toBe(7)
      const snapshots =
        metrics._tag === "cluster/answer" ? (metrics.value as ReadonlyArray<Metric.Metric.Snapshot>) : []
      expect(snapshots.find((s) => s.id === "cluster_worker_test_total")?.state).toMatchObject({ count: 3 })

      yield* primary.send({ _tag: "cluster/query", id: 8, what: "readiness" })
      const readiness = yield* primary.next
      expect(readiness).toEqual({ _tag: "cluster/answer", id: 8, value: { ready: true, checks: [] } })

      yield* primary.send({ _tag: "cluster/shutdown", reason: "received SIGTERM" })
      const exit = yield* Fiber.await(member)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      const value = error?._tag === "Fail" ? error.error : undefined
      expect(value?._tag).toBe("ShutdownRequested")
      expect(value?.message).toBe("shutdown requested by the primary (received SIGTERM)")
      expect(value === undefined ? undefined : Runtime.getErrorExitCode(value)).toBe(0)
      // readiness was turned off at once, before the group's shutdown even began
      expect(lifecycle.phase()).toBe("serving")
      expect(yield* lifecycle.readiness).toEqual({ ready: false, reason: "turned off", checks: [] })
    }).pipe(Effect.provide(Lifecycle.layerTest))
  )

  it.effect("ignores messages that are not its protocol's", () =>
    Effect.gen(function* () {
      const [primarySide, workerSide] = Ipc.pair()
      const primary = yield* primaryEnd(primarySide)
      const context = yield* Layer.build(ClusterWorker.layerWith(workerSide))
      const member = yield* Effect.forkChild(ClusterWorker.member.pipe(Effect.provideContext(context)))
      expect(yield* primary.next).toEqual({ _tag: "cluster/serving" })
      primarySide.send({ cmd: "NODE_CLUSTER", act: "something" })
      primarySide.send("hello")
      yield* primary.send({ _tag: "cluster/query", id: 1, what: "readiness" })
      expect(yield* primary.next).toMatchObject({ _tag: "cluster/answer", id: 1 })
      expect(member.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(member)
    }).pipe(Effect.provide(Lifecycle.layerTest))
  )
})
