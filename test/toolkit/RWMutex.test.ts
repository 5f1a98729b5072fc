/**
 * RWMutex — Go's sync.RWMutex behaviours (rwmutex_test.go's ideas): readers share, a writer is alone, a waiting
 * writer blocks new readers, readers parked behind a writer go before the next writer, writers are FIFO, TryLock and
 * TryRLock, release on every way out, and interruption of waiters leaving the state intact. One case shows that
 * Effect's TxReentrantLock lacks the writer preference — the reason this module exists.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Latch, Option, TxReentrantLock } from "effect"
import * as RWMutex from "../../src/toolkit/RWMutex.ts"
import { endings, settle } from "../support/endings.ts"
import { verifyNone } from "../support/goleak.ts"

/** a log of who entered and left, and a critical section that records itself and waits for `hold` (or yields) */
const makeLog = () => {
  const log: Array<string> = []
  const section = (name: string, hold?: Latch.Latch) =>
    Effect.gen(function* () {
      log.push(`${name} in`)
      yield* hold === undefined ? settle(2) : hold.await
      log.push(`${name} out`)
    })
  return { log, section }
}

/** true when the lock is free: a write lock is available right now */
const isFree = (rw: RWMutex.RWMutex) => Effect.map(RWMutex.tryWriteLock(rw, Effect.void), Option.isSome)

