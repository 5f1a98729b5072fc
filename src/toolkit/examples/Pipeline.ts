/**
 * Pipeline — the lesson's "Go Concurrency Patterns: Pipelines and cancellation" (gen → sq → merge → sum), written
 * twice: with `Channel` and `ErrGroup`, stage for stage as the Go blog post writes it, and with `Stream`.
 *
 * In Go every stage takes a `done` channel and selects on it at each send, so that a consumer that stops early can
 * release the senders blocked upstream — forget one `select` and that goroutine leaks forever ("the forgotten
 * sender"). Here the stages are tasks of one `ErrGroup` living in the consumer's Scope: when the consumer returns
 * (or fails, or is interrupted) the Scope closes and every stage fiber is interrupted wherever it is blocked, so the
 * leak cannot be written. A failing stage ends the others the same way, through the group.
 *
 * The chunked variants move the same values through buffered channels in arrays (`Channel.sendAll` /
 * `Channel.receiveAll`) — the throughput the toolkit benchmark measures.
 */
import { Effect, Option, type Scope, Stream } from "effect"
import * as Channel from "../Channel.ts"
import * as ErrGroup from "../ErrGroup.ts"
import * as WaitGroup from "../WaitGroup.ts"

/** Group — the pipeline's stages: a failing send (`ChannelClosed`) is the only failure they can have. */
export type Group = ErrGroup.ErrGroup<Channel.ChannelClosed>

/** stage — starts `body` as a task of `group` that closes `out` when it ends (Go's `defer close(out)`). */
const stage = <A>(group: Group, out: Channel.Sender<A>, body: Effect.Effect<void, Channel.ChannelClosed>) =>
  ErrGroup.go(group, Effect.ensuring(body, Effect.ignore(Channel.close(out))))

/** forEachValue — `for v := range ch { f(v) }`: until `ch` is closed and drained. */
export const forEachValue = <A, E>(ch: Channel.Receiver<A>, f: (value: A) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    while (true) {
      const next = yield* Channel.receive(ch)
      if (Option.isNone(next)) return
      yield* f(next.value)
    }
  })

/**
 * gen — sends each of `nums` on an unbuffered channel, then closes it. `nums` may be endless. Returns the channel's
 * receive side, as Go's `func gen(nums ...int) <-chan int` does: the stage alone sends and closes.
 */
export const gen = (group: Group, nums: Iterable<number>) =>
  Effect.gen(function* () {
    const out = yield* Channel.make<number>(0)
    yield* stage(
      group,
      out,
      Effect.forEach(nums, (n) => Channel.send(out, n), { discard: true })
    )
    return Channel.receiver(out)
  })

/** sq — receives from `input` until it is closed, sending each value squared (`func sq(in <-chan int) <-chan int`). */
export const sq = (group: Group, input: Channel.Receiver<number>) =>
  Effect.gen(function* () {
    const out = yield* Channel.make<number>(0)
    yield* stage(
      group,
      out,
      forEachValue(input, (n) => Channel.send(out, n * n))
    )
    return Channel.receiver(out)
  })

/** merge — fan-in: forwards every value of `inputs` to one channel, closed once all `inputs` are (a WaitGroup). */
export const merge = <A>(group: Group, inputs: ReadonlyArray<Channel.Receiver<A>>) =>
  Effect.gen(function* () {
    const out = yield* Channel.make<A>(0)
    const forwarders = yield* WaitGroup.make()
    yield* WaitGroup.add(forwarders, inputs.length)
    for (const input of inputs) {
      yield* ErrGroup.go(
        group,
        Effect.ensuring(
          forEachValue(input, (value) => Channel.send(out, value)),
          WaitGroup.done(forwarders)
        )
      )
    }
    yield* stage(group, out, WaitGroup.wait(forwarders))
    return Channel.receiver(out)
  })

/** squares — gen → `workers` × sq → merge, in `group`: the channel of the squares, in no particular order. */
export const squares = (group: Group, nums: Iterable<number>, workers: number) =>
  Effect.gen(function* () {
    const input = yield* gen(group, nums)
    const outputs = yield* Effect.forEach(Array.from({ length: workers }), () => sq(group, input))
    return yield* merge(group, outputs)
  })

