/**
 * Channel — Go's channel behaviour, case by case: rendezvous, buffering, FIFO, close, len/cap, range, chunked
 * operations, select (random choice, default, parking, time-outs), interruption, the one-step fast path, the
 * send-only / receive-only views, the nil channel and `make`'s element type. Every body runs under goleak's
 * `verifyNone`; "blocked" is observed with `pollUnsafe()` after `Effect.yieldNow`, never with a real sleep.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Random, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as Channel from "../../src/toolkit/Channel.ts"
import { verifyNone } from "../support/goleak.ts"

/** yields — lets every runnable fiber run `n` times over. */
const yields = (n = 5) => Effect.forEach(Array.from({ length: n }), () => Effect.yieldNow, { discard: true })

/** outcome — an exit in a word, for tables: "ok", "send on closed", "close of closed", "interrupted". */
const outcome = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) && error.value instanceof Channel.ChannelClosed ? error.value.message : "unexpected"
}

/** drain — receives until `None`: what a `for range` would see. */
const drain = <A>(ch: Channel.Channel<A>) =>
  Effect.gen(function* () {
    const out: Array<A> = []
    while (true) {
      const v = yield* Channel.receive(ch)
      if (Option.isNone(v)) return out
      out.push(v.value)
    }
  })

/** drainNow — receives what can be received without waiting (a select with default). */
const drainNow = <A>(ch: Channel.Channel<A>) =>
  Effect.gen(function* () {
    const out: Array<A> = []
    while (true) {
      const v = yield* Channel.select([Channel.onReceive(ch, Effect.succeed)], { default: Effect.succeed(undefined) })
      if (v === undefined || Option.isNone(v)) return out
      out.push(v.value)
    }
  })

/**
 * steps — runs `effect` and counts the primitives it evaluates, with a tracer hook like goleak's (which it keeps
 * working): one step is one primitive, and a fiber switch would be more.
 */
const steps = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.tracer, (inner) => {
    let count = 0
    const tracer = Tracer.make({
      span: (options) => inner.span(options),
      context: (primitive, fiber) => {
        count++
        return inner.context ? inner.context(primitive, fiber) : primitive["~effect/Effect/evaluate"](fiber)
      }
    })
    return Effect.map(Effect.withTracer(effect, tracer), (value) => ({ steps: count, value }))
  })

describe("make, len, cap", () => {
  it.effect.each([0, 1, 3, 64])("cap(make(chan, %i)) and an empty len", (capacity) =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(capacity)
        expect(Channel.cap(ch)).toBe(capacity)
        expect(yield* Channel.len(ch)).toBe(0)
      })
    )
  )
  it.effect.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("make(chan, %s) is a defect, like Go's panic", (n) =>
    verifyNone(
      Effect.gen(function* () {
        const exit = yield* Effect.exit(Channel.make<number>(n))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(String(Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty))).toMatch(/non-negative integer/)
      })
    )
  )
  it.effect("len counts buffered values; an unbuffered channel's len is always 0", () =>
    verifyNone(
      Effect.gen(function* () {
        const buffered = yield* Channel.make<number>(3)
        yield* Channel.sendAll(buffered, [1, 2])
        expect(yield* Channel.len(buffered)).toBe(2)
        yield* Channel.receive(buffered)
        expect(yield* Channel.len(buffered)).toBe(1)
        const unbuffered = yield* Channel.make<number>(0)
        const sender = yield* Effect.forkChild(Channel.send(unbuffered, 1))
        yield* yields()
        expect(yield* Channel.len(unbuffered)).toBe(0)
        expect(yield* Channel.receive(unbuffered)).toStrictEqual(Option.some(1))
        yield* Fiber.join(sender)
      })
    )
  )
})

describe("send and receive", () => {
  it.effect("unbuffered: the sender is not done until a receiver has taken the value", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<string>(0)
        const sender = yield* Effect.forkChild(Channel.send(ch, "ping"))
        yield* yields()
        expect(sender.pollUnsafe()).toBeUndefined()
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.some("ping"))
        expect(sender.pollUnsafe()).toStrictEqual(Exit.void)
      })
    )
  )
  it.effect("unbuffered: a receiver waits for a sender, and the sender completes at once", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<string>(0)
        const receiver = yield* Effect.forkChild(Channel.receive(ch))
        yield* yields()
        expect(receiver.pollUnsafe()).toBeUndefined()
        yield* Channel.send(ch, "pong")
        expect(receiver.pollUnsafe()).toStrictEqual(Exit.succeed(Option.some("pong")))
      })
    )
  )
  it.effect("buffered: sends complete until the buffer is full, then block until a receive makes room", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(2)
        const senders = yield* Effect.forEach([1, 2, 3], (n) => Effect.forkChild(Channel.send(ch, n)))
        yield* yields()
        expect(senders.map((f) => f.pollUnsafe() !== undefined)).toStrictEqual([true, true, false])
        expect(yield* Channel.len(ch)).toBe(2)
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.some(1))
        yield* yields()
        expect(senders[2]!.pollUnsafe()).toStrictEqual(Exit.void)
        expect(yield* Channel.len(ch)).toBe(2)
      })
    )
  )
  it.effect.each([0, 1, 3])("FIFO: a producer's values arrive in order (capacity %i)", (capacity) =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(capacity)
        const values = Array.from({ length: 50 }, (_, i) => i)
        const producer = yield* Effect.forkChild(
          Effect.forEach(values, (v) => Channel.send(ch, v), { discard: true }).pipe(Effect.andThen(Channel.close(ch)))
        )
        expect(yield* drain(ch)).toStrictEqual(values)
        yield* Fiber.join(producer)
      })
    )
  )
})

