/**
 * AppConfig — every knob of the service, read once from the environment with Effect `Config`.
 *
 * Each variable has a default (see the README's configuration table). An invalid value fails with `ConfigInvalid`
 * naming the variable and the value (`ADMIN_TOKEN`'s never: it is `<redacted>`), which the entry point prints as one
 * line before exiting 1. `ADMIN_TOKEN` is held as a `Redacted`: logging the configuration shows `<redacted>`.
 * Durations use Effect's duration strings (`25 seconds`, `250 millis`) or a number of milliseconds.
 */
import { Config, ConfigProvider, Context, Duration, Effect, Layer, type LogLevel, Option, Redacted } from "effect"
import { ConfigInvalid } from "../Errors.ts"

/** AppConfig.Values — the parsed configuration. */
export interface AppConfigValues {
  readonly port: number
  readonly host: string
  readonly adminPort: number
  readonly adminHost: string
  /** one budget from the first termination signal to exit */
  readonly shutdownTimeout: Duration.Duration
  /** time spent unready but still serving before the listeners close */
  readonly shutdownDelay: Duration.Duration
  /** how long an idle connection may stay open once drain has begun */
  readonly drainIdleGrace: Duration.Duration
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "pretty" | "json"
  /** HTTP: first byte of a request to the end of its head (`408` after) */
  readonly headersTimeout: Duration.Duration
  /** HTTP: first byte of a request to the end of its body (`408` after) */
  readonly requestTimeout: Duration.Duration
  /** HTTP: how long a keep-alive connection may sit idle between requests */
  readonly keepAliveTimeout: Duration.Duration
  /** HTTP: how long an unread request body may keep arriving after its answer before the connection is closed */
  readonly unreadBodyTimeout: Duration.Duration
  /** profiles kept in the aggregation's local cache at most; 0 = no cache */
  readonly profileCacheSize: number
  /** how long a cached profile is served */
  readonly profileCacheTtl: Duration.Duration
  /** the deadline of an aggregate request that sends none (an earlier `x-request-timeout-ms` governs) */
  readonly aggregateTimeout: Duration.Duration
  /** the admin server's bearer token; required when `adminHost` is beyond loopback (see `AdminGuard`) */
  readonly adminToken: Redacted.Redacted<string> | undefined
  /** access log lines per second per server (`AccessLog`); 0: no access log */
  readonly accessLog: number
  /** server processes sharing the API port (`node:cluster`); 1 runs the service in this process alone */
  readonly workers: number
}

/** AppConfig.defaults — the values used when a variable is unset. */
export const defaults: AppConfigValues = {
  port: 8080,
  host: "0.0.0.0",
  adminPort: 8081,
  adminHost: "127.0.0.1",
  shutdownTimeout: Duration.seconds(25),
  shutdownDelay: Duration.zero,
  drainIdleGrace: Duration.millis(250),
  logLevel: "Info",
  logFormat: process.stdout.isTTY ? "pretty" : "json",
  // GracefulHttpServer's own defaults, explained in src/http/ServerTimeouts.ts and the README
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(60),
  keepAliveTimeout: Duration.seconds(65),
  unreadBodyTimeout: Duration.seconds(2),
  profileCacheSize: 10_000,
  profileCacheTtl: Duration.seconds(30),
  aggregateTimeout: Duration.seconds(10),
  adminToken: undefined,
  accessLog: 100,
  workers: 1
}

const levels: Record<string, LogLevel.LogLevel> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

/** parseLogLevel — an Effect log level from its name, case-insensitive (`warning` is accepted for `Warn`). */
export const parseLogLevel = (name: string): LogLevel.LogLevel | undefined => levels[name.trim().toLowerCase()]

/** AppConfig.logLevel — an Effect log level by name (see `parseLogLevel`). */
export const logLevel = (name: string) =>
  Config.String(name).pipe(
    Config.mapEffect((raw) => {
      const level = parseLogLevel(raw)
      return level === undefined
        ? Effect.fail(
            new Config.ConfigError(
              new ConfigProvider.SourceError({ message: `expected one of ${Object.keys(levels).join(", ")}` })
            )
          )
        : Effect.succeed(level)
    })
  )

const portRange = (n: number) => (n >= 0 && n <= 65535 ? undefined : "expected a port number in 0..65535")

