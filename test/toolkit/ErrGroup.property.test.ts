/**
 * ErrGroup properties (fast-check): for any limit (-1..3), any spawner fibers each calling `go` or `tryGo` for its
 * tasks in turn (pausing between them), tasks that succeed, fail, die or interrupt themselves — at once or after a
 * few scheduler turns —, a `wait` that may come while spawners still spawn, and a spawner that may be interrupted
 * wherever it stands (suspended in `go` or not):
 *
 * - never more than `limit` tasks run at once;
 * - a task runs if and only if its `go`/`tryGo` answered `true`; `tryGo` answers `false` only when the group is at its
 *   limit, has `go`s waiting, has failed or was waited for;
 * - when `wait` returns, every task that started has ended, finalizers included;
 * - `wait` fails with the first failure or defect in time, and succeeds if there was none (interruption is none);
 * - after the first failure no task starts, and every task running then ends interrupted.
 *
 * Every run is checked for leaked fibers (`verifyNone`). Deterministic: no clock, only scheduler turns
 * (`Effect.yieldNow`), and a fixed seed (override with ERRGROUP_PROP_SEED; ERRGROUP_PROP_RUNS for the number of runs).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import fc from "fast-check"
import * as ErrGroup from "../../src/toolkit/ErrGroup.ts"
import { verifyNone } from "../support/goleak.ts"

type Outcome = "succeed" | "fail" | "die" | "interrupt"
interface TaskSpec {
  readonly kind: "go" | "tryGo"
  readonly outcome: Outcome
  /** scheduler turns before the outcome; 0 = the task completes at once, inside `go` */
  readonly turns: number
  /** scheduler turns the spawner pauses before this task */
  readonly pause: number
}
interface Scenario {
  readonly limit: number
  readonly spawners: ReadonlyArray<ReadonlyArray<TaskSpec>>
  /** turns of the driver before it calls `wait` */
  readonly waitAfter: number
  readonly interrupt: { readonly who: number; readonly after: number } | null
}

const task: fc.Arbitrary<TaskSpec> = fc.record({
  kind: fc.constantFrom("go", "go", "go", "tryGo"),
  outcome: fc.constantFrom<Outcome>("succeed", "succeed", "succeed", "succeed", "fail", "fail", "die", "interrupt"),
  turns: fc.nat({ max: 4 }),
  pause: fc.nat({ max: 2 })
})
const scenario: fc.Arbitrary<Scenario> = fc.record({
  limit: fc.integer({ min: -1, max: 3 }),
  spawners: fc.array(fc.array(task, { maxLength: 6 }), { minLength: 1, maxLength: 3 }),
  waitAfter: fc.nat({ max: 12 }),
  interrupt: fc.option(fc.record({ who: fc.nat(2), after: fc.nat({ max: 8 }) }))
})

const turns = (n: number) => Effect.forEach(Array.from({ length: n }), () => Effect.yieldNow, { discard: true })

type Event =
  | { readonly _tag: "Start"; readonly id: string }
  | { readonly _tag: "End"; readonly id: string; readonly exit: Exit.Exit<unknown, string> }

const coverage = {
  goSuspended: 0,
  tryGoRefused: 0,
  goRefused: 0,
  siblingsInterrupted: 0,
  waitedWhileSpawning: 0,
  spawnerInterrupted: 0,
  suspendedGoInterrupted: 0
}

