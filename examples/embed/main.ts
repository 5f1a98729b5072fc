/**
 * embed — a stock Effect HTTP app (its own routes, a background fiber, `NodeRuntime.runMain`) that gets the graceful
 * shutdown by changing one line: `GracefulHttpServer.layer` in place of `NodeHttpServer.layer`.
 *
 * On SIGTERM or SIGINT, `runMain` interrupts the app and its layers close; the graceful server then stops accepting,
 * lets the requests in flight finish (answered `Connection: close`), closes idle keep-alive connections, and the
 * process exits as soon as the last connection is gone. With `EMBED_SERVER=stock` the same app runs on Effect's own
 * `NodeHttpServer.layer`, for comparison. `PORT` (default 3000) and `HOST` (default all interfaces) say where to listen.
 *
 *   node main.ts                        # Node (>= 22.18) runs TypeScript as it is
 *   curl localhost:3000/work/2000 &     # a request that takes 2 s
 *   kill -TERM <pid>                    # it still gets its answer; then the process exits
 */
import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Layer, Schedule } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { GracefulHttpServer } from "effect-service-lifecycle"

// The swap: the graceful server is a drop-in for Effect's (`EMBED_SERVER=stock` runs the stock one).
const serverLayer = process.env.EMBED_SERVER === "stock" ? NodeHttpServer.layer : GracefulHttpServer.layer

/** the app's own routes: `GET /` and a slow one, `GET /work/:ms`, that answers after `ms` milliseconds */
const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", HttpServerResponse.text("hello")),
  HttpRouter.add(
    "GET",
    "/work/:ms",
    Effect.gen(function* () {
      const ms = Number((yield* HttpRouter.params).ms)
      yield* Effect.logInfo(`working for ${ms} ms`)
      yield* Effect.sleep(Duration.millis(ms))
      return HttpServerResponse.text(`worked ${ms} ms`)
    })
  )
)

/** a background fiber: forked in a layer, it lives as long as the app and is interrupted when the app stops */
const Ticker = Layer.effectDiscard(
  Effect.logInfo("tick").pipe(
    Effect.repeat(Schedule.spaced("10 seconds")),
    Effect.onInterrupt(() => Effect.logInfo("ticker stopped")),
    Effect.forkScoped
  )
)

Layer.mergeAll(HttpRouter.serve(Routes), Ticker).pipe(
  Layer.provide(serverLayer(createServer, { port: Number(process.env.PORT ?? 3000), host: process.env.HOST })),
  Layer.launch,
  NodeRuntime.runMain
)
