/**
 * FiberDump — the live fibers worth looking at, like Go's goroutine dump (`/debug/pprof/goroutine?debug=2`).
 *
 * Effect 4 keeps no global list of fibers, so the ones that matter register here: the members of the group (for their
 * whole life) and every request handler (while it runs, see `Metrics.observe`). `snapshot` lists them with their
 * fiber id, what they are and how long they have been running. Entries leave the registry when their fiber ends.
 */
import { Context, type Fiber } from "effect"

/** FiberDump.Entry — one live fiber. */
export interface FiberEntry {
  readonly id: number
  readonly label: string
  readonly ageMillis: number
  readonly done: boolean
}

/** FiberDump.Registry — where fibers are listed. */
export interface FiberRegistry {
  readonly add: (fiber: Fiber.Fiber<unknown, unknown>, label: string) => void
  readonly delete: (fiber: Fiber.Fiber<unknown, unknown>) => void
  readonly snapshot: () => ReadonlyArray<FiberEntry>
}

/** FiberDump.makeRegistry — an empty registry. */
export const makeRegistry = (): FiberRegistry => {
  const live = new Map<Fiber.Fiber<unknown, unknown>, { readonly label: string; readonly since: number }>()
  return {
    add: (fiber, label) => void live.set(fiber, { label, since: performance.now() }),
    delete: (fiber) => void live.delete(fiber),
    snapshot: () => {
      const now = performance.now()
      return [...live].map(([fiber, { label, since }]) => ({
        id: fiber.id,
        label,
        ageMillis: Math.round(now - since),
        done: fiber.pollUnsafe() !== undefined
      }))
    }
  }
}

/** FiberDump — the registry in use (one per process unless a test provides its own). */
export const FiberDump = Context.Reference<FiberRegistry>("lifecycle/FiberDump", { defaultValue: makeRegistry })
