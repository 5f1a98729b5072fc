/**
 * types — the app's requirements stay in its type on `GracefulHttpServer.layer`, as on `NodeHttpServer.layer`: a route
 * (or an `HttpApi` handler) that needs a service nobody provides makes `Layer.launch(app)` unrunnable, so
 * `Effect.runFork` does not compile. Checked by `tsc --noEmit` (`npm run typecheck`): each `@ts-expect-error` below
 * must meet its error, for the graceful server and the stock one alike, or the check fails ("unused directive").
 *
 * The file also runs: the provided app serves, and the unprovided one — forced past the compiler — answers 500 on
 * every request, which is what the type error spares an app.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { expectTypeOf } from "vitest"
import { GracefulHttpServer, Lifecycle } from "../../src/index.ts"
import { fetchAnswer, within } from "../support/http-client.ts"
import { probe } from "./support.ts"

class Database extends Context.Service<Database, { readonly nameOf: (id: string) => Effect.Effect<string> }>()(
  "test/Database"
) {
  static readonly layer = Layer.succeed(Database, { nameOf: (id) => Effect.succeed(`user ${id}`) })
}

// A stock app whose route needs `Database`.
const routes = HttpRouter.add(
  "GET",
  "/users/:id",
  Effect.gen(function* () {
    const db = yield* Database
    return HttpServerResponse.text(yield* db.nameOf((yield* HttpRouter.params).id ?? ""))
  })
)
const gracefulApp = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
  Layer.provide(GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const stockApp = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// The same through an HttpApi: the handler's requirement surfaces in the served app.
const Api = HttpApi.make("Types").add(
  HttpApiGroup.make("users").add(HttpApiEndpoint.get("get", "/users/:id", { params: { id: Schema.String } }))
)
const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  handlers.handle("get", ({ params }) => Effect.asVoid(Effect.flatMap(Database, (db) => db.nameOf(params.id))))
)
const gracefulApi = HttpRouter.serve(HttpApiBuilder.layer(Api).pipe(Layer.provide(UsersLive))).pipe(
  Layer.provide(GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const stockApi = HttpRouter.serve(HttpApiBuilder.layer(Api).pipe(Layer.provide(UsersLive))).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

/** what must not compile, kept in functions: type-checked, never run */
const unprovided = {
  graceful: () =>
    // @ts-expect-error — Database is not provided: the graceful app cannot run
    Effect.runFork(Layer.launch(gracefulApp)),
  stock: () =>
    // @ts-expect-error — Database is not provided: the stock app cannot run either
    Effect.runFork(Layer.launch(stockApp)),
  gracefulApi: () =>
    // @ts-expect-error — Database is not provided to the HttpApi handler
    Effect.runFork(Layer.launch(gracefulApi)),
  stockApi: () =>
    // @ts-expect-error — the same on the stock server
    Effect.runFork(Layer.launch(stockApi))
}

describe("the app's requirements stay in its type", () => {
  it("the served app requires exactly what its routes need, on both servers", () => {
    expectTypeOf<Layer.Services<typeof gracefulApp>>().toEqualTypeOf<Database>()
    expectTypeOf<Layer.Services<typeof stockApp>>().toEqualTypeOf<Layer.Services<typeof gracefulApp>>()
    expectTypeOf<Layer.Services<typeof gracefulApi>>().toEqualTypeOf<Database>()
    expectTypeOf<Layer.Services<typeof stockApi>>().toEqualTypeOf<Layer.Services<typeof gracefulApi>>()
    // the same errors too: binding fails with Effect's ServeError
    expectTypeOf<Layer.Error<typeof gracefulApp>>().toEqualTypeOf<Layer.Error<typeof stockApp>>()
    expect(Object.keys(unprovided)).toEqual(["graceful", "stock", "gracefulApi", "stockApi"])
  })

  it.live("provided, the app compiles and serves", () =>
    Effect.gen(function* () {
      const bound = yield* Deferred.make<GracefulHttpServer.Handle>()
      const app = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.merge(probe(bound)),
        Layer.provide(GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provide([Database.layer, Lifecycle.layerTest])
      )
      const main = Effect.runFork(Layer.launch(app))
      const { address } = yield* Deferred.await(bound).pipe(within(2_000, "server bound"))
      expect(yield* fetchAnswer(address.port, "/users/7")).toMatchObject({ status: 200, body: "user 7" })
      yield* Fiber.interrupt(main)
    })
  )

  it.live("forced past the compiler, the unprovided app answers 500 on every request", () =>
    Effect.gen(function* () {
      const bound = yield* Deferred.make<GracefulHttpServer.Handle>()
      const app = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.merge(probe(bound)),
        Layer.provide(GracefulHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provide(Lifecycle.layerTest)
      )
      const main = Effect.runFork(Layer.launch(app) as Effect.Effect<never, unknown>)
      const { address } = yield* Deferred.await(bound).pipe(within(2_000, "server bound"))
      expect((yield* fetchAnswer(address.port, "/users/7")).status).toBe(500)
      yield* Fiber.interrupt(main)
    })
  )
})
