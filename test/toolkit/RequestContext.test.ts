/**
 * RequestContext and DeadlineHeader — Go's `context` semantics: deadlines on the TestClock (expiry at exactly the
 * deadline, the earlier deadline governs, a past deadline fails at once, the work and its forks are interrupted),
 * values on `Context.Reference` seen in nested forks, the header's parse/format table, and the server middleware over
 * real sockets (no header, valid, invalid, zero; a client that disconnects interrupts the request's fanned-out work).
 * The README's Go → Effect examples run here verbatim. Every test runs under `verifyNone`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Option } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as DeadlineHeader from "../../src/toolkit/DeadlineHeader.ts"
import * as RequestContext from "../../src/toolkit/RequestContext.ts"
import { verifyNone } from "../support/goleak.ts"
import { connect, within } from "../support/http-client.ts"
import { serve } from "../support/request-server.ts"

/** a request-scoped value of the tests (Go: a `ctx.Value` key) */
const RequestId = Context.Reference<string>("test/RequestId", { defaultValue: () => "-" })

/** the failure of `exit`, if it failed with one */
const failureOf = <A, E>(exit: Exit.Exit<A, E> | undefined) =>
  exit !== undefined && Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined

describe("DeadlineHeader.parse", () => {
  it.each([
    ["0", 0],
    ["1", 1],
    ["250", 250],
    ["007", 7],
    ["999999999", 999_999_999],
    ["", undefined],
    [" ", undefined],
    ["-1", undefined],
    ["+5", undefined],
    ["1.5", undefined],
    ["1e3", undefined],
    ["0x10", undefined],
    ["10ms", undefined],
    ["1S", undefined],
    ["1000000000", undefined],
    ["5, 10", undefined],
    ["Infinity", undefined],
    ["٣", undefined]
  ])("%j → %s", (value, expected) => {
    expect(DeadlineHeader.parse(value)).toBe(expected)
  })
})

describe("DeadlineHeader.format", () => {
  it.each([
    [1500, "1500"],
    [1499.9, "1499"],
    [0.9, "0"],
    [0, "0"],
    [-5, "0"],
    [2e9, "999999999"]
  ])("%s ms → %j", (millis, expected) => {
    expect(DeadlineHeader.format(millis)).toBe(expected)
    expect(DeadlineHeader.parse(DeadlineHeader.format(millis))).toBeDefined()
  })
})

