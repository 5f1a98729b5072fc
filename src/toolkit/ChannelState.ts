/**
 * ChannelState — the runtime channel (Go's `hchan`): its buffer, its lists of parked senders and receivers, its
 * closed flag, and the synchronous operations `Channel` and `ChannelSelect` are built from. Nothing here waits.
 *
 * Invariants, as in Go: a receiver parks only when the buffer is empty and no sender is parked; a sender parks only
 * when the buffer is full (a rendezvous channel's is always full) or other senders are parked before it. Values leave
 * in the order they arrived: the buffer first, then the parked senders', oldest first.
 *
 * Where this differs from Go's runtime, on purpose: a buffered channel does not wake a parked party in the step of the
 * operation that made it ready. A send into an empty buffer with receivers parked, or a receive that frees room while
 * senders are parked, schedules one `settle` task on the scheduler instead; the task hands the buffered values to the
 * parked receivers and moves the parked senders' values into the room, waking each. So a producer and a consumer
 * trade whole buffers, not single values: each wake-up costs a fiber switch, and Effect's fiber switch costs far more
 * than moving a value. A rendezvous (capacity 0) is completed in the step that finds the counterpart, as it must be.
 * A sender that is still parked when `close` comes fails, even if room had opened before the `settle` ran.
 */
import { Data, Effect, Option, type Scheduler } from "effect"
import { Prototype } from "effect/Pipeable"
import type { Channel } from "./Channel.ts"
import { Buffer } from "./ChannelBuffer.ts"
import { canNest, type ReceiveWaiter, type SendWaiter, type Waiter, WaitList } from "./ChannelWaiters.ts"

/**
 * ChannelClosed — the operation is not allowed on a closed channel: a send (Go panics "send on closed channel"), a
 * second close (Go panics "close of closed channel"), or a select's send case chosen on a closed channel.
 */
export class ChannelClosed extends Data.TaggedError("ChannelClosed")<{ readonly operation: "send" | "close" }> {
  override get message() {
    return this.operation === "send" ? "send on closed channel" : "close of closed channel"
  }
}

/** sendClosed — what a send on a closed channel fails with (a fresh error each time: it carries a stack trace). */
export const sendClosed: Effect.Effect<never, ChannelClosed> = Effect.suspend(() =>
  Effect.fail(new ChannelClosed({ operation: "send" }))
)

/** Empty — what `poll` answers when no value can be received without waiting. */
export const Empty: unique symbol = Symbol("toolkit/Channel/Empty") // not Symbol.for: no value can be it
export type Empty = typeof Empty

/** ChannelState — one channel. `make` it through `Channel.make`; the fields are its representation. */
export class ChannelState<A> implements Channel<A> {
  readonly capacity: number
  readonly buffer = new Buffer<A>()
  readonly sendq = new WaitList<SendWaiter<A>>()
  readonly recvq = new WaitList<ReceiveWaiter<A>>()
  closed = false
  /** a nil channel (`Channel.nil`): never ready, never closed */
  readonly isNil: boolean
  /** a `settle` task is scheduled and has not run yet */
  settling = false
  readonly dispatcher: Scheduler.SchedulerDispatcher | undefined
  readonly settleTask = () => {
    this.settling = false
    if (this.release(settleBudget)) this.kick()
  }

  constructor(capacity: number, dispatcher: Scheduler.SchedulerDispatcher | undefined, isNil = false) {
    this.capacity = capacity
    this.dispatcher = dispatcher
    this.isNil = isNil
  }

  /** `Channel.receive(this)`, built on first use so that a receive allocates no effect of its own */
  receiveEffect: Effect.Effect<Option.Option<A>> | undefined = undefined

  pipe(...args: Array<unknown>): unknown {
    return Reflect.apply(Prototype.pipe, this, args)
  }
  // the direction markers of `Sender` / `Receiver`: type-level only, nothing at run time
  declare readonly "~toolkit/Channel/Sender": (value: A) => void
  declare readonly "~toolkit/Channel/Receiver": () => A

  /**
   * offer — sends `value` without waiting if it can (the caller checked `closed`): into the buffer when there is room
   * and no sender is parked before it, or straight to a parked receiver of a rendezvous channel. False: it must wait.
   */
  offer(value: A): boolean {
    const buffer = this.buffer
    if (buffer.size < this.capacity) {
      if (this.sendq.head !== undefined) return false
      buffer.push(value)
      if (this.recvq.head !== undefined) this.schedule()
      return true
    }
    const receiver = this.recvq.head
    if (receiver === undefined || this.capacity !== 0 || !canNest()) return false
    this.recvq.remove(receiver)
    receiver.give(value)
    return true
  }

  /**
   * offerAll — sends a prefix of `values` without waiting: into the buffer's room (if no sender is parked before
   * them), or one each to the parked receivers of a rendezvous channel. Returns how many were delivered.
   */
  offerAll(values: ReadonlyArray<A>): number {
    const buffer = this.buffer
    const room = this.capacity - buffer.size
    if (room > 0) {
      if (this.sendq.head !== undefined) return 0
      const count = Math.min(room, values.length)
      buffer.pushAll(values, 0, count, false)
      if (this.recvq.head !== undefined) this.schedule()
      return count
    }
    let sent = 0
    for (let receiver = this.recvq.head; receiver !== undefined && sent < values.length; receiver = this.recvq.head) {
      if (this.capacity !== 0 || this.closed || !canNest()) break
      this.recvq.remove(receiver)
      receiver.give(values[sent++] as A)
    }
    return sent
  }

