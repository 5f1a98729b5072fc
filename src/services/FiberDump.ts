/**
 * FiberDump — the live fibers worth looking at, like Go's goroutine dump (`/debug/pprof/goroutine?debug=2`).
 *
 * Effect 4 keeps no global list of fibers, so the dump is assembled from two kinds of entries:
 * - fibers registered for their whole life — the members of the group (`add` / `delete`);
 * - sources asked at dump time — each server lists its requests in flight, by method and path, from its connection
 *   tracker (`addSource`; see `HttpMember`). Nothing is recorded per request beyond a timestamp, so the dump costs
 *   the request path nothing more.
 * `snapshot` lists every entry with what it is, how long it has been running, and its fiber id when there is one.
 */
import { Context, type Fiber } from "effect"

/** FiberDump.Entry — one live fiber. */
export interface FiberEntry {
  readonly id: number | undefined
  readonly label: string
  readonly ageMillis: number
  readonly done: boolean
}

/** FiberDump.Registry — where fibers are listed. */
export interface FiberRegistry {
  readonly add: (fiber: Fiber.Fiber<unknown, unknown>, label: string) => void
  readonly delete: (fiber: Fiber.Fiber<unknown, unknown>) => void
  /** adds a source of entries asked at each snapshot; returns its removal */
  readonly addSource: (source: () => ReadonlyArray<FiberEntry>) => () => void
  readonly snapshot: () => ReadonlyArray<FiberEntry>
}

/** FiberDump.makeRegistry — an empty registry. */
export const makeRegistry = (): FiberRegistry => {
  const live = new Map<Fiber.Fiber<unknown, unknown>, { readonly label: string; readonly since: number }>()
  const sources = new Set<() => ReadonlyArray<FiberEntry>>()
  return {
    add: (fiber, label) => void live.set(fiber, { label, since: performance.now() }),
    delete: (fiber) => void live.delete(fiber),
    addSource: (source) => {
      sources.add(source)
      return () => void sources.delete(source)
    },
    snapshot: () => {
      const now = performance.now()
      const registered = [...live].map(([fiber, { label, since }]) => ({
        id: fiber.id,
        label,
        ageMillis: Math.round(now - since),
        done: fiber.pollUnsafe() !== undefined
      }))
      return [...registered, ...[...sources].flatMap((source) => source())]
    }
  }
}

/** FiberDump — the registry in use (one per process unless a test provides its own). */
export const FiberDump = Context.Reference<FiberRegistry>("lifecycle/FiberDump", { defaultValue: makeRegistry })
