/**
 * Lifecycle — the shutdown of every registered server, step by step on the TestClock, with fake servers that record
 * what they were asked: unready at once, `beforeDrain` hooks, the delay still serving, stop every server, drain,
 * `afterDrain` hooks, and force what is left when the budget runs out. Then readiness (checks, the switch), the
 * shutdown request, and the return to idle that makes a second start possible.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import { ShutdownRequested } from "../../src/Errors.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { fakeServer, type LogLine, lifecycleTest } from "../support/lifecycle.ts"

const phases = (lines: ReadonlyArray<LogLine>) =>
  lines.filter((line) => line.message.startsWith("shutdown phase")).map((line) => line.annotations.phase)

describe("Lifecycle.shutdown", () => {
  it.effect("unready at once, serves through the delay, then stops every server before draining", () => {
    const lines: Array<LogLine> = []
    return Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["idle", false])
      yield* lifecycle.register(fakeServer(events, "api", { shutdownDelay: "5 seconds", budget: "30 seconds" }))
      yield* lifecycle.register(fakeServer(events, "admin", { shutdownDelay: "2 seconds" }))
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["serving", true])

      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      expect([lifecycle.phase(), lifecycle.isReady()]).toEqual(["stopping", false])
      yield* TestClock.adjust("4999 millis")
      expect(events, "the longest delay of the two, once").toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin", "drained:api", "drained:admin"])
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })
      expect(phases(lines)).toEqual(["unready", "stop", "drain"])
      expect(lines[0]).toMatchObject({ message: "shutting down: test", annotations: { budgetMillis: 30_000 } })
    }).pipe(Effect.provide(lifecycleTest(lines)))
  })

  it.effect("waits for the slowest server to drain", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "fast", { drained: Effect.sleep("1 second") }))
      yield* lifecycle.register(fakeServer(events, "slow", { drained: Effect.sleep("3 seconds") }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      expect(events).toEqual(["beginDrain:fast", "beginDrain:slow", "drained:fast"])
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("forces every server when the budget (the largest) runs out, and reports drained: false", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { drained: Effect.never, budget: "10 seconds" }))
      yield* lifecycle.register(fakeServer(events, "admin", { drained: Effect.never, budget: "4 seconds" }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("9999 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin"])
      yield* TestClock.adjust("1 millis")
      expect(events).toEqual(["beginDrain:api", "beginDrain:admin", "force:api", "force:admin"])
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })
      expect(lifecycle.lastOutcome()).toEqual(Option.some({ reason: "test", drained: false }))
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("a delay longer than the budget forces the servers without a drain", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { shutdownDelay: "20 seconds", budget: "10 seconds" }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })
      expect(events).toEqual(["force:api"])
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("runs once: later calls, from any server, wait for the first one's outcome", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { drained: Effect.sleep("1 second") }))
      const first = yield* Effect.forkChild(lifecycle.shutdown("first"), { startImmediately: true })
      const second = yield* Effect.forkChild(lifecycle.shutdown("second"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(second)).toEqual({ reason: "first", drained: true })
      expect(yield* Fiber.join(first)).toEqual({ reason: "first", drained: true })
      expect(events).toEqual(["beginDrain:api", "drained:api"])
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("goes on when the caller that started it is interrupted (a server's finalizer)", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { drained: Effect.sleep("1 second") }))
      const first = yield* Effect.forkChild(lifecycle.shutdown("first"), { startImmediately: true })
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("1 second")
      expect(events).toEqual(["beginDrain:api", "drained:api"])
      expect(yield* lifecycle.shutdown("later")).toEqual({ reason: "first", drained: true })
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("a server bound while the process stops is drained at once", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { drained: Effect.sleep("1 second") }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* lifecycle.register(fakeServer(events, "late"))
      yield* Effect.yieldNow
      expect(events).toContain("beginDrain:late")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(shutdown)
    }).pipe(Effect.provide(lifecycleTest()))
  )
})

describe("Lifecycle hooks", () => {
  it.effect("beforeDrain hooks run in order before the delay, afterDrain hooks after the drain; each is logged", () => {
    const lines: Array<LogLine> = []
    const events: Array<string> = []
    const note = (event: string) => Effect.sync(() => void events.push(event))
    const hooks = Layer.mergeAll(
      Lifecycle.beforeDrain("deregister", note("before:1").pipe(Effect.andThen(Effect.sleep("1 second")))),
      Lifecycle.beforeDrain("stop consuming", note("before:2")),
      Lifecycle.afterDrain("flush", note("after:1")),
      Lifecycle.afterDrain("broken", Effect.fail("flush failed")),
      Lifecycle.afterDrain("close", note("after:3"))
    )
    return Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { shutdownDelay: "2 seconds" }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      expect(events).toEqual(["before:1"])
      yield* TestClock.adjust("1 second")
      expect(events).toEqual(["before:1", "before:2"])
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: true })
      expect(events).toEqual(["before:1", "before:2", "beginDrain:api", "drained:api", "after:1", "after:3"])
      const hookLines = lines.filter((line) => line.message.startsWith("shutdown hook"))
      expect(hookLines.map((line) => [line.message, line.annotations.millis])).toEqual([
        ["shutdown hook deregister done", 1000],
        ["shutdown hook stop consuming done", 0],
        ["shutdown hook flush done", 0],
        [expect.stringContaining("shutdown hook broken failed"), 0],
        ["shutdown hook close done", 0]
      ])
    }).pipe(Effect.provide(hooks.pipe(Layer.provideMerge(lifecycleTest(lines)))))
  })

  it.effect("a hook whose layer is released before the servers' (parallel release) still runs in their shutdown", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      const scope = yield* Scope.make()
      yield* lifecycle.register(fakeServer(events, "api")).pipe(Scope.provide(scope))
      const hooks = yield* Scope.make()
      yield* Layer.buildWithScope(
        Lifecycle.afterDrain(
          "flush",
          Effect.sync(() => void events.push("flush"))
        ),
        hooks
      )
      yield* Scope.close(hooks, Exit.void) // the hook's layer goes first, before any server asked for the shutdown
      yield* lifecycle.shutdown("test")
      expect(events).toEqual(["beginDrain:api", "drained:api", "flush"])
      yield* Scope.close(scope, Exit.void)
      // the next start does not run it again
      yield* lifecycle.register(fakeServer(events, "api")).pipe(Scope.provide(yield* Scope.make()))
      yield* lifecycle.shutdown("again")
      expect(events.filter((event) => event === "flush")).toHaveLength(1)
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("a hook that hangs is cut by the budget: the servers are forced", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer(events, "api", { budget: "5 seconds" }))
      const shutdown = yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(shutdown)).toEqual({ reason: "test", drained: false })
      expect(events).toEqual(["force:api"])
    }).pipe(Effect.provide(Lifecycle.beforeDrain("hangs", Effect.never).pipe(Layer.provideMerge(lifecycleTest()))))
  )
})

describe("Lifecycle readiness", () => {
  it.effect("serving, switched on and every check passing; a failing or slow check is named", () => {
    let database: Effect.Effect<void, string> = Effect.void
    const checks = Layer.mergeAll(
      Lifecycle.readinessCheck(
        "db",
        Effect.suspend(() => database),
        { timeout: "1 second" }
      ),
      Lifecycle.readinessCheck("cache", Effect.void)
    )
    return Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      expect(yield* lifecycle.readiness).toEqual({ ready: false, reason: "starting", checks: [] })
      yield* lifecycle.register(fakeServer([], "api"))
      expect((yield* lifecycle.readiness).ready).toBe(true)

      database = Effect.fail("connection refused")
      expect(yield* lifecycle.readiness).toEqual({
        ready: false,
        reason: "db: connection refused",
        checks: [
          { name: "db", ok: false, error: "connection refused" },
          { name: "cache", ok: true }
        ]
      })
      database = Effect.never
      const slow = yield* Effect.forkChild(lifecycle.readiness, { startImmediately: true })
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(slow)).reason).toBe("db: timed out after 1s")

      database = Effect.void
      yield* lifecycle.setReady(false)
      expect([lifecycle.isReady(), (yield* lifecycle.readiness).reason]).toEqual([false, "turned off"])
      yield* lifecycle.setReady(true)
      expect(lifecycle.isReady()).toBe(true)
    }).pipe(Effect.provide(checks.pipe(Layer.provideMerge(lifecycleTest()))))
  })

  it.effect("a check is removed with its layer", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer([], "api"))
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(Lifecycle.readinessCheck("db", Effect.fail("down")), scope)
      expect((yield* lifecycle.readiness).ready).toBe(false)
      yield* Scope.close(scope, Exit.void)
      expect((yield* lifecycle.readiness).ready).toBe(true)
    }).pipe(Effect.provide(lifecycleTest()))
  )
})

describe("Lifecycle across starts", () => {
  it.effect("once every server of a finished shutdown has left, it is idle again and starts anew", () => {
    const lines: Array<LogLine> = []
    return Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      for (const round of [1, 2]) {
        const events: Array<string> = []
        const scope = yield* Scope.make()
        yield* lifecycle.register(fakeServer(events, "api")).pipe(Scope.provide(scope))
        expect(lifecycle.phase()).toBe("serving")
        expect(yield* lifecycle.requestShutdown(`round ${round}`)).toBe(true)
        expect(yield* lifecycle.shutdown(`round ${round}`)).toEqual({ reason: `round ${round}`, drained: true })
        expect(events).toEqual(["beginDrain:api", "drained:api"])
        expect(lifecycle.phase()).toBe("stopping")
        yield* Scope.close(scope, Exit.void)
        expect(lifecycle.phase()).toBe("idle")
      }
      expect(phases(lines)).toEqual(["unready", "stop", "drain", "release", "unready", "stop", "drain", "release"])
    }).pipe(Effect.provide(lifecycleTest(lines)))
  })
})

describe("Lifecycle without servers", () => {
  it.effect("a shutdown with no server registered runs its hooks and is over at once: idle again", () => {
    const events: Array<string> = []
    return Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      expect(yield* lifecycle.shutdown("group stopped")).toEqual({ reason: "group stopped", drained: true })
      expect(events).toEqual(["flush"])
      expect(lifecycle.phase()).toBe("idle")
      expect(yield* lifecycle.requestShutdown("next start")).toBe(true)
    }).pipe(
      Effect.provide(
        Lifecycle.afterDrain(
          "flush",
          Effect.sync(() => void events.push("flush"))
        ).pipe(Layer.provideMerge(lifecycleTest()))
      )
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
    }).pipe(Effect.provide(lifecycleTest()))
  )

  it.effect("stopping waits for the shutdown to begin and tells its budget", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      yield* lifecycle.register(fakeServer([], "api", { budget: "7 seconds" }))
      const stopping = yield* Effect.forkChild(lifecycle.stopping, { startImmediately: true })
      expect(stopping.pollUnsafe()).toBeUndefined()
      yield* Effect.forkChild(lifecycle.shutdown("test"), { startImmediately: true })
      const started = yield* Fiber.join(stopping)
      expect([started.reason, Duration.toMillis(started.budget)]).toEqual(["test", 7000])
    }).pipe(Effect.provide(lifecycleTest()))
  )
})
