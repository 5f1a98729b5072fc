/**
 * AtomicValue — Go's atomic.Value behaviours (value_test.go's ideas): Load/Store/Swap/CompareAndSwap tables, CAS by
 * identity, readers that never wait while a writer builds the next snapshot, and the copy-on-write "ReadMostly"
 * pattern (writers serialized by a Mutex) losing no update.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Latch, Option } from "effect"
import * as AtomicValue from "../../src/toolkit/AtomicValue.ts"
import * as Mutex from "../../src/toolkit/Mutex.ts"
import { verifyNone } from "../support/goleak.ts"

type Op<A> =
  | { readonly load: A }
  | { readonly store: A }
  | { readonly swap: A; readonly gives: A }
  | { readonly cas: readonly [expected: A, next: A]; readonly gives: boolean }

const run = <A>(av: AtomicValue.AtomicValue<A>, op: Op<A>): Effect.Effect<void> =>
  Effect.gen(function* () {
    if ("load" in op) expect(yield* AtomicValue.load(av)).toBe(op.load)
    else if ("store" in op) yield* AtomicValue.store(av, op.store)
    else if ("swap" in op) expect(yield* AtomicValue.swap(av, op.swap)).toBe(op.gives)
    else expect(yield* AtomicValue.compareAndSwap(av, op.cas[0], op.cas[1])).toBe(op.gives)
  })

const a = { name: "a" }
const b = { name: "b" }
const aCopy = { name: "a" }

const tables: ReadonlyArray<{
  readonly name: string
  readonly initial: unknown
  readonly ops: ReadonlyArray<Op<unknown>>
}> = [
  {
    name: "load, store, swap on primitives",
    initial: "x",
    ops: [{ load: "x" }, { store: "y" }, { load: "y" }, { swap: "z", gives: "y" }, { load: "z" }]
  },
  {
    name: "compareAndSwap succeeds only on the current value",
    initial: 1,
    ops: [{ cas: [2, 3], gives: false }, { load: 1 }, { cas: [1, 3], gives: true }, { load: 3 }]
  },
  {
    name: "compareAndSwap compares objects by identity, not contents",
    initial: a,
    ops: [{ cas: [aCopy, b], gives: false }, { load: a }, { cas: [a, b], gives: true }, { load: b }]
  },
  {
    name: "compareAndSwap: NaN never matches (Go's == on floats)",
    initial: Number.NaN,
    ops: [
      { cas: [Number.NaN, 0], gives: false },
      { swap: 0, gives: Number.NaN },
      { cas: [0, 1], gives: true }
    ]
  }
]

describe("AtomicValue", () => {
  for (const c of tables) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.gen(function* () {
          const av = yield* AtomicValue.make(c.initial)
          for (const op of c.ops) yield* run(av, op)
        })
      )
    )
  }

  it.effect("update is one atomic step: 100 concurrent increments give 100", () =>
    verifyNone(
      Effect.gen(function* () {
        const av = yield* AtomicValue.make(0)
        yield* Effect.forEach(Array.from({ length: 100 }), () => AtomicValue.update(av, (n) => n + 1), {
          concurrency: "unbounded"
        })
        expect(yield* AtomicValue.load(av)).toBe(100)
      })
    )
  )

  it.effect("readers never wait: load runs synchronously while a writer is busy building the next snapshot", () =>
    verifyNone(
      Effect.gen(function* () {
        const config = yield* AtomicValue.make<Readonly<{ version: number }>>({ version: 1 })
        const writers = yield* Mutex.make()
        const building = yield* Latch.make(false)
        const finish = yield* Latch.make(false)
        const writer = yield* Effect.forkChild(
          Mutex.withLock(
            writers,
            Effect.gen(function* () {
              const current = yield* AtomicValue.load(config)
              yield* building.open
              yield* finish.await // a long build: reads a file, calls a service, …
              yield* AtomicValue.store(config, { version: current.version + 1 })
            })
          )
        )
        yield* building.await
        // runSync throws if the effect would suspend: a load never does, while a reader taking the writer's lock would
        expect(Effect.runSync(AtomicValue.load(config))).toStrictEqual({ version: 1 })
        expect(AtomicValue.loadUnsafe(config)).toStrictEqual({ version: 1 })
        expect(yield* Mutex.tryLock(writers, Effect.void)).toStrictEqual(Option.none())
        yield* finish.open
        yield* Fiber.join(writer)
        expect(Effect.runSync(AtomicValue.load(config))).toStrictEqual({ version: 2 })
      })
    )
  )

  const readMostly = [
    { name: "with writers serialized by a Mutex, no update is lost", serialize: true },
    { name: "without it (control), read-copy-update across a yield loses updates", serialize: false }
  ] as const
  for (const c of readMostly) {
    it.effect(`copy-on-write ("ReadMostly"): ${c.name}; readers always see a whole snapshot`, () =>
      verifyNone(
        Effect.gen(function* () {
          // invariant of every snapshot: from + to === 100
          const accounts = yield* AtomicValue.make<Readonly<{ from: number; to: number }>>({ from: 100, to: 0 })
          const writers = yield* Mutex.make()
          const torn: Array<unknown> = []
          const move = Effect.gen(function* () {
            const current = yield* AtomicValue.load(accounts)
            yield* Effect.yieldNow // building the copy takes a while
            yield* AtomicValue.store(accounts, { from: current.from - 1, to: current.to + 1 })
          })
          const read = Effect.gen(function* () {
            const snapshot = yield* AtomicValue.load(accounts)
            if (snapshot.from + snapshot.to !== 100) torn.push(snapshot)
          })
          const work = [
            ...Array.from({ length: 10 }, () => (c.serialize ? Mutex.withLock(writers, move) : move)),
            ...Array.from({ length: 30 }, () => Effect.andThen(Effect.yieldNow, read))
          ]
          yield* Effect.all(work, { concurrency: "unbounded", discard: true })
          const final = yield* AtomicValue.load(accounts)
          expect(torn).toStrictEqual([])
          if (c.serialize) expect(final).toStrictEqual({ from: 90, to: 10 })
          else expect(final.to).toBeLessThan(10)
        })
      )
    )
  }

  it.effect("load → build → compareAndSwap, retried on false, loses no update without a lock", () =>
    verifyNone(
      Effect.gen(function* () {
        const av = yield* AtomicValue.make<ReadonlyArray<number>>([])
        const append = (n: number): Effect.Effect<void> =>
          Effect.gen(function* () {
            const current = yield* AtomicValue.load(av)
            yield* Effect.yieldNow
            if (!(yield* AtomicValue.compareAndSwap(av, current, [...current, n]))) yield* append(n)
          })
        yield* Effect.forEach([1, 2, 3, 4, 5], append, { concurrency: "unbounded" })
        expect([...(yield* AtomicValue.load(av))].sort()).toStrictEqual([1, 2, 3, 4, 5])
      })
    )
  )

  it.effect("README example: atomic.Value (copy-on-write configuration)", () =>
    verifyNone(
      Effect.gen(function* () {
        const config = yield* AtomicValue.make<Readonly<{ port: number }>>({ port: 80 })
        yield* AtomicValue.update(config, (c) => ({ ...c, port: 8080 })) // copy, then publish in one step
        const { port } = yield* AtomicValue.load(config) // never waits: 8080
        expect(port).toBe(8080)
      })
    )
  )
})
