/**
 * Effect's stock HTTP stack, for reference: `HttpRouter.serve` on `NodeHttpServer.layer` with the same
 * `GET /healthz` route, the logger off, no metrics, no connection tracking. Not part of `npm run bench`'s table;
 * measure it with `BENCH_PROGRAM=bench/stock.ts BENCH_ONLY=cpu npm run bench` to see what the Effect request path
 * itself costs against raw `node:http` on this machine.
 */

import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"

const Main = HttpRouter.serve(HttpRouter.add("GET", "/healthz", HttpServerResponse.text("ok")), {
  disableLogger: true,
  disableListenLog: true
}).pipe(
  Layer.provide(
    NodeHttpServer.layer(createServer, {
      port: Number(process.env.PORT ?? 8080),
      host: process.env.HOST ?? "127.0.0.1"
    })
  )
)

Effect.runFork(Layer.launch(Main))
process.on("SIGTERM", () => process.exit(0))
