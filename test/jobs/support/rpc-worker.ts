/** rpc-worker — a worker thread serving `RpcHash` with Effect's RPC server on the worker protocol. */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { Effect, Layer } from "effect"
import { RpcServer } from "effect/rpc"
import { RpcHash } from "./RpcHash.ts"

const handlers = RpcHash.toLayer({
  Work: ({ input }) =>
    input === "exit"
      ? Effect.sync(() => process.exit(7))
      : input === "wait"
        ? Effect.as(Effect.sleep("1 second"), "waited")
        : Effect.succeed(input)
})

RpcServer.layer(RpcHash).pipe(
  Layer.provide(handlers),
  Layer.provide(RpcServer.layerProtocolWorkerRunner),
  Layer.provide(NodeWorkerRunner.layer),
  Layer.launch,
  Effect.runFork
)