/** the lock, as its read and write guards */
interface Guards {
  readonly read: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly write: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const guardsOf = (rw: RWMutex.RWMutex): Guards => ({ read: RWMutex.withReadLock(rw), write: RWMutex.withWriteLock(rw) })

/** the same guards made of the scoped locks: lock in a Scope of its own, run, close */
const scopedGuardsOf = (rw: RWMutex.RWMutex): Guards => ({
  read: (effect) => Effect.scoped(Effect.andThen(RWMutex.readLock(rw), effect)),
  write: (effect) => Effect.scoped(Effect.andThen(RWMutex.writeLock(rw), effect))
})

/** both ways to take the lock, for the cases that hold for each */
const shapes = [
  { name: "withReadLock/withWriteLock", guards: guardsOf },
  { name: "scoped readLock/writeLock", guards: scopedGuardsOf }
] as const

/**
 * readerWriterReader — reader r1 holds the lock (until `hold` opens), writer w asks for it, then reader r2 does; all
 * three have run as far as they can when this returns.
 */
const readerWriterReader = (lock: Guards) =>
  Effect.gen(function* () {
    const { log, section } = makeLog()
    const hold = yield* Latch.make(false)
    const r1 = yield* Effect.forkChild(lock.read(section("r1", hold)), { startImmediately: true })
    const w = yield* Effect.forkChild(lock.write(section("w")), { startImmediately: true })
    const r2 = yield* Effect.forkChild(lock.read(section("r2")), { startImmediately: true })
    yield* settle()
    return { log, hold, r1, w, r2 }
  })

describe("RWMutex", () => {
  it.effect("readers hold the lock together", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        let inside = 0
        let peak = 0
        const read = Effect.gen(function* () {
          peak = Math.max(peak, ++inside)
          yield* settle(3)
          inside--
        })
        yield* Effect.forEach(Array.from({ length: 5 }), () => RWMutex.withReadLock(rw, read), {
          concurrency: "unbounded"
        })
        expect(peak).toBe(5)
      })
    )
  )

  it.effect("a writer is alone: no reader and no other writer while it runs", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        let readers = 0
        let writers = 0
        let peakReaders = 0
        const violations: Array<string> = []
        const read = Effect.gen(function* () {
          peakReaders = Math.max(peakReaders, ++readers)
          if (writers > 0) violations.push("reader beside a writer")
          yield* settle(3)
          readers--
        }).pipe(RWMutex.withReadLock(rw))
        const write = Effect.gen(function* () {
          if (++writers > 1 || readers > 0) violations.push("writer not alone")
          yield* settle(3)
          writers--
        }).pipe(RWMutex.withWriteLock(rw))
        const mix = [read, read, write, read, write, read, read, write, read]
        yield* Effect.all(mix, { concurrency: "unbounded" })
        expect(violations).toStrictEqual([])
        expect(peakReaders).toBeGreaterThan(1)
        expect(yield* isFree(rw)).toBe(true)
      })
    )
  )

  /** a reader holds the lock, a writer waits, then a second reader arrives: who goes first? */
  const writerPreference: ReadonlyArray<{
    readonly name: string
    readonly make: Effect.Effect<Guards>
    /** the log once the writer waits, then once all are done */
    readonly waiting: ReadonlyArray<string>
    readonly done: ReadonlyArray<string>
  }> = [
    {
      name: "RWMutex: a waiting writer blocks new readers — the reader that came after it runs after it",
      make: Effect.map(RWMutex.make(), guardsOf),
      waiting: ["r1 in"], // r2 waits although only a reader holds the lock
      done: ["r1 in", "r1 out", "w in", "w out", "r2 in", "r2 out"]
    },
    {
      name: "RWMutex scoped readLock/writeLock: the same writer preference",
      make: Effect.map(RWMutex.make(), scopedGuardsOf),
      waiting: ["r1 in"],
      done: ["r1 in", "r1 out", "w in", "w out", "r2 in", "r2 out"]
    },
    {
      name: "Effect's TxReentrantLock lets new readers pass a waiting writer (why this module exists)",
      make: Effect.map(TxReentrantLock.make(), (lock) => ({
        read: <A, E, R>(effect: Effect.Effect<A, E, R>) => TxReentrantLock.withReadLock(lock, effect),
        write: <A, E, R>(effect: Effect.Effect<A, E, R>) => TxReentrantLock.withWriteLock(lock, effect)
      })),
      waiting: ["r1 in", "r2 in", "r2 out"], // r2 overtook the waiting writer
      done: ["r1 in", "r2 in", "r2 out", "r1 out", "w in", "w out"]
    }
  ]
  for (const c of writerPreference) {
    it.effect(c.name, () =>
      verifyNone(
        Effect.gen(function* () {
          const { log, hold, r1, w, r2 } = yield* readerWriterReader(yield* c.make)
          expect(log).toStrictEqual(c.waiting)
          yield* hold.open
          yield* Fiber.joinAll([r1, w, r2])
          expect(log).toStrictEqual(c.done)
        })
      )
    )
  }

  it.effect("while a writer waits, tryReadLock does not get in either", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        const hold = yield* Latch.make(false)
        const r1 = yield* Effect.forkChild(RWMutex.withReadLock(rw, hold.await), { startImmediately: true })
        const w = yield* Effect.forkChild(RWMutex.withWriteLock(rw, Effect.void), { startImmediately: true })
        yield* settle()
        expect(yield* RWMutex.tryReadLock(rw, Effect.void)).toStrictEqual(Option.none())
        yield* hold.open
        yield* Fiber.joinAll([r1, w])
      })
    )
  )

  it.effect("readers parked behind a writer go before the next writer", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        const { log, section } = makeLog()
        const hold = yield* Latch.make(false)
        const w1 = yield* Effect.forkChild(RWMutex.withWriteLock(rw, section("w1", hold)), { startImmediately: true })
        const r = yield* Effect.forkChild(RWMutex.withReadLock(rw, section("r")), { startImmediately: true })
        const w2 = yield* Effect.forkChild(RWMutex.withWriteLock(rw, section("w2")), { startImmediately: true })
        yield* settle()
        yield* hold.open
        yield* Fiber.joinAll([w1, r, w2])
        expect(log).toStrictEqual(["w1 in", "w1 out", "r in", "r out", "w2 in", "w2 out"])
      })
    )
  )

  it.effect("writers acquire in FIFO order", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        const { log, section } = makeLog()
        const hold = yield* Latch.make(false)
        const fibers = [yield* Effect.forkChild(RWMutex.withWriteLock(rw, section("w0", hold)))]
        for (const name of ["w1", "w2", "w3"]) {
          yield* Effect.yieldNow
          fibers.push(yield* Effect.forkChild(RWMutex.withWriteLock(rw, section(name))))
        }
        yield* settle()
        yield* hold.open
        yield* Fiber.joinAll(fibers)
        expect(log.filter((line) => line.endsWith(" in"))).toStrictEqual(["w0 in", "w1 in", "w2 in", "w3 in"])
      })
    )
  )

  for (const shape of shapes) {
    it.effect(`${shape.name}: an interrupted waiting writer lets the readers queued behind it in`, () =>
      verifyNone(
        Effect.gen(function* () {
          const rw = yield* RWMutex.make()
          const { log, hold, r1, w, r2 } = yield* readerWriterReader(shape.guards(rw))
          yield* Fiber.interrupt(w)
          yield* Fiber.join(r2)
          expect(log).toStrictEqual(["r1 in", "r2 in", "r2 out"]) // r2 ran beside r1, once w gave up
          expect(yield* RWMutex.tryReadLock(rw, Effect.succeed("shared"))).toStrictEqual(Option.some("shared"))
          yield* hold.open
          yield* Fiber.join(r1)
          expect(yield* isFree(rw)).toBe(true)
        })
      )
    )

    it.effect(`${shape.name}: an interrupted parked reader leaves no trace`, () =>
      verifyNone(
        Effect.gen(function* () {
          const rw = yield* RWMutex.make()
          const { log, hold, r1, w, r2 } = yield* readerWriterReader(shape.guards(rw))
          yield* Fiber.interrupt(r2)
          yield* settle()
          expect(log).toStrictEqual(["r1 in"]) // the writer still waits for r1: r2 left without a read lock to give back
          yield* hold.open
          yield* Fiber.joinAll([r1, w])
          expect(log).toStrictEqual(["r1 in", "r1 out", "w in", "w out"])
          expect(yield* isFree(rw)).toBe(true) // and no phantom reader was admitted for r2 at w's unlock
        })
      )
    )
  }

  it.effect("a reader interrupted after a writer's unlock admitted it gives its read lock back", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        const hold = yield* Latch.make(false)
        const readerStarted = yield* Latch.make(false)
        let reader: Fiber.Fiber<void> | undefined
        const writer = yield* Effect.forkChild(
          Effect.gen(function* () {
            yield* RWMutex.withWriteLock(rw, hold.await)
            // the unlock has admitted the parked reader, which has not resumed yet: interrupt it now
            if (reader !== undefined) yield* Fiber.interrupt(reader)
          }),
          { startImmediately: true }
        )
        reader = yield* Effect.forkChild(Effect.andThen(readerStarted.open, RWMutex.withReadLock(rw, Effect.never)), {
          startImmediately: true
        })
        yield* readerStarted.await
        yield* hold.open
        yield* Fiber.join(writer)
        expect(reader.pollUnsafe()?._tag).toBe("Failure")
        expect(yield* isFree(rw)).toBe(true)
      })
    )
  )

  const modes: ReadonlyArray<{
    readonly name: string
    readonly run: (rw: RWMutex.RWMutex, body: Effect.Effect<string, string>) => Effect.Effect<string, string>
  }> = [
    { name: "withReadLock", run: (rw, body) => RWMutex.withReadLock(rw, body) },
    { name: "withWriteLock", run: (rw, body) => RWMutex.withWriteLock(rw, body) },
    { name: "scoped readLock", run: (rw, body) => scopedGuardsOf(rw).read(body) },
    { name: "scoped writeLock", run: (rw, body) => scopedGuardsOf(rw).write(body) }
  ]
  for (const mode of modes) {
    for (const c of endings) {
      it.effect(`${mode.name} releases the lock on ${c.name}`, () =>
        verifyNone(
          Effect.gen(function* () {
            const rw = yield* RWMutex.make()
            const exit = yield* Effect.exit(mode.run(rw, c.body))
            expect(c.check(exit)).toBe(true)
            expect(yield* isFree(rw)).toBe(true)
          })
        )
      )
    }
  }

  const attempts: ReadonlyArray<{
    readonly name: string
    readonly setup: (rw: RWMutex.RWMutex, hold: Latch.Latch) => ReadonlyArray<Effect.Effect<void>>
    readonly read: boolean
    readonly write: boolean
  }> = [
    { name: "free", setup: () => [], read: true, write: true },
    {
      name: "a reader holds it",
      setup: (rw, hold) => [RWMutex.withReadLock(rw, hold.await)],
      read: true,
      write: false
    },
    {
      name: "a writer holds it",
      setup: (rw, hold) => [RWMutex.withWriteLock(rw, hold.await)],
      read: false,
      write: false
    },
    {
      name: "a reader holds it and a writer waits",
      setup: (rw, hold) => [RWMutex.withReadLock(rw, hold.await), RWMutex.withWriteLock(rw, Effect.void)],
      read: false,
      write: false
    }
  ]
  for (const c of attempts) {
    it.effect(`tryReadLock/tryWriteLock never wait — ${c.name}`, () =>
      verifyNone(
        Effect.gen(function* () {
          const rw = yield* RWMutex.make()
          const hold = yield* Latch.make(false)
          const fibers: Array<Fiber.Fiber<void>> = []
          for (const holder of c.setup(rw, hold))
            fibers.push(yield* Effect.forkChild(holder, { startImmediately: true }))
          yield* settle()
          expect(Option.isSome(yield* RWMutex.tryReadLock(rw, Effect.void))).toBe(c.read)
          expect(Option.isSome(yield* RWMutex.tryWriteLock(rw, Effect.void))).toBe(c.write)
          yield* hold.open
          yield* Fiber.joinAll(fibers)
          expect(yield* isFree(rw)).toBe(true)
        })
      )
    )
  }

  const scoped = [
    { name: "readLock", lock: RWMutex.readLock, shared: true },
    { name: "writeLock", lock: RWMutex.writeLock, shared: false }
  ] as const
  for (const c of scoped) {
    it.effect(`${c.name} holds the lock until its Scope closes, or until its unlock, which is idempotent`, () =>
      verifyNone(
        Effect.gen(function* () {
          const rw = yield* RWMutex.make()
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* c.lock(rw)
              expect(yield* isFree(rw)).toBe(false)
              expect(Option.isSome(yield* RWMutex.tryReadLock(rw, Effect.void))).toBe(c.shared)
            })
          )
          expect(yield* isFree(rw)).toBe(true) // released by the Scope's close
          yield* Effect.scoped(
            Effect.gen(function* () {
              const unlock = yield* c.lock(rw)
              yield* unlock
              yield* unlock // a second unlock releases nothing more
              expect(yield* isFree(rw)).toBe(true)
              const other = yield* c.lock(rw) // another holder: still holds after the unlocks above
              expect(yield* isFree(rw)).toBe(false)
              expect(Option.isSome(yield* RWMutex.tryReadLock(rw, Effect.void))).toBe(c.shared)
              yield* other
            })
          ) // the Scope's close runs both unlocks again: nothing more is released
          expect(yield* isFree(rw)).toBe(true)
          expect(Option.isSome(yield* RWMutex.tryWriteLock(rw, RWMutex.tryWriteLock(rw, Effect.void)))).toBe(true)
        })
      )
    )
  }

  it.effect("an early unlock lets the waiting writer in, and a fiber other than the locker may run it (as in Go)", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const rw = yield* RWMutex.make()
          const { log, section } = makeLog()
          const unlock = yield* RWMutex.readLock(rw)
          const w = yield* Effect.forkChild(RWMutex.withWriteLock(rw, section("w")), { startImmediately: true })
          yield* settle()
          expect(log).toStrictEqual([]) // the writer waits for the reader
          yield* Effect.forkChild(unlock, { startImmediately: true }) // RUnlock from another goroutine
          yield* Fiber.join(w)
          expect(log).toStrictEqual(["w in", "w out"])
        })
      )
    )
  )

  it.effect("a writeLock interrupted while queued behind another writer leaves no trace", () =>
    verifyNone(
      Effect.gen(function* () {
        const rw = yield* RWMutex.make()
        const { log, section } = makeLog()
        const hold = yield* Latch.make(false)
        const w1 = yield* Effect.forkChild(RWMutex.withWriteLock(rw, section("w1", hold)), { startImmediately: true })
        const w2 = yield* Effect.forkChild(Effect.scoped(Effect.andThen(RWMutex.writeLock(rw), section("w2"))), {
          startImmediately: true
        })
        const r = yield* Effect.forkChild(RWMutex.withReadLock(rw, section("r")), { startImmediately: true })
        yield* settle()
        yield* Fiber.interrupt(w2)
        yield* hold.open
        yield* Fiber.joinAll([w1, r])
        expect(log).toStrictEqual(["w1 in", "w1 out", "r in", "r out"])
        expect(yield* isFree(rw)).toBe(true)
      })
    )
  )

  it.effect("README example: Lock … Unlock mid-function", () =>
    verifyNone(
      Effect.scoped(
        Effect.gen(function* () {
          const [rw, cache] = [yield* RWMutex.make(), new Map([["port", 80]])]
          // README: five lines
          const unlock = yield* RWMutex.writeLock(rw) // mu.Lock(); also RWMutex.readLock (RLock), Mutex.lock
          cache.set("port", 8080) // alone: no reader, no other writer
          yield* unlock // mu.Unlock(), early; idempotent: the Scope's close will not unlock again
          const read = Effect.sync(() => cache.get("port"))
          const port = yield* RWMutex.withReadLock(rw, read) // readers get in at once: 8080
          expect(port).toBe(8080)
          expect(yield* isFree(rw)).toBe(true)
        })
      )
    )
  )

  it.effect("README example: sync.RWMutex", () =>
    verifyNone(
      Effect.gen(function* () {
        const [rw, cache] = [yield* RWMutex.make(), new Map([["port", 80]])]
        const port = yield* RWMutex.withReadLock(
          rw,
          Effect.sync(() => cache.get("port"))
        ) // readers share
        yield* RWMutex.withWriteLock(
          rw,
          Effect.sync(() => cache.set("port", 8080))
        ) // a writer is alone
        expect([port, cache.get("port")]).toStrictEqual([80, 8080])
      })
    )
  )
})