const run = (sc: Scenario) =>
  Effect.scoped(
    Effect.gen(function* () {
      const group = yield* ErrGroup.make<string>({ limit: sc.limit })
      const limit = sc.limit < 0 ? Number.POSITIVE_INFINITY : sc.limit
      const events: Array<Event> = []
      const answers = new Map<string, boolean>()
      let [running, peak, failed, inGo, waited] = [0, 0, false, 0, false]
      const spawning = new Set<number>() // spawners inside a go that has not answered yet

      const body = (id: string, spec: TaskSpec): Effect.Effect<void, string> => {
        const outcome =
          spec.outcome === "succeed"
            ? Effect.void
            : spec.outcome === "fail"
              ? Effect.fail(id)
              : spec.outcome === "die"
                ? Effect.die(id)
                : Effect.interrupt
        return Effect.suspend(() => {
          events.push({ _tag: "Start", id })
          peak = Math.max(peak, ++running)
          return spec.turns === 0 ? outcome : Effect.andThen(turns(spec.turns), outcome)
        }).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              running--
              if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) failed = true
              events.push({ _tag: "End", id, exit })
            })
          )
        )
      }

      const spawner = (s: number, specs: ReadonlyArray<TaskSpec>) =>
        Effect.forEach(
          specs,
          (spec, i) => {
            const id = `${s}.${i}`
            const call =
              spec.kind === "go"
                ? Effect.suspend(() => {
                    inGo++
                    spawning.add(s)
                    if (running >= limit) coverage.goSuspended++
                    return Effect.ensuring(
                      ErrGroup.go(group, body(id, spec)),
                      Effect.sync(() => {
                        inGo--
                        spawning.delete(s)
                      })
                    )
                  })
                : Effect.suspend(() => {
                    // what tryGo may answer, judged from the state just before it
                    const before = { running, failed, waited, inGo }
                    return Effect.tap(ErrGroup.tryGo(group, body(id, spec)), (started) =>
                      Effect.sync(() => {
                        const free = before.running < limit && !before.failed && !before.waited
                        if (started) expect({ id, free, inGo: before.inGo }).toStrictEqual({ id, free: true, inGo: 0 })
                        else coverage.tryGoRefused++
                        // refused with a free slot: only because gos wait for one (no overtaking them)
                        if (!started && free) expect({ id, inGo: before.inGo > 0 }).toStrictEqual({ id, inGo: true })
                      })
                    )
                  })
            return Effect.andThen(
              turns(spec.pause),
              Effect.tap(call, (started) =>
                Effect.sync(() => {
                  answers.set(id, started)
                  if (!started && spec.kind === "go") coverage.goRefused++
                })
              )
            )
          },
          { discard: true }
        )

      const spawners: Array<Fiber.Fiber<void>> = []
      for (const [s, specs] of sc.spawners.entries()) spawners.push(yield* Effect.forkChild(spawner(s, specs)))
      let waiter: Fiber.Fiber<Exit.Exit<void, string>> | undefined
      let waitedAt: ReadonlyArray<Event> = []
      for (let turn = 0; turn < 400; turn++) {
        if (turn === sc.interrupt?.after) {
          const who = sc.interrupt.who % spawners.length
          const victim = spawners[who] as Fiber.Fiber<void>
          if (victim.pollUnsafe() === undefined) coverage.spawnerInterrupted++
          if (spawning.has(who)) coverage.suspendedGoInterrupted++
          yield* Fiber.interrupt(victim)
        }
        if (turn === sc.waitAfter) {
          if (spawners.some((fiber) => fiber.pollUnsafe() === undefined)) coverage.waitedWhileSpawning++
          waiter = yield* Effect.forkChild(
            Effect.exit(ErrGroup.wait(group)).pipe(
              Effect.tap(() =>
                Effect.sync(() => {
                  waited = true
                  waitedAt = [...events]
                })
              )
            )
          )
        }
        if (waiter?.pollUnsafe() !== undefined && spawners.every((fiber) => fiber.pollUnsafe() !== undefined)) break
        yield* Effect.yieldNow
      }
      // nothing hangs: wait has returned, every spawner has ended
      expect([
        waiter?.pollUnsafe() !== undefined,
        spawners.map((fiber) => fiber.pollUnsafe() !== undefined)
      ]).toStrictEqual([true, spawners.map(() => true)])
      const exit = yield* Fiber.join(waiter as Fiber.Fiber<Exit.Exit<void, string>>)

      // never more than the limit at once
      expect(peak).toBeLessThanOrEqual(limit)
      // a task runs if and only if go/tryGo answered true (an interrupted go never answers, and never starts it)
      const started = events.filter((event) => event._tag === "Start").map((event) => event.id)
      const yes = [...answers].filter(([, answer]) => answer).map(([id]) => id)
      expect(started.sort()).toStrictEqual(yes.sort())
      // when wait returned, every task that had started had ended; none started after
      const startedByWait = waitedAt.filter((event) => event._tag === "Start").length
      expect(waitedAt.filter((event) => event._tag === "End").length).toBe(startedByWait)
      expect(events.slice(waitedAt.length).filter((event) => event._tag === "Start")).toStrictEqual([])
      // wait reports the first failure or defect in time
      const firstFailure = events.findIndex(
        (event) => event._tag === "End" && Exit.isFailure(event.exit) && !Cause.hasInterruptsOnly(event.exit.cause)
      )
      if (firstFailure < 0) expect(exit).toStrictEqual(Exit.void)
      else {
        const failure = events[firstFailure] as Event & { readonly _tag: "End" }
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit) && Exit.isFailure(failure.exit)) {
          expect(Cause.squash(exit.cause)).toStrictEqual(Cause.squash(failure.exit.cause))
          expect(Cause.hasDies(exit.cause)).toBe(Cause.hasDies(failure.exit.cause))
        }
        // after it no task starts; every task running then ends interrupted
        const after = events.slice(firstFailure + 1)
        expect(after.filter((event) => event._tag === "Start")).toStrictEqual([])
        const before = events.slice(0, firstFailure)
        const runningThen = before
          .filter((event) => event._tag === "Start")
          .map((event) => event.id)
          .filter((id) => !before.some((event) => event._tag === "End" && event.id === id))
          .filter((id) => id !== failure.id)
        for (const id of runningThen) {
          const end = after.find((event) => event._tag === "End" && event.id === id) as Event & { _tag: "End" }
          expect({
            id,
            interrupted: Exit.isFailure(end.exit) && Cause.hasInterruptsOnly(end.exit.cause)
          }).toStrictEqual({ id, interrupted: true })
        }
        if (runningThen.length > 0) coverage.siblingsInterrupted++
      }
      yield* Effect.forEach(spawners, Fiber.await, { discard: true })
    })
  )

const seed = Number(process.env.ERRGROUP_PROP_SEED ?? 20261126)

describe("ErrGroup properties", () => {
  it.effect("any limit, spawners, outcomes, wait and interruption: the limit, go's answers, the first failure", () =>
    verifyNone(
      Effect.gen(function* () {
        const numRuns = Number(process.env.ERRGROUP_PROP_RUNS ?? 300)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(scenario, (sc) => Effect.runPromise(verifyNone(run(sc)))),
            { numRuns, seed }
          )
        )
        if (process.env.ERRGROUP_PROP_STATS) console.log(coverage)
        // the schedules really vary: each interesting case came up in a fair share of the runs
        for (const [name, count] of Object.entries(coverage)) {
          expect({ name, atLeast: count >= numRuns / 20 }).toStrictEqual({ name, atLeast: true })
        }
      })
    )
  )
})
