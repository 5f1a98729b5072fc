/**
 * The reference service: an API server (the aggregation over upstreams, the jobs API on its worker pool), an admin
 * server, the signal listener and the process-fault watcher, run as one group — when one ends, all end — with an
 * exact graceful shutdown. Run it with `npm start` or `tsx src/program.ts`; configure it with the environment (see
 * the README).
 *
 * With `WORKERS=N` (N > 1) the process started is the cluster's primary: the group of its N workers, each the same
 * service without the admin server, which the primary serves for all of them (see `src/cluster/`).
 */
import { Effect, Layer } from "effect"
import { Aggregate } from "./api/Aggregate.ts"
import * as AggregateRoute from "./api/AggregateRoute.ts"
import * as Cluster from "./cluster/Cluster.ts"
import * as ClusterAdmin from "./cluster/ClusterAdmin.ts"
import { ClusterPrimary } from "./cluster/ClusterPrimary.ts"
import { ClusterWorker } from "./cluster/ClusterWorker.ts"
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
import { ConfigReload } from "./services/ConfigReload.ts"
import { ProfileCache } from "./services/ProfileCache.ts"
import { RuntimeConfig } from "./services/RuntimeConfig.ts"
import { Upstreams } from "./services/Upstreams.ts"
import * as Tracing from "./Tracing.ts"
import { UpstreamClient } from "./toolkit/UpstreamClient.ts"

/**
 * the API server with its routes — the aggregation over the upstreams, the jobs on the worker pool — and what they
 * need (the pool outlives the server: its jobs finish after the HTTP drain, within the same budget)
 */
const api = ApiServer.layerWith(Layer.mergeAll(AggregateRoute.routes, JobRoutes.layer)).pipe(
  Layer.provide(
    Aggregate.layer.pipe(
      Layer.provide(ProfileCache.layer),
      Layer.provideMerge(Upstreams.layer),
      Layer.provide(UpstreamClient.layer)
    )
  ),
  Layer.provideMerge(JobPool.layer.pipe(Layer.provide(Layer.merge(JobExecutor.layer, JobsConfig.layer))))
)

Cluster.run({
  single: Group.run({
    signals: Signals.member,
    api: ApiServer.member,
    admin: AdminServer.member,
    faults: ProcessFaults.member
  }).pipe(Effect.provide(Layer.mergeAll(api, AdminServer.layer, ProcessFaults.layer))),
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
  }).pipe(Effect.provide(Layer.mergeAll(api, ClusterWorker.layer, ProcessFaults.layer)))
}).pipe(
  Effect.provide(
    ConfigReload.layer.pipe(
      Layer.provideMerge(Layer.mergeAll(Signals.layer, AppConfig.layer, RuntimeConfig.layer, Tracing.layer))
    )
  ),
  Main.run
)
