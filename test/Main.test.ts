/**
 * Main and the process boundary — `toExitCode` turns every way the program ends into one exit code and at most one
 * error line; a full start/stop with the live process layers leaves no listener and no fiber behind (goleak's
 * idea); `ProcessFaults` turns a process-level fault into the member failure `ProcessFault`.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Fiber, Latch, Layer, Logger, type LogLevel } from "effect"
import { TestClock } from "effect/testing"
import { ProcessFault } from "../src/Errors.ts"
import * as Group from "../src/Group.ts"
import { ProcessFaults } from "../src/layers/ProcessFaults.ts"
import { Signals } from "../src/layers/Signals.ts"
import * as Main from "../src/Main.ts"
import { AppConfig } from "../src/services/AppConfig.ts"
import { Lifecycle } from "../src/services/Lifecycle.ts"
import { Teardown } from "../src/services/Teardown.ts"
import { listenerCounts, trackFibers, withTracker } from "./support/leaks.ts"
import { fakeServer, lifecycleTest } from "./support/lifecycle.ts"

/** Every log line, with its level. */
const captureLogs = () => {
  const lines: Array<{ readonly level: LogLevel.LogLevel; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel, message: Array.isArray(message) ? message.join(" ") : String(message) })
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** The program's layers as in `program.ts`, without the HTTP servers: live signals and process faults. */
const live = (appConfig: Layer.Layer<AppConfig, unknown>) =>
  ProcessFaults.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(Signals.layer, appConfig)),
    Layer.provideMerge(Layer.merge(Teardown.layerTest, Lifecycle.layerTest))
  )

describe("Main.toExitCode", () => {
  it.effect("an invalid variable before start-up: exit 1 and exactly one error line naming it", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const code = yield* Group.run({ signals: Signals.member }).pipe(
        Effect.provide(live(AppConfig.layer)),
        Main.toExitCode,
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { PORT: "abc" } }))),
        Effect.provide(logs.layer)
      )
      expect(code).toBe(1)
      const errors = logs.lines.filter((line) => line.level === "Error")
      expect(errors).toHaveLength(1)
      expect(errors[0]?.message).toMatch(/^invalid configuration: PORT="abc": /)
    })
  )

  it.effect("the group's Stop decides the code, with no error line", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const code = yield* Main.toExitCode(Effect.succeed({ reason: "forced", exitCode: 2 } as const)).pipe(
        Effect.provide(logs.layer)
      )
      expect(code).toBe(2)
      expect(logs.lines.filter((line) => line.level === "Error")).toEqual([])
    })
  )

  it.effect("a defect outside the group: exit 1 and one 'start-up failed' line", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const code = yield* Main.toExitCode(Effect.die(new Error("no socket"))).pipe(Effect.provide(logs.layer))
      expect(code).toBe(1)
      const errors = logs.lines.filter((line) => line.level === "Error")
      expect(errors.map((line) => line.message.split("\n")[0])).toEqual(["start-up failed: Error: no socket"])
    })
  )
})

describe("a full start and stop", () => {
  it.effect("leaves no process listener and no fiber behind", () =>
    Effect.gen(function* () {
      const before = listenerCounts()
      const tracker = trackFibers()
      const started = yield* Latch.make(false)
      const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
      const worker = Effect.gen(function* () {
        tracker.watch(yield* Effect.forkChild(Effect.never), "worker's child")
        yield* Latch.open(started)
        return yield* Effect.never
      })
      const program = Effect.gen(function* () {
        const group = yield* Effect.forkChild(
          Group.run({ signals: Signals.member, faults: ProcessFaults.member, worker })
        )
        tracker.watch(group, "group")
        yield* Latch.await(started)
        const during = listenerCounts()
        expect(during).toEqual({
          SIGINT: before.SIGINT + 1,
          SIGTERM: before.SIGTERM + 1,
          SIGHUP: before.SIGHUP + 1,
          uncaughtException: before.uncaughtException + 1,
          unhandledRejection: before.unhandledRejection + 1
        })
        expect(tracker.running().toSorted()).toEqual(
          ["group", "member faults", "member signals", "member worker", "worker's child"].toSorted()
        )
        yield* (yield* Signals).emit("SIGTERM")
        return yield* Fiber.join(group)
      }).pipe(Effect.provide(live(AppConfig.layerTest({ shutdownTimeout: Duration.seconds(10) }))))

      const code = yield* program.pipe(Main.toExitCode, withTracker(tracker), Effect.provide(Logger.layer([])))
      expect(code).toBe(0)
      expect(listenerCounts()).toEqual(before)
      expect(tracker.registry.snapshot()).toEqual([])
      expect(tracker.running()).toEqual([])
      // Nothing left behind acts later.
      yield* TestClock.adjust("1 hour")
      expect(forced.pollUnsafe()).toBeUndefined()
    }).pipe(Effect.provide(Teardown.layerTest))
  )
})

