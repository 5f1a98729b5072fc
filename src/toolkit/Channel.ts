/**
 * Channel — Go's `chan T` over Effect's `Queue`: unbuffered (rendezvous) or buffered, with close, `v, ok := <-ch`,
 * `for range`, and `select` (in `ChannelSelect.ts`).
 *
 * Guarantees, as in Go: values are received in the order they were sent (FIFO per channel); every value whose send
 * succeeded is received exactly once; after `close`, receivers get the buffered values and then `None` forever;
 * senders — including those already blocked when the channel closes — fail with `ChannelClosed` and their values are
 * never delivered. Interrupting a blocked send or receive loses and duplicates nothing: the waiter is withdrawn.
 *
 * Built on `Queue.bounded(capacity)` (capacity 0 is Queue's rendezvous) ended with `Cause.Done`. The one thing Queue
 * does differently is close: `Queue.end` still admits the offers that were suspended before it, where Go panics
 * those senders — so `close` withdraws and fails them first. Send and receive are the hot path: Queue's `offerUnsafe` /
 * `takeUnsafe` in one step when they can complete, Queue's own waiter sets when they must wait; no `Effect.fn` span,
 * and no allocation beyond what `Queue.offer` / `Queue.take` make (plus the `Option`).
 */
import { Cause, Data, Effect, Exit, Option, Queue, Stream } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, Prototype } from "effect/Pipeable"
import * as ChannelSelect from "./ChannelSelect.ts"

/**
 * ChannelClosed — the operation is not allowed on a closed channel: a send (Go panics "send on closed channel"), a
 * second close (Go panics "close of closed channel"), or a select's send case chosen on a closed channel.
 */
export class ChannelClosed extends Data.TaggedError("ChannelClosed")<{ readonly operation: "send" | "close" }> {
  override get message() {
    return this.operation === "send" ? "send on closed channel" : "close of closed channel"
  }
}

/** Channel — a Go channel of `A` values. Create with `make`; `queue` is its representation, not an API. */
export interface Channel<in out A> extends Pipeable {
  /** the backing queue; offering to or ending it directly bypasses the channel's close semantics */
  readonly queue: Queue.Queue<A, Cause.Done>
  /** the buffer size given to `make`; 0 means unbuffered */
  readonly capacity: number
  /** `receive(this)`, built once per channel so a receive allocates no effect of its own */
  readonly receiveEffect: Effect.Effect<Option.Option<A>>
}

/**
 * make — `make(chan A, capacity)`. 0 is unbuffered: a send completes only once a receiver has taken the value.
 * n > 0 buffers n values. A negative or non-integer capacity is a defect (Go's `makechan` panics).
 */
export const make = <A>(capacity: number): Effect.Effect<Channel<A>> =>
  Number.isSafeInteger(capacity) && capacity >= 0
    ? Effect.map(Queue.bounded<A, Cause.Done>(capacity), (queue) =>
        Object.assign(Object.create(Prototype), { queue, capacity, receiveEffect: makeReceive(queue) })
      )
    : Effect.die(
        new Cause.IllegalArgumentError(`Channel.make: capacity must be a non-negative integer, got ${capacity}`)
      )

const sendClosed = Effect.suspend(() => Effect.fail(new ChannelClosed({ operation: "send" })))

/**
 * waitToSend — `Queue.offer`'s wait, answering `void` or `ChannelClosed` directly: the pending offer is resumed with
 * `true` once a receiver took the value (or it moved into freed buffer space) and with `false` by `close`.
 * Interrupted: the offer is withdrawn in the same step, so the value cannot be taken afterwards.
 */
const waitToSend = <A>(queue: Queue.Queue<A, Cause.Done>, value: A): Effect.Effect<void, ChannelClosed> =>
  Effect.callback((resume) => {
    if (Queue.offerUnsafe(queue, value)) return resume(Effect.void)
    const state = queue.state
    if (state._tag !== "Open") return resume(sendClosed)
    const offer: PendingSend<A> = { _tag: "Single", message: value, sender: resume, resume: resumeSender }
    state.offers.add(offer)
    return Effect.sync(() => {
      state.offers.delete(offer)
    })
  })

/** PendingSend — a blocked send as Queue's offer entry; `resume` is shared, so blocking allocates no closure. */
type PendingSend<A> = Extract<Queue.Queue.OfferEntry<A>, { readonly _tag: "Single" }> & {
  readonly sender: (effect: Effect.Effect<void, ChannelClosed>) => void
}
function resumeSender(this: PendingSend<unknown>, result: Effect.Effect<boolean>): void {
  this.sender(ChannelSelect.isDelivered(result) ? Effect.void : sendClosed)
}

