/**
 * Logging — the level is live: `LiveLogLevel.set` changes what every fiber logs at once, including a fiber that was
 * already running (which `References.MinimumLogLevel` cannot do: a fiber copies it when it starts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Console, Deferred, Effect, Fiber } from "effect"
import * as Logging from "../src/Logging.ts"
import { LiveLogLevel } from "../src/Logging.ts"

/** a console that keeps each JSON line's level and message */
const capture = () => {
  const lines: Array<string> = []
  const console = { ...globalThis.console, log: (line: string) => void lines.push(line) } as Console.Console
  const seen = () => lines.map((line) => JSON.parse(line) as { level: string; message: string })
  return { console, seen }
}

describe("Logging", () => {
  it.effect("a level set while a fiber runs applies to it at once, both ways", () => {
    const out = capture()
    return Effect.gen(function* () {
      const live = yield* LiveLogLevel
      const go = yield* Deferred.make<void>()
      const again = yield* Deferred.make<void>()
      const worker = yield* Effect.forkChild(
        Effect.gen(function* () {
          yield* Effect.logDebug("hidden at Info")
          yield* Deferred.await(go)
          yield* Effect.logDebug("shown at Debug")
          yield* Deferred.await(again)
          yield* Effect.logInfo("hidden at Warn")
          yield* Effect.logWarning("shown at Warn")
        }),
        { startImmediately: true }
      )
      expect(live.current()).toBe("Info")
      yield* live.set("Debug")
      yield* Deferred.succeed(go, undefined)
      yield* Effect.yieldNow
      yield* Logging.setLevel("Warn")
      expect(live.current()).toBe("Warn")
      yield* Deferred.succeed(again, undefined)
      yield* Fiber.join(worker)
      expect(out.seen().map((line) => [line.level, line.message])).toEqual([
        ["DEBUG", "shown at Debug"],
        ["WARN", "shown at Warn"]
      ])
    }).pipe(Effect.provide(Logging.make("json", "Info")), Effect.provideService(Console.Console, out.console))
  })

  it.effect("setLevel without Logging's layer does nothing", () => Logging.setLevel("Debug"))
})
