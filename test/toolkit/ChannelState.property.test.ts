/**
 * ChannelState properties (fast-check): the channel's own buffer and wait lists, driven step by step with no fiber
 * in between — test waiters record what the channel does to them instead of resuming fibers, and a test dispatcher
 * holds the `settle` tasks until a generated step runs them. For any capacity (0..4), senders of single values or of
 * chunks, receivers of one value or up to `max` — some acting from deep inside nested wake-ups, where the channel
 * parks them instead of handing over — withdrawals (interruption) of any parked waiter, a close, and any order of
 * those steps:
 *
 * - every value that left a sender is received exactly once; none that did not leave is ever received (a withdrawn
 *   or failed waiter's values are not lost and not duplicated: they were never delivered);
 * - each sender's values are received in the order it sent them;
 * - a waiter is completed at most once, and never after it was withdrawn;
 * - after close and drain, nothing more arrives: receivers get `None`, parked senders fail;
 * - at every step the buffer holds at most `capacity` values and the lists are well linked.
 *
 * `Buffer` and `WaitList` are also checked against plain arrays. A fixed seed (CHANNEL_STATE_PROP_SEED overrides it).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { Buffer } from "../../src/toolkit/ChannelBuffer.ts"
import { ChannelState, Empty } from "../../src/toolkit/ChannelState.ts"
import { ReceiveWaiter, SendWaiter, type Waiter, WaitList, wake } from "../../src/toolkit/ChannelWaiters.ts"
import { verifyNone } from "../support/goleak.ts"

const seed = Number(process.env.CHANNEL_STATE_PROP_SEED ?? 20250302)
const numRuns = Number(process.env.CHANNEL_STATE_PROP_RUNS ?? 1000)

/** Dispatcher — holds scheduled tasks until the test runs them. */
class Dispatcher {
  tasks: Array<() => void> = []
  scheduleTask(task: () => void): void {
    this.tasks.push(task)
  }
  flush(): void {
    while (this.tasks.length > 0) this.runBatch()
  }
  runBatch(): void {
    const batch = this.tasks
    this.tasks = []
    for (const task of batch) task()
  }
}

type Outcome = "parked" | "done" | "failed" | "withdrawn"

/** TestSender — a parked sender that records what it delivered and how it ended. */
class TestSender extends SendWaiter<number> {
  readonly select = undefined
  outcome: Outcome = "parked"
  readonly values: ReadonlyArray<number>
  offset = 0
  readonly delivered: Array<number>
  constructor(values: ReadonlyArray<number>, delivered: Array<number>) {
    super()
    this.values = values
    this.delivered = delivered
  }
  private live(): void {
    if (this.outcome !== "parked") throw new Error(`sender completed after it was ${this.outcome}`)
  }
  next(): number {
    this.live()
    const value = this.values[this.offset++]!
    this.delivered.push(value)
    if (this.offset === this.values.length) this.end("done")
    return value
  }
  admit(buffer: Buffer<number>, room: number): void {
    this.live()
    if (room < 1) throw new Error("admitted into no room")
    const count = Math.min(room, this.values.length - this.offset)
    buffer.pushAll(this.values, this.offset, count, false)
    this.delivered.push(...this.values.slice(this.offset, this.offset + count))
    this.offset += count
    if (this.offset === this.values.length) this.end("done")
  }
  fail(): void {
    this.live()
    this.end("failed")
  }
  end(outcome: Outcome): void {
    this.list?.remove(this)
    this.outcome = outcome
  }
}

