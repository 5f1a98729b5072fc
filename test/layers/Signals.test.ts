/**
 * Signals — the live layer owns exactly one process handler per signal while it is built; the test layer owns none
 * and delivers what `emit` pushes, in order; `Signals.member` turns SIGINT/SIGTERM into `SignalReceived` and lets
 * SIGHUP pass; a termination signal once the service is stopping (a second one, or the first after another stop
 * reason) ends the process through `Teardown.force`.
 */
import { isMainThread } from "node:worker_threads"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import * as EarlySignals from "../../src/EarlySignals.ts"
import { SignalReceived } from "../../src/Errors.ts"
import * as Signals_ from "../../src/layers/Signals.ts"
import { type SignalName, Signals } from "../../src/layers/Signals.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { Teardown } from "../../src/services/Teardown.ts"
import { fakeServer } from "../support/lifecycle.ts"

/** Signals' own dependencies, kept visible so a test can watch `Teardown.forced` and drive the `Lifecycle`. */
const deps = Layer.merge(Teardown.layerTest, Lifecycle.layerTest)
const live = Signals.layer.pipe(Layer.provide(deps))
const test = Signals.layerTest.pipe(Layer.provideMerge(deps))

const signalNames: ReadonlyArray<SignalName> = ["SIGINT", "SIGTERM", "SIGHUP"]
const counts = () => signalNames.map((name) => process.listenerCount(name))

/** A logger that completes `seen` with the first message containing `needle`, and keeps every line. */
const watchLogs = (needle: string) =>
  Effect.gen(function* () {
    const seen = yield* Deferred.make<string>()
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => {
      const line = Array.isArray(message) ? message.join(" ") : String(message)
      lines.push(line)
      if (line.includes(needle)) Deferred.doneUnsafe(seen, Exit.succeed(line))
    })
    return { seen: Deferred.await(seen), lines, layer: Logger.layer([logger]) }
  })

describe("Signals.layer", () => {
  it.effect("adds exactly one listener per signal while built and removes them on release", () =>
    Effect.gen(function* () {
      const before = counts()
      const during = yield* Effect.sync(counts).pipe(Effect.provide(live))
      expect(during).toEqual(before.map((n) => n + 1))
      expect(counts()).toEqual(before)
    })
  )

  it.effect("removes its listeners when a launched layer is interrupted", () =>
    Effect.gen(function* () {
      const before = counts()
      const launched = yield* Effect.forkChild(Layer.launch(live), { startImmediately: true })
      expect(counts()).toEqual(before.map((n) => n + 1))
      yield* Fiber.interrupt(launched)
      expect(counts()).toEqual(before)
    })
  )

  // A real signal: SIGHUP is safe to send because the layer's handler replaces Node's default action (exit).
  // Under a worker-thread pool `process.kill` would hit the whole runner, so the test runs only in a forked process.
  it.live.skipIf(!isMainThread)("receives a real SIGHUP sent to this process", () =>
    Effect.gen(function* () {
      const signals = yield* Signals
      process.kill(process.pid, "SIGHUP")
      expect(yield* signals.next.pipe(Effect.timeout("5 seconds"))).toBe("SIGHUP")
    }).pipe(Effect.provide(live))
  )
})

describe("Signals.layer after EarlySignals.install", () => {
  // `process.emit` runs the listeners as a real signal would, without sending one to the test runner.
  it.effect("delivers what arrived before it was built, in arrival order, and removes the early listeners", () =>
    Effect.gen(function* () {
      const before = counts()
      EarlySignals.install()
      EarlySignals.install() // idempotent
      expect(counts()).toEqual(before.map((n) => n + 1))
      process.emit("SIGHUP")
      process.emit("SIGTERM")
      process.emit("SIGINT")
      const received = yield* Effect.gen(function* () {
        expect(counts(), "only the layer's own listeners").toEqual(before.map((n) => n + 1))
        const signals = yield* Signals
        const forced = yield* Teardown.use((t) => t.forced.pipe(Effect.forkChild({ startImmediately: true })))
        const received = [yield* signals.next, yield* signals.next]
        // the SIGINT after the SIGTERM is a second termination signal: it forces, as it would have later
        expect(yield* Fiber.join(forced)).toBe("received SIGINT during shutdown: forcing exit")
        return received
      }).pipe(Effect.provide(Signals.layer.pipe(Layer.provideMerge(deps))))
      expect(received).toEqual(["SIGHUP", "SIGTERM"])
      expect(counts()).toEqual(before)
      expect(EarlySignals.takeOver(), "taken over once").toEqual([])
    })
  )

  it.effect("applies the duplicate window to early signals by their arrival time", () =>
    Effect.gen(function* () {
      EarlySignals.install()
      process.emit("SIGINT")
      process.emit("SIGINT") // the same press, forwarded by a parent: one delivery
      yield* Effect.gen(function* () {
        const signals = yield* Signals
        expect(yield* signals.next).toBe("SIGINT")
        const forced = yield* Teardown.use((t) => t.forced.pipe(Effect.forkChild({ startImmediately: true })))
        yield* Effect.yieldNow
        expect(forced.pollUnsafe(), "not a second termination").toBeUndefined()
      }).pipe(Effect.provide(Signals.layer.pipe(Layer.provideMerge(deps))))
    })
  )

  it.effect("takes over nothing when nothing was installed", () =>
    Effect.sync(() => expect(EarlySignals.takeOver()).toEqual([]))
  )
})