describe("Main.watchdog", () => {
  it.effect("forces exit 2 when a shutdown is still running one second after its budget", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
      yield* Effect.forkChild(Main.watchdog, { startImmediately: true })
      yield* TestClock.adjust("1 hour")
      expect(forced.pollUnsafe(), "nothing happens before a shutdown begins").toBeUndefined()
      yield* lifecycle.register(fakeServer([], "api", { drained: Effect.never, budget: "10 seconds" }))
      yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("10999 millis")
      expect(forced.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(forced.pollUnsafe()).toStrictEqual(
        Exit.succeed("shutdown budget exhausted and finalizers still running: forcing exit")
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Teardown.layerTest, lifecycleTest())))
  )
})

describe("ProcessFaults", () => {
  const listeners = () => [process.listeners("uncaughtException"), process.listeners("unhandledRejection")] as const

  it.effect("adds one listener per fault event while built; removes them on release", () =>
    Effect.gen(function* () {
      const before = listeners()
      const during = yield* Effect.sync(listeners).pipe(Effect.provide(ProcessFaults.layer))
      expect(during.map((l) => l.length)).toEqual(before.map((l) => l.length + 1))
      expect(listeners()).toEqual(before)
    })
  )

  it.effect("report ends the member with the first ProcessFault; later faults are only logged", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const first = new ProcessFault({ kind: "unhandledRejection", cause: new Error("db gone") })
      const exit = yield* Effect.gen(function* () {
        const faults = yield* ProcessFaults
        const member = yield* Effect.forkChild(ProcessFaults.member, { startImmediately: true })
        expect(member.pollUnsafe()).toBeUndefined()
        yield* faults.report(first)
        yield* faults.report(new ProcessFault({ kind: "uncaughtException", cause: "late" }))
        return yield* Fiber.await(member)
      }).pipe(Effect.provide(Layer.merge(ProcessFaults.layer, logs.layer)))
      expect(exit).toStrictEqual(Exit.fail(first))
      expect(logs.lines).toEqual([
        { level: "Error", message: "another process fault during shutdown: uncaughtException: late" }
      ])
    })
  )

  it.effect("a fault after the group stopped is logged, not swallowed", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        const member = yield* Effect.forkChild(ProcessFaults.member, { startImmediately: true })
        yield* Fiber.interrupt(member)
        yield* (yield* ProcessFaults).report(new ProcessFault({ kind: "uncaughtException", cause: "in a finalizer" }))
      }).pipe(Effect.provide(Layer.merge(ProcessFaults.layer, logs.layer)))
      expect(logs.lines).toEqual([
        { level: "Error", message: "process fault during shutdown: uncaughtException: in a finalizer" }
      ])
    })
  )

  it.effect("the registered uncaughtException handler reports a ProcessFault", () =>
    Effect.gen(function* () {
      const [before] = listeners()
      const crash = new Error("boom")
      const exit = yield* Effect.gen(function* () {
        // Call the layer's own handler: emitting the event would also reach the test runner's handler.
        const ours = process.listeners("uncaughtException").filter((l) => !before?.includes(l))
        expect(ours).toHaveLength(1)
        const member = yield* Effect.forkChild(ProcessFaults.member, { startImmediately: true })
        ours[0]?.(crash, "uncaughtException")
        return yield* Fiber.await(member)
      }).pipe(Effect.provide(ProcessFaults.layer))
      expect(exit).toStrictEqual(Exit.fail(new ProcessFault({ kind: "uncaughtException", cause: crash })))
    })
  )
})
