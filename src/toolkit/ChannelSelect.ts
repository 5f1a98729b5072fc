/**
 * ChannelSelect — Go's `select` over channels' states: the engine behind `Channel.select`.
 *
 * A select either commits to exactly one case or to none. Go's `selectgo` does it in three passes, and so does this:
 *
 * 1. Poll: try the cases in a uniformly random order (a permutation drawn from the fiber's `Random` service — seed
 *    it with `Random.withSeed` for a reproducible choice) and perform the first that can complete without waiting,
 *    all in one synchronous step. Since the order is a random permutation, every ready case is equally likely to be
 *    first; a case tried and not ready consumed and sent nothing.
 * 2. Default: nothing ready and a `default` was given — run it; the select never blocks.
 * 3. Park: one waiter per case, linked into each channel's list of parked receivers or senders, exactly like the
 *    waiters a blocked `receive` / `send` leaves. The first counterpart to complete one of them commits that case;
 *    committing unlinks every other waiter of the select before anything else can run. That is why two selects can
 *    meet on an unbuffered channel, like Go's (a select never meets itself: see `ChannelState.rendezvous`).
 *
 * A case on a nil channel (`Channel.nil`) is never ready and never parks, as in Go. Interrupting a parked select
 * unlinks all its waiters in one step: it loses and duplicates nothing. Not a hot path: a select allocates its cases
 * and, when it parks, one waiter per case.
 */
import { Effect, Option, Random } from "effect"
import type { Buffer } from "./ChannelBuffer.ts"
import { type ChannelState, Empty } from "./ChannelState.ts"
import { ReceiveWaiter, SendWaiter, type Waiter, wake } from "./ChannelWaiters.ts"

type State = ChannelState<unknown>

/** SelectCase — one arm of a select, built by `Channel.onReceive` / `Channel.onSend`; covariant in what it yields. */
export type SelectCase<A, E, R> =
  | {
      readonly _tag: "Receive"
      readonly state: State
      readonly handle: (value: Option.Option<unknown>) => Effect.Effect<A, E, R>
    }
  | {
      readonly _tag: "Send"
      readonly state: State
      readonly value: unknown
      readonly handle: () => Effect.Effect<A, E, R>
      /** what the case does when chosen on a closed channel (Go panics: "send on closed channel") */
      readonly closed: Effect.Effect<never, E>
    }

type AnyCase = SelectCase<unknown, unknown, unknown>
type CaseA<C> = C extends SelectCase<infer A, unknown, unknown> ? A : never
type CaseE<C> = C extends SelectCase<unknown, infer E, unknown> ? E : never
type CaseR<C> = C extends SelectCase<unknown, unknown, infer R> ? R : never
type Outcome = Effect.Effect<unknown, unknown, unknown>

/** receiveCase — a receive arm on `state`: `handle` gets `Some(value)`, or `None` once closed and drained. */
export const receiveCase = <T, A, E, R>(
  state: ChannelState<T>,
  handle: (value: Option.Option<T>) => Effect.Effect<A, E, R>
): SelectCase<A, E, R> => ({
  _tag: "Receive",
  state: state as unknown as State,
  handle: handle as (value: Option.Option<unknown>) => Effect.Effect<A, E, R>
})

/** sendCase — a send arm of `value` on `state`: `handle` runs once it was delivered, `closed` if it closed first. */
export const sendCase = <T, A, E, R, E2>(
  state: ChannelState<T>,
  value: T,
  handle: () => Effect.Effect<A, E, R>,
  closed: Effect.Effect<never, E2>
): SelectCase<A, E | E2, R> => ({ _tag: "Send", state: state as unknown as State, value, handle, closed })

/** attempt — performs `c` now if it can complete without waiting; `undefined` if it cannot. */
const attempt = (c: AnyCase): Outcome | undefined => {
  const state = c.state
  if (c._tag === "Receive") {
    const value = state.poll()
    if (value !== Empty) return Effect.suspend(() => c.handle(Option.some(value)))
    return state.closed ? Effect.suspend(() => c.handle(Option.none())) : undefined
  }
  if (state.closed) return c.closed
  return state.offer(c.value) ? Effect.suspend(c.handle) : undefined
}

/** Parked — a parked select: its waiters, and the resumption of its fiber. */
class Parked {
  readonly waiters: Array<Waiter> = []
  readonly resume: (effect: Outcome) => void
  constructor(resume: (effect: Outcome) => void) {
    this.resume = resume
  }
  /** withdraw — unlinks every waiter of the select (its cancellation, and the first half of a commit). */
  withdraw(): void {
    for (const waiter of this.waiters) waiter.list?.remove(waiter)
  }
  /** commit — the select completes with `outcome`: withdraws every case, then resumes the select's fiber. */
  commit(outcome: Outcome): void {
    this.withdraw()
    wake(this.resume, outcome)
  }
}

