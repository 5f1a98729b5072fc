/**
 * Group — table-driven like errgroup_test.go: each case lists what the members do and when, and expects the reason
 * that is reported, the exit code, and that every *other* member was interrupted before the shutdown began.
 * Members are open: any tagged error is a reason (with its own exit code), a member may return, and an optional
 * member's failure only is logged and counted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, Duration, Effect, Exit, Fiber, Layer, Metric, Runtime } from "effect"
import { TestClock } from "effect/testing"
import { ProcessFault } from "../src/Errors.ts"
import * as Group from "../src/Group.ts"
import { ListenError } from "../src/http/Listener.ts"
import { type SignalName, Signals } from "../src/layers/Signals.ts"
import { Lifecycle } from "../src/services/Lifecycle.ts"
import { memberFailures } from "../src/services/Metrics.ts"
import { Teardown } from "../src/services/Teardown.ts"
import { fakeServer, type LogLine, lifecycleTest } from "./support/lifecycle.ts"

/** A member's own reason, with the exit code it declares. */
class DatabaseLost extends Data.TaggedError("DatabaseLost")<{ readonly host: string }> {
  override readonly [Runtime.errorExitCode] = 3
  override get message() {
    return `database ${this.host} is gone`
  }
}

/** A member's own reason without an exit code. */
class QueueClosed extends Data.TaggedError("QueueClosed") {
  override get message() {
    return "the job queue was closed"
  }
}

/** What one member does. Times are seconds on the TestClock. */
type Behaviour =
  | { readonly _tag: "Signals" } // the real `Signals.member`
  | { readonly _tag: "Fail"; readonly after: number; readonly error: unknown }
  | { readonly _tag: "Die"; readonly after: number }
  | { readonly _tag: "Return"; readonly after: number }
  | { readonly _tag: "RequestShutdown"; readonly after: number } // an admin `POST /shutdown`, then the member
  | { readonly _tag: "Forever" }

interface Case {
  readonly name: string
  readonly members: Readonly<Record<string, Behaviour>>
  /** signals delivered from outside, at these times */
  readonly signals?: ReadonlyArray<readonly [seconds: number, SignalName]>
  /** the listener never drains: the 10 s budget runs out */
  readonly stuck?: boolean
  /** the member that ended the group: every other one must have been interrupted */
  readonly first: string
  /** when it ended, in seconds */
  readonly at: number
  readonly reason: string | RegExp
  readonly exitCode: number
  readonly forced?: string
}