describe("Signals.layerTest", () => {
  it.effect("adds no process listener", () =>
    Effect.gen(function* () {
      const before = counts()
      expect(yield* Effect.sync(counts).pipe(Effect.provide(test))).toEqual(before)
      expect(counts()).toEqual(before)
    })
  )

  it.effect("next returns emitted signals in emission order", () =>
    Effect.gen(function* () {
      const signals = yield* Signals
      yield* signals.emit("SIGHUP")
      yield* signals.emit("SIGINT")
      yield* signals.emit("SIGHUP")
      const received = [yield* signals.next, yield* signals.next, yield* signals.next]
      expect(received).toEqual(["SIGHUP", "SIGINT", "SIGHUP"])
    }).pipe(Effect.provide(test))
  )
})

describe("Signals.member", () => {
  it.effect.each(["SIGTERM", "SIGINT"] as const)("fails with SignalReceived on %s", (signal) =>
    Effect.gen(function* () {
      const member = yield* Effect.forkChild(Signals.member, { startImmediately: true })
      expect(member.pollUnsafe()).toBeUndefined()
      yield* (yield* Signals).emit(signal)
      const exit = yield* Fiber.await(member)
      expect(exit).toStrictEqual(Exit.fail(new SignalReceived({ signal })))
    }).pipe(Effect.provide(test))
  )

  it.effect("keeps running after SIGHUP and stops on the next SIGTERM", () =>
    Effect.gen(function* () {
      const logs = yield* watchLogs("received SIGHUP")
      yield* Effect.gen(function* () {
        const signals = yield* Signals
        const member = yield* Effect.forkChild(Signals.member, { startImmediately: true })
        yield* signals.emit("SIGHUP")
        expect(yield* logs.seen).toBe("received SIGHUP: nothing to reload yet")
        yield* Effect.yieldNow
        expect(member.pollUnsafe()).toBeUndefined()
        yield* signals.emit("SIGTERM")
        expect(yield* Fiber.await(member)).toStrictEqual(Exit.fail(new SignalReceived({ signal: "SIGTERM" })))
        expect(logs.lines).toEqual(["received SIGHUP: nothing to reload yet"])
      }).pipe(Effect.provide(Layer.merge(test, logs.layer)))
    })
  )
})

describe("Signals during shutdown", () => {
  it.effect("the same signal twice within 300 ms is one delivery (Ctrl-C reaches the group and npm forwards it)", () =>
    Effect.gen(function* () {
      const signals = yield* Signals
      const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
      yield* signals.emit("SIGINT")
      yield* TestClock.adjust("8 millis")
      yield* signals.emit("SIGINT")
      expect(yield* signals.next).toBe("SIGINT")
      yield* TestClock.adjust("291 millis")
      yield* signals.emit("SIGINT") // 299 ms after the one before it: still the same press
      expect(forced.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("300 millis")
      yield* signals.emit("SIGINT")
      expect(yield* Fiber.join(forced)).toBe("received SIGINT during shutdown: forcing exit")
    }).pipe(Effect.provide(test))
  )

  it.effect.each(["SIGTERM", "SIGINT"] as const)(
    "a second %s forces the exit; a SIGHUP is logged and ignored",
    (signal) =>
      Effect.gen(function* () {
        const logs = yield* watchLogs("during shutdown")
        yield* Effect.gen(function* () {
          const signals = yield* Signals
          const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
          yield* signals.emit("SIGTERM")
          expect(yield* signals.next).toBe("SIGTERM")
          expect(forced.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust(Signals_.duplicateWindow)
          yield* signals.emit(signal)
          expect(yield* Fiber.join(forced)).toBe(`received ${signal} during shutdown: forcing exit`)
        }).pipe(Effect.provide(Layer.merge(test, logs.layer)))
      })
  )

  it.effect("the first SIGTERM after another stop reason began the shutdown forces the exit", () =>
    Effect.gen(function* () {
      const logs = yield* watchLogs("received SIGHUP during shutdown")
      yield* Effect.gen(function* () {
        const signals = yield* Signals
        const lifecycle = yield* Lifecycle
        yield* lifecycle.register(fakeServer([], "api", { drained: Effect.never }))
        yield* Effect.forkChild(lifecycle.shutdown("shutdown requested by POST /shutdown"), { startImmediately: true })
        const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
        yield* signals.emit("SIGHUP")
        expect(yield* logs.seen).toBe("received SIGHUP during shutdown: ignored")
        expect(forced.pollUnsafe()).toBeUndefined()
        yield* signals.emit("SIGTERM")
        expect(yield* Fiber.join(forced)).toBe("received SIGTERM during shutdown: forcing exit")
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(test, logs.layer)))
    })
  )
})