/** TestReceiver — a parked receiver (of one value, or up to `max`) that records what it got, when it got it. */
class TestReceiver extends ReceiveWaiter<number> {
  readonly select = undefined
  outcome: Outcome = "parked"
  got: ReadonlyArray<number> | "none" | undefined = undefined
  readonly max: number
  readonly received: Array<number>
  constructor(max: number, received: Array<number>) {
    super()
    this.max = max
    this.received = received
  }
  private complete(got: ReadonlyArray<number> | "none"): void {
    if (this.outcome !== "parked") throw new Error(`receiver completed after it was ${this.outcome}`)
    if (this.list !== undefined) throw new Error("receiver completed while still linked")
    this.outcome = "done"
    this.got = got
    if (got !== "none") this.received.push(...got)
  }
  give(value: number): void {
    this.complete([value])
  }
  take(buffer: Buffer<number>): void {
    this.complete(this.max === 1 ? [buffer.shift()] : buffer.takeUpTo(this.max))
  }
  closed(): void {
    this.complete("none")
  }
}

type Step =
  | { readonly _tag: "Act"; readonly who: number; readonly deep: boolean }
  | { readonly _tag: "Withdraw"; readonly which: number }
  | { readonly _tag: "Close" }
  | { readonly _tag: "Settle" }
interface Scenario {
  readonly capacity: number
  readonly senders: ReadonlyArray<{ readonly chunk: number; readonly count: number }>
  readonly receivers: ReadonlyArray<{ readonly max: number }>
  readonly steps: ReadonlyArray<Step>
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  capacity: fc.integer({ min: 0, max: 4 }),
  senders: fc.array(fc.record({ chunk: fc.integer({ min: 1, max: 3 }), count: fc.integer({ min: 0, max: 9 }) }), {
    minLength: 1,
    maxLength: 3
  }),
  receivers: fc.array(fc.record({ max: fc.integer({ min: 1, max: 3 }) }), { maxLength: 3 }),
  steps: fc.array(
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({ _tag: fc.constant("Act" as const), who: fc.nat(5), deep: fc.boolean() })
      },
      { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Withdraw" as const), which: fc.nat(5) }) },
      { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Close" as const) }) },
      { weight: 3, arbitrary: fc.record({ _tag: fc.constant("Settle" as const) }) }
    ),
    { maxLength: 60 }
  )
})

/** wellLinked — the list's links agree forwards and backwards, and every member points back at the list. */
const wellLinked = (list: WaitList<Waiter>): number => {
  let count = 0
  let before: Waiter | undefined
  for (let waiter = list.head; waiter !== undefined; waiter = waiter.after) {
    expect(waiter.before).toBe(before)
    expect(waiter.list).toBe(list)
    before = waiter
    count++
  }
  expect(list.tail).toBe(before)
  return count
}

/**
 * nested — runs `f` inside `depth` nested wake-ups, as a fiber resumed by a fiber resumed by … runs: deep enough
 * that the channel parks instead of handing over (`canNest`), leaving parked senders and receivers for `settle`.
 */
const nested = (depth: number, f: () => void): void => {
  if (depth === 0) f()
  else wake(() => nested(depth - 1, f), Effect.void)
}