describe("RequestContext deadlines", () => {
  it.effect("outside any deadline: background — no deadline, nothing remaining", () =>
    verifyNone(
      Effect.gen(function* () {
        expect(yield* RequestContext.RequestContext).toBe(RequestContext.background)
        expect(yield* RequestContext.deadline).toEqual(Option.none())
        expect(yield* RequestContext.remaining).toEqual(Option.none())
        expect(yield* RequestContext.withTimeout(RequestContext.deadline, Duration.infinity)).toEqual(Option.none())
      })
    )
  )

  it.effect("withTimeout: the work is interrupted and DeadlineExceeded raised at exactly the deadline", () =>
    verifyNone(
      Effect.gen(function* () {
        const log: Array<string> = []
        const work = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => log.push("work interrupted"))))
        const timed = RequestContext.withTimeout(work, "100 millis").pipe(
          Effect.tapError((e) => Effect.sync(() => log.push(e._tag)))
        )
        const fiber = yield* Effect.forkChild(timed, { startImmediately: true })
        yield* TestClock.adjust("99 millis")
        expect(fiber.pollUnsafe()).toBeUndefined()
        expect(log).toEqual([])
        yield* TestClock.adjust("1 millis")
        const exit = yield* Fiber.await(fiber)
        expect(failureOf(exit)).toEqual(new RequestContext.DeadlineExceeded({ deadline: 100 }))
        // the work's finalizers ran before the failure surfaced
        expect(log).toEqual(["work interrupted", "DeadlineExceeded"])
      })
    )
  )

  it.effect("work that ends before its deadline is unaffected: its value, no DeadlineExceeded, no timer left", () =>
    verifyNone(
      Effect.gen(function* () {
        const work = Effect.sleep("50 millis").pipe(Effect.as("done"))
        const fiber = yield* Effect.forkChild(RequestContext.withTimeout(work, "100 millis"), {
          startImmediately: true
        })
        yield* TestClock.adjust("50 millis")
        expect(yield* Fiber.join(fiber)).toBe("done")
        const failing = RequestContext.withTimeout(Effect.fail("own error"), "100 millis")
        expect(yield* Effect.flip(failing)).toBe("own error")
      })
    )
  )

  it.effect("inside: deadline and remaining report the deadline, remaining shrinks with the clock", () =>
    verifyNone(
      Effect.gen(function* () {
        yield* TestClock.adjust("1000 millis")
        const gate = yield* Deferred.make<void>()
        const observed = Effect.gen(function* () {
          const before = [yield* RequestContext.deadline, yield* RequestContext.remaining]
          yield* Deferred.await(gate)
          return [...before, yield* RequestContext.remaining]
        })
        const fiber = yield* Effect.forkChild(RequestContext.withTimeout(observed, "100 millis"), {
          startImmediately: true
        })
        yield* TestClock.adjust("30 millis")
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(fiber)).toEqual([
          Option.some(1100),
          Option.some(Duration.millis(100)),
          Option.some(Duration.millis(70))
        ])
      })
    )
  )

  // Go's WithDeadline: "If the parent's deadline is already earlier than d, WithDeadline(parent, d) is semantically
  // equivalent to parent." Each case: outer and inner timeouts → the deadline seen inside, and when/which one fires.
  it.effect.each([
    { outer: 100, inner: 50, seen: 50, fires: 50 },
    { outer: 50, inner: 100, seen: 50, fires: 50 },
    { outer: 80, inner: 80, seen: 80, fires: 80 }
  ])("nested: outer $outer ms, inner $inner ms → inner sees $seen, DeadlineExceeded at $fires", (c) =>
    verifyNone(
      Effect.gen(function* () {
        const seen: Array<Option.Option<number>> = []
        const inner = RequestContext.deadline.pipe(
          Effect.tap((d) => Effect.sync(() => seen.push(d))),
          Effect.andThen(Effect.never),
          RequestContext.withTimeout(Duration.millis(c.inner))
        )
        const fiber = yield* Effect.forkChild(RequestContext.withTimeout(inner, Duration.millis(c.outer)), {
          startImmediately: true
        })
        expect(seen).toEqual([Option.some(c.seen)])
        yield* TestClock.adjust(Duration.millis(c.fires - 1))
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 millis")
        expect(failureOf(yield* Fiber.await(fiber))).toEqual(new RequestContext.DeadlineExceeded({ deadline: c.fires }))
      })
    )
  )

  it.effect.each([
    { name: "withTimeout(0)", run: <A, E, R>(e: Effect.Effect<A, E, R>) => RequestContext.withTimeout(e, 0) },
    { name: "withDeadline(now)", run: <A, E, R>(e: Effect.Effect<A, E, R>) => RequestContext.withDeadline(e, 500) },
    { name: "withDeadline(past)", run: <A, E, R>(e: Effect.Effect<A, E, R>) => RequestContext.withDeadline(e, 10) }
  ])("$name fails at once with DeadlineExceeded without running the work", (c) =>
    verifyNone(
      Effect.gen(function* () {
        yield* TestClock.adjust("500 millis")
        let ran = false
        const error = yield* Effect.flip(c.run(Effect.sync(() => (ran = true))))
        expect(error._tag).toBe("DeadlineExceeded")
        expect(ran).toBe(false)
      })
    )
  )

  it.effect("at the deadline every fanned-out task of the work is interrupted", () =>
    verifyNone(
      Effect.gen(function* () {
        const interrupted: Array<number> = []
        const task = (i: number) => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(i))))
        const work = Effect.all([task(1), task(2), task(3)], { concurrency: "unbounded" })
        const fiber = yield* Effect.forkChild(RequestContext.withTimeout(work, "1 second"), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        expect(failureOf(yield* Fiber.await(fiber))?._tag).toBe("DeadlineExceeded")
        expect(interrupted.sort()).toEqual([1, 2, 3])
      })
    )
  )
})

