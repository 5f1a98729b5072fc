/**
 * Fuzzing the configuration (fast-check): any environment — each variable of `AppConfig.load` and
 * `RuntimeConfig.fromEnvironment` unset, well-formed or arbitrary text — gives either values that satisfy the
 * documented ranges or one `ConfigInvalid` naming a variable and its value, never a defect (a thrown exception, an
 * `Effect.die`) and never a value outside its range. Well-formed values are generated too (ports, durations in both
 * notations, level names in any case), so the success path is exercised as much as the failure path.
 * Deterministic: a fixed seed (FUZZ_SEED overrides it) and FUZZ_RUNS × 2 runs per property.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Duration, Effect, Exit } from "effect"
import fc from "fast-check"
import { ConfigInvalid } from "../../src/Errors.ts"
import * as AppConfig from "../../src/services/AppConfig.ts"
import * as RuntimeConfig from "../../src/services/RuntimeConfig.ts"
import { runs } from "./server.ts"

const configRuns = { ...runs, numRuns: runs.numRuns * 2 }

/** arbitrary text a variable may hold: anything printable, Unicode, or blank */
const anyText = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.constantFrom("", " ", "\t", "-0", "NaN", "Infinity", "1e309", "0x1F", "9007199254740993", "null", "undefined")
)

const durationText = fc.oneof(
  fc.nat(100_000).map(String),
  fc
    .tuple(fc.nat(1_000), fc.constantFrom("millis", "seconds", "second", "minutes", "nanos", "hours", "days", "weeks"))
    .map(([n, unit]) => `${n} ${unit}`),
  fc.double({ noNaN: false }).map(String),
  anyText
)

const variables = {
  PORT: fc.oneof(fc.integer({ min: -10, max: 70_000 }).map(String), anyText),
  HOST: fc.oneof(fc.constantFrom("127.0.0.1", "0.0.0.0", "::1", "localhost"), anyText),
  ADMIN_PORT: fc.oneof(fc.integer({ min: -10, max: 70_000 }).map(String), anyText),
  ADMIN_HOST: fc.oneof(fc.constantFrom("127.0.0.1", "::"), anyText),
  SHUTDOWN_TIMEOUT: durationText,
  SHUTDOWN_DELAY: durationText,
  DRAIN_IDLE_GRACE: durationText,
  LOG_LEVEL: fc.oneof(fc.constantFrom("info", "WARN", "warning", "Debug", " error ", "none", "All"), anyText),
  LOG_FORMAT: fc.oneof(fc.constantFrom("json", "pretty", "JSON"), anyText),
  UPSTREAM_URL: fc.oneof(fc.webUrl(), anyText),
  AGGREGATE_CONCURRENCY: fc.oneof(fc.integer({ min: -2, max: 64 }).map(String), anyText),
  SIMULATED_LATENCY: durationText,
  SIMULATED_FAILURE_RATE: fc.oneof(fc.double({ min: -0.5, max: 1.5 }).map(String), anyText),
  ADMIN_TOKEN: fc.oneof(fc.string({ minLength: 16, maxLength: 40 }), anyText),
  ACCESS_LOG: fc.oneof(fc.constantFrom("off", "0", "100", "5"), anyText),
  HEADERS_TIMEOUT: durationText,
  REQUEST_TIMEOUT: durationText,
  KEEP_ALIVE_TIMEOUT: durationText,
  UNREAD_BODY_TIMEOUT: durationText,
  PROFILE_CACHE_SIZE: fc.oneof(fc.integer({ min: -2, max: 100_000 }).map(String), anyText),
  PROFILE_CACHE_TTL: durationText,
  AGGREGATE_TIMEOUT: durationText
} as const

type Variable = keyof typeof variables

/** an environment: each variable unset or holding a generated value */
const environment = fc.record(
  Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, fc.option(value, { nil: undefined })])),
  { requiredKeys: [] }
) as fc.Arbitrary<Partial<Record<Variable, string | undefined>>>

