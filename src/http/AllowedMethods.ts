/**
 * AllowedMethods — which methods a server has routes for at a path, so that a wrong method on a known path is
 * answered `405 Method Not Allowed` with an `Allow` header (RFC 9110 §15.5.6), as Go 1.22's `ServeMux` and nginx do,
 * instead of the router's 404.
 *
 * Effect's router keeps its routes to itself: it can say "no route for this method and path", not "this path has
 * routes for GET and HEAD". So `recording(table)` is an `HttpRouter` layer that wraps the server's router: every route
 * registered through it (`add`, `addAll`, and both under `prefixed`) is registered with the real router first — which
 * decides, and fails on a duplicate as before — and then noted in `table`, a `FindMyWay` router of its own with the
 * same path syntax and matching rules. `table.allowed(url)` then lists the methods whose routes match `url`, in a
 * fixed order, HEAD included wherever GET is (the router answers HEAD with the GET route). Asked only for requests
 * that matched no route: nothing is added to a request that did.
 */
import { Effect, Layer } from "effect"
import { FindMyWay, HttpRouter } from "effect/http"

/** AllowedMethods.Table — the routes noted so far and the question it answers. */
export interface Table {
  /** notes a route (a `*` method is skipped: such a route leaves no method to refuse) */
  readonly note: (method: string, path: FindMyWay.PathInput) => void
  /** the methods with a route matching `url` (path and query as received), sorted; empty when none matches */
  readonly allowed: (url: string) => ReadonlyArray<string>
}

const order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"]
const rank = (method: string) => {
  const i = order.indexOf(method)
  return i === -1 ? order.length : i
}

/** AllowedMethods.make — an empty table. */
export const make = (): Table => {
  const router = FindMyWay.make<true>()
  const methods = new Set<string>()
  return {
    note: (method, path) => {
      // a route for every method (`*`) leaves no method to refuse
      if (method === "*") return
      const paths: ReadonlyArray<FindMyWay.PathInput> = path.endsWith("/*")
        ? [path, path.slice(0, -2) as FindMyWay.PathInput]
        : [path]
      methods.add(method)
      for (const p of paths) if (!router.has(method, p)) router.on(method, p, true)
    },
    allowed: (url) => {
      const found = [...methods].filter((method) => router.find(method, url) !== undefined)
      if (found.includes("GET") && !found.includes("HEAD")) found.push("HEAD")
      return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    }
  }
}

const wrap = (router: HttpRouter.HttpRouter, table: Table, prefix: string | undefined): HttpRouter.HttpRouter => {
  const full = (path: HttpRouter.PathInput) =>
    (prefix === undefined ? path : HttpRouter.prefixPath(path, prefix)) as FindMyWay.PathInput
  return HttpRouter.HttpRouter.of({
    ...router,
    prefixed: (next) =>
      wrap(router.prefixed(next), table, prefix === undefined ? next : HttpRouter.prefixPath(next, prefix)),
    add: (method, path, handler, options) =>
      Effect.tap(
        router.add(method, path, handler, options),
        Effect.sync(() => table.note(method, full(path)))
      ),
    addAll: (routes) =>
      Effect.tap(
        router.addAll(routes),
        Effect.sync(() => {
          for (const route of routes) table.note(route.method, full(route.path))
        })
      )
  })
}

/**
 * AllowedMethods.recording — an `HttpRouter` that is the router it is given, noting in `table` every route
 * registered through it. Provide it to the routes (it needs the server's `HttpRouter`).
 */
export const recording = (table: Table): Layer.Layer<HttpRouter.HttpRouter, never, HttpRouter.HttpRouter> =>
  Layer.effect(
    HttpRouter.HttpRouter,
    Effect.map(HttpRouter.HttpRouter, (router) => wrap(router, table, undefined))
  )
