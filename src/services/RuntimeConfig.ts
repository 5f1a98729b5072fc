/**
 * RuntimeConfig — the configuration that may change while the service runs (upstreams, limits, latency knobs, log
 * level), held as one immutable snapshot in an `AtomicValue` (Go's copy-on-write configuration).
 *
 * Guarantees:
 * - a request reads one consistent snapshot with `current` (or `currentUnsafe` in a synchronous callback) and never
 *   waits: a reload builds the next snapshot beside the current one and swaps it in as a whole;
 * - `version` starts at 1 and grows by one with each snapshot stored; `source` says where the values came from and
 *   `loadedAt` when (epoch milliseconds, on Effect's `Clock`);
 * - the values come from the environment with the same rules as `AppConfig`, overridden by the JSON file named by
 *   `CONFIG_FILE` when it is set (see `ConfigFile`): at start-up an invalid variable fails the layer with
 *   `ConfigInvalid` naming the variable, an invalid file with `ConfigFileInvalid` naming the file and the key (exit 1);
 * - `ConfigReload` reads the same sources again on SIGHUP and stores the next snapshot (version + 1).
 *
 * What is fixed for the life of the process (ports, addresses, the shutdown budget, `CONFIG_FILE` itself) stays in
 * `AppConfig`.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Clock, Config, Context, Duration, Effect, type FileSystem, Layer, type LogLevel } from "effect"
import type { ConfigInvalid } from "../Errors.ts"
import * as AtomicValue from "../toolkit/AtomicValue.ts"
import * as AppConfig from "./AppConfig.ts"
import * as ConfigFile from "./ConfigFile.ts"

/** RuntimeConfig.Tunables — the values a reload may change. */
export interface Tunables {
  /** base URL of the real upstream services; `undefined` runs the simulated, in-process upstreams */
  readonly upstreamUrl: string | undefined
  /** the most upstream calls one aggregate request runs at once (its `ErrGroup` limit) */
  readonly aggregateConcurrency: number
  /** how long each simulated upstream call takes */
  readonly simulatedLatency: Duration.Duration
  /** the probability, from 0 to 1, that a simulated upstream call fails */
  readonly simulatedFailureRate: number
  readonly logLevel: LogLevel.LogLevel
}

/** RuntimeConfig.Snapshot — the tunables with where and when they were loaded. */
export interface Snapshot extends Tunables {
  readonly version: number
  readonly source: string
  readonly loadedAt: number
}

/** RuntimeConfig.defaults — the tunables used when a variable is unset. */
export const defaults: Tunables = {
  upstreamUrl: undefined,
  aggregateConcurrency: 4,
  simulatedLatency: Duration.millis(5),
  simulatedFailureRate: 0,
  logLevel: AppConfig.defaults.logLevel
}

const httpUrl = (url: string) => (ConfigFile.isHttpUrl(url) ? undefined : "expected an http:// or https:// URL")
const atLeastOne = (n: number) => (n >= 1 ? undefined : "expected an integer of 1 or more")
const probability = (p: number) => (p >= 0 && p <= 1 ? undefined : "expected a number from 0 to 1")

/** RuntimeConfig.fromEnvironment — the tunables from the current `ConfigProvider` (the environment by default). */
export const fromEnvironment: Effect.Effect<Tunables, ConfigInvalid> = Effect.gen(function* () {
  return {
    upstreamUrl: yield* AppConfig.read("UPSTREAM_URL", Config.String("UPSTREAM_URL"), defaults.upstreamUrl, (url) =>
      url === undefined ? undefined : httpUrl(url)
    ),
    aggregateConcurrency: yield* AppConfig.read(
      "AGGREGATE_CONCURRENCY",
      Config.Int("AGGREGATE_CONCURRENCY"),
      defaults.aggregateConcurrency,
      atLeastOne
    ),
    simulatedLatency: yield* AppConfig.read(
      "SIMULATED_LATENCY",
      AppConfig.duration("SIMULATED_LATENCY"),
      defaults.simulatedLatency,
      AppConfig.nonNegative
    ),
    simulatedFailureRate: yield* AppConfig.read(
      "SIMULATED_FAILURE_RATE",
      Config.Finite("SIMULATED_FAILURE_RATE"),
      defaults.simulatedFailureRate,
      probability
    ),
    logLevel: yield* AppConfig.read("LOG_LEVEL", AppConfig.logLevel("LOG_LEVEL"), defaults.logLevel)
  }
})

