import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Latch, Stream } from "effect"
import * as Channel from "../../../src/toolkit/Channel.ts"
import * as ErrGroup from "../../../src/toolkit/ErrGroup.ts"
import * as Pipeline from "../../../src/toolkit/examples/Pipeline.ts"
import { verifyNone } from "../../support/goleak.ts"

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
/** Σ k² for k = 1..n */
const sumOfSquaresTo = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6
/** 1, 2, 3, … forever: a pipeline on it ends only by cancellation */
function* naturals() {
  for (let n = 1; ; n++) yield n
}

describe("Pipeline (gen → sq → merge → sum)", () => {
  describe("with Channel and ErrGroup", () => {
    for (const workers of [1, 2, 5]) {
      it.effect(`sums the squares of 1..500 with ${workers} squarer(s)`, () =>
        verifyNone(
          Effect.gen(function* () {
            assert.strictEqual(yield* Pipeline.sumOfSquares(range(1, 500), workers), sumOfSquaresTo(500))
          })
        )
      )
    }

    it.effect("an empty input closes every stage and sums to 0", () =>
      verifyNone(Effect.map(Pipeline.sumOfSquares([], 3), (sum) => assert.strictEqual(sum, 0)))
    )

    it.effect("a consumer that stops early on an endless input leaves no stage behind", () =>
      verifyNone(
        Effect.gen(function* () {
          const first = yield* Pipeline.firstSquares(naturals(), 5, 3)
          assert.strictEqual(first.length, 5)
          for (const n of first) assert.isTrue(Number.isInteger(Math.sqrt(n)) && n > 0)
        })
      )
    )

    it.effect("interrupting the consumer interrupts the senders blocked upstream (no forgotten sender)", () =>
      verifyNone(
        Effect.gen(function* () {
          const started = yield* Latch.make(false)
          const consumer = yield* Effect.forkChild(
            Effect.scoped(
              Effect.gen(function* () {
                const group = yield* ErrGroup.make<Channel.ChannelClosed>()
                yield* Pipeline.squares(group, naturals(), 2)
                yield* Latch.open(started)
                return yield* Effect.never // never receives: every stage blocks on its send
              })
            )
          )
          yield* Latch.await(started)
          yield* Effect.yieldNow
          yield* Fiber.interrupt(consumer)
        })
      )
    )

    it.effect("the chunked variant moves every value through buffered channels", () =>
      verifyNone(
        Effect.gen(function* () {
          for (const chunk of [1, 7, 64, 1000]) {
            const sum = yield* Pipeline.sumOfSquaresChunked(range(1, 1000), { chunk, capacity: 16 })
            assert.strictEqual(sum, sumOfSquaresTo(1000))
          }
        })
      )
    )
  })

  describe("with Stream", () => {
    it.effect("sums the squares of 1..500", () =>
      verifyNone(
        Effect.map(Pipeline.sumOfSquaresStream(range(1, 500), 3), (sum) => assert.strictEqual(sum, sumOfSquaresTo(500)))
      )
    )

    it.effect("Stream.take on an endless input stops every fiber upstream", () =>
      verifyNone(
        Effect.gen(function* () {
          const first = yield* Pipeline.firstSquaresStream(naturals(), 5, 3)
          assert.strictEqual(first.length, 5)
        })
      )
    )

    it.effect("Channel.toStream drains a channel the Stream way", () =>
      verifyNone(
        Effect.scoped(
          Effect.gen(function* () {
            const group = yield* ErrGroup.make<Channel.ChannelClosed>()
            const out = yield* Pipeline.squares(group, range(1, 100), 2)
            const sum = yield* Stream.runSum(Channel.toStream(out))
            assert.strictEqual(sum, sumOfSquaresTo(100))
            yield* ErrGroup.wait(group)
          })
        )
      )
    )
  })
})
