/**
 * ChannelSelect — Go's `select` over the queues behind `Channel`s: the engine behind `Channel.select`.
 *
 * A select either commits to exactly one case or to none. Go's `selectgo` does it in three passes, and so does this:
 *
 * 1. Poll: with every case's channel inspected in one synchronous step (JavaScript runs one fiber at a time, so
 *    nothing can change in between), collect the ready cases; if there are any, pick one uniformly at random with the
 *    fiber's `Random` service (seed it with `Random.withSeed` for a reproducible choice) and perform it in that same
 *    step. A case not chosen consumes nothing and sends nothing.
 * 2. Default: nothing ready and a `default` was given — run it; the select never blocks.
 * 3. Park: register on every channel at once — a *taker* on each receive case's queue, a pending *offer* on each send
 *    case's queue — exactly the waiters a blocked `Queue.take` / `Queue.offer` would leave. The first counterpart to
 *    arrive completes its case inside its own step (a receive case takes the value in the waker's step; a send case's
 *    value is taken by the receiver), and every other registration is withdrawn before anyone else can run. That is
 *    why two selects can meet on an unbuffered channel, like Go's.
 *
 * Interrupting a parked select withdraws all its registrations in one step: it loses and duplicates nothing.
 * This module knows queues, not `Channel`s; `Channel.ts` builds the cases (and their `ChannelClosed`) and re-exports
 * `select`. Not a hot path: a select allocates its cases and, when it parks, one waiter per case.
 */
import { type Cause, Effect, Exit, Option, Queue, Random } from "effect"

type Backing = Queue.Queue<unknown, Cause.Done>

/** SelectCase — one arm of a select, built by `Channel.onReceive` / `Channel.onSend`; covariant in what it yields. */
export type SelectCase<A, E, R> =
  | {
      readonly _tag: "Receive"
      readonly queue: Backing
      readonly handle: (value: Option.Option<unknown>) => Effect.Effect<A, E, R>
    }
  | {
      readonly _tag: "Send"
      readonly queue: Backing
      readonly value: unknown
      readonly handle: () => Effect.Effect<A, E, R>
      /** what the case does when chosen on a closed channel (Go panics: "send on closed channel") */
      readonly closed: Effect.Effect<never, E>
    }

type AnyCase = SelectCase<unknown, unknown, unknown>
type CaseA<C> = C extends SelectCase<infer A, unknown, unknown> ? A : never
type CaseE<C> = C extends SelectCase<unknown, infer E, unknown> ? E : never
type CaseR<C> = C extends SelectCase<unknown, unknown, infer R> ? R : never

/** receiveCase — a receive arm on `queue`: `handle` gets `Some(value)`, or `None` once closed and drained. */
export const receiveCase = <T, A, E, R>(
  queue: Queue.Queue<T, Cause.Done>,
  handle: (value: Option.Option<T>) => Effect.Effect<A, E, R>
): SelectCase<A, E, R> => ({
  _tag: "Receive",
  queue: queue as unknown as Backing,
  handle: handle as (value: Option.Option<unknown>) => Effect.Effect<A, E, R>
})

/** sendCase — a send arm of `value` on `queue`: `handle` runs once it was delivered, `closed` if the queue ended. */
export const sendCase = <T, A, E, R, E2>(
  queue: Queue.Queue<T, Cause.Done>,
  value: T,
  handle: () => Effect.Effect<A, E, R>,
  closed: Effect.Effect<never, E2>
): SelectCase<A, E | E2, R> => ({ _tag: "Send", queue: queue as unknown as Backing, value, handle, closed })

/** isDelivered — how Queue resumes a pending offer: `true` when its value was taken or admitted to the buffer. */
export const isDelivered = (result: Effect.Effect<boolean>): boolean =>
  Exit.isExit(result) && Exit.isSuccess(result) && result.value === true

/** isReady — whether performing `c` now would not wait (a closed channel is ready: receive gets None, send fails). */
const isReady = (c: AnyCase): boolean => {
  const { queue } = c
  const state = queue.state
  if (state._tag !== "Open") return true
  if (c._tag === "Receive") return queue.messages.length > 0 || state.offers.size > 0
  return queue.messages.length < queue.capacity || (queue.capacity === 0 && state.takers.size > 0)
}

/** received — the `Option` a receive arm gets from `Queue.takeUnsafe`: a failed take means closed and drained. */
const received = (exit: Exit.Exit<unknown, Cause.Done>): Option.Option<unknown> =>
  Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none()

