/**
 * RpcWorkerPool — why the job pool is not Effect's RPC worker pool (`RpcClient.layerProtocolWorker`): measured here,
 * not only read. With two workers, a call waiting on one worker fails when the *other* worker dies. A canary: if an
 * Effect release isolates the failure, this test fails, and the choice in `WorkerThreads` should be looked at again.
 */
import { Worker } from "node:worker_threads"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { RpcClient } from "effect/rpc"
import { RpcHash } from "./support/RpcHash.ts"

const entry = new URL("./support/rpc-worker.ts", import.meta.url)

describe("Effect's RPC worker pool (effect 4.1)", () => {
  it.live(
    "a worker that dies fails the calls in flight on the other worker too",
    () =>
      Effect.gen(function* () {
        const client = yield* RpcClient.make(RpcHash)
        expect(yield* client.Work({ input: "warm" })).toBe("warm")
        const bystander = yield* Effect.forkChild(client.Work({ input: "wait" }), { startImmediately: true })
        yield* Effect.sleep("200 millis")
        const doomed = yield* client.Work({ input: "exit" }).pipe(Effect.exit)
        expect(Exit.isFailure(doomed)).toBe(true)
        const exit = yield* Fiber.await(bystander)
        // the bystander ran on the other worker (one call per worker at a time), which is alive: yet its call failed
        // with the crash of the worker it was not on
        expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(
          /RpcClientError: .*The worker has exited with code: 7/
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(
          RpcClient.layerProtocolWorker({ size: 2, concurrency: 1 }).pipe(
            Layer.provide(NodeWorker.layer(() => new Worker(entry)))
          )
        )
      ),
    30_000
  )
})
