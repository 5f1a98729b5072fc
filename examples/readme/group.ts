// examples/readme/group.ts — the reference service's members, your routes, your own member and an optional one
import { Data, Effect, Layer, Runtime, Schedule } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { AdminServer, ApiServer, AppConfig, Group, Main, ProcessFaults, Signals } from "effect-service-lifecycle"

/** your member's own reason to stop the group, with its own exit code */
class QueueLost extends Data.TaggedError("QueueLost")<{ readonly queue: string }> {
  override readonly [Runtime.errorExitCode] = 3
  override get message() {
    return `lost the connection to queue ${this.queue}`
  }
}

const consumer: Effect.Effect<never, QueueLost> = Effect.never // consume jobs; fail with QueueLost when it is gone
const cacheWarmer = Effect.logInfo("cache warmed").pipe(Effect.repeat(Schedule.spaced("1 minute"))) // may fail alone

const Hello = HttpRouter.add("GET", "/api/hello", HttpServerResponse.text("hello"))

Group.run({
  signals: Signals.member,
  api: ApiServer.member,
  admin: AdminServer.member,
  faults: ProcessFaults.member,
  consumer,
  cache: Group.optional(cacheWarmer)
}).pipe(
  Effect.provide(
    Layer.mergeAll(ApiServer.layerWith(Hello), AdminServer.layer, ProcessFaults.layer).pipe(
      Layer.provideMerge(Layer.mergeAll(Signals.layer, AppConfig.layer))
    )
  ),
  Main.run
)