describe("RequestContext values (Context.Reference)", () => {
  it.effect("a provided value and the deadline are seen by nested forks and fanned-out fibers", () =>
    verifyNone(
      Effect.gen(function* () {
        const read = Effect.all([RequestId, RequestContext.deadline])
        const nested = Effect.forkChild(Effect.forkChild(read).pipe(Effect.flatMap(Fiber.join))).pipe(
          Effect.flatMap(Fiber.join)
        )
        const fanned = Effect.all([read, read], { concurrency: "unbounded" })
        const inside = Effect.all([nested, fanned]).pipe(
          Effect.provideService(RequestId, "r-42"),
          RequestContext.withTimeout("1 second")
        )
        const expected = ["r-42", Option.some(1000)]
        expect(yield* inside).toEqual([expected, [expected, expected]])
        expect(yield* read).toEqual(["-", Option.none()]) // outside: the defaults
      })
    )
  )
})

describe("Go → Effect examples (README)", () => {
  it.effect("context.WithCancel → interrupt the fiber", () =>
    verifyNone(
      Effect.gen(function* () {
        const worker = yield* Effect.forkChild(Effect.never, { startImmediately: true }) // go work(ctx)
        yield* Fiber.interrupt(worker) // cancel(): the worker and all it forked are interrupted, finalizers run
        const exit = yield* Fiber.await(worker) // <-ctx.Done(): ended by interruption
        expect(Exit.hasInterrupts(exit)).toBe(true)
      })
    )
  )

  it.effect("context.WithDeadline → RequestContext.withDeadline", () =>
    verifyNone(
      Effect.gen(function* () {
        const at = (yield* Clock.currentTimeMillis) + 100
        const left = yield* RequestContext.withDeadline(RequestContext.remaining, at) // ctx.Deadline() / time.Until
        const late = yield* RequestContext.withDeadline(Effect.never, at - 100).pipe(Effect.flip) // already past
        expect([left, late._tag]).toEqual([Option.some(Duration.millis(100)), "DeadlineExceeded"])
      })
    )
  )

  it.live("context.WithTimeout → RequestContext.withTimeout (plain Effect: Effect.timeout)", () =>
    verifyNone(
      Effect.gen(function* () {
        const slow = Effect.sleep("1 second").pipe(Effect.as("answer"))
        const error = yield* RequestContext.withTimeout(slow, "10 millis").pipe(Effect.flip) // ctx.Err()
        const plain = yield* Effect.timeout(slow, "10 millis").pipe(Effect.flip) // Cause.TimeoutError
        expect([error._tag, plain._tag]).toEqual(["DeadlineExceeded", "TimeoutError"])
      })
    )
  )

  it.effect("context.WithValue → Context.Reference", () =>
    verifyNone(
      Effect.gen(function* () {
        // const RequestId = Context.Reference<string>("app/RequestId", { defaultValue: () => "-" })
        const child = Effect.forkChild(RequestId).pipe(Effect.flatMap(Fiber.join))
        const seen = yield* child.pipe(Effect.provideService(RequestId, "r-42")) // ctx.Value(key) in any fork
        expect([seen, yield* RequestId]).toEqual(["r-42", "-"])
      })
    )
  )
})

/** a server whose one route `/work` runs `handler` under `DeadlineHeader.middleware`; closed with the scope */
const serveWork = <E>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E>) =>
  Effect.flatMap(HttpRouter.toHttpEffect(HttpRouter.add("GET", "/work", DeadlineHeader.middleware(handler))), serve)