/**
 * send — `ch <- value`. Buffered: suspends while the buffer is full. Unbuffered: suspends until a receiver takes
 * the value. Fails with `ChannelClosed` if the channel is closed, or closes while the send is blocked — that value is
 * then never delivered. Interrupted while blocked: the value is withdrawn; no receiver ever gets it.
 */
export const send: {
  <A>(value: A): (self: Channel<A>) => Effect.Effect<void, ChannelClosed>
  <A>(self: Channel<A>, value: A): Effect.Effect<void, ChannelClosed>
} = dual(
  2,
  <A>(self: Channel<A>, value: A): Effect.Effect<void, ChannelClosed> =>
    // Hot path: the same single step as `Queue.offer` when there is room, and the same one wait when there is not.
    Effect.suspend(() => (Queue.offerUnsafe(self.queue, value) ? Effect.void : waitToSend(self.queue, value)))
)

/** toOption — one handlers object for every take: `Done` (closed and drained) becomes `None`; no closure per call. */
type ToOption<A> = { readonly onSuccess: (a: A) => Option.Option<A>; readonly onFailure: () => Option.Option<A> }
const toOptionShared: ToOption<unknown> = { onSuccess: Option.some, onFailure: Option.none }
const toOption = <A>() => toOptionShared as ToOption<A>
const none = Effect.succeed(Option.none())

/**
 * makeReceive — a channel's receive effect, built once. Hot path: `Queue.takeUnsafe` and the answer in one step, no
 * match frame, no effect allocated per call. Waiting registers a Queue taker that takes the value in the waker's step
 * and resumes the receiver with it at once (so an interrupted receiver, withdrawn first, never takes anything).
 */
const makeReceive = <A>(queue: Queue.Queue<A, Cause.Done>): Effect.Effect<Option.Option<A>> => {
  const wait = Effect.callback<Option.Option<A>>((resume) => {
    const exit = Queue.takeUnsafe(queue) // again: the fiber may have yielded since the first look
    const state = queue.state
    if (exit !== undefined || state._tag !== "Open") return resume(received(exit))
    const taker: Receiver<A> = { queue, receiver: resume, ready: receiverReady, resume: resumeReceiver }
    state.takers.add(taker)
    return Effect.sync(() => {
      state.takers.delete(taker)
    })
  })
  return Effect.suspend(() => {
    const exit = Queue.takeUnsafe(queue)
    return exit === undefined ? wait : received(exit)
  })
}

/** received — the answer to a take: the value, or `None` once closed and drained (`Done`). */
const received = <A>(exit: Exit.Exit<A, Cause.Done> | undefined): Effect.Effect<Option.Option<A>> =>
  exit !== undefined && exit._tag === "Success" ? Effect.succeed(Option.some(exit.value)) : none

/** Receiver — a blocked receive as Queue's taker; its methods are shared, so blocking allocates no closure. */
interface Receiver<A> extends Queue.Queue.Taker<Cause.Done> {
  readonly queue: Queue.Queue<A, Cause.Done>
  readonly receiver: (effect: Effect.Effect<Option.Option<A>>) => void
}
function receiverReady(this: Receiver<unknown>): boolean {
  return Queue.sizeUnsafe(this.queue) > 0
}
function resumeReceiver(this: Receiver<unknown>): void {
  const exit = Queue.takeUnsafe(this.queue)
  const state = this.queue.state
  if (exit === undefined && state._tag !== "Done")
    state.takers.add(this) // another taker was first: keep waiting
  else this.receiver(received(exit))
}

/**
 * receive — `v, ok := <-ch` as `Option`: the next value (buffered values first, in order), or `None` once the
 * channel is closed and drained — and `None` forever after. Blocks until a value or the close arrives; on a channel
 * that is never sent to nor closed it blocks forever, like Go. Interrupted while blocked: nothing is taken.
 */
export const receive = <A>(self: Channel<A>): Effect.Effect<Option.Option<A>> => self.receiveEffect

/**
 * closeUnsafe — closes `self` now; false if it was already closed. Blocked senders fail with `ChannelClosed` and
 * their values are dropped (`Queue.end` alone would still deliver them); blocked receivers get `None` once the
 * buffer is drained.
 */
export const closeUnsafe = <A>(self: Channel<A>): boolean => {
  const state = self.queue.state
  if (state._tag !== "Open") return false
  const blocked = Array.from(state.offers)
  state.offers.clear()
  Queue.endUnsafe(self.queue)
  for (const entry of blocked) {
    if (entry._tag === "Single") entry.resume(Exit.succeed(false))
    else entry.resume(Exit.succeed(entry.remaining.slice(entry.offset)))
  }
  return true
}

/**
 * close — `close(ch)`: no more sends. Receivers drain the buffer, then get `None`; blocked receivers are woken.
 * Senders blocked at this moment fail with `ChannelClosed` and their values are never received (Go panics them).
 * Closing a closed channel fails with `ChannelClosed` (Go panics "close of closed channel").
 */
