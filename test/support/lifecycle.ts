/**
 * lifecycle — the shared set-up for tests of what shuts down: a fresh `Lifecycle` (`Lifecycle.layerTest`), fake
 * servers that record what the shutdown asked of them, and a logger that keeps every line.
 */
import { Context, Duration, Effect, Fiber, Layer, Logger, References, Scope } from "effect"
import { TestClock } from "effect/testing"
import { type Drainable, Lifecycle } from "../../src/services/Lifecycle.ts"

/** fakeServer — a `Drainable` that records its steps in `events`; `drained` decides when it has drained. */
export const fakeServer = (
  events: Array<string>,
  name: string,
  options: {
    readonly drained?: Effect.Effect<void> | undefined
    readonly shutdownDelay?: Duration.Input | undefined
    readonly budget?: Duration.Input | undefined
  } = {}
): Drainable => ({
  name,
  shutdownDelay: Duration.fromInputUnsafe(options.shutdownDelay ?? 0),
  budget: Duration.fromInputUnsafe(options.budget ?? Duration.seconds(10)),
  beginDrain: Effect.sync(() => void events.push(`beginDrain:${name}`)),
  awaitDrained: (options.drained ?? Effect.void).pipe(
    Effect.andThen(Effect.sync(() => void events.push(`drained:${name}`)))
  ),
  force: Effect.sync(() => void events.push(`force:${name}`))
})

/** LogLine — one captured log line: its level, its message joined, its annotations. */
export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** captureLogs — a logger layer that appends every line to `lines` (replacing the default logger). */
export const captureLogs = (lines: Array<LogLine>) =>
  Logger.layer([
    Logger.make(({ logLevel, message, fiber }) => {
      const parts = Array.isArray(message) ? message : [message]
      const annotations = fiber.getRef(References.CurrentLogAnnotations)
      lines.push({ level: logLevel, message: parts.map(String).join(" "), annotations: { ...annotations } })
    })
  ])

/** lifecycleTest — a fresh lifecycle plus a logger that keeps its lines in `lines`. */
export const lifecycleTest = (lines: Array<LogLine> = []) => Layer.merge(Lifecycle.layerTest, captureLogs(lines))

/**
 * withLayer — `body` with `layer` built in a scope of its own, released when `body` ends while the TestClock moves by
 * `grace`: a graceful server's release drains, and waits for idle keep-alive connections (`fetch`'s) to be closed by
 * the idle grace, which runs on the TestClock.
 */
export const withLayer =
  <ROut, LE, RIn>(layer: Layer.Layer<ROut, LE, RIn>, grace: Duration.Input = "1 second") =>
  <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E | LE, Exclude<R, ROut | Scope.Scope> | RIn> =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const exit = yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.flatMap((context) =>
          Effect.provideContext(
            body as Effect.Effect<A, E, ROut | Scope.Scope>,
            Context.merge(context, Context.make(Scope.Scope, scope))
          )
        ),
        Effect.exit
      )
      const closing = yield* Effect.forkChild(Scope.close(scope, exit), { startImmediately: true })
      yield* TestClock.adjust(grace)
      yield* Fiber.join(closing)
      return yield* exit
    }) as Effect.Effect<A, E | LE, Exclude<R, ROut | Scope.Scope> | RIn>
