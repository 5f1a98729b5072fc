/**
 * Logging — structured logs in the format the environment asks for, at a level that can change while the service
 * runs.
 *
 * `LOG_FORMAT=json` writes one JSON object per line (the default when stdout is not a terminal: log shippers read it);
 * `pretty` writes human-readable lines. `LOG_LEVEL` is an Effect log level (`Info` by default). The layer never fails:
 * an invalid value falls back to the default here, and `AppConfig` reports it (exit 1, naming the variable).
 *
 * The level is live: the logger itself compares each entry with the level held in a cell (`LiveLogLevel`), so
 * `LiveLogLevel.set` — what a configuration reload calls — takes effect for every fiber at once, including fibers
 * already running. (`References.MinimumLogLevel` cannot do this: each fiber copies it when it starts.) Effect's own
 * minimum is therefore set to `All`; an entry below the live level costs one comparison in the logger.
 */
import { Config, Context, Effect, Layer, Logger, LogLevel, References } from "effect"
import { defaults, parseLogLevel } from "./services/AppConfig.ts"
import * as AtomicValue from "./toolkit/AtomicValue.ts"

/** LiveLogLevel — the level the process logs at now; `set` changes it for every fiber at once. */
export class LiveLogLevel extends Context.Service<
  LiveLogLevel,
  {
    /** LiveLogLevel.current — the level now (synchronous). */
    readonly current: () => LogLevel.LogLevel
    /** LiveLogLevel.set — entries below `level` are dropped from now on, by every fiber. */
    readonly set: (level: LogLevel.LogLevel) => Effect.Effect<void>
  }
>()("lifecycle/LiveLogLevel") {}

/**
 * Logging.make — a logger layer for a format and an initial minimum level, with `LiveLogLevel` to change the level
 * later.
 */
export const make = (format: "pretty" | "json", level: LogLevel.LogLevel): Layer.Layer<LiveLogLevel> =>
  Layer.unwrap(
    Effect.sync(() => {
      const cell = AtomicValue.makeUnsafe(level)
      const inner = format === "json" ? Logger.consoleJson : Logger.consolePretty()
      const logger = Logger.make<unknown, void>((options) => {
        if (LogLevel.isGreaterThanOrEqualTo(options.logLevel, AtomicValue.loadUnsafe(cell))) inner.log(options)
      })
      return Layer.mergeAll(
        Logger.layer([logger]),
        Layer.succeed(References.MinimumLogLevel, "All"),
        Layer.succeed(LiveLogLevel, {
          current: () => AtomicValue.loadUnsafe(cell),
          set: (next) => AtomicValue.store(cell, next)
        })
      )
    })
  )

/** Logging.setLevel — sets the live level when the running program logs through `Logging` (else does nothing). */
export const setLevel = (level: LogLevel.LogLevel): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(LiveLogLevel), (live) =>
    live._tag === "Some" ? live.value.set(level) : Effect.void
  )

/** Logging.layer — reads `LOG_FORMAT` and `LOG_LEVEL`, tolerating invalid values (see the module comment). */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const format = yield* Config.Literals(["pretty", "json"], "LOG_FORMAT").pipe(
      Effect.orElseSucceed(() => defaults.logFormat)
    )
    const level = yield* Config.String("LOG_LEVEL").pipe(
      Effect.map((raw) => parseLogLevel(raw) ?? defaults.logLevel),
      Effect.orElseSucceed(() => defaults.logLevel)
    )
    return make(format, level)
  })
)
