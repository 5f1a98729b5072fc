/**
 * goleak — uber-go/goleak's idea for Effect: every fiber a test starts has ended when the test ends.
 *
 * `verifyNone(effect)` runs `effect` under a tracer whose `context` hook sees every primitive every fiber evaluates,
 * so it learns of each fiber that runs inside `effect` — the test's own fiber and everything forked from it, at any
 * depth (`forkChild`, `forkIn`, `forkDetach`, `Effect.all`, queues' and latches' waiters resumed in their fibers).
 * When `effect` has finished, it yields to the scheduler a few times (so fibers already interrupted can run their
 * finalizers) and then fails with `LeakedFibers` naming each fiber that has not ended.
 *
 * A fiber that never ran a single step is not seen; a fiber forked with `startImmediately` or one that reached its
 * first yield always is. The tracer delegates spans to the one already in place, so `Effect.fn` spans still work.
 */
import { Data, Effect, Fiber, Tracer } from "effect"

/** LeakedFibers — fibers started inside the checked effect that were still running after it ended. */
export class LeakedFibers extends Data.TaggedError("LeakedFibers")<{ readonly fibers: ReadonlyArray<number> }> {
  override get message() {
    return `${this.fibers.length} fiber(s) still running after the test: #${this.fibers.join(", #")}`
  }
}

/** FiberWatch — what a watching tracer has seen. */
export interface FiberWatch {
  /** every fiber seen so far that has not ended, except `self` */
  readonly running: (self?: Fiber.Fiber<unknown, unknown>) => ReadonlyArray<Fiber.Fiber<unknown, unknown>>
}

/** watching — runs `effect` with a tracer that records the fibers it runs; `use` gets the watch. */
export const watching = <A, E, R>(use: (watch: FiberWatch) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.tracer, (inner) => {
    const seen = new Set<Fiber.Fiber<unknown, unknown>>()
    const tracer = Tracer.make({
      span: (options) => inner.span(options),
      context: (primitive, fiber) => {
        seen.add(fiber)
        return inner.context ? inner.context(primitive, fiber) : primitive["~effect/Effect/evaluate"](fiber)
      }
    })
    const watch: FiberWatch = {
      running: (self) => {
        const alive: Array<Fiber.Fiber<unknown, unknown>> = []
        for (const fiber of seen) {
          if (fiber.pollUnsafe() === undefined) {
            if (fiber !== self) alive.push(fiber)
          } else seen.delete(fiber)
        }
        return alive
      }
    }
    return Effect.withTracer(use(watch), tracer)
  })

/** settle — lets fibers that were interrupted or released finish their last steps. */
const settle = Effect.forEach(Array.from({ length: 8 }), () => Effect.yieldNow, { discard: true })

/**
 * verifyNone — runs `effect`, then fails with `LeakedFibers` if any fiber it started (other than the one running
 * it) is still alive. Use it around a test body: `it.effect("…", () => verifyNone(Effect.gen(…)))`.
 */
export const verifyNone = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeakedFibers, R> =>
  Effect.gen(function* () {
    const self = Fiber.getCurrent()
    const [a, watch] = yield* watching((watch) => Effect.map(effect, (a) => [a, watch] as const))
    yield* settle
    const alive = watch.running(self)
    if (alive.length > 0) return yield* new LeakedFibers({ fibers: alive.map((fiber) => fiber.id) })
    return a
  })
