/**
 * Group — table-driven like errgroup_test.go: each case lists what the members do and when, and expects the reason
 * that is reported, the exit code, and that every *other* member was interrupted before the shutdown began.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { type MemberExit, ProcessFault, ServeError } from "../src/Errors.ts"
import * as Group from "../src/Group.ts"
import { type SignalName, Signals } from "../src/layers/Signals.ts"
import { AppConfig } from "../src/services/AppConfig.ts"
import { type Drainable, Lifecycle } from "../src/services/Lifecycle.ts"
import { Teardown } from "../src/services/Teardown.ts"

/** What one member does. Times are seconds on the TestClock. */
type Behaviour =
  | { readonly _tag: "Signals" } // the real `Signals.member`
  | { readonly _tag: "Fail"; readonly after: number; readonly error: MemberExit }
  | { readonly _tag: "Die"; readonly after: number }
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
  readonly exitCode: 0 | 1 | 2
  readonly forced?: string
}

const serveError = new ServeError({ server: "api", host: "0.0.0.0", port: 8080, cause: { code: "EADDRINUSE" } })
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
const behave = (name: string, b: Behaviour): Effect.Effect<never, MemberExit, Signals | Lifecycle> => {
  switch (b._tag) {
    case "Signals":
      return Signals.member
    case "Fail":
      return Effect.fail(b.error).pipe(Effect.delay(Duration.seconds(b.after)))
    case "Die":
      return Effect.die(new Error(`${name} crashed`)).pipe(Effect.delay(Duration.seconds(b.after)))
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
    Effect.onError((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.sync(() => void events.push(`interrupted:${name}`))
        : Effect.map(Clock.currentTimeMillis, (now) => void events.push(`ended:${name}@${now / 1000}s`))
    )
  )

const listener = (events: Array<string>, stuck: boolean): Drainable => ({
  name: "api",
  beginDrain: Effect.sync(() => void events.push("beginDrain")),
  awaitDrained: stuck ? Effect.never : Effect.void,
  force: Effect.sync(() => void events.push("force"))
})

const deps = Layer.mergeAll(
  AppConfig.layerTest({ shutdownTimeout: Duration.seconds(10) }),
  Signals.layerTest,
  Teardown.layerTest,
  Logger.layer([])
)

describe("Group.run", () => {
  it.effect.each(cases)("$name", (c) =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const signals = yield* Signals
      const forced = yield* Teardown.use((t) => Effect.forkChild(t.forced, { startImmediately: true }))
      const members = Object.fromEntries(Object.entries(c.members).map(([n, b]) => [n, member(events, n, b)]))
      // Lifecycle lives as long as the group, as in program.ts: its watchdog must not outlive it.
      const group = yield* Effect.forkChild(
        Effect.gen(function* () {
          yield* (yield* Lifecycle).register(listener(events, c.stuck ?? false))
          const stop = yield* Group.run(members)
          events.push(`returned@${(yield* Clock.currentTimeMillis) / 1000}s`)
          return stop
        }).pipe(Effect.provide(Lifecycle.layer))
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
      expect(rest.slice(others.length)).toEqual(c.stuck ? ["beginDrain", "force", returned] : ["beginDrain", returned])
      expect(forced.pollUnsafe()).toStrictEqual(c.forced === undefined ? undefined : Exit.succeed(c.forced))
    }).pipe(Effect.provide(deps))
  )
})
