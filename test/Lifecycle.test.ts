/**
 * Lifecycle — the shutdown sequence, step by step on the TestClock, with fake listeners (`Drainable`s) that record
 * what they were asked to do: unready at once, SHUTDOWN_DELAY still serving, stop every listener, drain, and force
 * what is left when SHUTDOWN_TIMEOUT runs out. A second termination signal and a hung release end in `Teardown.force`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Latch, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { ShutdownRequested } from "../src/Errors.ts"
import { Signals } from "../src/layers/Signals.ts"
import { AppConfig, type AppConfigValues } from "../src/services/AppConfig.ts"
import { type Drainable, Lifecycle } from "../src/services/Lifecycle.ts"
import { Teardown } from "../src/services/Teardown.ts"

/** A listener that records its steps; `drained` decides when `awaitDrained` completes. */
const fake = (events: Array<string>, name: string, drained: Effect.Effect<void>): Drainable => ({
  name,
  beginDrain: Effect.sync(() => void events.push(`beginDrain:${name}`)),
  awaitDrained: drained.pipe(Effect.andThen(Effect.sync(() => void events.push(`drained:${name}`)))),
  force: Effect.sync(() => void events.push(`force:${name}`))
})

/** Lifecycle's dependencies, kept alive for the whole test so `forced` and `emit` can be observed from outside. */
const deps = (config: Partial<AppConfigValues>, logger: Logger.Logger<unknown, unknown> = Logger.make(() => {})) =>
  Layer.mergeAll(AppConfig.layerTest(config), Signals.layerTest, Teardown.layerTest, Logger.layer([logger]))
const env = (config: Partial<AppConfigValues>, logger?: Logger.Logger<unknown, unknown>) =>
  Lifecycle.layer.pipe(Layer.provideMerge(deps(config, logger)))

/** A logger that completes `seen` with the first line containing `needle`. */
const logSeen = (seen: Deferred.Deferred<string>, needle: string) =>
  Logger.make(({ message }) => {
    const line = Array.isArray(message) ? message.join(" ") : String(message)
    if (line.includes(needle)) Deferred.doneUnsafe(seen, Exit.succeed(line))
  })

/** The first `Teardown.force` message, watched from now on: `pollUnsafe()` is undefined until it happens. */
const watchForced = Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))

