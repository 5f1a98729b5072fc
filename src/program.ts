/**
 * The reference service: an API server, an admin server, the signal listener and the process-fault watcher, run as
 * one group — when one ends, all end — with an exact graceful shutdown. Run it with `npm start` or
 * `tsx src/program.ts`; configure it with the environment (see the README).
 *
 * With `WORKERS=N` (N > 1) the process started is the cluster's primary: the group of its N workers, each the same
 * service without the admin server, which the primary serves for all of them (see `src/cluster/`).
 */
import { Effect, Layer } from "effect"
import * as Cluster from "./cluster/Cluster.ts"
import * as ClusterAdmin from "./cluster/ClusterAdmin.ts"
import { ClusterPrimary } from "./cluster/ClusterPrimary.ts"
import { ClusterWorker } from "./cluster/ClusterWorker.ts"
import * as Group from "./Group.ts"
import { AdminServer } from "./layers/AdminServer.ts"
import { ApiServer } from "./layers/ApiServer.ts"
import { ProcessFaults } from "./layers/ProcessFaults.ts"
import { Signals } from "./layers/Signals.ts"
import * as Main from "./Main.ts"
import { AppConfig } from "./services/AppConfig.ts"

Cluster.run({
  single: Group.run({
    signals: Signals.member,
    api: ApiServer.member,
    admin: AdminServer.member,
    faults: ProcessFaults.member
  }).pipe(Effect.provide(Layer.mergeAll(ApiServer.layer, AdminServer.layer, ProcessFaults.layer))),
  primary: Group.run({
    signals: Signals.member,
    workers: ClusterPrimary.member,
    admin: AdminServer.member,
    faults: ProcessFaults.member
  }).pipe(
    ClusterPrimary.withWorkerExits,
    Effect.provide(
      Layer.mergeAll(AdminServer.layer.pipe(Layer.provide(ClusterAdmin.layer)), ProcessFaults.layer).pipe(
        Layer.provideMerge(ClusterPrimary.layer)
      )
    )
  ),
  worker: Group.run({
    signals: Signals.member,
    api: ApiServer.member,
    primary: ClusterWorker.member,
    faults: ProcessFaults.member
  }).pipe(Effect.provide(Layer.mergeAll(ApiServer.layer, ClusterWorker.layer, ProcessFaults.layer)))
}).pipe(Effect.provide(Layer.mergeAll(Signals.layer, AppConfig.layer)), Main.run)
