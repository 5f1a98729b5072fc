/**
 * Channel — Go's `chan T`: unbuffered (rendezvous) or buffered, with close, `v, ok := <-ch`, `for range`, `select`
 * (`ChannelSelect.ts`), send-only and receive-only views (`chan<- T`, `<-chan T`) and the nil channel.
 *
 * Guarantees, as in Go: values are received in the order they were sent (FIFO per channel); every value whose send
 * succeeded is received exactly once; after `close`, receivers get the buffered values and then `None` forever;
 * senders — including those blocked when the channel closes — fail with `ChannelClosed` and their values are never
 * delivered. Interrupting a blocked send or receive loses and duplicates nothing: the waiter is withdrawn.
 *
 * Its own buffer and wait lists (`ChannelState.ts`), not a wrapper over Effect's `Queue`. A send or receive that need
 * not wait is one `Effect.suspend` step: no fiber switch, no allocation beyond the step and the received `Option`.
 * Only an operation that must wait builds an `Effect.callback` (`ChannelPark.ts`). A rendezvous hands the value over
 * in the step that finds the counterpart; a buffered channel wakes its parked parties from one scheduled task, so a
 * producer and a consumer trade whole buffers (`ChannelState.ts` has the details, and the one difference from Go).
 */
import { Cause, Effect, type Option, Stream } from "effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import { waitToReceive, waitToReceiveUpTo, waitToSend, waitToSendAll } from "./ChannelPark.ts"
import * as ChannelSelect from "./ChannelSelect.ts"
import { ChannelClosed, ChannelState, Empty, none, sendClosed, some } from "./ChannelState.ts"

export { ChannelClosed } from "./ChannelState.ts"

/**
 * Sender — Go's `chan<- A`: a channel seen from the side that sends. `send`, `sendAll`, `onSend` and `close` take
 * one; `receive` does not compile on it. Contravariant: a `Sender<unknown>` is a `Sender<number>`.
 */
export interface Sender<in A> extends Pipeable {
  readonly "~toolkit/Channel/Sender": (value: A) => void
}

/**
 * Receiver — Go's `<-chan A`: a channel seen from the side that receives. `receive`, `receiveAll`, `receiveUpTo`,
 * `toStream` and `onReceive` take one; `send` and `close` do not compile on it. Covariant.
 */
export interface Receiver<out A> extends Pipeable {
  readonly "~toolkit/Channel/Receiver": () => A
}

/**
 * Channel — a Go channel of `A` values: both a `Sender<A>` and a `Receiver<A>`, as a Go `chan A` converts to either
 * direction. Create with `make`.
 */
export interface Channel<in out A> extends Sender<A>, Receiver<A> {}

const stateOf = <A>(self: Sender<A> | Receiver<A>): ChannelState<A> => self as ChannelState<A>
const stateOfAny = (self: Sender<never> | Receiver<unknown>) => self as unknown as ChannelState<unknown>

/**
 * ElementTypeMissing — the element type `make` gives when none is written: an instruction, not a type a value can
 * have by accident, so the first `send` on such a channel fails to compile and says what to write.
 */
export type ElementTypeMissing = "Channel.make needs the element type: Channel.make<A>(capacity)"

/**
 * make — `make(chan A, capacity)`, with the element type written as Go writes it: `make<number>(0)`. 0 is
 * unbuffered: a send completes only once a receiver has taken the value. n > 0 buffers n values. A negative or
 * non-integer capacity is a defect (Go's `makechan` panics). Nothing can infer `A`; without it the channel is a
 * `Channel<ElementTypeMissing>`, never a `Channel<unknown>` that would accept anything.
 */
export const make = <A = ElementTypeMissing>(capacity: number): Effect.Effect<Channel<A>> =>
  Number.isSafeInteger(capacity) && capacity >= 0
    ? Effect.withFiber((fiber) => Effect.succeed(new ChannelState<A>(capacity, fiber.currentDispatcher)))
    : Effect.die(
        new Cause.IllegalArgumentError(`Channel.make: capacity must be a non-negative integer, got ${capacity}`)
      )

/** sender — the send-only view of `self` (Go: `var out chan<- A = ch`): the same channel, a narrower type. */
export const sender = <A>(self: Channel<A>): Sender<A> => self

/** receiver — the receive-only view of `self` (Go: `var in <-chan A = ch`): the same channel, a narrower type. */
export const receiver = <A>(self: Channel<A>): Receiver<A> => self