/** RuntimeConfig.Loaded — tunables and where they came from (`environment`, or `environment+<file>`). */
export interface Loaded {
  readonly tunables: Tunables
  readonly source: string
}

/** RuntimeConfig.load — the environment's tunables overridden by `configFile`'s, when there is one. */
export const load = (
  configFile: string | undefined
): Effect.Effect<Loaded, ConfigInvalid | ConfigFile.ConfigFileInvalid, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const environment = yield* fromEnvironment
    if (configFile === undefined) return { tunables: environment, source: "environment" }
    const overrides = yield* ConfigFile.read(configFile)
    return { tunables: { ...environment, ...overrides }, source: `environment+${configFile}` }
  })

/** RuntimeConfig.configFile — `CONFIG_FILE`: the path of the JSON file read at start-up and on each reload. */
export const configFile: Effect.Effect<string | undefined, ConfigInvalid> = AppConfig.read(
  "CONFIG_FILE",
  Config.String("CONFIG_FILE"),
  undefined,
  (path) => (path === undefined || path.trim() !== "" ? undefined : "expected a file path")
)

const make = (loaded: Loaded, file: string | undefined) =>
  Effect.gen(function* () {
    const loadedAt = yield* Clock.currentTimeMillis
    const cell = yield* AtomicValue.make<Snapshot>({ ...loaded.tunables, version: 1, source: loaded.source, loadedAt })
    return RuntimeConfig.of({
      cell,
      configFile: file,
      current: AtomicValue.load(cell),
      currentUnsafe: () => AtomicValue.loadUnsafe(cell)
    })
  })

/** RuntimeConfig — the current snapshot of the tunables. */
export class RuntimeConfig extends Context.Service<
  RuntimeConfig,
  {
    /** RuntimeConfig.cell — the cell itself; whoever reloads stores the next snapshot here (version + 1) */
    readonly cell: AtomicValue.AtomicValue<Snapshot>
    /** RuntimeConfig.configFile — the file read over the environment (`CONFIG_FILE`), fixed for the process */
    readonly configFile: string | undefined
    /** RuntimeConfig.current — the current snapshot; never waits */
    readonly current: Effect.Effect<Snapshot>
    /** RuntimeConfig.currentUnsafe — the current snapshot, outside an Effect */
    readonly currentUnsafe: () => Snapshot
  }
>()("lifecycle/RuntimeConfig") {
  /**
   * RuntimeConfig.layerWith — version 1 from the environment and `configFile` (read with the `FileSystem` provided);
   * fails when either is invalid.
   */
  static readonly layerWith = (
    configFile: string | undefined
  ): Layer.Layer<RuntimeConfig, ConfigInvalid | ConfigFile.ConfigFileInvalid, FileSystem.FileSystem> =>
    Layer.effect(
      RuntimeConfig,
      Effect.flatMap(load(configFile), (loaded) => make(loaded, configFile))
    )
  /** RuntimeConfig.layer — version 1 from the environment and `CONFIG_FILE` (source `environment[+<file>]`). */
  static readonly layer: Layer.Layer<RuntimeConfig, ConfigInvalid | ConfigFile.ConfigFileInvalid> = Layer.unwrap(
    Effect.map(configFile, RuntimeConfig.layerWith)
  ).pipe(Layer.provide(NodeFileSystem.layer))
  /** RuntimeConfig.layerTest — the defaults with `overrides` (simulated upstreams with no failures), no file. */
  static readonly layerTest = (overrides: Partial<Tunables> = {}): Layer.Layer<RuntimeConfig> =>
    Layer.effect(RuntimeConfig, make({ tunables: { ...defaults, ...overrides }, source: "test" }, undefined))
}
