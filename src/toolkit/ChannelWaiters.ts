/**
 * ChannelWaiters — the fibers parked on a channel (Go's `sudog`s) and the FIFO lists that hold them (Go's `waitq`):
 * one list of blocked senders, each with the value(s) it wants to send, and one of blocked receivers.
 *
 * A waiter is linked into exactly one list, or none. `push` and `shift` are O(1), and so is `remove`, which is what
 * interruption and a select's withdrawal of its other cases use: the lists are intrusive and doubly linked.
 *
 * Completing a waiter resumes its fiber at once, inside the step of the fiber that completes it — that is what makes
 * "the value was handed over" and "the waiter was resumed" one atomic event, so an interrupt can never land between
 * them. (One case is beyond any design on Effect's public API, and `Queue` has it too: the woken fiber, running inside
 * that step, interrupts the fiber that woke it; that fiber's step then ends interrupted and what it was receiving is
 * lost.) `wake` counts how deep such resumptions nest: past `maxDepth` (`canNest`) operations park instead, so a
 * chain of ten thousand fibers handing a value down (Go's "whispers") unwinds through the scheduler, not the stack.
 */
import type { Effect } from "effect"
import type { Buffer } from "./ChannelBuffer.ts"

/** Waiter — one parked operation: its links, and the select it belongs to (if any). */
export abstract class Waiter {
  /** the waiter parked before this one in its list, and the one after */
  before: Waiter | undefined = undefined
  after: Waiter | undefined = undefined
  list: WaitList<Waiter> | undefined = undefined
  /** the parked select this waiter is one case of; two cases of one select never complete each other */
  abstract readonly select: SelectGroup | undefined
}

/** SelectGroup — a parked select, as its waiters see it. */
export interface SelectGroup {
  /** withdraw — unlinks every waiter of the select: none of its cases can be completed any more */
  withdraw(): void
}

/** ReceiveWaiter — a parked receive (or a select's receive case). */
export abstract class ReceiveWaiter<A> extends Waiter {
  /** give — a sender hands `value` over directly; resumes the receiver with it */
  abstract give(value: A): void
  /** take — the receiver takes what it wants from `buffer` (which holds at least one value) and resumes */
  abstract take(buffer: Buffer<A>): void
  /** closed — the channel is closed and drained: resumes the receiver with `None` */
  abstract closed(): void
}

/** SendWaiter — a parked send, `sendAll` or select send case: the values it still has to deliver. */
export abstract class SendWaiter<A> extends Waiter {
  /** next — hands over the next value; once none is left the waiter is removed and its fiber resumed */
  abstract next(): A
  /** admit — moves up to `room` (≥ 1) values into `buffer`, completing the waiter once all are in */
  abstract admit(buffer: Buffer<A>, room: number): void
  /** fail — the channel closed first: the sender fails with `ChannelClosed`; what it still holds is never delivered */
  abstract fail(): void
}

/** WaitList — a FIFO of waiters, intrusive and doubly linked. */
export class WaitList<W extends Waiter> {
  head: W | undefined = undefined
  tail: W | undefined = undefined

  /** push — appends `waiter` (which is in no list). */
  push(waiter: W): void {
    waiter.list = this as unknown as WaitList<Waiter>
    waiter.before = this.tail
    waiter.after = undefined
    if (this.tail === undefined) this.head = waiter
    else this.tail.after = waiter
    this.tail = waiter
  }

  /** shift — removes and returns the oldest waiter, if any. */
  shift(): W | undefined {
    const waiter = this.head
    if (waiter !== undefined) this.remove(waiter)
    return waiter
  }

  /** remove — unlinks `waiter` if it is in this list; otherwise does nothing. */
  remove(waiter: W): void {
    if (waiter.list !== (this as unknown as WaitList<Waiter>)) return
    const { before, after } = waiter
    if (before === undefined) this.head = after as W | undefined
    else before.after = after
    if (after === undefined) this.tail = before as W | undefined
    else after.before = before
    waiter.before = waiter.after = waiter.list = undefined
  }
}

/** maxDepth — how many resumptions may nest inside one another before operations park instead. */
const maxDepth = 64

/** depth — resumptions currently nested on the stack. */
let depth = 0

/** canNest — whether an operation may complete a parked waiter now, on this stack (else it parks too). */
export const canNest = (): boolean => depth < maxDepth

/**
 * wake — resumes a parked fiber with `effect`, now, on this stack; the fiber runs until it parks or ends. Callers
 * leave their channel consistent first: the woken fiber may use the same channel before `wake` returns.
 */
export const wake = <A, E, R>(
  resume: (effect: Effect.Effect<A, E, R>) => void,
  effect: Effect.Effect<A, E, R>
): void => {
  depth++
  try {
    resume(effect)
  } finally {
    depth--
  }
}