/** firstLine — the readable part of a Config error message ("SchemaError(Expected …" → "Expected …"). */
const firstLine = (message: string) => (message.split("\n")[0] ?? message).replace(/^[A-Za-z]+Error[(:]\s*/, "")

/** maxWorkers — the most `WORKERS` accepts: far beyond any machine's cores, low enough to catch a typo. */
export const maxWorkers = 256

const workerCount = (n: number) =>
  Number.isInteger(n) && n >= 1 && n <= maxWorkers
    ? undefined
    : `expected a whole number of processes in 1..${maxWorkers}`

const nonBlank = (s: string) => (s.trim() === "" ? "expected a host name or address" : undefined)

const nonNegativeInt = (n: number) => (n >= 0 ? undefined : "expected an integer of 0 or more")

const positive = (d: Duration.Duration) => (Duration.toMillis(d) > 0 ? undefined : "expected a duration above 0")

export const nonNegative = (d: Duration.Duration) =>
  Duration.toMillis(d) >= 0 ? undefined : "expected a duration of 0 or more"

/** AppConfig.duration — an Effect duration string (`25 seconds`) or, as documented above, a bare number of milliseconds. */
export const duration = (name: string): Config.Config<Duration.Duration> =>
  Config.Duration(name).pipe(
    Config.orElse((error) =>
      Config.Finite(name).pipe(
        Config.map(Duration.millis),
        Config.orElse(() => Config.fail(error.cause))
      )
    )
  )

/** AppConfig.read — one variable: its value, its default when unset, or `ConfigInvalid` naming it and the value. */
export const read = <A>(
  name: string,
  config: Config.Config<A>,
  fallback: A,
  check: (a: A) => string | undefined = () => undefined
): Effect.Effect<A, ConfigInvalid> =>
  Effect.gen(function* () {
    const raw = yield* Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isNone(raw)) return fallback
    const invalid = (reason: string) => new ConfigInvalid({ variable: name, value: raw.value, reason })
    const value = yield* config.pipe(Effect.mapError((error) => invalid(firstLine(error.message))))
    const problem = check(value)
    return problem === undefined ? value : yield* invalid(problem)
  })

/** AppConfig.minTokenLength — the shortest `ADMIN_TOKEN` accepted (16 characters: e.g. `openssl rand -hex 16` gives 32). */
export const minTokenLength = 16

/** ADMIN_TOKEN — never echoed back: an invalid one is reported as `<redacted>`. */
const readAdminToken: Effect.Effect<Redacted.Redacted<string> | undefined, ConfigInvalid> = Effect.gen(function* () {
  const raw = yield* Config.option(Config.Redacted("ADMIN_TOKEN")).pipe(
    Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
  )
  if (Option.isNone(raw) || Redacted.value(raw.value).trim() === "") return undefined
  if (Redacted.value(raw.value).length < minTokenLength) {
    return yield* new ConfigInvalid({
      variable: "ADMIN_TOKEN",
      value: "<redacted>",
      reason: `expected at least ${minTokenLength} characters`
    })
  }
  return raw.value
})

/** AppConfig.accessLog — `off` (0), or the most access log lines per second per server (a whole number ≥ 1). */
export const accessLog = (name: string): Config.Config<number> =>
  Config.String(name).pipe(
    Config.mapEffect((raw) => {
      const text = raw.trim().toLowerCase()
      if (text === "off") return Effect.succeed(0)
      return /^\d{1,9}$/.test(text)
        ? Effect.succeed(Number(text))
        : Effect.fail(
            new Config.ConfigError(
              new ConfigProvider.SourceError({ message: "expected off or a number of lines per second" })
            )
          )
    })
  )

/**
 * AppConfig.isLoopbackHost — `localhost`, an address in 127.0.0.0/8 or `::1` (bracketed or not): reachable only from
 * this machine.
 */
export const isLoopbackHost = (host: string): boolean => {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
}

