/**
 * leaks — goleak's idea for this service: what a test starts, it stops.
 *
 * `listenerCounts` snapshots the process listeners the service may add (signals and process faults). `trackFibers`
 * is a `FiberDump` registry that also remembers every fiber ever listed, so a test can ask which of them are still
 * running after the layers were released (the registry alone forgets a fiber when it deregisters itself).
 */
import { Effect, type Fiber } from "effect"
import { FiberDump, type FiberRegistry, makeRegistry } from "../../src/services/FiberDump.ts"

/** The process events whose listeners the service's layers add and must remove. */
export const processEvents = ["SIGINT", "SIGTERM", "SIGHUP", "uncaughtException", "unhandledRejection"] as const

/** listenerCounts — `process.listenerCount` for each of `processEvents`. */
export const listenerCounts = (): Record<(typeof processEvents)[number], number> =>
  Object.fromEntries(processEvents.map((event) => [event, process.listenerCount(event)])) as Record<
    (typeof processEvents)[number],
    number
  >

/** FiberTracker — a registry to provide as `FiberDump`, and what it saw. */
export interface FiberTracker {
  readonly registry: FiberRegistry
  /** the labels of the registered fibers (and of `watch`ed ones) that have not ended */
  readonly running: () => ReadonlyArray<string>
  /** also check this fiber (one the test forked itself) */
  readonly watch: (fiber: Fiber.Fiber<unknown, unknown>, label: string) => void
}

/** trackFibers — a fresh registry that remembers every fiber it was given. */
export const trackFibers = (): FiberTracker => {
  const inner = makeRegistry()
  const seen: Array<readonly [Fiber.Fiber<unknown, unknown>, string]> = []
  return {
    registry: {
      add: (fiber, label) => {
        seen.push([fiber, label])
        inner.add(fiber, label)
      },
      delete: inner.delete,
      addSource: inner.addSource,
      snapshot: inner.snapshot
    },
    running: () => seen.filter(([fiber]) => fiber.pollUnsafe() === undefined).map(([, label]) => label),
    watch: (fiber, label) => void seen.push([fiber, label])
  }
}

/** withTracker — runs `effect` with `tracker` as the `FiberDump` registry. */
export const withTracker =
  (tracker: FiberTracker) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, FiberDump, tracker.registry)