describe("Lifecycle.shutdown", () => {
  it.effect("unready at once, serves through SHUTDOWN_DELAY, then stops every listener before draining", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fake(events, "api", Effect.void))
      yield* lifecycle.register(fake(events, "admin", Effect.void))
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["starting", false])
      yield* lifecycle.markServing
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["serving", true])

      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["stopping", false])
      yield* TestClock.adjust("4999 millis")
      expect(events).toEqual([])
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin", "drained:api", "drained:admin"])
      expect(yield* Fiber.join(shutdown)).toEqual({ drained: true })
      yield* lifecycle.markServing
      expect(lifecycle.isReady()).toBe(false)
    }).pipe(Effect.provide(env({ shutdownDelay: Duration.seconds(5), shutdownTimeout: Duration.seconds(30) })))
  )

  it.effect("waits for the slowest listener to drain", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fake(events, "fast", Effect.sleep("1 second")))
      yield* lifecycle.register(fake(events, "slow", Effect.sleep("3 seconds")))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      expect(events).toEqual(["beginDrain:fast", "beginDrain:slow", "drained:fast"])
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 second")
      expect(events.at(-1)).toBe("drained:slow")
      expect(yield* Fiber.join(shutdown)).toEqual({ drained: true })
    }).pipe(Effect.provide(env({ shutdownTimeout: Duration.seconds(10) })))
  )

  it.effect("forces every listener when SHUTDOWN_TIMEOUT runs out, and reports drained=false", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fake(events, "api", Effect.never))
      yield* lifecycle.register(fake(events, "admin", Effect.never))
      const forced = yield* watchForced
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("9999 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin"])
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin", "force:api", "force:admin"])
      expect(yield* Fiber.join(shutdown)).toEqual({ drained: false })
      expect(forced.pollUnsafe()).toBeUndefined()
    }).pipe(Effect.provide(env({ shutdownDelay: Duration.seconds(2), shutdownTimeout: Duration.seconds(10) })))
  )

  it.effect("a SHUTDOWN_DELAY longer than the budget forces the listeners without a drain", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fake(events, "api", Effect.void))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(shutdown)).toEqual({ drained: false })
      expect(events).toEqual(["force:api"])
    }).pipe(Effect.provide(env({ shutdownDelay: Duration.seconds(20), shutdownTimeout: Duration.seconds(10) })))
  )

  it.effect.each(["SIGTERM", "SIGINT"] as const)("%s during shutdown forces the exit; SIGHUP does not", (signal) =>
    Effect.gen(function* () {
      const ignored = yield* Deferred.make<string>()
      yield* Effect.gen(function* () {
        const lifecycle = yield* Lifecycle
        const signals = yield* Signals
        yield* lifecycle.register(fake([], "api", Effect.never))
        const forced = yield* watchForced
        const shutdown = yield* Effect.forkChild(lifecycle.shutdown("received SIGTERM"), { startImmediately: true })
        yield* signals.emit("SIGHUP")
        expect(yield* Deferred.await(ignored)).toBe("received SIGHUP during shutdown: ignored")
        yield* TestClock.adjust("1 second")
        expect(forced.pollUnsafe()).toBeUndefined()
        yield* signals.emit(signal)
        expect(yield* Fiber.join(forced)).toBe(`received ${signal} during shutdown: forcing exit`)
        expect(shutdown.pollUnsafe()).toBeUndefined()
        yield* Fiber.interrupt(shutdown)
      }).pipe(Effect.provide(env({ shutdownTimeout: Duration.seconds(10) }, logSeen(ignored, "SIGHUP"))))
    })
  )

  it.effect("hard stop: release still hanging at budget + 1 s ends in Teardown.force", () => {
    const unblock = Latch.makeUnsafe(false)
    return Effect.gen(function* () {
      const events: Array<string> = []
      // A member layer whose finalizer hangs: it is released before Lifecycle, whose watchdog is still running.
      const hangs = Layer.effectDiscard(
        Effect.addFinalizer(() =>
          Effect.sync(() => void events.push("release:hangs")).pipe(Effect.andThen(Latch.await(unblock)))
        )
      )
      const app = Effect.gen(function* () {
        const lifecycle = yield* Lifecycle
        yield* lifecycle.register(fake(events, "api", Effect.void))
        events.push(`outcome:${JSON.stringify(yield* lifecycle.shutdown("test"))}`)
      }).pipe(Effect.provide(hangs.pipe(Layer.provideMerge(Lifecycle.layer))))
      const forced = yield* watchForced
      const running = yield* Effect.forkChild(app, { startImmediately: true })
      yield* TestClock.adjust("10999 millis")
      expect(events).toEqual(["beginDrain:api", "drained:api", 'outcome:{"drained":true}', "release:hangs"])
      expect(forced.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(forced.pollUnsafe()).toStrictEqual(
        Exit.succeed("shutdown budget exhausted and finalizers still running: forcing exit")
      )
      expect(running.pollUnsafe()).toBeUndefined()
      yield* Latch.open(unblock)
      yield* Fiber.join(running)
    }).pipe(
      // on a failed expectation too: a release stuck behind the latch would hang the test
      Effect.ensuring(Latch.open(unblock)),
      Effect.provide(deps({ shutdownTimeout: Duration.seconds(10) }))
    )
  })
})

describe("Lifecycle.requestShutdown", () => {
  it.effect("is true for the first request only; awaitShutdownRequest fails with the first source", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      const waiting = yield* Effect.forkChild(lifecycle.awaitShutdownRequest, { startImmediately: true })
      expect(waiting.pollUnsafe()).toBeUndefined()
      expect(yield* lifecycle.requestShutdown("admin")).toBe(true)
      expect(yield* lifecycle.requestShutdown("again")).toBe(false)
      const expected = Exit.fail(new ShutdownRequested({ source: "admin" }))
      expect(yield* Fiber.await(waiting)).toStrictEqual(expected)
      expect(yield* Effect.exit(lifecycle.awaitShutdownRequest)).toStrictEqual(expected)
      expect(lifecycle.phase()).toBe("starting")
    }).pipe(Effect.provide(env({})))
  )
})
