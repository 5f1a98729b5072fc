/**
 * Channel properties (fast-check): for any capacity (0..4), any senders (each with its own values), any receivers, and
 * any schedule — when each fiber starts, how long the driver lets them run, which fibers get interrupted wherever they
 * stand (blocked or not), and whether `close` comes concurrently or only after the senders finish:
 *
 * - every value whose send succeeded is received exactly once, and no value whose send failed or was interrupted is;
 * - each sender's values arrive in the order it sent them;
 * - after close and drain, receiving answers `None`, forever.
 *
 * Senders use `send`, `select` (the value goes to the channel or to a side channel, never both) or `sendAll` (a
 * prefix is delivered); receivers use `receive`, `select` or `receiveUpTo`, pausing between operations as generated.
 * Runs are deterministic: a fixed fast-check seed (override with CHANNEL_PROP_SEED) and a seeded `Random` for select.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Random } from "effect"
import fc from "fast-check"
import * as Channel from "../../src/toolkit/Channel.ts"
import { verifyNone } from "../support/goleak.ts"

type Where = "main" | "side"

interface SenderSpec {
  readonly kind: "send" | "select" | "sendAll"
  readonly count: number
  readonly pauses: ReadonlyArray<number>
}
interface ReceiverSpec {
  readonly kind: "receive" | "select" | "upTo"
  readonly pauses: ReadonlyArray<number>
}
type Step =
  | { readonly _tag: "Start"; readonly who: number }
  | { readonly _tag: "Yield"; readonly n: number }
  | { readonly _tag: "Interrupt"; readonly who: number; readonly target: "any" | "blockedSender" | "blockedReceiver" }
  | { readonly _tag: "Close"; readonly whenSenderBlocked: boolean }
interface Scenario {
  readonly capacity: number
  readonly senders: ReadonlyArray<SenderSpec>
  readonly receivers: ReadonlyArray<ReceiverSpec>
  readonly steps: ReadonlyArray<Step>
  readonly seed: number
}

const pauses = fc.array(fc.nat({ max: 3 }), { maxLength: 4 })
const scenario: fc.Arbitrary<Scenario> = fc.record({
  capacity: fc.integer({ min: 0, max: 4 }),
  senders: fc.array(
    fc.record({ kind: fc.constantFrom("send", "select", "sendAll"), count: fc.integer({ min: 0, max: 8 }), pauses }),
    { minLength: 1, maxLength: 3 }
  ),
  receivers: fc.array(fc.record({ kind: fc.constantFrom("receive", "select", "upTo"), pauses }), { maxLength: 3 }),
  steps: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ _tag: fc.constant("Start" as const), who: fc.nat(5) }) },
      { weight: 3, arbitrary: fc.record({ _tag: fc.constant("Yield" as const), n: fc.integer({ min: 1, max: 4 }) }) },
      {
        weight: 3,
        arbitrary: fc.record({
          _tag: fc.constant("Interrupt" as const),
          who: fc.nat(5),
          target: fc.constantFrom("any", "blockedSender", "blockedReceiver")
        })
      },
      { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Close" as const), whenSenderBlocked: fc.boolean() }) }
    ),
    { minLength: 6, maxLength: 24, size: "max" }
  ),
  seed: fc.integer()
})

/** coverage — how often the runs hit the interesting cases; asserted after the check so the generator cannot rot. */
const coverage = {
  blockedSenderInterrupted: 0,
  blockedReceiverInterrupted: 0,
  sendFailedOnClose: 0,
  closedWhileSending: 0,
  unbufferedRuns: 0
}

const value = (sender: number, index: number) => sender * 100 + index
const senderOf = (v: number) => Math.floor(v / 100)
const pause = (n: number | undefined) =>
  Effect.forEach(Array.from({ length: n ?? 0 }), () => Effect.yieldNow, { discard: true })
const pauseAt = (pauses: ReadonlyArray<number>, i: number) => pause(pauses[i % Math.max(1, pauses.length)])

