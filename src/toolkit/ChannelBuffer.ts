/**
 * ChannelBuffer — the FIFO buffer of a buffered `Channel` (Go's `hchan.buf`): an array read from a moving head.
 *
 * Guarantees: values come out in the order they went in; a slot is cleared as its value leaves, so the buffer keeps
 * no reference to a received value. It does not know the channel's capacity: `ChannelState` checks the room first.
 *
 * Why an array and not a ring: appends are `push`, and a receive that takes everything (`takeUpTo` with the whole
 * buffer, the chunked pipeline's `receiveAll`) hands the array itself over and starts a new one — no copy. A take
 * from the middle copies (`slice`), and the consumed prefix is dropped once it is most of the array.
 */

/** Buffer — a FIFO of `A`; `size` is the number of values held. */
export class Buffer<A> {
  items: Array<A> = []
  head = 0

  /** size — how many values are buffered. */
  get size(): number {
    return this.items.length - this.head
  }

  /** push — appends one value. */
  push(value: A): void {
    this.items.push(value)
  }

  /**
   * pushAll — appends `values[from, from + count)`. Into an empty buffer this is one `slice`; `adopt` says `values`
   * is private to the channel (a blocked `sendAll`'s own copy), so a whole array can become the buffer as is.
   */
  pushAll(values: ReadonlyArray<A>, from: number, count: number, adopt: boolean): void {
    if (this.size === 0) {
      this.items =
        adopt && from === 0 && count === values.length ? (values as Array<A>) : values.slice(from, from + count)
      this.head = 0
      return
    }
    const items = this.items
    for (let i = from; i < from + count; i++) items.push(values[i] as A)
  }

  /** shift — removes and returns the oldest value; the caller checks `size > 0` first. */
  shift(): A {
    const items = this.items
    const value = items[this.head] as A
    if (this.head + 1 === items.length) {
      // emptied: keep the array's storage, drop its references
      items.length = 0
      this.head = 0
    } else {
      items[this.head] = undefined as A
      this.head++
      if (this.head >= 1024 && this.head * 2 >= items.length) this.compact()
    }
    return value
  }

  /**
   * takeUpTo — removes and returns the oldest `min(max, size)` values as a fresh array the caller owns (the caller
   * checks `size > 0` first). Taking everything from an untouched array hands that array over.
   */
  takeUpTo(max: number): Array<A> {
    const items = this.items
    const size = items.length - this.head
    if (max >= size) {
      const taken = this.head === 0 ? items : items.slice(this.head)
      this.items = []
      this.head = 0
      return taken
    }
    const end = this.head + max
    const taken = items.slice(this.head, end)
    items.fill(undefined as A, this.head, end)
    this.head = end
    if (this.head >= 1024 && this.head * 2 >= items.length) this.compact()
    return taken
  }

  /** compact — drops the consumed prefix, so a buffer that never drains does not grow without bound. */
  private compact(): void {
    this.items = this.items.slice(this.head)
    this.head = 0
  }
}
