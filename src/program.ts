/**
 * The reference service: an API server, an admin server, the signal listener and the process-fault watcher, run as
 * one group — when one ends, all end — with an exact graceful shutdown. Run it with `npm start` or
 * `tsx src/program.ts`; configure it with the environment (see the README).
 */
import { Effect, Layer } from "effect"
import * as Group from "./Group.ts"
import { AdminServer } from "./layers/AdminServer.ts"
import { ApiServer } from "./layers/ApiServer.ts"
import { ProcessFaults } from "./layers/ProcessFaults.ts"
import { Signals } from "./layers/Signals.ts"
import * as Main from "./Main.ts"
import { AppConfig } from "./services/AppConfig.ts"
import { ConfigReload } from "./services/ConfigReload.ts"
import { RuntimeConfig } from "./services/RuntimeConfig.ts"
import * as Tracing from "./Tracing.ts"

Group.run({
  signals: Signals.member,
  api: ApiServer.member,
  admin: AdminServer.member,
  faults: ProcessFaults.member
}).pipe(
  Effect.provide(
    Layer.mergeAll(ApiServer.layer, AdminServer.layer, ProcessFaults.layer).pipe(
      Layer.provideMerge(ConfigReload.layer),
      Layer.provideMerge(Layer.mergeAll(Signals.layer, AppConfig.layer, RuntimeConfig.layer, Tracing.layer))
    )
  ),
  Main.run
)
