/**
 * ChannelPark — the waiting half of `send`, `sendAll`, `receive` and `receiveUpTo`: the parked operations and the
 * `Effect.callback`s that park them. `Channel.ts` comes here only when its one-step fast path could not complete.
 *
 * Each callback tries the operation once more before parking (the fiber may have yielded since the fast path
 * looked), and parks in that same step, so nothing can arrive or close between "cannot complete" and "parked".
 * Interrupted while parked: the waiter is unlinked in one step; it has taken nothing and delivered nothing.
 */
import { Effect, type Option } from "effect"
import type { Buffer } from "./ChannelBuffer.ts"
import { type ChannelClosed, type ChannelState, Empty, none, sendClosed, some } from "./ChannelState.ts"
import { ReceiveWaiter, SendWaiter, type Waiter, wake } from "./ChannelWaiters.ts"

type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

/** withdraw — the cancellation of a parked waiter: unlinks it, if it is still linked. */
const withdraw = (waiter: Waiter) => Effect.sync(() => waiter.list?.remove(waiter))

/** SendOne — a parked `send` of one value. */
class SendOne<A> extends SendWaiter<A> {
  readonly select = undefined
  readonly value: A
  readonly resume: Resume<void, ChannelClosed>
  constructor(value: A, resume: Resume<void, ChannelClosed>) {
    super()
    this.value = value
    this.resume = resume
  }
  next(): A {
    this.list?.remove(this)
    wake(this.resume, Effect.void)
    return this.value
  }
  admit(buffer: Buffer<A>): void {
    this.list?.remove(this)
    buffer.push(this.value)
    wake(this.resume, Effect.void)
  }
  fail(): void {
    this.list?.remove(this)
    wake(this.resume, sendClosed)
  }
}

/** SendMany — a parked `sendAll`: its own copy of the values it has not delivered yet, from `offset` on. */
class SendMany<A> extends SendWaiter<A> {
  readonly select = undefined
  readonly values: Array<A>
  offset: number
  readonly resume: Resume<void, ChannelClosed>
  constructor(values: Array<A>, offset: number, resume: Resume<void, ChannelClosed>) {
    super()
    this.values = values
    this.offset = offset
    this.resume = resume
  }
  next(): A {
    const value = this.values[this.offset++] as A
    if (this.offset === this.values.length) this.done()
    return value
  }
  admit(buffer: Buffer<A>, room: number): void {
    const count = Math.min(room, this.values.length - this.offset)
    buffer.pushAll(this.values, this.offset, count, true)
    this.offset += count
    if (this.offset === this.values.length) this.done()
  }
  fail(): void {
    this.list?.remove(this)
    wake(this.resume, sendClosed)
  }
  private done(): void {
    this.list?.remove(this)
    wake(this.resume, Effect.void)
  }
}

/** waitToSend — parks a `send` of `value` until a receiver takes it, room opens, or the channel closes. */
export const waitToSend = <A>(state: ChannelState<A>, value: A): Effect.Effect<void, ChannelClosed> =>
  Effect.callback((resume) => {
    if (state.closed) return resume(sendClosed)
    if (state.offer(value)) return resume(Effect.void)
    const waiter = new SendOne(value, resume)
    state.sendq.push(waiter)
    state.kick()
    return withdraw(waiter)
  })

/** waitToSendAll — parks a `sendAll` with `rest` (a private array) until all of it is delivered, or close. */
export const waitToSendAll = <A>(state: ChannelState<A>, rest: Array<A>): Effect.Effect<void, ChannelClosed> =>
  Effect.callback((resume) => {
    if (state.closed) return resume(sendClosed)
    const sent = state.offerAll(rest)
    if (sent === rest.length) return resume(Effect.void)
    const waiter = new SendMany(rest, sent, resume)
    state.sendq.push(waiter)
    state.kick()
    return withdraw(waiter)
  })

/** ReceiveOne — a parked `receive`. */
class ReceiveOne<A> extends ReceiveWaiter<A> {
  readonly select = undefined
  readonly resume: Resume<Option.Option<A>>
  constructor(resume: Resume<Option.Option<A>>) {
    super()
    this.resume = resume
  }
  give(value: A): void {
    wake(this.resume, some(value))
  }
  take(buffer: Buffer<A>): void {
    wake(this.resume, some(buffer.shift()))
  }
  closed(): void {
    wake(this.resume, none)
  }
}

/** ReceiveUpTo — a parked `receiveUpTo(max)`: takes up to `max` buffered values at once. */
class ReceiveUpTo<A> extends ReceiveWaiter<A> {
  readonly select = undefined
  readonly max: number
  readonly resume: Resume<Option.Option<Array<A>>>
  constructor(max: number, resume: Resume<Option.Option<Array<A>>>) {
    super()
    this.max = max
    this.resume = resume
  }
  give(value: A): void {
    wake(this.resume, some([value]))
  }
  take(buffer: Buffer<A>): void {
    wake(this.resume, some(buffer.takeUpTo(this.max)))
  }
  closed(): void {
    wake(this.resume, none)
  }
}

/** waitToReceive — parks a `receive` until a value arrives or the channel is closed and drained. */
export const waitToReceive = <A>(state: ChannelState<A>): Effect.Effect<Option.Option<A>> =>
  Effect.callback((resume) => {
    const value = state.poll()
    if (value !== Empty) return resume(some(value))
    if (state.closed) return resume(none)
    const waiter = new ReceiveOne(resume)
    state.recvq.push(waiter)
    state.kick()
    return withdraw(waiter)
  })

/** waitToReceiveUpTo — parks a `receiveUpTo(max)` until at least one value arrives, or close and drain. */
export const waitToReceiveUpTo = <A>(state: ChannelState<A>, max: number): Effect.Effect<Option.Option<Array<A>>> =>
  Effect.callback((resume) => {
    const values = state.pollUpTo(max)
    if (values !== Empty) return resume(some(values))
    if (state.closed) return resume(none)
    const waiter = new ReceiveUpTo(max, resume)
    state.recvq.push(waiter)
    state.kick()
    return withdraw(waiter)
  })
