/**
 * Signals — the live layer owns exactly one process handler per signal while it is built; the test layer owns none
 * and delivers what `emit` pushes, in order; `Signals.member` turns SIGINT/SIGTERM into `SignalReceived` and lets
 * SIGHUP pass.
 */
import { isMainThread } from "node:worker_threads"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { SignalReceived } from "../src/Errors.ts"
import { type SignalName, Signals } from "../src/layers/Signals.ts"

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
      const during = yield* Effect.sync(counts).pipe(Effect.provide(Signals.layer))
      expect(during).toEqual(before.map((n) => n + 1))
      expect(counts()).toEqual(before)
    })
  )

  it.effect("removes its listeners when a launched layer is interrupted", () =>
    Effect.gen(function* () {
      const before = counts()
      const launched = yield* Effect.forkChild(Layer.launch(Signals.layer), { startImmediately: true })
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
    }).pipe(Effect.provide(Signals.layer))
  )
})

describe("Signals.layerTest", () => {
  it.effect("adds no process listener", () =>
    Effect.gen(function* () {
      const before = counts()
      expect(yield* Effect.sync(counts).pipe(Effect.provide(Signals.layerTest))).toEqual(before)
      expect(counts()).toEqual(before)
    })
  )

  it.effect("next returns emitted signals in emission order", () =>
    Effect.gen(function* () {
      const signals = yield* Signals
      yield* signals.emit("SIGHUP")
      yield* signals.emit("SIGTERM")
      yield* signals.emit("SIGINT")
      const received = [yield* signals.next, yield* signals.next, yield* signals.next]
      expect(received).toEqual(["SIGHUP", "SIGTERM", "SIGINT"])
    }).pipe(Effect.provide(Signals.layerTest))
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
    }).pipe(Effect.provide(Signals.layerTest))
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
      }).pipe(Effect.provide(Layer.merge(Signals.layerTest, logs.layer)))
    })
  )
})