describe("DeadlineHeader.middleware", () => {
  let handled = 0
  const reportDeadline = Effect.map(RequestContext.remaining, (left) => {
    handled++
    return HttpServerResponse.jsonUnsafe({ remaining: Option.getOrNull(Option.map(left, Duration.toMillis)) })
  })

  it.effect.each([
    { header: undefined, status: 200, body: { remaining: null } },
    { header: "250", status: 200, body: { remaining: 250 } },
    { header: "007", status: 200, body: { remaining: 7 } },
    { header: "0", status: 504, body: { error: "deadline exceeded" } },
    {
      header: "1.5",
      status: 400,
      body: { error: 'x-request-timeout-ms must be an integer number of milliseconds from 0 to 999999999, got "1.5"' }
    },
    {
      header: "",
      status: 400,
      body: { error: 'x-request-timeout-ms must be an integer number of milliseconds from 0 to 999999999, got ""' }
    }
  ])("x-request-timeout-ms: $header → $status", (c) =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serveWork(reportDeadline)
          const client = yield* connect(server.port)
          handled = 0
          yield* client.send("/work", c.header === undefined ? [] : [`${DeadlineHeader.name}: ${c.header}`])
          const answer = yield* client.next()
          expect([answer.status, JSON.parse(answer.body)]).toEqual([c.status, c.body])
          expect(handled).toBe(c.status === 200 ? 1 : 0) // 400 and 504 at once: the handler never ran
        })
      )
    )
  )

  it.effect("the header name is case-insensitive, as HTTP says (read from Node's raw headers)", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serveWork(reportDeadline)
          const client = yield* connect(server.port)
          yield* client.send("/work", ["X-Request-Timeout-MS: 250"])
          const answer = yield* client.next()
          expect([answer.status, JSON.parse(answer.body)]).toEqual([200, { remaining: 250 }])
        })
      )
    )
  )

  it.effect("the header sent twice is rejected (400)", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serveWork(reportDeadline)
          const client = yield* connect(server.port)
          yield* client.send("/work", [`${DeadlineHeader.name}: 5`, `${DeadlineHeader.name}: 10`])
          const answer = yield* client.next()
          expect([answer.status, JSON.parse(answer.body).error]).toEqual([400, expect.stringContaining('"5, 10"')])
        })
      )
    )
  )

  it.effect.each([{ header: undefined }, { header: "60000" }])(
    "a client that disconnects interrupts the request's fanned-out work (x-request-timeout-ms: $header)",
    (c) =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const started = yield* Deferred.make<void>()
            const allInterrupted = yield* Deferred.make<void>()
            const interrupted: Array<number> = []
            let running = 0
            const task = (i: number) =>
              Effect.sync(() => ++running === 3 && Deferred.doneUnsafe(started, Effect.void)).pipe(
                Effect.andThen(Effect.never),
                Effect.onInterrupt(() =>
                  Effect.sync(() => interrupted.push(i) === 3 && Deferred.doneUnsafe(allInterrupted, Effect.void))
                )
              )
            const fanOut = Effect.all([task(1), task(2), task(3)], { concurrency: "unbounded" }).pipe(
              Effect.as(HttpServerResponse.text("never"))
            )
            const server = yield* serveWork(fanOut)
            const client = yield* connect(server.port)
            yield* client.send("/work", c.header === undefined ? [] : [`${DeadlineHeader.name}: ${c.header}`])
            yield* Deferred.await(started).pipe(within(2_000, "all three tasks started"))
            expect(interrupted).toEqual([])

            // the TestClock never moves: only the disconnect can end the work
            yield* client.destroy
            yield* Deferred.await(allInterrupted).pipe(within(2_000, "all three tasks interrupted"))
            expect(interrupted.sort()).toEqual([1, 2, 3])
          })
        )
      )
  )
})