const nilState = new ChannelState<never>(0, undefined, true)

/**
 * nil — Go's nil channel (`var ch chan A`): a send or receive on it blocks forever (interruptible), a select case on
 * it is never ready — so `if (done) ch = Channel.nil()` disables that case, Go's `ch = nil` idiom. `len` and `cap`
 * are 0; closing it is a defect (Go panics "close of nil channel"). Every call returns the same channel.
 */
export const nil = <A = never>(): Channel<A> => nilState as unknown as Channel<A>

/** isNil — whether `self` is the nil channel (Go: `ch == nil`). */
export const isNil = (self: Sender<never> | Receiver<unknown>): boolean => stateOfAny(self).isNil

/**
 * send — `ch <- value`. Buffered: completes at once while there is room, else suspends until there is. Unbuffered:
 * suspends until a receiver takes the value. Fails with `ChannelClosed` if the channel is closed, or closes while
 * the send is blocked — that value is then never delivered. Interrupted while blocked: no receiver ever gets it.
 */
export const send: {
  <A>(value: A): (self: Sender<A>) => Effect.Effect<void, ChannelClosed>
  <A>(self: Sender<A>, value: A): Effect.Effect<void, ChannelClosed>
} = dual(2, <A>(self: Sender<A>, value: A): Effect.Effect<void, ChannelClosed> => {
  const state = stateOf(self)
  return Effect.suspend(() =>
    state.closed ? sendClosed : state.offer(value) ? Effect.void : state.isNil ? Effect.never : waitToSend(state, value)
  )
})

/**
 * receive — `v, ok := <-ch` as `Option`: the next value (buffered values first, in order), or `None` once the
 * channel is closed and drained — and `None` forever after. Blocks until a value or the close arrives; on a channel
 * that is never sent to nor closed it blocks forever, like Go. Interrupted while blocked: nothing is taken.
 */
export const receive = <A>(self: Receiver<A>): Effect.Effect<Option.Option<A>> => {
  const state = stateOf(self)
  if (state.receiveEffect === undefined) state.receiveEffect = makeReceive(state)
  return state.receiveEffect
}

/** makeReceive — a channel's receive effect, built once: `poll` and the answer in one step, or park. */
const makeReceive = <A>(state: ChannelState<A>): Effect.Effect<Option.Option<A>> => {
  if (state.isNil) return Effect.never
  const wait = waitToReceive(state)
  return Effect.suspend(() => {
    const value = state.poll()
    return value !== Empty ? some(value) : state.closed ? none : wait
  })
}

/**
 * closeUnsafe — closes `self` now; false if it was already closed. Blocked senders fail with `ChannelClosed` and
 * their values are dropped; blocked receivers get the buffered values, then `None` — all of them woken by a task
 * scheduled now, not inside this call. Throws on the nil channel.
 */
export const closeUnsafe = <A>(self: Sender<A>): boolean => {
  const state = stateOf(self)
  if (state.isNil) throw new Cause.IllegalArgumentError("close of nil channel")
  return state.close()
}

/**
 * close — `close(ch)`: no more sends. Receivers drain the buffer, then get `None`; blocked receivers are woken.
 * Senders blocked at this moment fail with `ChannelClosed` and their values are never received (Go panics them).
 * Closing a closed channel fails with `ChannelClosed` (Go panics "close of closed channel"); closing the nil
 * channel is a defect.
 */
export const close = <A>(self: Sender<A>): Effect.Effect<void, ChannelClosed> =>
  Effect.suspend(() => (closeUnsafe(self) ? Effect.void : Effect.fail(new ChannelClosed({ operation: "close" }))))

/**
 * len — `len(ch)`: the number of buffered values right now (always 0 for an unbuffered channel, as in Go — a value
 * being handed over is not counted; nor is a parked sender's value before its admission into room that a receive
 * has just made). An instantaneous reading, stale as soon as another fiber runs.
 */
export const len = (self: Sender<never> | Receiver<unknown>): Effect.Effect<number> =>
  Effect.sync(() => stateOfAny(self).buffer.size)

/** cap — `cap(ch)`: the buffer size given to `make` (0 for unbuffered); it never changes, so it is a plain value. */
export const cap = (self: Sender<never> | Receiver<unknown>): number => stateOfAny(self).capacity

/**
 * toStream — `for v := range ch`: the values in order, ending after the channel is closed and drained. It takes
 * one value per pull, so a consumer that stops early (`Stream.take(n)`) leaves the rest in the channel, as a `break`
 * out of a Go `range` does.
 */