/** AppConfig.load — reads every variable from the current `ConfigProvider` (the environment by default). */
export const load: Effect.Effect<AppConfigValues, ConfigInvalid> = Effect.gen(function* () {
  const values: AppConfigValues = {
    port: yield* read("PORT", Config.Int("PORT"), defaults.port, portRange),
    host: yield* read("HOST", Config.String("HOST"), defaults.host, nonBlank),
    adminPort: yield* read("ADMIN_PORT", Config.Int("ADMIN_PORT"), defaults.adminPort, portRange),
    adminHost: yield* read("ADMIN_HOST", Config.String("ADMIN_HOST"), defaults.adminHost, nonBlank),
    shutdownTimeout: yield* read(
      "SHUTDOWN_TIMEOUT",
      duration("SHUTDOWN_TIMEOUT"),
      defaults.shutdownTimeout,
      nonNegative
    ),
    shutdownDelay: yield* read("SHUTDOWN_DELAY", duration("SHUTDOWN_DELAY"), defaults.shutdownDelay, nonNegative),
    drainIdleGrace: yield* read("DRAIN_IDLE_GRACE", duration("DRAIN_IDLE_GRACE"), defaults.drainIdleGrace, nonNegative),
    logLevel: yield* read("LOG_LEVEL", logLevel("LOG_LEVEL"), defaults.logLevel),
    logFormat: yield* read("LOG_FORMAT", Config.Literals(["pretty", "json"], "LOG_FORMAT"), defaults.logFormat),
    headersTimeout: yield* read("HEADERS_TIMEOUT", duration("HEADERS_TIMEOUT"), defaults.headersTimeout, nonNegative),
    requestTimeout: yield* read("REQUEST_TIMEOUT", duration("REQUEST_TIMEOUT"), defaults.requestTimeout, nonNegative),
    keepAliveTimeout: yield* read(
      "KEEP_ALIVE_TIMEOUT",
      duration("KEEP_ALIVE_TIMEOUT"),
      defaults.keepAliveTimeout,
      nonNegative
    ),
    unreadBodyTimeout: yield* read(
      "UNREAD_BODY_TIMEOUT",
      duration("UNREAD_BODY_TIMEOUT"),
      defaults.unreadBodyTimeout,
      nonNegative
    ),
    profileCacheSize: yield* read(
      "PROFILE_CACHE_SIZE",
      Config.Int("PROFILE_CACHE_SIZE"),
      defaults.profileCacheSize,
      nonNegativeInt
    ),
    profileCacheTtl: yield* read(
      "PROFILE_CACHE_TTL",
      duration("PROFILE_CACHE_TTL"),
      defaults.profileCacheTtl,
      nonNegative
    ),
    aggregateTimeout: yield* read(
      "AGGREGATE_TIMEOUT",
      duration("AGGREGATE_TIMEOUT"),
      defaults.aggregateTimeout,
      positive
    ),
    adminToken: yield* readAdminToken,
    accessLog: yield* read("ACCESS_LOG", accessLog("ACCESS_LOG"), defaults.accessLog),
    workers: yield* read("WORKERS", Config.Int("WORKERS"), defaults.workers, workerCount)
  }
  // Node's rule: a head cannot be allowed longer than the whole request (0 disables either)
  const [headers, request] = [Duration.toMillis(values.headersTimeout), Duration.toMillis(values.requestTimeout)]
  if (headers > request && request > 0) {
    return yield* new ConfigInvalid({
      variable: "HEADERS_TIMEOUT",
      value: Duration.format(values.headersTimeout),
      reason: `must not be longer than REQUEST_TIMEOUT (${Duration.format(values.requestTimeout)})`
    })
  }
  if (values.adminToken === undefined && !isLoopbackHost(values.adminHost)) {
    return yield* new ConfigInvalid({
      variable: "ADMIN_TOKEN",
      value: "",
      reason: `required when ADMIN_HOST (${values.adminHost}) is beyond loopback: the admin routes would be open to the network`
    })
  }
  // A delay or an idle grace as long as the whole budget would make every shutdown a forced one.
  for (const [variable, value] of [
    ["SHUTDOWN_DELAY", values.shutdownDelay],
    ["DRAIN_IDLE_GRACE", values.drainIdleGrace]
  ] as const) {
    if (Duration.isGreaterThanOrEqualTo(value, values.shutdownTimeout) && Duration.toMillis(value) > 0) {
      return yield* new ConfigInvalid({
        variable,
        value: Duration.format(value),
        reason: `must be shorter than SHUTDOWN_TIMEOUT (${Duration.format(values.shutdownTimeout)})`
      })
    }
  }
  return values
})

/** AppConfig — the configuration as a service. `layer` reads the environment; `layerTest` takes values. */
export class AppConfig extends Context.Service<AppConfig, AppConfigValues>()("lifecycle/AppConfig") {
  static readonly layer: Layer.Layer<AppConfig, ConfigInvalid> = Layer.effect(AppConfig, load)
  static readonly layerTest = (overrides: Partial<AppConfigValues> = {}): Layer.Layer<AppConfig> =>
    Layer.succeed(AppConfig, { ...defaults, port: 0, adminPort: 0, host: "127.0.0.1", ...overrides })
}
