/**
 * ConfigFile — the optional JSON file (`CONFIG_FILE`) whose values override the environment's tunables.
 *
 * The file is one JSON object whose keys are the tunables' names (the `RuntimeConfig.Tunables` fields), each optional:
 *
 * | key | value |
 * |---|---|
 * | `upstreamUrl` | an `http://` or `https://` URL, or `null` for the simulated upstreams |
 * | `aggregateConcurrency` | an integer ≥ 1 |
 * | `simulatedLatency` | an Effect duration string (`"20 millis"`) or a number of milliseconds, ≥ 0 |
 * | `simulatedFailureRate` | a number from 0 to 1 |
 * | `logLevel` | a log level name, as `LOG_LEVEL` takes it (case-insensitive) |
 *
 * A key that is absent keeps the environment's value; an unknown key is an error (a typo must not pass silently).
 * `read` validates with `Schema` and fails with `ConfigFileInvalid` naming the file, the key and the reason — for a
 * file that cannot be read, that is not JSON, or whose value is wrong. It never fails otherwise.
 */
import { Data, Duration, Effect, FileSystem, type LogLevel, Schema, SchemaIssue } from "effect"
import { parseLogLevel } from "./AppConfig.ts"

/** ConfigFileInvalid — `CONFIG_FILE` could not be used; names the file, the key when one is at fault, and why. */
export class ConfigFileInvalid extends Data.TaggedError("ConfigFileInvalid")<{
  readonly file: string
  readonly key: string | undefined
  readonly reason: string
}> {
  override get message() {
    return `invalid configuration file ${this.file}: ${this.key === undefined ? "" : `${this.key}: `}${this.reason}`
  }
}

/** ConfigFile.Overrides — the values a file sets (absent keys keep the environment's value). */
export interface Overrides {
  readonly upstreamUrl?: string | undefined
  readonly aggregateConcurrency?: number
  readonly simulatedLatency?: Duration.Duration
  readonly simulatedFailureRate?: number
  readonly logLevel?: LogLevel.LogLevel
}

/** ConfigFile.isHttpUrl — an absolute `http://` or `https://` URL with a host. */
export const isHttpUrl = (url: string): boolean => /^https?:\/\/[^/\s]+/.test(url) && URL.canParse(url)

const HttpUrl = Schema.String.check(Schema.makeFilter((url) => isHttpUrl(url) || "expected an http:// or https:// URL"))
const Latency = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(
    Schema.makeFilter(
      (text) =>
        (Duration.fromInput(text as Duration.Input)._tag === "Some" &&
          Duration.toMillis(Duration.fromInputUnsafe(text as Duration.Input)) >= 0) ||
        'expected a duration such as "20 millis"'
    )
  )
])
const LevelName = Schema.String.check(
  Schema.makeFilter((name) => parseLogLevel(name) !== undefined || 'expected a log level such as "debug"')
)

/** ConfigFile.Schema — the file's JSON object (see the module comment). */
export const FileSchema = Schema.Struct({
  upstreamUrl: Schema.optionalKey(Schema.NullOr(HttpUrl)),
  aggregateConcurrency: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  simulatedLatency: Schema.optionalKey(Latency),
  simulatedFailureRate: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  logLevel: Schema.optionalKey(LevelName)
})

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** ConfigFile.parse — the overrides in `text`, the contents of `file`; see the module comment. */
export const parse = (file: string, text: string): Effect.Effect<Overrides, ConfigFileInvalid> =>
  Effect.gen(function* () {
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) =>
        new ConfigFileInvalid({ file, key: undefined, reason: `not JSON: ${(error as SyntaxError).message}` })
    })
    const decoded = yield* Schema.decodeUnknownEffect(FileSchema)(json, { onExcessProperty: "error" }).pipe(
      Effect.mapError((error) => {
        const [first] = formatIssue(error.issue).issues
        const key = first?.path === undefined || first.path.length === 0 ? undefined : first.path.map(String).join(".")
        if (first?.message === "Expected no excess property") {
          return new ConfigFileInvalid({ file, key, reason: "unknown key" })
        }
        const value = key === undefined ? undefined : (json as Record<string, unknown>)[key]
        const got = value === undefined || first?.message.includes(", got ") ? "" : `, got ${JSON.stringify(value)}`
        return new ConfigFileInvalid({ file, key, reason: `${first?.message ?? error.message}${got}` })
      })
    )
    const overrides: {
      -readonly [K in keyof Overrides]: Overrides[K]
    } = {}
    if ("upstreamUrl" in decoded) overrides.upstreamUrl = decoded.upstreamUrl ?? undefined
    if (decoded.aggregateConcurrency !== undefined) overrides.aggregateConcurrency = decoded.aggregateConcurrency
    if (decoded.simulatedLatency !== undefined) {
      const latency = decoded.simulatedLatency
      overrides.simulatedLatency =
        typeof latency === "number" ? Duration.millis(latency) : Duration.fromInputUnsafe(latency as Duration.Input)
    }
    if (decoded.simulatedFailureRate !== undefined) overrides.simulatedFailureRate = decoded.simulatedFailureRate
    if (decoded.logLevel !== undefined) overrides.logLevel = parseLogLevel(decoded.logLevel) as LogLevel.LogLevel
    return overrides
  })

/** ConfigFile.read — reads and parses `file` with the `FileSystem` in use. */
export const read = (file: string): Effect.Effect<Overrides, ConfigFileInvalid, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.readFileString(file).pipe(
      Effect.mapError(
        (error) => new ConfigFileInvalid({ file, key: undefined, reason: `cannot read: ${error.message}` })
      ),
      Effect.flatMap((text) => parse(file, text))
    )
  )
