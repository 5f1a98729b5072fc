/**
 * ObjectPool — Go's sync.Pool behaviours (pool_test.go's ideas): reuse, `New` when empty, the bound on idle objects,
 * dropping (as on GC), reset on put, and `use` giving the object back however its work ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import * as ObjectPool from "../../src/toolkit/ObjectPool.ts"
import { verifyNone } from "../support/goleak.ts"

/** pooled objects: `id` says which `new()` call made it; `data` is what its user wrote into it */
interface Buffer {
  readonly id: number
  data: Array<string>
}

const makePool = (max: number) => {
  let made = 0
  const created = () => made
  const pool = ObjectPool.make<Buffer>({ new: () => ({ id: ++made, data: [] }), max, reset: (b) => (b.data = []) })
  return { pool, created }
}

/** one step: `get` (and remember the object), `put` the object of an earlier get (by index), or `clear` */
type Step = "get" | { readonly put: number } | "clear"

const cases: ReadonlyArray<{
  readonly name: string
  readonly max: number
  readonly steps: ReadonlyArray<Step>
  /** the id of the object each `get` returned, in order */
  readonly gets: ReadonlyArray<number>
  readonly idle: number
}> = [
  { name: "get on an empty pool calls new", max: 4, steps: ["get", "get"], gets: [1, 2], idle: 0 },
  { name: "an object put back is reused", max: 4, steps: ["get", { put: 0 }, "get"], gets: [1, 1], idle: 0 },
  {
    name: "the most recently put is taken first",
    max: 4,
    steps: ["get", "get", { put: 0 }, { put: 1 }, "get", "get"],
    gets: [1, 2, 2, 1],
    idle: 0
  },
  {
    name: "objects beyond max idle are dropped",
    max: 2,
    steps: ["get", "get", "get", { put: 0 }, { put: 1 }, { put: 2 }, "get", "get", "get"],
    gets: [1, 2, 3, 2, 1, 4],
    idle: 0
  },
  { name: "max 0 keeps nothing", max: 0, steps: ["get", { put: 0 }, "get"], gets: [1, 2], idle: 0 },
  {
    name: "clear drops every idle object (Go's Pool at GC)",
    max: 4,
    steps: ["get", "get", { put: 0 }, { put: 1 }, "clear", "get"],
    gets: [1, 2, 3],
    idle: 0
  },
  { name: "idle counts what put kept", max: 4, steps: ["get", "get", { put: 0 }, { put: 1 }], gets: [1, 2], idle: 2 }
]

describe("ObjectPool", () => {
  for (const c of cases) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.gen(function* () {
          const { pool: make } = makePool(c.max)
          const pool = yield* make
          const got: Array<Buffer> = []
          for (const step of c.steps) {
            if (step === "get") got.push(yield* ObjectPool.get(pool))
            else if (step === "clear") yield* ObjectPool.clear(pool)
            else yield* ObjectPool.put(pool, got[step.put]!)
          }
          expect(got.map((b) => b.id)).toStrictEqual(c.gets)
          expect(yield* ObjectPool.idle(pool)).toBe(c.idle)
        })
      )
    )
  }

  it.effect("put resets the object, so the next get finds it clean", () =>
    verifyNone(
      Effect.gen(function* () {
        const { pool: make, created } = makePool(4)
        const pool = yield* make
        const buffer = yield* ObjectPool.get(pool)
        buffer.data.push("secret")
        yield* ObjectPool.put(pool, buffer)
        const again = yield* ObjectPool.get(pool)
        expect([again.id, again.data, created()]).toStrictEqual([1, [], 1])
      })
    )
  )

  const endings: ReadonlyArray<{
    readonly name: string
    readonly body: (b: Buffer) => Effect.Effect<string, string>
    readonly check: (exit: Exit.Exit<string, string>) => boolean
  }> = [
    {
      name: "success",
      body: (b) => Effect.sync(() => b.data.join("")),
      check: (exit) => Exit.isSuccess(exit) && exit.value === "x"
    },
    {
      name: "failure",
      body: () => Effect.fail("boom"),
      check: (exit) => Exit.isFailure(exit) && Cause.hasFails(exit.cause)
    },
    {
      name: "defect",
      body: () => Effect.die("bug"),
      check: (exit) => Exit.isFailure(exit) && Cause.hasDies(exit.cause)
    },
    {
      name: "interruption",
      body: () => Effect.interrupt,
      check: (exit) => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    }
  ]
  for (const c of endings) {
    it.effect(`use puts the object back, reset, on ${c.name} (Go's defer p.Put)`, () =>
      verifyNone(
        Effect.gen(function* () {
          const { pool: make, created } = makePool(4)
          const pool = yield* make
          const exit = yield* Effect.exit(
            ObjectPool.use(pool, (b) =>
              Effect.andThen(
                Effect.sync(() => b.data.push("x")),
                c.body(b)
              )
            )
          )
          expect(c.check(exit)).toBe(true)
          expect(yield* ObjectPool.idle(pool)).toBe(1)
          const again = yield* ObjectPool.get(pool)
          expect([again.id, again.data, created()]).toStrictEqual([1, [], 1])
        })
      )
    )
  }

  it.effect("use gives the object back when its fiber is interrupted from outside", () =>
    verifyNone(
      Effect.gen(function* () {
        const { pool: make } = makePool(4)
        const pool = yield* make
        const user = yield* Effect.forkChild(
          ObjectPool.use(pool, () => Effect.never),
          { startImmediately: true }
        )
        expect(yield* ObjectPool.idle(pool)).toBe(0)
        yield* Fiber.interrupt(user)
        expect(yield* ObjectPool.idle(pool)).toBe(1)
      })
    )
  )

  it.effect("a reset that throws makes put a defect and drops the object", () =>
    verifyNone(
      Effect.gen(function* () {
        const pool = yield* ObjectPool.make({
          new: () => ({}),
          max: 4,
          reset: () => {
            throw new Error("cannot reset")
          }
        })
        const exit = yield* Effect.exit(ObjectPool.put(pool, {}))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(yield* ObjectPool.idle(pool)).toBe(0)
      })
    )
  )

  for (const max of [-1, 1.5, Number.NaN]) {
    it.effect(`make dies with InvalidMax for max ${max}`, () =>
      verifyNone(
        Effect.gen(function* () {
          const exit = yield* Effect.exit(ObjectPool.make({ new: () => 0, max }))
          const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
          expect(defect).toBeInstanceOf(ObjectPool.InvalidMax)
        })
      )
    )
  }

  it.effect("README example: sync.Pool", () =>
    verifyNone(
      Effect.gen(function* () {
        const pool = yield* ObjectPool.make({ new: () => [] as string[], max: 16, reset: (b) => b.splice(0) })
        const s = yield* ObjectPool.use(pool, (b) => Effect.sync(() => Object.assign(b, ["a", "b"]).join(""))) // "ab"
        const again = yield* ObjectPool.get(pool) // the same array, reset on put: []
        expect([s, again]).toStrictEqual(["ab", []])
      })
    )
  )
})