/** A close case: what was sent and completed before `close`, and which sends were blocked when it came. */
interface CloseCase {
  readonly name: string
  readonly capacity: number
  readonly sent: ReadonlyArray<number>
  readonly blocked: ReadonlyArray<number>
  readonly blockedReceivers: number
}

const closeCases: ReadonlyArray<CloseCase> = [
  { name: "empty unbuffered", capacity: 0, sent: [], blocked: [], blockedReceivers: 0 },
  { name: "buffered, partly full", capacity: 3, sent: [1, 2], blocked: [], blockedReceivers: 0 },
  { name: "buffered, full, two senders blocked", capacity: 2, sent: [1, 2], blocked: [3, 4], blockedReceivers: 0 },
  { name: "unbuffered, a sender blocked", capacity: 0, sent: [], blocked: [7], blockedReceivers: 0 },
  { name: "unbuffered, receivers blocked", capacity: 0, sent: [], blocked: [], blockedReceivers: 3 },
  { name: "buffered, receivers blocked", capacity: 2, sent: [], blocked: [], blockedReceivers: 2 }
]

describe("close", () => {
  it.effect.each(closeCases)("$name: drain, then None; blocked senders fail and their values are lost", (c) =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(c.capacity)
        yield* Channel.sendAll(ch, c.sent)
        const senders = yield* Effect.forEach(c.blocked, (v) => Effect.forkChild(Channel.send(ch, v)))
        const receivers = yield* Effect.forEach(Array.from({ length: c.blockedReceivers }), () =>
          Effect.forkChild(Channel.receive(ch))
        )
        yield* yields()
        expect([...senders, ...receivers].map((f) => f.pollUnsafe())).toStrictEqual(
          [...senders, ...receivers].map(() => undefined)
        )
        yield* Channel.close(ch)
        for (const sender of senders) expect(outcome(yield* Fiber.await(sender))).toBe("send on closed channel")
        for (const receiver of receivers) expect(yield* Fiber.join(receiver)).toStrictEqual(Option.none())
        expect(yield* drain(ch)).toStrictEqual(c.sent) // the blocked senders' values never arrive
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.none()) // and None forever after
        expect(outcome(yield* Effect.exit(Channel.send(ch, 99)))).toBe("send on closed channel")
        expect(outcome(yield* Effect.exit(Channel.close(ch)))).toBe("close of closed channel")
        expect(yield* Channel.len(ch)).toBe(0)
      })
    )
  )
  it.effect("a closed channel with values still buffered refuses sends but delivers what it holds", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(2)
        yield* Channel.sendAll(ch, [1, 2])
        yield* Channel.close(ch)
        expect(outcome(yield* Effect.exit(Channel.send(ch, 3)))).toBe("send on closed channel")
        expect(yield* Channel.len(ch)).toBe(2)
        expect(yield* drain(ch)).toStrictEqual([1, 2])
      })
    )
  )
})

describe("interruption", () => {
  it.effect.each([0, 1])("an interrupted blocked send (capacity %i) is received by no one", (capacity) =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(capacity)
        const full = Array.from({ length: capacity }, () => 0)
        yield* Channel.sendAll(ch, full)
        const sender = yield* Effect.forkChild(Channel.send(ch, 42))
        yield* yields()
        yield* Fiber.interrupt(sender)
        expect(yield* drainNow(ch)).toStrictEqual(full) // the room this makes is not filled by the withdrawn 42
        yield* yields()
        expect(yield* drainNow(ch)).toStrictEqual([])
      })
    )
  )
  it.effect.each([0, 1])(
    "an interrupted blocked receive (capacity %i) takes nothing and leaves no waiter",
    (capacity) =>
      verifyNone(
        Effect.gen(function* () {
          const ch = yield* Channel.make<number>(capacity)
          const receiver = yield* Effect.forkChild(Channel.receive(ch))
          yield* yields()
          yield* Fiber.interrupt(receiver)
          // Nobody waits any more: an unbuffered send is not ready, a buffered one fills the buffer and stays there.
          const sent = yield* Channel.select([Channel.onSend(ch, 5, () => Effect.succeed("sent"))], {
            default: Effect.succeed("no receiver")
          })
          expect(sent).toBe(capacity === 0 ? "no receiver" : "sent")
          yield* yields()
          expect(yield* Channel.len(ch)).toBe(capacity === 0 ? 0 : 1)
        })
      )
  )
})