/** play — runs one scenario against a ChannelState and checks every property. */
const play = (sc: Scenario): void => {
  const dispatcher = new Dispatcher()
  const ch = new ChannelState<number>(sc.capacity, dispatcher)
  const delivered: Array<number> = [] // values that left a sender, in the order they left
  const received: Array<number> = [] // values received, in the order they were received
  const senders = sc.senders.map((spec, s) => ({
    ...spec,
    next: 0, // index of the next value to send
    values: (from: number, n: number) => Array.from({ length: n }, (_, i) => s * 100 + from + i),
    parked: undefined as TestSender | undefined
  }))
  const receivers = sc.receivers.map((spec) => ({
    ...spec,
    parked: undefined as TestReceiver | undefined,
    ended: false
  }))
  const collect = (r: (typeof receivers)[number]) => {
    const waiter = r.parked
    if (waiter === undefined || waiter.outcome === "parked") return
    r.parked = undefined
    if (waiter.got === "none") r.ended = true
  }
  const check = () => {
    for (const r of receivers) collect(r)
    for (const s of senders) if (s.parked !== undefined && s.parked.outcome !== "parked") s.parked = undefined
    expect(ch.buffer.size).toBeLessThanOrEqual(sc.capacity)
    wellLinked(ch.sendq as unknown as WaitList<Waiter>)
    wellLinked(ch.recvq as unknown as WaitList<Waiter>)
    // Liveness: whenever parked parties could make progress, a settle task is already scheduled — a receiver
    // parked beside buffered values, a sender parked beside room, a sender and a receiver parked together, or
    // anyone parked on a closed channel.
    const { buffer, sendq, recvq } = ch
    const stuck =
      (recvq.head !== undefined && (buffer.size > 0 || sendq.head !== undefined || ch.closed)) ||
      (sendq.head !== undefined && (buffer.size < sc.capacity || ch.closed))
    if (stuck) expect(dispatcher.tasks.length).toBeGreaterThan(0)
  }
  const act = (who: number) => {
    if (who < senders.length) {
      const s = senders[who]!
      if (s.parked !== undefined || s.next >= s.count) return
      const values = s.values(s.next, Math.min(s.chunk, s.count - s.next))
      s.next += values.length
      if (ch.closed) return // the send fails at once: nothing leaves
      const sent = values.length === 1 ? (ch.offer(values[0]!) ? 1 : 0) : ch.offerAll(values)
      delivered.push(...values.slice(0, sent))
      if (sent === values.length) return
      const waiter = new TestSender(values.slice(sent), delivered)
      ch.sendq.push(waiter)
      ch.kick()
      s.parked = waiter
    } else {
      const r = receivers[who - senders.length]
      if (r === undefined || r.parked !== undefined || r.ended) return
      const got = r.max === 1 ? ch.poll() : ch.pollUpTo(r.max)
      if (got !== Empty) received.push(...(Array.isArray(got) ? got : [got]))
      else if (ch.closed) r.ended = true
      else {
        const waiter = new TestReceiver(r.max, received)
        ch.recvq.push(waiter)
        ch.kick()
        r.parked = waiter
      }
    }
  }
  const withdraw = (which: number) => {
    const parked: Array<TestSender | TestReceiver> = [
      ...senders.flatMap((s) => (s.parked ? [s.parked] : [])),
      ...receivers.flatMap((r) => (r.parked ? [r.parked] : []))
    ]
    const waiter = parked[which % Math.max(1, parked.length)]
    if (waiter === undefined) return
    waiter.list?.remove(waiter)
    if (waiter.outcome === "parked") waiter.outcome = "withdrawn"
  }

  let deliveredAtClose: number | undefined
  const close = () => {
    ch.close()
    deliveredAtClose ??= delivered.length
  }
  for (const step of sc.steps) {
    if (step._tag === "Act") {
      const who = step.who % (senders.length + receivers.length)
      if (step.deep) nested(70, () => act(who))
      else act(who)
    } else if (step._tag === "Withdraw") withdraw(step.which)
    else if (step._tag === "Close") close()
    else dispatcher.runBatch()
    check()
  }
  // End: close, let the settle tasks run, drain.
  close()
  dispatcher.flush()
  check()
  for (let value = ch.poll(); value !== Empty; value = ch.poll()) received.push(value)
  check()

  // Nothing left a sender after the close (parked senders failed), nothing is left parked, nothing more arrives.
  expect(delivered.length).toBe(deliveredAtClose)
  expect([ch.sendq.head, ch.recvq.head]).toStrictEqual([undefined, undefined])
  for (const s of senders) expect(s.parked).toBeUndefined()
  for (const r of receivers) if (r.parked === undefined && !r.ended) expect(ch.pollUpTo(2)).toBe(Empty)
  expect([ch.poll(), ch.pollUpTo(3), ch.buffer.size]).toStrictEqual([Empty, Empty, 0])
  // Exactly once: what was received is what left the senders, nothing lost, nothing twice.
  expect([...received].sort((a, b) => a - b)).toStrictEqual([...delivered].sort((a, b) => a - b))
  expect(new Set(received).size).toBe(received.length)
  // In order per sender.
  for (const [s] of senders.entries()) {
    const mine = received.filter((v) => Math.floor(v / 100) === s)
    expect(mine).toStrictEqual([...mine].sort((a, b) => a - b))
  }
}

