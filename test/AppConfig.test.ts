/**
 * AppConfig — every variable has a default, each is parsed from the environment, and an invalid value fails with
 * `ConfigInvalid` naming the variable and the value (never a stack trace).
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import { ConfigInvalid } from "../src/Errors.ts"
import { AppConfig, type AppConfigValues, load } from "../src/services/AppConfig.ts"

/** `load` against exactly this environment. */
const loadFrom = (env: Record<string, string>) =>
  load.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

/** The values with durations as milliseconds, so they compare as plain data. */
const plain = (c: AppConfigValues) => ({
  ...c,
  adminToken: c.adminToken === undefined ? undefined : Redacted.value(c.adminToken),
  shutdownTimeout: Duration.toMillis(c.shutdownTimeout),
  shutdownDelay: Duration.toMillis(c.shutdownDelay),
  drainIdleGrace: Duration.toMillis(c.drainIdleGrace),
  headersTimeout: Duration.toMillis(c.headersTimeout),
  requestTimeout: Duration.toMillis(c.requestTimeout),
  keepAliveTimeout: Duration.toMillis(c.keepAliveTimeout),
  unreadBodyTimeout: Duration.toMillis(c.unreadBodyTimeout),
  profileCacheTtl: Duration.toMillis(c.profileCacheTtl),
  aggregateTimeout: Duration.toMillis(c.aggregateTimeout)
})