describe("toStream (for v := range ch)", () => {
  it.effect("yields every value in order and ends once the channel is closed and drained", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(2)
        const producer = yield* Effect.forkChild(
          Channel.sendAll(ch, [1, 2, 3, 4, 5]).pipe(Effect.andThen(Channel.close(ch)))
        )
        expect(yield* Stream.runCollect(Channel.toStream(ch))).toStrictEqual([1, 2, 3, 4, 5])
        yield* Fiber.join(producer)
      })
    )
  )
  it.effect("a consumer that stops early (break) leaves the rest in the channel", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(4)
        yield* Channel.sendAll(ch, [1, 2, 3])
        expect(yield* Channel.toStream(ch).pipe(Stream.take(1), Stream.runCollect)).toStrictEqual([1])
        expect(yield* Channel.len(ch)).toBe(2)
      })
    )
  )
})

describe("sendAll, receiveAll, receiveUpTo", () => {
  it.effect("move values in chunks, in order; None once closed and drained", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(4)
        const producer = yield* Effect.forkChild(
          Channel.sendAll(ch, [1, 2, 3, 4, 5, 6, 7]).pipe(Effect.andThen(Channel.close(ch)))
        )
        yield* yields()
        expect(yield* Channel.receiveUpTo(ch, 3)).toStrictEqual(Option.some([1, 2, 3]))
        const rest: Array<number> = []
        while (true) {
          const chunk = yield* Channel.receiveAll(ch)
          if (Option.isNone(chunk)) break
          rest.push(...chunk.value)
        }
        expect(rest).toStrictEqual([4, 5, 6, 7])
        yield* Fiber.join(producer)
        expect(yield* Channel.receiveUpTo(ch, 2)).toStrictEqual(Option.none())
      })
    )
  )
  it.effect("a sendAll cut short by close fails; a prefix was delivered and nothing after it", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(2)
        const sender = yield* Effect.forkChild(Channel.sendAll(ch, [1, 2, 3, 4]))
        yield* yields()
        yield* Channel.close(ch)
        expect(outcome(yield* Fiber.await(sender))).toBe("send on closed channel")
        expect(yield* drain(ch)).toStrictEqual([1, 2])
      })
    )
  )
  it.effect("a fractional max counts whole values: receiveUpTo(2.5) takes 2, and the rest stay in order", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(4)
        yield* Channel.sendAll(ch, [1, 2, 3, 4])
        expect(yield* Channel.receiveUpTo(ch, 2.5)).toStrictEqual(Option.some([1, 2]))
        expect([yield* Channel.receive(ch), yield* Channel.len(ch)]).toStrictEqual([Option.some(3), 1])
        expect(yield* Channel.receiveAll(ch)).toStrictEqual(Option.some([4]))
      })
    )
  )
  it.effect("receiveUpTo(0) is a defect", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        const exit = yield* Effect.exit(Channel.receiveUpTo(ch, 0))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      })
    )
  )
})