export const toStream = <A>(self: Receiver<A>): Stream.Stream<A> =>
  Stream.fromEffectRepeat(
    Effect.flatMap(receive(self), (value) => (value._tag === "Some" ? Effect.succeed(value.value) : Cause.done()))
  )

/**
 * sendAll — sends `values` in order, suspending whenever the channel is full: a chunked `for v := range vs
 * { ch <- v }`. Fails with `ChannelClosed` if the channel is (or gets) closed before all are delivered; then a prefix
 * of `values` may have been delivered and the rest never will be. An empty `values` always succeeds. Interrupted
 * while blocked: likewise, a delivered prefix and nothing after it. `values` is read once, when the send starts.
 */
export const sendAll: {
  <A>(values: Iterable<A>): (self: Sender<A>) => Effect.Effect<void, ChannelClosed>
  <A>(self: Sender<A>, values: Iterable<A>): Effect.Effect<void, ChannelClosed>
} = dual(2, <A>(self: Sender<A>, values: Iterable<A>): Effect.Effect<void, ChannelClosed> => {
  const state = stateOf(self)
  return Effect.suspend(() => {
    const shared = Array.isArray(values)
    const array: ReadonlyArray<A> = shared ? (values as ReadonlyArray<A>) : Array.from(values)
    if (array.length === 0) return Effect.void
    if (state.closed) return sendClosed
    const sent = state.offerAll(array)
    if (sent === array.length) return Effect.void
    if (state.isNil) return Effect.never
    // the rest must be the channel's own: the caller may reuse its array once it has the fiber back
    return waitToSendAll(state, shared || sent > 0 ? array.slice(sent) : (array as Array<A>))
  })
})

/**
 * receiveUpTo — waits for at least one value, then takes up to `max` (≥ 1) of what is buffered, in order; `None`
 * once closed and drained. On an unbuffered channel each call takes one value from one blocked sender. The array is
 * a fresh one the caller owns: it may reuse it (fill it in place and `sendAll` it on) — Go's reuse of a slice.
 */
export const receiveUpTo: {
  (max: number): <A>(self: Receiver<A>) => Effect.Effect<Option.Option<Array<A>>>
  <A>(self: Receiver<A>, max: number): Effect.Effect<Option.Option<Array<A>>>
} = dual(2, <A>(self: Receiver<A>, max: number): Effect.Effect<Option.Option<Array<A>>> => {
  if (!(max >= 1))
    return Effect.die(new Cause.IllegalArgumentError(`Channel.receiveUpTo: max must be at least 1, got ${max}`))
  const limit = Math.floor(max)
  const state = stateOf(self)
  return Effect.suspend(() => {
    const values = state.pollUpTo(limit)
    return values !== Empty
      ? some(values)
      : state.closed
        ? none
        : state.isNil
          ? Effect.never
          : waitToReceiveUpTo(state, limit)
  })
})

/**
 * receiveAll — `receiveUpTo` without a bound: waits for one value, then takes everything buffered, as a fresh array
 * the caller owns.
 */
export const receiveAll = <A>(self: Receiver<A>): Effect.Effect<Option.Option<Array<A>>> =>
  receiveUpTo(self, Number.POSITIVE_INFINITY)

/** SelectCase — one arm of `select`: yields `A`, may fail with `E`, needs `R`. */
export type SelectCase<A, E, R> = ChannelSelect.SelectCase<A, E, R>

/** onReceive — `case v, ok := <-ch:` — `f` gets `Some(v)`, or `None` if `self` is closed and drained. */
export const onReceive = <A, B, E, R>(
  self: Receiver<A>,
  f: (value: Option.Option<A>) => Effect.Effect<B, E, R>
): SelectCase<B, E, R> => ChannelSelect.receiveCase(stateOf(self), f)

/**
 * onSend — `case ch <- value:` — `f` runs once `value` was delivered. Chosen on a closed channel, the select fails
 * with `ChannelClosed` (Go panics); a case that is not chosen sends nothing.
 */
export const onSend = <A, B, E, R>(
  self: Sender<A>,
  value: A,
  f: () => Effect.Effect<B, E, R>
): SelectCase<B, E | ChannelClosed, R> => ChannelSelect.sendCase(stateOf(self), value, f, sendClosed)

/** select — Go's `select`; see `ChannelSelect.select` for the contract (random choice, default, parking). */
export const select = ChannelSelect.select