/** run — plays one scenario and checks the properties; fails (throws inside the effect) on a violation. */
const run = (sc: Scenario) =>
  verifyNone(
    Effect.gen(function* () {
      const main = yield* Channel.make<number>(sc.capacity)
      const side = yield* Channel.make<number>(1)
      const log: Array<readonly [Where, number]> = [] // every value received, in the order it was received
      const sent = new Map<number, Where>() // sends that succeeded, and where the value went
      const sentAll = new Set<number>() // senders whose sendAll succeeded
      let mainClosed = false
      const lateSends: Array<number> = [] // sends that succeeded after main was closed: must stay empty
      const busy = new Set<number>() // fibers inside a channel operation (suspended there when the driver runs)
      const inside = <A, E>(who: number, operation: Effect.Effect<A, E>) =>
        Effect.sync(() => busy.add(who)).pipe(
          Effect.andThen(operation),
          Effect.ensuring(Effect.sync(() => busy.delete(who)))
        )
      const succeeded = (v: number, where: Where) => {
        sent.set(v, where)
        if (mainClosed && where === "main") lateSends.push(v)
      }

      const sender = (s: number, spec: SenderSpec) =>
        Effect.gen(function* () {
          const values = Array.from({ length: spec.count }, (_, i) => value(s, i))
          if (spec.kind === "sendAll") {
            yield* pauseAt(spec.pauses, 0)
            yield* inside(s, Channel.sendAll(main, values))
            sentAll.add(s)
            if (mainClosed && values.length > 0) lateSends.push(s)
            return
          }
          for (const [i, v] of values.entries()) {
            yield* pauseAt(spec.pauses, i)
            if (spec.kind === "send") {
              yield* inside(s, Channel.send(main, v))
              succeeded(v, "main")
            } else {
              const where = yield* inside(
                s,
                Channel.select([
                  Channel.onSend(main, v, () => Effect.succeed<Where>("main")),
                  Channel.onSend(side, v, () => Effect.succeed<Where>("side"))
                ])
              )
              succeeded(v, where)
            }
          }
        })

      const receiver = (r: number, spec: ReceiverSpec) =>
        Effect.gen(function* () {
          for (let i = 0; ; i++) {
            yield* pauseAt(spec.pauses, i)
            if (spec.kind === "receive") {
              const o = yield* inside(r, Channel.receive(main))
              if (Option.isNone(o)) return
              log.push(["main", o.value])
            } else if (spec.kind === "upTo") {
              const o = yield* inside(r, Channel.receiveUpTo(main, 2))
              if (Option.isNone(o)) return
              for (const v of o.value) log.push(["main", v])
            } else {
              const [where, o] = yield* inside(
                r,
                Channel.select([
                  Channel.onReceive(main, (o) => Effect.succeed(["main", o] as const)),
                  Channel.onReceive(side, (o) => Effect.succeed(["side", o] as const))
                ])
              )
              if (Option.isNone(o)) return // only main closes while receivers run
              log.push([where, o.value])
            }
          }
        })

      const programs = [
        ...sc.senders.map((spec, s) => sender(s, spec)),
        ...sc.receivers.map((spec, r) => receiver(sc.senders.length + r, spec))
      ]
      const fibers: Array<Fiber.Fiber<void, Channel.ChannelClosed> | undefined> = programs.map(() => undefined)
      const start = (who: number) =>
        Effect.gen(function* () {
          if (fibers[who] === undefined) fibers[who] = yield* Effect.forkChild(programs[who]!)
        })
      // act — performs a step; false if its moment has not come (then it is retried before each later step).
      const act = (step: Step) =>
        Effect.gen(function* () {
          if (step._tag === "Start") yield* start(step.who % programs.length)
          else if (step._tag === "Yield") yield* pause(step.n)
          else if (step._tag === "Interrupt") {
            // A fiber by index, wherever it stands — or one blocked inside a channel operation, once there is one.
            const isSender = (who: number) => who < sc.senders.length
            const blocked = [...busy].filter((who) =>
              step.target === "blockedSender" ? isSender(who) : who >= sc.senders.length
            )
            if (step.target !== "any" && blocked.length === 0) return false
            const who = step.target === "any" ? step.who % programs.length : blocked[step.who % blocked.length]!
            const fiber = fibers[who]
            if (fiber === undefined) return true
            if (busy.has(who)) coverage[isSender(who) ? "blockedSenderInterrupted" : "blockedReceiverInterrupted"]++
            yield* Fiber.interrupt(fiber)
          } else if (!mainClosed) {
            const sending = sc.senders.some((_, s) => busy.has(s))
            if (step.whenSenderBlocked && !sending) return false
            if (sending) coverage.closedWhileSending++
            mainClosed = true
            yield* Channel.close(main)
          }
          return true
        })
      let pending: Array<Step> = []
      for (const step of sc.steps) {
        const retried: Array<Step> = []
        for (const waiting of pending) if (!(yield* act(waiting))) retried.push(waiting)
        pending = (yield* act(step)) ? retried : [...retried, step]
      }
      const closedEarly = mainClosed
      for (let who = 0; who < programs.length; who++) yield* start(who)
      // A drainer guarantees progress whatever was interrupted; then close (if not yet) and let everyone finish.
      const drainer = yield* Effect.forkChild(receiver(-1, { kind: "receive", pauses: [] }))
      const senderExits = yield* Effect.forEach(fibers.slice(0, sc.senders.length), (f) => Fiber.await(f!))
      if (!mainClosed) {
        mainClosed = true
        yield* Channel.close(main)
      }
      const receiverExits = yield* Effect.forEach(fibers.slice(sc.senders.length), (f) => Fiber.await(f!))
      yield* Fiber.join(drainer)
      yield* Channel.close(side)
      for (let o = yield* Channel.receive(side); Option.isSome(o); o = yield* Channel.receive(side)) {
        log.push(["side", o.value])
      }

      // Fibers end only as they may: senders fail only if close came while they ran; receivers are never failed.
      for (const exit of senderExits) {
        const failed = Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
        if (failed)
          expect(Option.getOrUndefined(Cause.findErrorOption(exit.cause))).toBeInstanceOf(Channel.ChannelClosed)
        if (failed) expect(closedEarly).toBe(true)
        if (failed) coverage.sendFailedOnClose++
      }
      // A send never succeeds after the close: senders blocked at that moment failed (Go panics them).
      expect(lateSends).toStrictEqual([])
      if (sc.capacity === 0) coverage.unbufferedRuns++
      for (const exit of receiverExits) expect(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      // Exactly once: no value is received twice, nor on both channels.
      const received = log.map(([, v]) => v)
      expect(new Set(received).size).toBe(received.length)
      for (const [s, spec] of sc.senders.entries()) {
        const values = Array.from({ length: spec.count }, (_, i) => value(s, i))
        const on = (where: Where) => log.filter(([w, v]) => w === where && senderOf(v) === s).map(([, v]) => v)
        if (spec.kind === "sendAll") {
          // A prefix arrives, in order; all of it if sendAll succeeded.
          const got = on("main")
          expect(got).toStrictEqual(values.slice(0, got.length))
          if (sentAll.has(s)) expect(got).toStrictEqual(values)
        } else {
          // What arrived is exactly what was sent successfully, where it was sent, in the sender's order.
          for (const where of ["main", "side"] as const) {
            expect(on(where)).toStrictEqual(values.filter((v) => sent.get(v) === where))
          }
        }
      }
      // Closed and drained: None, forever.
      expect(yield* Channel.receive(main)).toStrictEqual(Option.none())
      expect(yield* Channel.receive(main)).toStrictEqual(Option.none())
      expect(yield* Channel.receiveAll(main)).toStrictEqual(Option.none())
      expect(yield* Channel.len(main)).toBe(0)
    }).pipe(Random.withSeed(sc.seed))
  )

const seed = Number(process.env.CHANNEL_PROP_SEED ?? 20250301)

describe("Channel properties", () => {
  it.effect(
    "any interleaving of senders, receivers, interruptions and a close: exactly once, in order, None after",
    () =>
      verifyNone(
        Effect.gen(function* () {
          const numRuns = Number(process.env.CHANNEL_PROP_RUNS ?? 500)
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(scenario, (sc) => Effect.runPromise(run(sc))),
              { numRuns, seed }
            )
          )
          if (process.env.CHANNEL_PROP_STATS) console.log(coverage)
          // The schedules really vary: each interesting case came up in a fair share of the runs.
          for (const [name, count] of Object.entries(coverage)) {
            expect({ name, atLeast: count >= numRuns / 20 }).toStrictEqual({ name, atLeast: true })
          }
        })
      )
  )
})