describe("select", () => {
  it.effect("chooses uniformly at random among the ready cases (seeded Random: reproducible)", () =>
    verifyNone(
      Effect.gen(function* () {
        const chans = yield* Effect.forEach([0, 1, 2], () => Channel.make<number>(1))
        const picks = Effect.gen(function* () {
          const counts = [0, 0, 0]
          const order: Array<number> = []
          for (let i = 0; i < 300; i++) {
            for (const ch of chans) if ((yield* Channel.len(ch)) === 0) yield* Channel.send(ch, i)
            const k = yield* Channel.select(chans.map((ch, k) => Channel.onReceive(ch, () => Effect.succeed(k))))
            counts[k]!++
            order.push(k)
          }
          return { counts, order }
        })
        const first = yield* picks.pipe(Random.withSeed(42))
        for (const n of first.counts) expect(n).toBeGreaterThan(80) // 100 expected for each
        const second = yield* picks.pipe(Random.withSeed(42))
        expect(second.order).toStrictEqual(first.order)
      })
    )
  )
  it.effect("a case not chosen consumes nothing and sends nothing", () =>
    verifyNone(
      Effect.gen(function* () {
        const seen = new Set<string>()
        for (let seed = 0; seed < 20; seed++) {
          const out = yield* Channel.make<string>(1) // room: the send case is ready
          const input = yield* Channel.make<string>(1)
          yield* Channel.send(input, "in") // a value: the receive case is ready
          const chosen = yield* Channel.select([
            Channel.onSend(out, "out", () => Effect.succeed("send")),
            Channel.onReceive(input, () => Effect.succeed("receive"))
          ]).pipe(Random.withSeed(seed))
          seen.add(chosen)
          expect([yield* Channel.len(out), yield* Channel.len(input)]).toStrictEqual(
            chosen === "send" ? [1, 1] : [0, 0]
          )
        }
        expect([...seen].sort()).toStrictEqual(["receive", "send"])
      })
    )
  )
  it.effect("with default and nothing ready: runs default at once and touches no channel", () =>
    verifyNone(
      Effect.gen(function* () {
        const full = yield* Channel.make<number>(1)
        yield* Channel.send(full, 1)
        const empty = yield* Channel.make<number>(0)
        const r = yield* Channel.select(
          [
            Channel.onSend(full, 2, () => Effect.succeed("sent")),
            Channel.onReceive(empty, () => Effect.succeed("got"))
          ],
          { default: Effect.succeed("default") }
        )
        expect(r).toBe("default")
        expect(yield* Channel.len(full)).toBe(1)
        expect(yield* Channel.receive(full)).toStrictEqual(Option.some(1)) // 2 was not sent
        const parked = yield* Channel.select([Channel.onSend(empty, 3, () => Effect.succeed("sent"))], {
          default: Effect.succeed("no receiver waits")
        })
        expect(parked).toBe("no receiver waits") // the receive case left no waiter behind
      })
    )
  )
  it.effect("with default and a ready case: the case is taken, not default", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        yield* Channel.send(ch, 3)
        const r = yield* Channel.select([Channel.onReceive(ch, (v) => Effect.succeed(v))], {
          default: Effect.succeed(Option.none<number>())
        })
        expect(r).toStrictEqual(Option.some(3))
      })
    )
  )
  it.effect("without default: blocks until a case is ready, then performs only that case", () =>
    verifyNone(
      Effect.gen(function* () {
        const a = yield* Channel.make<number>(1)
        const b = yield* Channel.make<number>(0)
        const selecting = yield* Effect.forkChild(
          Channel.select([
            Channel.onReceive(a, (v) => Effect.succeed(["a", v] as const)),
            Channel.onReceive(b, (v) => Effect.succeed(["b", v] as const))
          ])
        )
        yield* yields()
        expect(selecting.pollUnsafe()).toBeUndefined()
        yield* Channel.send(b, 2) // unbuffered: completes only because the parked select takes it
        expect(yield* Fiber.join(selecting)).toStrictEqual(["b", Option.some(2)])
        yield* Channel.send(a, 1) // the other case was withdrawn: the value stays in a
        expect(yield* Channel.len(a)).toBe(1)
      })
    )
  )
  it.effect("a parked send case is completed by a receiver, exactly once", () =>
    verifyNone(
      Effect.gen(function* () {
        const a = yield* Channel.make<string>(0)
        const b = yield* Channel.make<string>(0)
        const selecting = yield* Effect.forkChild(
          Channel.select([
            Channel.onSend(a, "to a", () => Effect.succeed("a")),
            Channel.onSend(b, "to b", () => Effect.succeed("b"))
          ])
        )
        yield* yields()
        expect(yield* Channel.receive(b)).toStrictEqual(Option.some("to b"))
        expect(yield* Fiber.join(selecting)).toBe("b")
        const late = yield* Channel.select([Channel.onReceive(a, Effect.succeed)], { default: Effect.succeed("none") })
        expect(late).toBe("none") // "to a" was never offered after b won
      })
    )
  )
  it.effect("two selects meet on an unbuffered channel", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(0)
        const idle = yield* Channel.make<number>(0)
        const sender = yield* Effect.forkChild(
          Channel.select([Channel.onSend(ch, 1, () => Effect.succeed("sent")), Channel.onReceive(idle, Effect.succeed)])
        )
        yield* yields()
        const got = yield* Channel.select([
          Channel.onReceive(ch, (v) => Effect.succeed(v)),
          Channel.onReceive(idle, (v) => Effect.succeed(v))
        ])
        expect(got).toStrictEqual(Option.some(1))
        expect(yield* Fiber.join(sender)).toBe("sent")
      })
    )
  )
  it.effect("a select never meets itself: its send and receive cases on one unbuffered channel wait for others", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(0)
        const selecting = yield* Effect.forkChild(
          Channel.select([
            Channel.onSend(ch, 1, () => Effect.succeed("sent")),
            Channel.onReceive(ch, (v) => Effect.succeed(v))
          ])
        )
        yield* yields()
        expect(selecting.pollUnsafe()).toBeUndefined()
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.some(1))
        expect(yield* Fiber.join(selecting)).toBe("sent")
      })
    )
  )
  it.effect("closed channels: a receive case is ready with None; a chosen send case fails with ChannelClosed", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        yield* Channel.close(ch)
        const idle = yield* Channel.make<number>(0)
        expect(
          yield* Channel.select([Channel.onReceive(ch, Effect.succeed), Channel.onReceive(idle, Effect.succeed)])
        ).toStrictEqual(Option.none())
        const exit = yield* Effect.exit(Channel.select([Channel.onSend(ch, 1, () => Effect.void)]))
        expect(outcome(exit)).toBe("send on closed channel")
      })
    )
  )
  it.effect("close wakes a parked select: receive cases get None, send cases fail", () =>
    verifyNone(
      Effect.gen(function* () {
        const rx = yield* Channel.make<number>(0)
        const tx = yield* Channel.make<number>(0)
        const receiving = yield* Effect.forkChild(Channel.select([Channel.onReceive(rx, Effect.succeed)]))
        const sending = yield* Effect.forkChild(Channel.select([Channel.onSend(tx, 1, () => Effect.void)]))
        yield* yields()
        yield* Channel.close(rx)
        yield* Channel.close(tx)
        expect(yield* Fiber.join(receiving)).toStrictEqual(Option.none())
        expect(outcome(yield* Fiber.await(sending))).toBe("send on closed channel")
        expect(yield* Channel.receive(tx)).toStrictEqual(Option.none()) // its value was never delivered
      })
    )
  )
  it.effect("a time-out is Effect.timeout around select (TestClock); the timed-out select consumes nothing", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        const waiting = yield* Effect.forkChild(
          Channel.select([Channel.onReceive(ch, Effect.succeed)]).pipe(Effect.timeout("1 second"))
        )
        yield* TestClock.adjust("999 millis")
        expect(waiting.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 milli")
        const exit = yield* Fiber.await(waiting)
        expect(Exit.isFailure(exit) && Cause.isTimeoutError(Cause.squash(exit.cause))).toBe(true)
        yield* Channel.send(ch, 1)
        expect(yield* Channel.len(ch)).toBe(1)
      })
    )
  )
  it.effect("an interrupted parked select loses and duplicates nothing", () =>
    verifyNone(
      Effect.gen(function* () {
        const rx = yield* Channel.make<number>(1)
        const tx = yield* Channel.make<string>(0)
        const selecting = yield* Effect.forkChild(
          Channel.select([Channel.onReceive(rx, Effect.succeed), Channel.onSend(tx, "x", () => Effect.void)])
        )
        yield* yields()
        yield* Fiber.interrupt(selecting)
        yield* Channel.send(rx, 1)
        expect(yield* Channel.len(rx)).toBe(1) // its receive case took nothing
        const offered = yield* Channel.select([Channel.onReceive(tx, Effect.succeed)], {
          default: Effect.succeed("none")
        })
        expect(offered).toBe("none") // its send case offers nothing any more
      })
    )
  )
  it.effect("select([]) blocks forever, like Go's select {}", () =>
    verifyNone(
      Effect.gen(function* () {
        const forever = yield* Effect.forkChild(Channel.select([]))
        yield* TestClock.adjust("1 hour")
        expect(forever.pollUnsafe()).toBeUndefined()
        yield* Fiber.interrupt(forever)
      })
    )
  )
})