/** ReceiveCase — a parked select's receive case; its handler runs in the select's fiber. */
class ReceiveCase extends ReceiveWaiter<unknown> {
  readonly select: Parked
  readonly handle: (value: Option.Option<unknown>) => Outcome
  constructor(select: Parked, handle: (value: Option.Option<unknown>) => Outcome) {
    super()
    this.select = select
    this.handle = handle
  }
  give(value: unknown): void {
    this.select.commit(Effect.suspend(() => this.handle(Option.some(value))))
  }
  take(buffer: Buffer<unknown>): void {
    this.give(buffer.shift())
  }
  closed(): void {
    this.select.commit(Effect.suspend(() => this.handle(Option.none())))
  }
}

/** SendCase — a parked select's send case. */
class SendCase extends SendWaiter<unknown> {
  readonly select: Parked
  readonly value: unknown
  readonly handle: () => Outcome
  readonly closed: Outcome
  constructor(select: Parked, value: unknown, handle: () => Outcome, closed: Outcome) {
    super()
    this.select = select
    this.value = value
    this.handle = handle
    this.closed = closed
  }
  next(): unknown {
    this.select.commit(Effect.suspend(this.handle))
    return this.value
  }
  admit(buffer: Buffer<unknown>): void {
    buffer.push(this.value)
    this.select.commit(Effect.suspend(this.handle))
  }
  fail(): void {
    this.select.commit(this.closed)
  }
}

/**
 * run — the whole select in one synchronous step (the callback's registration): poll in random order, then run
 * `default`, or park. Parking in the same step as the poll is what makes it safe: no value can arrive and no close
 * can happen between "nothing is ready" and "parked on every channel".
 */
const run = (cases: ReadonlyArray<AnyCase>, random: Random.Random, fallback: Outcome | undefined): Outcome =>
  Effect.callback((resume) => {
    const order = cases.map((_, i) => i)
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random.nextDoubleUnsafe() * (i + 1))
      const swap = order[i]!
      order[i] = order[j]!
      order[j] = swap
    }
    for (const i of order) {
      const outcome = attempt(cases[i]!)
      if (outcome !== undefined) return resume(outcome)
    }
    if (fallback !== undefined) return resume(fallback)
    const parked = new Parked(resume)
    for (const c of cases) {
      const state = c.state
      if (state.isNil) continue
      if (c._tag === "Receive") {
        const waiter = new ReceiveCase(parked, c.handle)
        state.recvq.push(waiter)
        parked.waiters.push(waiter)
      } else {
        const waiter = new SendCase(parked, c.value, c.handle, c.closed)
        state.sendq.push(waiter)
        parked.waiters.push(waiter)
      }
    }
    // A case may have been refused only because wake-ups nested too deep: let `settle` pair it up.
    for (const c of cases) c.state.kick()
    return Effect.sync(() => parked.withdraw())
  })

/**
 * select — Go's `select` over `cases` (`Channel.onReceive` / `Channel.onSend`): performs exactly one case and
 * returns what its handler returns.
 *
 * - One or more cases ready: one is chosen uniformly at random (the fiber's `Random` service), performed, and its
 *   handler run; the others consume and send nothing.
 * - None ready, `default` given: runs `default`; never blocks.
 * - None ready, no `default`: parks until a case becomes ready; the first counterpart to arrive completes that case
 *   (Go's parked select is likewise completed by whichever sender/receiver/close comes first). `select([])`, or a
 *   select whose every case is on a nil channel, blocks forever, like Go's `select {}`.
 *
 * A receive case on a closed channel is ready and gets its buffered values, then `None`. A send case on a closed
 * channel is ready and, when chosen, fails with `ChannelClosed` (Go panics) — also when the channel closes while the
 * select is parked. Time-outs are ordinary effects: `Effect.timeout(select(...), "1 second")` (Go's
 * `case <-time.After(d)`). Interrupting a parked select withdraws it from every channel: nothing lost or duplicated.
 */
export const select: {
  <const Cases extends ReadonlyArray<AnyCase>>(
    cases: Cases
  ): Effect.Effect<CaseA<Cases[number]>, CaseE<Cases[number]>, CaseR<Cases[number]>>
  <const Cases extends ReadonlyArray<AnyCase>, A, E, R>(
    cases: Cases,
    options: { readonly default: Effect.Effect<A, E, R> }
  ): Effect.Effect<CaseA<Cases[number]> | A, CaseE<Cases[number]> | E, CaseR<Cases[number]> | R>
} = (cases: ReadonlyArray<AnyCase>, options?: { readonly default: Outcome }): Effect.Effect<never, never, never> =>
  Effect.withFiber((fiber) => run(cases, fiber.getRef(Random.Random), options?.default)) as Effect.Effect<
    never,
    never,
    never
  >