/** sumOfSquares — runs the whole pipeline on `nums` with `workers` squarers and sums what comes out. */
export const sumOfSquares = (nums: Iterable<number>, workers = 2): Effect.Effect<number, Channel.ChannelClosed> =>
  withGroup((group) =>
    Effect.gen(function* () {
      const out = yield* squares(group, nums, workers)
      let sum = 0
      yield* forEachValue(out, (n) =>
        Effect.sync(() => {
          sum += n
        })
      )
      yield* ErrGroup.wait(group)
      return sum
    })
  )

/**
 * firstSquares — takes the first `n` squares and returns, leaving the stages blocked mid-send: closing the group's
 * Scope interrupts them — the Effect form of the blog's `close(done)`. Works on an endless `nums`.
 */
export const firstSquares = (nums: Iterable<number>, n: number, workers = 2) =>
  withGroup((group) =>
    Effect.gen(function* () {
      const out = yield* squares(group, nums, workers)
      const taken: Array<number> = []
      while (taken.length < n) {
        const next = yield* Channel.receive(out)
        if (Option.isNone(next)) break
        taken.push(next.value)
      }
      return taken
    })
  )

/** withGroup — a group in its own Scope for `use`; the Scope's close interrupts whatever stage still runs. */
const withGroup = <A, E>(use: (group: Group) => Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E> =>
  Effect.scoped(Effect.flatMap(ErrGroup.make<Channel.ChannelClosed>(), use))

/**
 * sumOfSquaresChunked — gen → sq → sum over buffered channels (`capacity`), values moving `chunk` at a time with
 * `sendAll` / `receiveAll`: the pipeline `npm run bench:toolkit` measures. A `receiveAll` that takes the whole buffer
 * gets the buffer's own array, so each value is copied once per channel (by `sendAll`).
 */
export const sumOfSquaresChunked = (nums: ReadonlyArray<number>, options: { chunk: number; capacity: number }) =>
  withGroup((group) =>
    Effect.gen(function* () {
      const input = yield* Channel.make<number>(options.capacity)
      const output = yield* Channel.make<number>(options.capacity)
      yield* stage(
        group,
        input,
        Effect.gen(function* () {
          for (let i = 0; i < nums.length; i += options.chunk) {
            yield* Channel.sendAll(input, nums.slice(i, i + options.chunk))
          }
        })
      )
      yield* stage(
        group,
        output,
        forEachChunk(input, (values) => Channel.sendAll(output, squareInPlace(values)))
      )
      let sum = 0
      yield* forEachChunk(output, (values) =>
        Effect.sync(() => {
          sum += total(values)
        })
      )
      yield* ErrGroup.wait(group)
      return sum
    })
  )

/** forEachChunk — `forEachValue` a buffer at a time (`Channel.receiveAll`). */
const forEachChunk = <A, E>(ch: Channel.Receiver<A>, f: (values: Array<A>) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    while (true) {
      const next = yield* Channel.receiveAll(ch)
      if (Option.isNone(next)) return
      yield* f(next.value)
    }
  })

const square = (n: number) => n * n

/**
 * squareInPlace — squares `values` where they are: `receiveAll` hands over a fresh array, so the stage reuses it
 * instead of allocating another (a loop, not `Array.map`, which is slow on the holey arrays queues return).
 */
const squareInPlace = (values: Array<number>): Array<number> => {
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number
    values[i] = value * value
  }
  return values
}

/** total — the sum of `values`, in a local accumulator (a captured `let` would box every partial sum) */
const total = (values: ReadonlyArray<number>): number => {
  let sum = 0
  for (const value of values) sum += value
  return sum
}

/** sumOfSquaresStream — the same pipeline as a `Stream`: squares computed by `workers` fibers, summed. */
export const sumOfSquaresStream = (nums: Iterable<number>, workers = 2): Effect.Effect<number> =>
  Stream.fromIterable(nums).pipe(
    Stream.mapEffect((n) => Effect.succeed(square(n)), { concurrency: workers, unordered: true }),
    Stream.runSum
  )

/** firstSquaresStream — the first `n` squares; `Stream.take` stops and interrupts everything upstream. */
export const firstSquaresStream = (nums: Iterable<number>, n: number, workers = 2) =>
  Stream.fromIterable(nums).pipe(
    Stream.mapEffect((x) => Effect.succeed(square(x)), { concurrency: workers, unordered: true }),
    Stream.take(n),
    Stream.runCollect
  )
