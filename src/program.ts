/**
 * The reference service: an API server (with the jobs API on its worker pool), an admin server, the signal listener and the process-fault watcher, run as
 * one group — when one ends, all end — with an exact graceful shutdown. Run it with `npm start` or
 * `tsx src/program.ts`; configure it with the environment (see the README).
 */
import { Effect, Layer } from "effect"
import * as Group from "./Group.ts"
import { JobExecutor } from "./jobs/JobExecutor.ts"
import { JobPool } from "./jobs/JobPool.ts"
import * as JobRoutes from "./jobs/JobRoutes.ts"
import { JobsConfig } from "./jobs/JobsConfig.ts"
import { AdminServer } from "./layers/AdminServer.ts"
import { ApiServer } from "./layers/ApiServer.ts"
import { ProcessFaults } from "./layers/ProcessFaults.ts"
import { Signals } from "./layers/Signals.ts"
import * as Main from "./Main.ts"
import { AppConfig } from "./services/AppConfig.ts"

Group.run({
  signals: Signals.member,
  api: ApiServer.member,
  admin: AdminServer.member,
  faults: ProcessFaults.member
}).pipe(
  Effect.provide(
    Layer.mergeAll(ApiServer.layerWith(JobRoutes.layer), AdminServer.layer, ProcessFaults.layer).pipe(
      Layer.provideMerge(JobPool.layer.pipe(Layer.provide(Layer.merge(JobExecutor.layer, JobsConfig.layer)))),
      Layer.provideMerge(Layer.mergeAll(Signals.layer, AppConfig.layer))
    )
  ),
  Main.run
)