describe("the fast path: an operation that need not wait is one step", () => {
  it.effect("a send into room, a receive of a buffered value, and a hand-over to a parked party: one step each", () =>
    verifyNone(
      Effect.gen(function* () {
        // Effect.sync is the floor: one primitive. A channel operation is one Suspend and the answer it returns.
        expect((yield* steps(Effect.sync(() => 1))).steps).toBe(1)
        const buffered = yield* Channel.make<number>(1)
        expect(yield* steps(Channel.send(buffered, 1))).toStrictEqual({ steps: 2, value: undefined })
        expect(yield* steps(Channel.receive(buffered))).toStrictEqual({ steps: 2, value: Option.some(1) })
        const unbuffered = yield* Channel.make<number>(0)
        const receiver = yield* Effect.forkChild(Channel.receive(unbuffered))
        yield* yields()
        expect(yield* steps(Channel.send(unbuffered, 2))).toStrictEqual({ steps: 2, value: undefined })
        expect(receiver.pollUnsafe()).toStrictEqual(Exit.succeed(Option.some(2))) // handed over in that step
        const sender = yield* Effect.forkChild(Channel.send(unbuffered, 3))
        yield* yields()
        expect(yield* steps(Channel.receive(unbuffered))).toStrictEqual({ steps: 2, value: Option.some(3) })
        expect(sender.pollUnsafe()).toStrictEqual(Exit.void)
        // and none of them needs the scheduler: runSync fails on anything that suspends
        Effect.runSync(Channel.send(buffered, 4))
        expect(Effect.runSync(Channel.receive(buffered))).toStrictEqual(Option.some(4))
      })
    )
  )
  it.effect("a chain of 3000 fibers handing a value down (Go's whispers) completes: hand-overs never nest deeply", () =>
    verifyNone(
      Effect.gen(function* () {
        const leftmost = yield* Channel.make<number>(0)
        let left = leftmost
        for (let i = 0; i < 3000; i++) {
          const right = yield* Channel.make<number>(0)
          const [from, to] = [right, left]
          yield* Effect.forkChild(
            Effect.flatMap(Channel.receive(from), (v) => Channel.send(to, 1 + Option.getOrElse(v, () => 0)))
          )
          left = right
        }
        yield* Effect.forkChild(Channel.send(left, 1))
        expect(yield* Channel.receive(leftmost)).toStrictEqual(Option.some(3001))
      })
    )
  )
})