describe("AppConfig.load", () => {
  it.effect("uses the defaults when nothing is set", () =>
    Effect.gen(function* () {
      expect(plain(yield* loadFrom({}))).toEqual({
        port: 8080,
        host: "0.0.0.0",
        adminPort: 8081,
        adminHost: "127.0.0.1",
        shutdownTimeout: 25_000,
        shutdownDelay: 0,
        drainIdleGrace: 250,
        logLevel: "Info",
        logFormat: process.stdout.isTTY ? "pretty" : "json",
        headersTimeout: 10_000,
        requestTimeout: 60_000,
        keepAliveTimeout: 65_000,
        unreadBodyTimeout: 2_000,
        profileCacheSize: 10_000,
        profileCacheTtl: 30_000,
        aggregateTimeout: 10_000,
        adminToken: undefined,
        accessLog: 100,
        workers: 1
      })
    })
  )

  it.effect("reads every variable", () =>
    Effect.gen(function* () {
      const config = yield* loadFrom({
        PORT: "3000",
        HOST: "::",
        ADMIN_PORT: "3001",
        ADMIN_HOST: "10.0.0.1",
        SHUTDOWN_TIMEOUT: "40 seconds",
        SHUTDOWN_DELAY: "5 seconds",
        DRAIN_IDLE_GRACE: "100 millis",
        LOG_LEVEL: "Debug",
        LOG_FORMAT: "pretty",
        HEADERS_TIMEOUT: "5 seconds",
        REQUEST_TIMEOUT: "30 seconds",
        KEEP_ALIVE_TIMEOUT: "75 seconds",
        UNREAD_BODY_TIMEOUT: "500",
        PROFILE_CACHE_SIZE: "0",
        PROFILE_CACHE_TTL: "0",
        AGGREGATE_TIMEOUT: "2 seconds",
        ADMIN_TOKEN: "0123456789abcdef",
        ACCESS_LOG: "off",
        WORKERS: "4"
      })
      expect(plain(config)).toEqual({
        port: 3000,
        host: "::",
        adminPort: 3001,
        adminHost: "10.0.0.1",
        shutdownTimeout: 40_000,
        shutdownDelay: 5_000,
        drainIdleGrace: 100,
        logLevel: "Debug",
        logFormat: "pretty",
        headersTimeout: 5_000,
        requestTimeout: 30_000,
        keepAliveTimeout: 75_000,
        unreadBodyTimeout: 500,
        profileCacheSize: 0,
        profileCacheTtl: 0,
        aggregateTimeout: 2_000,
        adminToken: "0123456789abcdef",
        accessLog: 0,
        workers: 4
      })
    })
  )

  it.effect("accepts PORT=0 (any free port), a bare number of milliseconds, and treats empty as unset", () =>
    Effect.gen(function* () {
      const config = yield* loadFrom({ PORT: "0", ADMIN_PORT: "65535", SHUTDOWN_TIMEOUT: "1500", HOST: "" })
      expect([config.port, config.adminPort, config.host]).toEqual([0, 65535, "0.0.0.0"])
      expect(Duration.toMillis(config.shutdownTimeout)).toBe(1500)
    })
  )

  const invalid: ReadonlyArray<readonly [variable: string, value: string]> = [
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["ADMIN_PORT", "admin"],
    ["SHUTDOWN_TIMEOUT", "soon"],
    ["WORKERS", "0"],
    ["WORKERS", "257"],
    ["WORKERS", "two"],
    ["WORKERS", "1.5"],
    ["SHUTDOWN_TIMEOUT", "-5 seconds"],
    ["SHUTDOWN_DELAY", "-1"],
    ["SHUTDOWN_DELAY", "5 fortnights"],
    ["DRAIN_IDLE_GRACE", "a bit"],
    ["LOG_FORMAT", "xml"],
    ["LOG_LEVEL", "loud"],
    ["HEADERS_TIMEOUT", "-1"],
    ["REQUEST_TIMEOUT", "forever"],
    ["KEEP_ALIVE_TIMEOUT", "-2 seconds"],
    ["UNREAD_BODY_TIMEOUT", "a while"],
    ["PROFILE_CACHE_SIZE", "-1"],
    ["PROFILE_CACHE_SIZE", "many"],
    ["PROFILE_CACHE_TTL", "-1 seconds"],
    ["AGGREGATE_TIMEOUT", "0"],
    ["AGGREGATE_TIMEOUT", "never"],
    ["ACCESS_LOG", "on"],
    ["ACCESS_LOG", "-1"]
  ]
  it.effect.each(invalid)("%s=%s fails with ConfigInvalid naming the variable and the value", ([variable, value]) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadFrom({ [variable]: value }))
      expect(error).toBeInstanceOf(ConfigInvalid)
      expect([error.variable, error.value]).toEqual([variable, value])
      expect(error.message).toMatch(new RegExp(`^invalid configuration: ${variable}="${value}": \\S`))
      expect(error.message).not.toContain("\n")
    })
  )

  it.effect("HEADERS_TIMEOUT may not exceed REQUEST_TIMEOUT (Node's rule), unless REQUEST_TIMEOUT is 0 (off)", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadFrom({ HEADERS_TIMEOUT: "90 seconds" }))
      expect(error.variable).toBe("HEADERS_TIMEOUT")
      expect(error.message).toContain("must not be longer than REQUEST_TIMEOUT (1m)")
      const off = yield* loadFrom({ HEADERS_TIMEOUT: "90 seconds", REQUEST_TIMEOUT: "0" })
      expect(Duration.toMillis(off.headersTimeout)).toBe(90_000)
    })
  )

  it.effect.each(["0.0.0.0", "::", "10.0.0.1", "admin.internal"])(
    "ADMIN_HOST=%s without ADMIN_TOKEN fails naming ADMIN_TOKEN",
    (host) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(loadFrom({ ADMIN_HOST: host }))
        expect(error.variable).toBe("ADMIN_TOKEN")
        expect(error.message).toBe(
          `invalid configuration: ADMIN_TOKEN="": required when ADMIN_HOST (${host}) is beyond loopback: the admin routes would be open to the network`
        )
        expect((yield* Effect.flip(loadFrom({ ADMIN_HOST: host, ADMIN_TOKEN: "  " }))).variable).toBe("ADMIN_TOKEN")
      })
  )

  it.effect.each(["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])("ADMIN_HOST=%s needs no token", (host) =>
    Effect.map(loadFrom({ ADMIN_HOST: host }), (config) => expect(config.adminToken).toBeUndefined())
  )

  it.effect("ADMIN_TOKEN is held redacted and never echoed back, even when too short", () =>
    Effect.gen(function* () {
      const config = yield* loadFrom({ ADMIN_HOST: "0.0.0.0", ADMIN_TOKEN: "a-long-enough-secret" })
      expect(Redacted.value(config.adminToken!)).toBe("a-long-enough-secret")
      expect(String(config.adminToken)).toBe("<redacted>")
      expect(JSON.stringify(config)).not.toContain("a-long-enough-secret")
      const error = yield* Effect.flip(loadFrom({ ADMIN_TOKEN: "short-secret" }))
      expect(error.message).toBe('invalid configuration: ADMIN_TOKEN="<redacted>": expected at least 16 characters')
      expect(error.message).not.toContain("short-secret")
    })
  )

  it.effect("reports the first invalid variable only", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadFrom({ PORT: "abc", LOG_FORMAT: "xml" }))
      expect(error.variable).toBe("PORT")
    })
  )
})

describe("AppConfig layers", () => {
  const current = AppConfig.use(Effect.succeed)

  it.effect("layer reads the current ConfigProvider", () =>
    Effect.gen(function* () {
      const config = yield* current.pipe(
        Effect.provide(AppConfig.layer),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { PORT: "9090" } })))
      )
      expect(config.port).toBe(9090)
    })
  )

  it.effect("layerTest binds to free local ports and takes overrides", () =>
    Effect.gen(function* () {
      const config = yield* current.pipe(Effect.provide(AppConfig.layerTest({ shutdownDelay: Duration.seconds(1) })))
      expect([config.port, config.adminPort, config.host, Duration.toMillis(config.shutdownDelay)]).toEqual([
        0,
        0,
        "127.0.0.1",
        1000
      ])
    })
  )
})
