// examples/readme/drop-in.ts — a stock Effect app; the server layer is the only line that changed
import { createServer } from "node:http"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { GracefulHttpServer } from "effect-service-lifecycle"

const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", HttpServerResponse.text("hello")),
  HttpRouter.add("GET", "/slow", Effect.sleep("1 second").pipe(Effect.as(HttpServerResponse.text("done"))))
)

HttpRouter.serve(Routes).pipe(
  // was: Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
  Layer.provide(GracefulHttpServer.layer(createServer, { port: Number(process.env.PORT ?? 3000) })),
  Layer.launch,
  NodeRuntime.runMain
)