describe("buffered channels wake parked parties from a task", () => {
  it.effect("a send into an empty buffer does not run the parked receiver; a task gives it the values in order", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(4)
        const receiver = yield* Effect.forkChild(Channel.receiveAll(ch))
        yield* yields()
        yield* Channel.sendAll(ch, [1, 2])
        yield* Channel.send(ch, 3) // the sender keeps going while the receiver is still parked
        expect(receiver.pollUnsafe()).toBeUndefined()
        expect(yield* Fiber.join(receiver)).toStrictEqual(Option.some([1, 2, 3]))
      })
    )
  )
  it.effect("a receive that makes room admits the parked senders in the order they parked", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(2)
        yield* Channel.sendAll(ch, [1, 2])
        const senders = yield* Effect.forEach([3, 4, 5], (v) =>
          Effect.forkChild(Channel.send(ch, v)).pipe(Effect.tap(() => yields(1)))
        )
        expect(yield* Channel.receiveUpTo(ch, 2)).toStrictEqual(Option.some([1, 2]))
        yield* yields()
        expect(senders.map((f) => f.pollUnsafe())).toStrictEqual([Exit.void, Exit.void, undefined])
        yield* Channel.close(ch)
        expect(outcome(yield* Fiber.await(senders[2]!))).toBe("send on closed channel")
        expect(yield* drain(ch)).toStrictEqual([3, 4])
      })
    )
  )
  it.effect("close wakes the parked parties from a task too; a sender still parked then fails, room or not", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        yield* Channel.send(ch, 1)
        const sender = yield* Effect.forkChild(Channel.send(ch, 2))
        yield* yields()
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.some(1)) // room: the sender's admission is pending
        yield* Channel.close(ch) // in the same step: the sender is still parked, so it fails (Go would deliver 2)
        expect(sender.pollUnsafe()).toBeUndefined()
        expect(outcome(yield* Fiber.await(sender))).toBe("send on closed channel")
        expect(yield* Channel.receive(ch)).toStrictEqual(Option.none())
      })
    )
  )
})

describe("Sender and Receiver views (chan<- T, <-chan T)", () => {
  it.effect("both views are the channel itself; the types keep each side to its operations", () =>
    verifyNone(
      Effect.gen(function* () {
        const ch = yield* Channel.make<number>(1)
        const out: Channel.Sender<number> = Channel.sender(ch)
        const input: Channel.Receiver<number> = Channel.receiver(ch)
        yield* Channel.send(out, 1)
        expect([yield* Channel.len(out), Channel.cap(input)]).toStrictEqual([1, 1])
        expect(yield* Channel.receive(input)).toStrictEqual(Option.some(1))
        // Compile-time checks (tsc --noEmit fails if any of these lines compiles):
        // @ts-expect-error — a Receiver cannot be sent on (Go: "send to receive-only type <-chan int")
        const sendOnReceiver = () => Channel.send(input, 2)
        // @ts-expect-error — nor closed (Go: "invalid operation: close of receive-only channel")
        const closeReceiver = () => Channel.close(input)
        // @ts-expect-error — a Sender cannot be received from (Go: "receive from send-only type chan<- int")
        const receiveOnSender = () => Channel.receive(out)
        // @ts-expect-error — nor be a select's receive case
        const receiveCaseOnSender = () => Channel.onReceive(out, Effect.succeed)
        // @ts-expect-error — a Receiver is no select send case
        const sendCaseOnReceiver = () => Channel.onSend(input, 1, () => Effect.void)
        // @ts-expect-error — a Sender<number> takes numbers only
        const sendString = () => Channel.send(out, "two")
        // Variance: a Receiver<number> is a Receiver<unknown>; a Sender<unknown> is a Sender<number>.
        const anything: Channel.Receiver<unknown> = input
        const anyValue = yield* Channel.make<unknown>(1)
        const numbers: Channel.Sender<number> = anyValue
        expect([
          sendOnReceiver,
          closeReceiver,
          receiveOnSender,
          receiveCaseOnSender,
          sendCaseOnReceiver,
          sendString
        ]).toHaveLength(6)
        expect([anything, numbers]).toStrictEqual([ch, anyValue])
      })
    )
  )
})