  /**
   * poll — receives one value without waiting if it can: the oldest buffered value, or else the value of the oldest
   * parked sender (which that completes). `Empty` if it must wait — or if the channel is closed and drained.
   */
  poll(): A | Empty {
    const buffer = this.buffer
    if (buffer.size > 0) {
      const value = buffer.shift()
      if (this.sendq.head !== undefined) this.schedule()
      return value
    }
    const sender = this.sendq.head
    return sender !== undefined && !this.closed && canNest() ? sender.next() : Empty
  }

  /**
   * pollUpTo — receives up to `max` values without waiting: from the buffer — into which a buffer left empty first
   * admits the parked senders' values (it has room for them) — or else one from a rendezvous channel's oldest parked
   * sender. `Empty` if it must wait — or if the channel is closed and drained.
   */
  pollUpTo(max: number): Array<A> | Empty {
    const buffer = this.buffer
    if (buffer.size === 0 && !this.closed) {
      for (let sender = this.sendq.head; sender !== undefined && !this.closed && canNest(); sender = this.sendq.head) {
        if (this.capacity === 0) return [sender.next()]
        if (buffer.size >= this.capacity) break
        sender.admit(buffer, this.capacity - buffer.size)
      }
    }
    if (buffer.size === 0) return Empty
    const values = buffer.takeUpTo(max)
    if (this.sendq.head !== undefined) this.schedule()
    return values
  }

  /**
   * close — marks the channel closed. Parked receivers get the buffered values, then `None`, and parked senders fail,
   * from a `settle` task (like Go, which readies them and runs them later): a close never runs other fibers inside
   * the step of the fiber that closes. Until then nothing can be taken from the parked senders.
   */
  close(): boolean {
    if (this.closed || this.isNil) return false
    this.closed = true
    this.kick()
    return true
  }

  /** schedule — runs `settle` soon (once, however often it is asked for before it runs). */
  schedule(): void {
    if (this.settling || this.dispatcher === undefined) return
    this.settling = true
    this.dispatcher.scheduleTask(this.settleTask, 0)
  }

  /** kick — schedules `settle` if parked parties can make progress; called after a waiter parks. */
  kick(): void {
    const { buffer, sendq, recvq } = this
    if (
      (recvq.head !== undefined && (buffer.size > 0 || this.closed || sendq.head !== undefined)) ||
      (sendq.head !== undefined && (this.closed || buffer.size < this.capacity))
    )
      this.schedule()
  }

  /**
   * release — completes what parked parties can complete, at most `budget` of them: buffered values to parked
   * receivers, parked senders' values into free room, parked senders straight to parked receivers (a rendezvous that
   * had to park, see `canNest`), and after close `None` to receivers and `ChannelClosed` to senders. True if it
   * stopped on the budget with work possibly left. Each completion wakes a fiber, which may use this channel again:
   * every round re-reads the state.
   */
  release(budget: number): boolean {
    const { buffer, sendq, recvq } = this
    for (; budget > 0; budget--) {
      const receiver = recvq.head
      if (receiver !== undefined && buffer.size > 0) {
        recvq.remove(receiver)
        receiver.take(buffer)
      } else if (this.closed) {
        if (receiver !== undefined) {
          recvq.remove(receiver)
          receiver.closed()
        } else if (sendq.head !== undefined) sendq.head.fail()
        else return false
      } else if (sendq.head !== undefined && buffer.size < this.capacity) {
        sendq.head.admit(buffer, this.capacity - buffer.size)
      } else if (receiver !== undefined && sendq.head !== undefined && buffer.size === 0) {
        const pair = this.rendezvous()
        if (pair === undefined) return false
        const [sender, parked] = pair
        // claim the receiver (and its select's other cases) before the sender's fiber runs, then hand over
        recvq.remove(parked)
        parked.select?.withdraw()
        parked.give(sender.next())
      } else return false
    }
    return true
  }

  /** rendezvous — the oldest parked sender and receiver that are not two cases of one select, if any. */
  private rendezvous(): readonly [SendWaiter<A>, ReceiveWaiter<A>] | undefined {
    for (let sender = this.sendq.head; sender !== undefined; sender = next(sender)) {
      for (let receiver = this.recvq.head; receiver !== undefined; receiver = next(receiver)) {
        if (sender.select === undefined || sender.select !== receiver.select) return [sender, receiver]
      }
    }
    return undefined
  }
}

const next = <W extends Waiter>(waiter: W): W | undefined => waiter.after as W | undefined

/** settleBudget — completions per `settle` task; more work is left to another task, after other fibers ran. */
const settleBudget = 256

/** some — the effect a receive completes with. */
export const some = <A>(value: A): Effect.Effect<Option.Option<A>> => Effect.succeed(Option.some(value))

/** none — what a receive on a closed, drained channel completes with. */
export const none: Effect.Effect<Option.Option<never>> = Effect.succeed(Option.none())
