/**
 * Logging — structured logs in the format and at the level the environment asks for.
 *
 * `LOG_FORMAT=json` writes one JSON object per line (the default when stdout is not a terminal: log shippers read it);
 * `pretty` writes human-readable lines. `LOG_LEVEL` is an Effect log level (`Info` by default). The layer never fails:
 * an invalid value falls back to the default here, and `AppConfig` reports it (exit 1, naming the variable).
 */
import { Config, Effect, Layer, Logger, References } from "effect"
import { defaults, parseLogLevel } from "./services/AppConfig.ts"

/** Logging.make — a logger layer for a format and a minimum level. */
export const make = (format: "pretty" | "json", level: typeof defaults.logLevel) =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()]),
    Layer.succeed(References.MinimumLogLevel, level)
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