describe("ChannelState (buffer and wait lists, no fibers)", () => {
  it.effect("any steps of senders, receivers, withdrawals, close and settle: exactly once, in order, None after", () =>
    verifyNone(Effect.sync(() => fc.assert(fc.property(scenario, play), { numRuns, seed })))
  )
})

describe("Buffer and WaitList against plain arrays", () => {
  type BufferOp =
    | { readonly _tag: "push"; readonly value: number }
    | { readonly _tag: "pushAll"; readonly values: ReadonlyArray<number>; readonly adopt: boolean }
    | { readonly _tag: "shift" }
    | { readonly _tag: "takeUpTo"; readonly max: number }
  const bufferOps = fc.array(
    fc.oneof(
      fc.record({ _tag: fc.constant("push" as const), value: fc.integer() }),
      fc.record({ _tag: fc.constant("pushAll" as const), values: fc.array(fc.integer()), adopt: fc.boolean() }),
      fc.record({ _tag: fc.constant("shift" as const) }),
      fc.record({ _tag: fc.constant("takeUpTo" as const), max: fc.integer({ min: 1, max: 6 }) })
    ),
    { maxLength: 200 }
  )
  it.effect("Buffer: FIFO, sizes, and arrays handed out are the caller's own", () =>
    verifyNone(
      Effect.sync(() =>
        fc.assert(
          fc.property(bufferOps, (ops: ReadonlyArray<BufferOp>) => {
            const buffer = new Buffer<number>()
            const model: Array<number> = []
            for (const op of ops) {
              if (op._tag === "push") {
                buffer.push(op.value)
                model.push(op.value)
              } else if (op._tag === "pushAll") {
                const values = [...op.values]
                buffer.pushAll(values, 0, values.length, op.adopt)
                model.push(...op.values)
                if (!op.adopt) values.fill(-1) // the caller's array is not the buffer's
              } else if (buffer.size > 0 && op._tag === "shift") expect(buffer.shift()).toBe(model.shift())
              else if (buffer.size > 0 && op._tag === "takeUpTo") {
                const taken = buffer.takeUpTo(op.max)
                expect(taken).toStrictEqual(model.splice(0, op.max))
                taken.fill(-2) // the taken array is not the buffer's
              }
              expect(buffer.size).toBe(model.length)
            }
            expect(buffer.size > 0 ? buffer.takeUpTo(Number.POSITIVE_INFINITY) : []).toStrictEqual(model)
          }),
          { numRuns, seed }
        )
      )
    )
  )

  class Item extends SendWaiter<number> {
    readonly select = undefined
    readonly id: number
    constructor(id: number) {
      super()
      this.id = id
    }
    next(): number {
      return this.id
    }
    admit(): void {}
    fail(): void {}
  }
  it.effect("WaitList: push and shift are FIFO; remove takes out exactly that waiter, once", () =>
    verifyNone(
      Effect.sync(() =>
        fc.assert(
          fc.property(
            fc.array(fc.tuple(fc.constantFrom("push", "shift", "remove"), fc.nat(20)), { maxLength: 200 }),
            (ops) => {
              const list = new WaitList<Item>()
              const other = new WaitList<Item>()
              const items = Array.from({ length: 21 }, (_, i) => new Item(i))
              const model: Array<Item> = []
              for (const [op, n] of ops) {
                const item = items[n]!
                if (op === "push" && item.list === undefined) {
                  list.push(item)
                  model.push(item)
                } else if (op === "shift") expect(list.shift()).toBe(model.shift())
                else if (op === "remove") {
                  other.remove(item) // not a member of `other`: no effect
                  list.remove(item)
                  const at = model.indexOf(item)
                  if (at >= 0) model.splice(at, 1)
                  expect(item.list).toBeUndefined()
                }
                expect(wellLinked(list as unknown as WaitList<Waiter>)).toBe(model.length)
                expect(list.head).toBe(model[0])
              }
            }
          ),
          { numRuns, seed }
        )
      )
    )
  )
})
