/**
 * What another Effect application imports to embed this service's lifecycle: the members (scoped layers), the
 * group runner, the shutdown coordinator, and the building blocks they are made of.
 */

export * from "./Errors.ts"
export * as Group from "./Group.ts"
export * as Logging from "./Logging.ts"
export { AdminServer } from "./layers/AdminServer.ts"
export { ApiServer } from "./layers/ApiServer.ts"
export * as ConnectionTracker from "./layers/ConnectionTracker.ts"
export * as GracefulHttpServer from "./layers/GracefulHttpServer.ts"
export { ProcessFaults } from "./layers/ProcessFaults.ts"
export * as RequestHandler from "./layers/RequestHandler.ts"
export * as ResponseWriter from "./layers/ResponseWriter.ts"
export * as Routes from "./layers/Routes.ts"
export { ServerRequest } from "./layers/ServerRequest.ts"
export { type SignalName, Signals } from "./layers/Signals.ts"
export * as Main from "./Main.ts"
export { AppConfig, type AppConfigValues } from "./services/AppConfig.ts"
export { FiberDump } from "./services/FiberDump.ts"
export { type Drainable, Lifecycle } from "./services/Lifecycle.ts"
export * as Metrics from "./services/Metrics.ts"
export { Teardown } from "./services/Teardown.ts"