/** perform — runs a ready case in the current step (the poll that found it ready ran in this step too). */
const perform = (c: AnyCase): Effect.Effect<unknown, unknown, unknown> => {
  if (c._tag === "Receive") {
    const exit = Queue.takeUnsafe(c.queue)
    return exit === undefined ? Effect.die("ChannelSelect: a ready receive found nothing") : c.handle(received(exit))
  }
  if (c.queue.state._tag !== "Open") return c.closed
  return Queue.offerUnsafe(c.queue, c.value) ? c.handle() : Effect.die("ChannelSelect: a ready send was refused")
}

/**
 * poll — the whole select in one synchronous step (the callback's registration): poll, then perform a ready case,
 * run `default`, or park. Parking in the same step as the poll is what makes it safe: no value can arrive and no
 * close can happen between "nothing is ready" and "registered on every channel".
 */
const poll = (
  cases: ReadonlyArray<AnyCase>,
  random: Random.Random,
  fallback: Effect.Effect<unknown, unknown, unknown> | undefined
): Effect.Effect<unknown, unknown, unknown> =>
  Effect.callback((resume) => {
    const ready: Array<AnyCase> = []
    for (const c of cases) if (isReady(c)) ready.push(c)
    if (ready.length > 0) {
      const pick = ready.length === 1 ? 0 : Math.floor(random.nextDoubleUnsafe() * ready.length)
      return resume(perform(ready[Math.min(pick, ready.length - 1)]!))
    }
    if (fallback !== undefined) return resume(fallback)
    // Park: the first waiter woken commits its case and withdraws every other one before anything else can run.
    let parked = true
    const withdrawals: Array<() => void> = []
    const withdraw = () => {
      parked = false
      for (const undo of withdrawals) undo()
    }
    for (const c of cases) {
      const state = c.queue.state
      if (state._tag !== "Open") continue // unreachable: a closed channel's case is ready
      if (c._tag === "Receive") {
        const taker: Queue.Queue.Taker<Cause.Done> = {
          ready: () => Queue.sizeUnsafe(c.queue) > 0,
          // Woken by a new value or by the queue finishing: take it in the waker's step, so it cannot be lost.
          resume: () => {
            if (!parked) return
            const exit = Queue.takeUnsafe(c.queue)
            if (exit === undefined)
              state.takers.add(taker) // another taker was first: keep waiting
            else {
              withdraw()
              const value = received(exit)
              resume(Effect.suspend(() => c.handle(value))) // the handler runs in the select's fiber
            }
          }
        }
        state.takers.add(taker)
        withdrawals.push(() => state.takers.delete(taker))
      } else {
        const offer: Queue.Queue.OfferEntry<unknown> = {
          _tag: "Single",
          message: c.value,
          // `true`: a receiver took the value (or it moved into freed buffer space); `false`: the channel closed.
          // A withdrawn entry is never resumed, so the select is still parked here.
          resume: (delivered) => {
            withdraw()
            resume(isDelivered(delivered) ? Effect.suspend(c.handle) : c.closed)
          }
        }
        state.offers.add(offer)
        withdrawals.push(() => state.offers.delete(offer))
      }
    }
    // Interrupted while parked: withdraw from every channel; nothing was taken or sent.
    return Effect.sync(() => {
      if (parked) withdraw()
    })
  })

/**
 * select — Go's `select` over `cases` (`Channel.onReceive` / `Channel.onSend`): performs exactly one case and
 * returns what its handler returns.
 *
 * - One or more cases ready: one is chosen uniformly at random (the fiber's `Random` service), performed, and its
 *   handler run; the others consume and send nothing.
 * - None ready, `default` given: runs `default`; never blocks.
 * - None ready, no `default`: parks until a case becomes ready; the first counterpart to arrive completes that case
 *   (Go's parked select is likewise completed by whichever sender/receiver/close comes first). `select([])` blocks
 *   forever, like Go's `select {}`.
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
} = (
  cases: ReadonlyArray<AnyCase>,
  options?: { readonly default: Effect.Effect<unknown, unknown, unknown> }
): Effect.Effect<never, never, never> =>
  Effect.withFiber((fiber) => poll(cases, fiber.getRef(Random.Random), options?.default)) as Effect.Effect<
    never,
    never,
    never
  >