export const close = <A>(self: Channel<A>): Effect.Effect<void, ChannelClosed> =>
  Effect.suspend(() => (closeUnsafe(self) ? Effect.void : Effect.fail(new ChannelClosed({ operation: "close" }))))

/**
 * len — `len(ch)`: the number of buffered values right now (always 0 for an unbuffered channel, as in Go — a value
 * being handed over is not counted). An instantaneous reading, stale as soon as another fiber runs.
 */
export const len = <A>(self: Channel<A>): Effect.Effect<number> =>
  Effect.sync(() => Math.min(Queue.sizeUnsafe(self.queue), self.capacity))

/** cap — `cap(ch)`: the buffer size given to `make` (0 for unbuffered); it never changes, so it is a plain value. */
export const cap = <A>(self: Channel<A>): number => self.capacity

/**
 * toStream — `for v := range ch`: the values in order, ending after the channel is closed and drained. It takes
 * one value per pull, so a consumer that stops early (`Stream.take(n)`) leaves the rest in the channel, as a `break`
 * out of a Go `range` does (`Stream.fromQueue` takes whole buffers and would drop them).
 */
export const toStream = <A>(self: Channel<A>): Stream.Stream<A> => Stream.fromEffectRepeat(Queue.take(self.queue))

/**
 * sendAll — sends `values` in order, suspending whenever the channel is full: a chunked `for v := range vs
 * { ch <- v }` over `Queue.offerAll`. Fails with `ChannelClosed` if the channel is (or gets) closed before all are
 * delivered; then a prefix of `values` may have been delivered and the rest never will be. An empty `values` always
 * succeeds. Interrupted while blocked: likewise, a delivered prefix and nothing after it.
 */
export const sendAll: {
  <A>(values: Iterable<A>): (self: Channel<A>) => Effect.Effect<void, ChannelClosed>
  <A>(self: Channel<A>, values: Iterable<A>): Effect.Effect<void, ChannelClosed>
} = dual(
  2,
  <A>(self: Channel<A>, values: Iterable<A>): Effect.Effect<void, ChannelClosed> =>
    Effect.flatMap(Queue.offerAll(self.queue, values), (rest) => (rest.length === 0 ? Effect.void : sendClosed))
)

/**
 * receiveUpTo — waits for at least one value, then takes up to `max` (≥ 1) of what is buffered, in order; `None`
 * once closed and drained. On an unbuffered channel each call takes one value from one blocked sender. The array is
 * a fresh one the caller owns: it may reuse it (fill it in place and `sendAll` it on) — Go's reuse of a slice.
 */
export const receiveUpTo: {
  (max: number): <A>(self: Channel<A>) => Effect.Effect<Option.Option<Array<A>>>
  <A>(self: Channel<A>, max: number): Effect.Effect<Option.Option<Array<A>>>
} = dual(
  2,
  <A>(self: Channel<A>, max: number): Effect.Effect<Option.Option<Array<A>>> =>
    max >= 1
      ? Effect.match(Queue.takeBetween(self.queue, 1, max), toOption<Array<A>>())
      : Effect.die(new Cause.IllegalArgumentError(`Channel.receiveUpTo: max must be at least 1, got ${max}`))
)

/**
 * receiveAll — `receiveUpTo` without a bound: waits for one value, then takes everything buffered, as a fresh array
 * the caller owns.
 */
export const receiveAll = <A>(self: Channel<A>): Effect.Effect<Option.Option<Array<A>>> =>
  Effect.match(Queue.takeAll(self.queue), toOption<Array<A>>())

/** SelectCase — one arm of `select`: yields `A`, may fail with `E`, needs `R`. */
export type SelectCase<A, E, R> = ChannelSelect.SelectCase<A, E, R>

/** onReceive — `case v, ok := <-ch:` — `f` gets `Some(v)`, or `None` if `self` is closed and drained. */
export const onReceive = <A, B, E, R>(
  self: Channel<A>,
  f: (value: Option.Option<A>) => Effect.Effect<B, E, R>
): SelectCase<B, E, R> => ChannelSelect.receiveCase(self.queue, f)

/**
 * onSend — `case ch <- value:` — `f` runs once `value` was delivered. Chosen on a closed channel, the select fails
 * with `ChannelClosed` (Go panics); a case that is not chosen sends nothing.
 */
export const onSend = <A, B, E, R>(
  self: Channel<A>,
  value: A,
  f: () => Effect.Effect<B, E, R>
): SelectCase<B, E | ChannelClosed, R> => ChannelSelect.sendCase(self.queue, value, f, sendClosed)

/** select — Go's `select`; see `ChannelSelect.select` for the contract (random choice, default, parking). */
export const select = ChannelSelect.select
