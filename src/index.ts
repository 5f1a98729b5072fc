/**
 * What another Effect application imports:
 * - `GracefulHttpServer` — the drop-in for `NodeHttpServer.layer` whose shutdown loses no request, with `Health`
 *   (liveness/readiness routes), `RequestMetrics` (with `AllowedMethods` and `AccessLog`), `AdminGuard` and the
 *   `Lifecycle` they share (readiness checks, shutdown hooks);
 * - the service's own lifecycle pieces: `Group` (errgroup for members), `Main` (the process runner), the members
 *   (`ApiServer`, `AdminServer`, `Signals`, `ProcessFaults`) and their configuration, the reloadable part of it
 *   (`RuntimeConfig`, `ConfigReload` on SIGHUP) and OTLP tracing (`Tracing`);
 * - the cluster (`WORKERS` > 1): `Cluster` (the role of this process), `ClusterPrimary`, `ClusterWorker`,
 *   `ClusterAdmin` and `MetricsAggregate`;
 * - the Go toolkit (`ErrGroup`, `Channel`, `Mutex`, …, request deadlines), each a module used as `ErrGroup.make(…)`.
 */

export * as Cluster from "./cluster/Cluster.ts"
export * as ClusterAdmin from "./cluster/ClusterAdmin.ts"
export { ClusterPrimary, ClusterStartFailed, WorkerExited } from "./cluster/ClusterPrimary.ts"
export { ClusterWorker } from "./cluster/ClusterWorker.ts"
export * as MetricsAggregate from "./cluster/MetricsAggregate.ts"
export * from "./Errors.ts"
export * as Group from "./Group.ts"
export * as AccessLog from "./http/AccessLog.ts"
export * as AdminGuard from "./http/AdminGuard.ts"
export * as AllowedMethods from "./http/AllowedMethods.ts"
export * as ConnectionTracker from "./http/ConnectionTracker.ts"
export * as GracefulHttpServer from "./http/GracefulHttpServer.ts"
export * as Health from "./http/Health.ts"
export { ListenError } from "./http/Listener.ts"
export * as RequestMetrics from "./http/RequestMetrics.ts"
export * as Logging from "./Logging.ts"
export { AdminServer } from "./layers/AdminServer.ts"
export { ApiServer } from "./layers/ApiServer.ts"
export * as HttpMember from "./layers/HttpMember.ts"
export { ProcessFaults } from "./layers/ProcessFaults.ts"
export { type SignalName, Signals } from "./layers/Signals.ts"
export * as Main from "./Main.ts"
export { AppConfig, type AppConfigValues } from "./services/AppConfig.ts"
export { ConfigFileInvalid } from "./services/ConfigFile.ts"
export { ConfigReload } from "./services/ConfigReload.ts"
export * as ConfigView from "./services/ConfigView.ts"
export { FiberDump } from "./services/FiberDump.ts"
export { type Drainable, Lifecycle, type Outcome, type Phase } from "./services/Lifecycle.ts"
export * as Metrics from "./services/Metrics.ts"
export * as Readiness from "./services/Readiness.ts"
export { RuntimeConfig } from "./services/RuntimeConfig.ts"
export { Teardown } from "./services/Teardown.ts"
export * as Tracing from "./Tracing.ts"
export * as AtomicValue from "./toolkit/AtomicValue.ts"
export * as Channel from "./toolkit/Channel.ts"
export * as DeadlineHeader from "./toolkit/DeadlineHeader.ts"
export * as ErrGroup from "./toolkit/ErrGroup.ts"
export * as Mutex from "./toolkit/Mutex.ts"
export * as ObjectPool from "./toolkit/ObjectPool.ts"
export * as Once from "./toolkit/Once.ts"
export * as RequestContext from "./toolkit/RequestContext.ts"
export * as RWMutex from "./toolkit/RWMutex.ts"
export { UpstreamClient } from "./toolkit/UpstreamClient.ts"
export * as WaitGroup from "./toolkit/WaitGroup.ts"
