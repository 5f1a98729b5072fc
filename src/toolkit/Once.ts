/**
 * Once — Go's `sync.Once` (`Once.do`) and `sync.OnceValues` (`Once.value`): run a body at most once, however many
 * fibers ask, and make every caller that arrives while it runs wait for it.
 *
 * `do` is built the way Go builds it: a `done` flag read without locking on the fast path, and a one-permit
 * `Semaphore` (Go's mutex) around the slow path, so concurrent callers queue behind the one running the body and
 * find it done when they get the permit. The body runs in the caller's own fiber, like Go's `f` in the caller's
 * goroutine, with the caller's services. `value` is `Effect.cached`, whose rules are `OnceValues`'.
 */
import { Cause, Effect, Semaphore } from "effect"
import { dual } from "effect/Function"

/** Once — the done flag and the mutex of the slow path. Make one with `make`. */
export interface Once {
  /** true once a body has returned, failed or died */
  done: boolean
  readonly mutex: Semaphore.Semaphore
}

/** Once.makeUnsafe — a Once that has not run, made outside an Effect. */
export const makeUnsafe = (): Once => ({ done: false, mutex: Semaphore.makeUnsafe(1) })

/** Once.make — a Once that has not run (Go: `var once sync.Once`). */
export const make = (): Effect.Effect<Once> => Effect.sync(makeUnsafe)

/**
 * Once.do — runs `body` if no body of this Once has run yet; otherwise returns at once. Callers that arrive while a
 * body runs wait until it has ended, then return without running theirs (Go: "no call to Do returns until the one
 * call to f returns"). Only the first body ever runs, whichever body each caller passes.
 *
 * A body that fails or dies counts as done, as a panicking `f` does in Go: the caller that ran it gets the failure
 * (or the defect), every other caller — waiting or later — returns void and the body is not run again. Use `value`
 * when every caller should see the failure.
 *
 * Interruption is not a return: interrupting the caller that runs the body interrupts the body (it runs in that
 * caller's fiber) and leaves the Once not done, so the next caller — one already waiting, or a later one — runs its
 * own body. Go has no interruption; counting an abandoned body as done would leave whatever it initialises
 * half-made for good. `Effect.cached` follows the same rule: an interrupted run is never memoized.
 *
 * As in Go, calling `do` on the same Once from inside its body deadlocks.
 */
const do_: {
  <E, R>(body: Effect.Effect<unknown, E, R>): (self: Once) => Effect.Effect<void, E, R>
  <E, R>(self: Once, body: Effect.Effect<unknown, E, R>): Effect.Effect<void, E, R>
} = dual(
  2,
  <E, R>(self: Once, body: Effect.Effect<unknown, E, R>): Effect.Effect<void, E, R> =>
    Effect.suspend(() =>
      self.done
        ? Effect.void // the fast path: no permit, no allocation
        : self.mutex.withPermit(
            Effect.suspend(() =>
              self.done
                ? Effect.void
                : Effect.asVoid(
                    Effect.onExit(body, (exit) =>
                      Effect.sync(() => {
                        if (exit._tag === "Success" || !Cause.hasInterruptsOnly(exit.cause)) self.done = true
                      })
                    )
                  )
            )
          )
    )
)

export { do_ as do }

/**
 * Once.value — Go's `sync.OnceValues` (and `OnceValue`/`OnceFunc`): an effect that runs `effect` the first time it
 * is run and from then on gives every caller the same outcome — the value, or the same failure or defect (Go's
 * `OnceValues` returns the same error; `OnceValue` re-panics with the same value on every call).
 *
 * Callers that arrive while the first run is in progress join it. The run happens in a fiber of its own and keeps
 * going while at least one caller still waits for it; if every caller is interrupted it is interrupted too and
 * nothing is memoized, so the next call runs `effect` again (Effect.cached's rule: interruption is abandonment).
 */
export const value = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Effect.Effect<A, E, R>> =>
  Effect.cached(effect)
