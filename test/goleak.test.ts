import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Latch } from "effect"
import { LeakedFibers, verifyNone } from "./support/goleak.ts"

describe("goleak.verifyNone", () => {
  it.effect("passes when every forked fiber ended", () =>
    verifyNone(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.never, { startImmediately: true })
        yield* Fiber.interrupt(fiber)
        yield* Effect.all([Effect.void, Effect.yieldNow], { concurrency: "unbounded" })
      })
    )
  )

  it.effect("names a detached fiber left running, at any depth", () =>
    Effect.gen(function* () {
      const latch = yield* Latch.make(false)
      const error = yield* verifyNone(
        Effect.forkChild(Effect.forkDetach(Latch.await(latch), { startImmediately: true }), { startImmediately: true })
      ).pipe(Effect.flip)
      assert.instanceOf(error, LeakedFibers)
      assert.strictEqual(error.fibers.length, 1)
      yield* Latch.open(latch)
    })
  )

  it.effect("sees fibers forked inside Effect.all and Effect.forEach", () =>
    Effect.gen(function* () {
      const latch = yield* Latch.make(false)
      const error = yield* verifyNone(
        Effect.forkDetach(Effect.all([Latch.await(latch), Latch.await(latch)], { concurrency: 2 }), {
          startImmediately: true
        })
      ).pipe(Effect.flip)
      assert.isAtLeast(error.fibers.length, 3)
      yield* Latch.open(latch)
    })
  )
})
