/**
 * RpcHash — one RPC, `Work`, for the test of Effect's RPC worker pool (`RpcWorkerPool.test.ts`): `wait` answers after
 * a second, `exit` ends the worker thread, anything else answers at once.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

export class RpcHash extends RpcGroup.make(
  Rpc.make("Work", { payload: { input: Schema.String }, success: Schema.String })
) {}