const withEnv = <A, E>(effect: Effect.Effect<A, E>, env: Partial<Record<Variable, string | undefined>>) => {
  const defined = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >
  return Effect.runSync(
    Effect.exit(effect.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: defined })))))
  )
}

/** the checks between two variables: the reason's start, and the other variable */
const crossChecks: ReadonlyArray<readonly [string, Variable]> = [
  ["must be shorter than SHUTDOWN_TIMEOUT", "SHUTDOWN_TIMEOUT"],
  ["must not be longer than REQUEST_TIMEOUT", "REQUEST_TIMEOUT"],
  ["required when ADMIN_HOST", "ADMIN_HOST"]
]

/** the exit is a success or a single `ConfigInvalid` naming a variable that was set; never a defect */
const successOrConfigInvalid = <A>(
  exit: Exit.Exit<A, ConfigInvalid>,
  env: Partial<Record<Variable, string | undefined>>
) => {
  if (Exit.isSuccess(exit)) return exit.value
  expect(Cause.hasDies(exit.cause), Cause.pretty(exit.cause)).toBe(false)
  expect(Cause.hasInterrupts(exit.cause)).toBe(false)
  const error = Cause.findErrorOption(exit.cause)
  expect(error._tag).toBe("Some")
  if (error._tag === "Some") {
    expect(error.value).toBeInstanceOf(ConfigInvalid)
    expect(Object.keys(variables)).toContain(error.value.variable)
    // the variable named was set — or it is a cross-check, where the other variable met this one's default
    const other = crossChecks.find(([reason]) => error.value.reason.startsWith(reason))?.[1]
    const named = other === undefined ? [error.value.variable] : [error.value.variable, other]
    expect(
      named.some((variable) => env[variable as Variable] !== undefined),
      "the variable named (or the one it is checked against) was set"
    ).toBe(true)
    expect(error.value.message).toContain(`${error.value.variable}=`)
  }
  return undefined
}

const nonNegative = (d: Duration.Duration) => Duration.toMillis(d) >= 0

describe("fuzz: configuration from the environment", () => {
  it("AppConfig.load: in-range values or one ConfigInvalid naming the variable; never a defect", () => {
    fc.assert(
      fc.property(environment, (env) => {
        const values = successOrConfigInvalid(withEnv(AppConfig.load, env), env)
        if (values === undefined) return
        for (const port of [values.port, values.adminPort]) {
          expect(Number.isInteger(port) && port >= 0 && port <= 65_535, `port ${port}`).toBe(true)
        }
        expect(values.host.trim()).not.toBe("")
        expect(values.adminHost.trim()).not.toBe("")
        for (const d of [values.shutdownTimeout, values.shutdownDelay, values.drainIdleGrace]) {
          expect(nonNegative(d), Duration.format(d)).toBe(true)
        }
        for (const d of [values.shutdownDelay, values.drainIdleGrace]) {
          expect(Duration.toMillis(d) === 0 || Duration.isLessThan(d, values.shutdownTimeout)).toBe(true)
        }
        expect(["pretty", "json"]).toContain(values.logFormat)
      }),
      configRuns
    )
  })

  it("RuntimeConfig.fromEnvironment: in-range tunables or one ConfigInvalid naming the variable; never a defect", () => {
    fc.assert(
      fc.property(environment, (env) => {
        const tunables = successOrConfigInvalid(withEnv(RuntimeConfig.fromEnvironment, env), env)
        if (tunables === undefined) return
        expect(tunables.upstreamUrl === undefined || /^https?:\/\//.test(tunables.upstreamUrl)).toBe(true)
        expect(Number.isInteger(tunables.aggregateConcurrency) && tunables.aggregateConcurrency >= 1).toBe(true)
        expect(nonNegative(tunables.simulatedLatency)).toBe(true)
        expect(tunables.simulatedFailureRate >= 0 && tunables.simulatedFailureRate <= 1).toBe(true)
      }),
      configRuns
    )
  })
})