const serveError = new ListenError({
  server: "api",
  options: { host: "0.0.0.0", port: 8080 },
  cause: { code: "EADDRINUSE" }
})
const cases: ReadonlyArray<Case> = [
  {
    name: "SIGTERM stops the group gracefully",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Forever" }, worker: { _tag: "Forever" } },
    signals: [[1, "SIGTERM"]],
    first: "signals",
    at: 1,
    reason: "received SIGTERM",
    exitCode: 0
  },
  {
    name: "SIGHUP is not a stop; the SIGINT after it is",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Forever" } },
    signals: [
      [1, "SIGHUP"],
      [2, "SIGINT"]
    ],
    first: "signals",
    at: 2,
    reason: "received SIGINT",
    exitCode: 0
  },
  {
    name: "a shutdown request stops the group gracefully",
    members: { signals: { _tag: "Signals" }, admin: { _tag: "RequestShutdown", after: 3 }, api: { _tag: "Forever" } },
    first: "admin",
    at: 3,
    reason: "shutdown requested by admin",
    exitCode: 0
  },
  {
    name: "a ServeError is a failure",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Fail", after: 2, error: serveError } },
    first: "api",
    at: 2,
    reason: "api server cannot listen on 0.0.0.0:8080: address already in use",
    exitCode: 1
  },
  {
    name: "a process fault is a failure",
    members: {
      signals: { _tag: "Signals" },
      api: { _tag: "Forever" },
      faults: { _tag: "Fail", after: 1, error: new ProcessFault({ kind: "unhandledRejection", cause: "nope" }) }
    },
    first: "faults",
    at: 1,
    reason: "unhandledRejection: nope",
    exitCode: 1
  },
  {
    name: "your own reason with its own exit code",
    members: { signals: { _tag: "Signals" }, db: { _tag: "Fail", after: 1, error: new DatabaseLost({ host: "pg" }) } },
    first: "db",
    at: 1,
    reason: "database pg is gone",
    exitCode: 3
  },
  {
    name: "your own reason without an exit code is a failure",
    members: { signals: { _tag: "Signals" }, jobs: { _tag: "Fail", after: 1, error: new QueueClosed() } },
    first: "jobs",
    at: 1,
    reason: "the job queue was closed",
    exitCode: 1
  },
  {
    name: "a member that returns stops the group gracefully",
    members: { signals: { _tag: "Signals" }, batch: { _tag: "Return", after: 4 }, api: { _tag: "Forever" } },
    first: "batch",
    at: 4,
    reason: "member batch finished",
    exitCode: 0
  },
  {
    name: "a member that dies is a failure",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Forever" }, worker: { _tag: "Die", after: 1 } },
    first: "worker",
    at: 1,
    reason: /^a member died: Error: worker crashed/,
    exitCode: 1
  },
  {
    name: "the first to end wins: a later failure never happens",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Fail", after: 5, error: serveError } },
    signals: [[1, "SIGTERM"]],
    first: "signals",
    at: 1,
    reason: "received SIGTERM",
    exitCode: 0
  },
  {
    name: "a listener that never drains exhausts the budget",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Forever" } },
    signals: [[1, "SIGTERM"]],
    stuck: true,
    first: "signals",
    at: 1,
    reason: "received SIGTERM",
    exitCode: 2
  },
  {
    name: "a second signal during shutdown forces the exit",
    members: { signals: { _tag: "Signals" }, api: { _tag: "Forever" } },
    signals: [
      [1, "SIGTERM"],
      [2, "SIGINT"]
    ],
    stuck: true,
    first: "signals",
    at: 1,
    reason: "received SIGTERM",
    exitCode: 2,
    forced: "received SIGINT during shutdown: forcing exit"
  }
]

/** What a behaviour does, as a member. */
const behave = (name: string, b: Behaviour): Effect.Effect<void, unknown, Signals | Lifecycle> => {
  switch (b._tag) {
    case "Signals":
      return Signals.member
    case "Fail":
      return Effect.fail(b.error).pipe(Effect.delay(Duration.seconds(b.after)))
    case "Die":
      return Effect.die(new Error(`${name} crashed`)).pipe(Effect.delay(Duration.seconds(b.after)))
    case "Return":
      return Effect.sleep(Duration.seconds(b.after))
    case "RequestShutdown":
      return Lifecycle.use((lifecycle) =>
        Effect.sleep(Duration.seconds(b.after)).pipe(
          Effect.andThen(lifecycle.requestShutdown("admin")),
          Effect.andThen(lifecycle.awaitShutdownRequest)
        )
      )
    case "Forever":
      return Effect.never
  }
}

