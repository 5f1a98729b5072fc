/**
 * FiberDump — the live fibers worth looking at, like Go's goroutine dump (`/debug/pprof/goroutine?debug=2`).
 *
 * Effect 4 keeps no global list of fibers, so the dump is assembled from two kinds of entries:
 * - fibers registered for their whole life — the members of the group (`add` / `delete`);
 * - sources asked at dump time — each server lists its requests in flight, by method and path, from its connection
 *   tracker (`addSource`; see `HttpMember`). Nothing is recorded per request beyond a timestamp, so the dump costs
 *   the request path nothing more.
 * `snapshot` lists every entry with what it is, how long it has been running, and its fiber id when there is one.
 *
 * `bounded(entries, limit)` is what `/debug/fibers` shows: the registered fibers in full, then the `limit` oldest of
 * the others (requests) in detail, then the rest as counts by group (`api GET`: 950). Labels are cut at
 * `maxLabelLength`. So the dump's size has a bound of its own — it does not grow with the number of requests in flight
 * or with what their senders put in them. What goes into a label is the source's responsibility: `HttpMember` gives
 * the server, method and path — never the query string, never a header.
 */
import { Context, type Fiber } from "effect"

/** FiberDump.Entry — one live fiber. */
export interface FiberEntry {
  readonly id: number | undefined
  readonly label: string
  readonly ageMillis: number
  readonly done: boolean
  /** what it is counted under once past the dump's detail limit (`api GET`); none: the label */
  readonly group?: string | undefined
}

/** FiberDump.Dump — a bounded dump: `fibers` in detail, the rest counted in `omitted`. */
export interface Dump {
  readonly fibers: ReadonlyArray<FiberEntry>
  /** how many entries there were in all */
  readonly total: number
  /** the entries past the limit, counted by group, largest count first */
  readonly omitted: ReadonlyArray<{ readonly group: string; readonly count: number }>
}

/** FiberDump.detailLimit — how many requests `/debug/fibers` shows in detail (the oldest). */
export const detailLimit = 50

/** FiberDump.maxLabelLength — labels longer than this are cut and end with `…`. */
export const maxLabelLength = 240

const cut = (label: string) => (label.length > maxLabelLength ? `${label.slice(0, maxLabelLength)}…` : label)

/**
 * FiberDump.bounded — `entries` as a `Dump`: the registered fibers (those with an id) in full; of the others, the
 * `limit` oldest in detail and the rest counted by group; every label cut at `maxLabelLength`.
 */
export const bounded = (entries: ReadonlyArray<FiberEntry>, limit = detailLimit): Dump => {
  const registered = entries.filter((entry) => entry.id !== undefined)
  const others = entries.filter((entry) => entry.id === undefined).sort((a, b) => b.ageMillis - a.ageMillis)
  const counts = new Map<string, number>()
  for (const entry of others.slice(limit)) {
    const group = cut(entry.group ?? entry.label)
    counts.set(group, (counts.get(group) ?? 0) + 1)
  }
  return {
    fibers: [...registered, ...others.slice(0, limit)].map(({ group: _, ...entry }) => ({
      ...entry,
      label: cut(entry.label)
    })),
    total: entries.length,
    omitted: [...counts].map(([group, count]) => ({ group, count })).sort((a, b) => b.count - a.count)
  }
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