describe("the nil channel (Channel.nil)", () => {
  it.effect("send and receive on it block forever, until interrupted", () =>
    verifyNone(
      Effect.gen(function* () {
        const nil = Channel.nil<number>()
        const blocked = yield* Effect.forEach(
          [Channel.send(nil, 1), Channel.receive(nil), Channel.sendAll(nil, [1]), Channel.receiveAll(nil)],
          (op) => Effect.forkChild(op)
        )
        yield* TestClock.adjust("1 hour")
        expect(blocked.map((f) => f.pollUnsafe())).toStrictEqual([undefined, undefined, undefined, undefined])
        yield* Effect.forEach(blocked, (f) => Fiber.interrupt(f))
        expect(yield* Channel.sendAll(nil, [])).toBeUndefined() // nothing to send: done at once, as in Go
      })
    )
  )
  it.effect("its select cases are never ready: default runs, and a select of nil cases only blocks forever", () =>
    verifyNone(
      Effect.gen(function* () {
        const nil = Channel.nil<number>()
        const r = yield* Channel.select(
          [
            Channel.onReceive(nil, () => Effect.succeed("received")),
            Channel.onSend(nil, 1, () => Effect.succeed("sent"))
          ],
          { default: Effect.succeed("default") }
        )
        expect(r).toBe("default")
        const forever = yield* Effect.forkChild(Channel.select([Channel.onReceive(nil, Effect.succeed)]))
        yield* TestClock.adjust("1 hour")
        expect(forever.pollUnsafe()).toBeUndefined()
        yield* Fiber.interrupt(forever)
      })
    )
  )
  it.effect("closing it is a defect (Go panics); len and cap are 0; isNil tells it apart", () =>
    verifyNone(
      Effect.gen(function* () {
        const nil = Channel.nil<string>()
        const exit = yield* Effect.exit(Channel.close(nil))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(String(Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty))).toMatch(/close of nil channel/)
        expect([yield* Channel.len(nil), Channel.cap(nil)]).toStrictEqual([0, 0])
        expect([Channel.isNil(nil), Channel.isNil(yield* Channel.make<string>(0))]).toStrictEqual([true, false])
      })
    )
  )
})

describe("make's element type", () => {
  it.effect("without a type argument the element type is ElementTypeMissing, so a send does not compile", () =>
    verifyNone(
      Effect.gen(function* () {
        const untyped = yield* Channel.make(1)
        const same: Channel.Channel<Channel.ElementTypeMissing> = untyped // not Channel<unknown>
        // @ts-expect-error — nor is it a Channel<unknown> that anything goes into
        const unknownChannel: Channel.Channel<unknown> = untyped
        expect([same, unknownChannel]).toStrictEqual([untyped, untyped])
      })
    )
  )
})