/** The member for a behaviour; it records when it ends (with the TestClock's time) or that it was interrupted. */
const member = (events: Array<string>, name: string, behaviour: Behaviour) =>
  behave(name, behaviour).pipe(
    Effect.onExit((exit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        ? Effect.sync(() => void events.push(`interrupted:${name}`))
        : Effect.map(Clock.currentTimeMillis, (now) => void events.push(`ended:${name}@${now / 1000}s`))
    )
  )

const deps = (lines: Array<LogLine> = []) =>
  Signals.layerTest.pipe(Layer.provideMerge(Layer.merge(Teardown.layerTest, lifecycleTest(lines))))

describe("Group.run", () => {
  it.effect.each(cases)("$name", (c) =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const signals = yield* Signals
      const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
      const members = Object.fromEntries(Object.entries(c.members).map(([n, b]) => [n, member(events, n, b)]))
      const server = fakeServer(events, "api", { drained: c.stuck ? Effect.never : Effect.void, budget: "10 seconds" })
      const group = yield* Effect.forkChild(
        Effect.gen(function* () {
          yield* (yield* Lifecycle).register(server)
          const stop = yield* Group.run(members)
          events.push(`returned@${(yield* Clock.currentTimeMillis) / 1000}s`)
          return stop
        }).pipe(Effect.scoped)
      )
      for (const [at, signal] of c.signals ?? []) {
        yield* Effect.forkChild(signals.emit(signal).pipe(Effect.delay(Duration.seconds(at))))
      }
      yield* TestClock.adjust("1 minute")
      const stop = yield* Fiber.join(group)

      expect(stop.exitCode).toBe(c.exitCode)
      if (typeof c.reason === "string") expect(stop.reason).toBe(c.reason)
      else expect(stop.reason).toMatch(c.reason)
      const others = Object.keys(c.members).filter((n) => n !== c.first)
      const [ended, ...rest] = events
      expect(ended).toBe(`ended:${c.first}@${c.at}s`)
      const interrupted = rest.slice(0, others.length)
      expect(interrupted.toSorted()).toEqual(others.map((n) => `interrupted:${n}`).toSorted())
      // then, and only then, the shutdown: with the 10 s budget used up when the listener never drains
      const returned = `returned@${c.stuck ? c.at + 10 : c.at}s`
      expect(rest.slice(others.length)).toEqual(
        c.stuck ? ["beginDrain:api", "force:api", returned] : ["beginDrain:api", "drained:api", returned]
      )
      expect(forced.pollUnsafe()).toStrictEqual(c.forced === undefined ? undefined : Exit.succeed(c.forced))
    }).pipe(Effect.provide(deps()))
  )
})

describe("Group.optional", () => {
  it.effect(
    "an optional member's failure is logged and counted; the others keep serving; it is interrupted at the end",
    () => {
      const lines: Array<LogLine> = []
      return Effect.gen(function* () {
        const events: Array<string> = []
        const signals = yield* Signals
        const failures = Metric.withAttributes(memberFailures, { member: "cache" })
        const before = (yield* Metric.value(failures)).count
        const group = yield* Effect.forkChild(
          Group.run({
            signals: Signals.member,
            cache: Group.optional(Effect.fail(new QueueClosed()).pipe(Effect.delay("1 second"))),
            warmer: Group.optional(member(events, "warmer", { _tag: "Forever" })),
            api: member(events, "api", { _tag: "Forever" })
          }).pipe(Effect.scoped)
        )
        yield* TestClock.adjust("2 seconds")
        expect(group.pollUnsafe(), "the group goes on").toBeUndefined()
        expect(events).toEqual([])
        expect((yield* Metric.value(failures)).count - before).toBe(1)
        expect(lines.find((line) => line.message.includes("cache"))).toMatchObject({
          level: "Error",
          message: "optional member cache failed: the job queue was closed"
        })
        yield* signals.emit("SIGTERM")
        const stop = yield* Fiber.join(group)
        expect(stop).toEqual({ reason: "received SIGTERM", exitCode: 0 })
        expect(events.toSorted()).toEqual(["interrupted:api", "interrupted:warmer"])
      }).pipe(Effect.provide(deps(lines)))
    }
  )

  it.effect("the stop reason is logged once with its message: info when graceful, error otherwise", () => {
    const lines: Array<LogLine> = []
    return Effect.gen(function* () {
      const group = yield* Effect.forkChild(
        Group.run({ db: Effect.fail(new DatabaseLost({ host: "pg" })) }).pipe(Effect.scoped)
      )
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(group)).toEqual({ reason: "database pg is gone", exitCode: 3 })
      const stopping = lines.filter((line) => line.message.startsWith("stopping"))
      expect(stopping).toEqual([
        { level: "Error", message: "stopping: database pg is gone", annotations: { exitCode: 3 } }
      ])
    }).pipe(Effect.provide(deps(lines)))
  })
})
