/**
 * lifecycle — the shared set-up for tests of what shuts down: a fresh `Lifecycle` (`Lifecycle.layerTest`), fake
 * servers that record what the shutdown asked of them, and a logger that keeps every line.
 */
import { Duration, Effect, Layer, Logger, References } from "effect"
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
  awaitDrained: (options.drained ?? Effect.void).pipe(Effect.andThen(Effect.sync(() => void events.push(`drained:${name}`)))),
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