/** The README's Go → Effect examples, verbatim between the markers, each run as a test. */
describe("README examples", () => {
  it.effect('chan, unbuffered: ch := make(chan string); go func() { ch <- "ping" }(); msg := <-ch', () =>
    verifyNone(
      Effect.gen(function* () {
        // README:begin unbuffered
        const ch = yield* Channel.make<string>(0) // ch := make(chan string)
        yield* Effect.forkChild(Channel.send(ch, "ping")) // go func() { ch <- "ping" }()
        const msg = yield* Channel.receive(ch) // msg := <-ch   (Option.some("ping"))
        // README:end
        expect(msg).toStrictEqual(Option.some("ping"))
      })
    )
  )
  it.effect("chan, buffered: jobs := make(chan int, 2); jobs <- 1; jobs <- 2; close(jobs)", () =>
    verifyNone(
      Effect.gen(function* () {
        // README:begin buffered
        const jobs = yield* Channel.make<number>(2) // jobs := make(chan int, 2)
        yield* Channel.sendAll(jobs, [1, 2]) // jobs <- 1; jobs <- 2   (no receiver needed: buffered)
        yield* Channel.close(jobs) // close(jobs)   (a send now fails with ChannelClosed)
        // README:end
        expect(yield* drain(jobs)).toStrictEqual([1, 2])
      })
    )
  )
  it.effect("v, ok := <-ch", () =>
    verifyNone(
      Effect.gen(function* () {
        const jobs = yield* Channel.make<number>(1)
        yield* Channel.close(jobs)
        // README:begin receive-ok
        const v = yield* Channel.receive(jobs) // v, ok := <-jobs
        const ok = Option.isSome(v) // ok is false once jobs is closed and drained
        const job = Option.getOrElse(v, () => 0) // v is the zero value then
        // README:end
        expect([ok, job]).toStrictEqual([false, 0])
      })
    )
  )
  it.effect("for v := range ch", () =>
    verifyNone(
      Effect.gen(function* () {
        // README:begin range
        const ch = yield* Channel.make<number>(0) // ch := make(chan int); go func() { …; close(ch) }()
        yield* Effect.forkChild(Channel.sendAll(ch, [1, 2, 3]).pipe(Effect.andThen(Channel.close(ch))))
        const values = yield* Stream.runCollect(Channel.toStream(ch)) // for v := range ch { values = append(values, v) }
        // README:end
        expect(values).toStrictEqual([1, 2, 3])
      })
    )
  )
  it.effect("select with default", () =>
    verifyNone(
      Effect.gen(function* () {
        const messages = yield* Channel.make<string>(1)
        // README:begin select-default
        const got = yield* Channel.select([Channel.onReceive(messages, Effect.succeed)], {
          default: Effect.succeed(Option.none()) // select { case msg := <-messages: … default: … }
        }) // Option.some(msg) if a message was waiting; the default's Option.none() if not
        // README:end
        expect(got).toStrictEqual(Option.none())
        yield* Channel.send(messages, "hi")
        expect(
          yield* Channel.select([Channel.onReceive(messages, Effect.succeed)], {
            default: Effect.succeed(Option.none())
          })
        ).toStrictEqual(Option.some("hi"))
      })
    )
  )
  it.effect("select with a time-out (case <-time.After(time.Second))", () =>
    verifyNone(
      Effect.gen(function* () {
        const c1 = yield* Channel.make<string>(1)
        const example = Effect.gen(function* () {
          // README:begin select-timeout
          const res = yield* Channel.select([Channel.onReceive(c1, (v) => Effect.succeed(v))]).pipe(
            Effect.timeout("1 second") // case <-time.After(time.Second): fails with Cause.TimeoutError
          )
          // README:end
          return res
        })
        const late = yield* Effect.forkChild(Effect.flip(example))
        yield* TestClock.adjust("1 second") // nothing was sent: the time-out wins
        expect(Cause.isTimeoutError(yield* Fiber.join(late))).toBe(true)
        yield* Channel.send(c1, "result 1") // a value in time: the receive case wins
        expect(yield* example).toStrictEqual(Option.some("result 1"))
      })
    )
  )
  it.effect("chan<- T and <-chan T", () =>
    verifyNone(
      Effect.gen(function* () {
        // README:begin views
        const producer = (out: Channel.Sender<number>) =>
          Channel.sendAll(out, [1, 2, 3]).pipe(Effect.andThen(Channel.close(out))) // func producer(out chan<- int)
        const ch = yield* Channel.make<number>(3) // ch := make(chan int, 3)
        yield* producer(ch) // a chan int is a chan<- int
        const values = yield* Stream.runCollect(Channel.toStream(Channel.receiver(ch))) // and a <-chan int: for v := range in
        // README:end
        expect(values).toStrictEqual([1, 2, 3])
      })
    )
  )
  it.effect("nil channel: if !ok { a = nil }", () =>
    verifyNone(
      Effect.gen(function* () {
        const [left, right] = [yield* Channel.make<number>(2), yield* Channel.make<number>(2)]
        yield* Channel.sendAll(left, [1, 2])
        yield* Channel.sendAll(right, [10])
        yield* Channel.close(left)
        yield* Channel.close(right)
        const merged: Array<number> = []
        // README:begin nil
        let [a, b] = [left, right] // merge two channels until both are closed
        while (!Channel.isNil(a) || !Channel.isNil(b)) {
          const [from, v] = yield* Channel.select([
            Channel.onReceive(a, (v) => Effect.succeed(["a", v] as const)),
            Channel.onReceive(b, (v) => Effect.succeed(["b", v] as const))
          ])
          if (Option.isNone(v)) {
            // case v, ok := <-a: if !ok { a = nil } — a nil channel's case is never ready again
            if (from === "a") a = Channel.nil()
            else b = Channel.nil()
          } else merged.push(v.value)
        }
        // README:end
        expect(merged.sort((x, y) => x - y)).toStrictEqual([1, 2, 10])
      })
    )
  )
  it.effect("make(chan int, n): the element type is required", () =>
    verifyNone(
      Effect.gen(function* () {
        // README:begin make-type
        const jobs = yield* Channel.make<number>(2) // jobs := make(chan int, 2)
        const untyped = yield* Channel.make(2) // no type: a Channel<ElementTypeMissing>, not a Channel<unknown>
        // @ts-expect-error — the first send says what to write: "Channel.make needs the element type: …"
        yield* Channel.send(untyped, 1)
        // README:end
        yield* Channel.send(jobs, 1)
        expect([yield* Channel.len(jobs), yield* Channel.len(untyped)]).toStrictEqual([1, 1])
      })
    )
  )
})
