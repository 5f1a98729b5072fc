/**
 * ConfigReload — SIGHUP's work: read the environment and `CONFIG_FILE` again, validate, and swap the next
 * `RuntimeConfig` snapshot in (Go's copy-on-write configuration: build beside, store in one step).
 *
 * Guarantees:
 * - readers never wait: a reload builds the next snapshot beside the current one and stores it with one
 *   `AtomicValue.update`; a request that read a snapshot keeps it to the end, whatever is stored meanwhile;
 * - a successful reload stores `version + 1` with its `source` and `loadedAt`, logs the keys that changed, then
 *   sets the live log level (`Logging.setLevel`);
 * - an invalid source (unreadable file, not JSON, a wrong value, an invalid variable) is logged with the reason — the
 *   file, the key — and the current snapshot stays, version unchanged;
 * - reloads are serialized: one at a time, in order (a semaphore of one around `reload`);
 * - `request` never waits and never piles up: it is Go's `select { case reload <- struct{}{}: default: }` on a
 *   channel of capacity one, served by one fiber. Requests made while a reload runs coalesce into one more reload,
 *   which reads the file as it is then. A storm of SIGHUPs costs at most two reloads and no fiber.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { ConfigProvider, Context, Duration, Effect, FileSystem, Layer, Queue, Semaphore } from "effect"
import type { ConfigInvalid } from "../Errors.ts"
import * as Logging from "../Logging.ts"
import * as AtomicValue from "../toolkit/AtomicValue.ts"
import type { ConfigFileInvalid } from "./ConfigFile.ts"
import { load, RuntimeConfig, type Snapshot, type Tunables } from "./RuntimeConfig.ts"

/** ConfigReload.changedKeys — the tunables that differ between two snapshots. */
export const changedKeys = (before: Tunables, after: Tunables): ReadonlyArray<keyof Tunables> =>
  (Object.keys(after) as Array<keyof Tunables>).filter((key) => {
    const [a, b] = [before[key], after[key]]
    return Duration.isDuration(a) && Duration.isDuration(b) ? !Duration.equals(a, b) : a !== b
  })

const make = Effect.gen(function* () {
  const config = yield* RuntimeConfig
  // the sources as the layer was built with them, whichever fiber asks for a reload
  const fs = yield* FileSystem.FileSystem
  const provider = yield* ConfigProvider.ConfigProvider
  const permit = yield* Semaphore.make(1)

  const attempt = Effect.gen(function* () {
    const before = yield* config.current
    const loaded = yield* load(config.configFile)
    const loadedAt = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const next = yield* AtomicValue.update(
      config.cell,
      (current): Snapshot => ({ ...loaded.tunables, version: current.version + 1, source: loaded.source, loadedAt })
    )
    // logged before the level changes, so that a reload to a higher level is still seen
    yield* Effect.logInfo("configuration reloaded").pipe(
      Effect.annotateLogs({
        version: next.version,
        source: next.source,
        changed: changedKeys(before, loaded.tunables).join(",")
      })
    )
    yield* Logging.setLevel(next.logLevel)
    return next
  }).pipe(
    Effect.tapError((error) =>
      Effect.flatMap(config.current, (kept) =>
        Effect.logError(`configuration reload failed: ${error.message}`).pipe(
          Effect.annotateLogs({ version: kept.version, kept: true })
        )
      )
    ),
    Effect.provideService(FileSystem.FileSystem, fs),
    Effect.provideService(ConfigProvider.ConfigProvider, provider),
    Effect.withSpan("ConfigReload.reload")
  )
  const reload = Semaphore.withPermits(permit, 1)(attempt)

  const pending = yield* Queue.dropping<void>(1)
  yield* Queue.take(pending).pipe(
    Effect.andThen(Effect.ignore(reload)),
    Effect.forever,
    Effect.forkScoped({ startImmediately: true })
  )
  // a level set by the file at start-up takes effect now
  yield* Logging.setLevel((yield* config.current).logLevel)

  return ConfigReload.of({ reload, request: Effect.asVoid(Queue.offer(pending, undefined)) })
})

/** ConfigReload — reloads `RuntimeConfig` from its sources; see the module comment. */
export class ConfigReload extends Context.Service<
  ConfigReload,
  {
    /**
     * ConfigReload.reload — one reload now, after any running one: the stored snapshot, or the reason it was
     * refused (logged, the current snapshot kept).
     */
    readonly reload: Effect.Effect<Snapshot, ConfigInvalid | ConfigFileInvalid>
    /** ConfigReload.request — asks for a reload and returns at once; requests during a reload coalesce into one. */
    readonly request: Effect.Effect<void>
  }
>()("lifecycle/ConfigReload") {
  /** ConfigReload.layerWith — reloads with the `FileSystem` provided (tests inject one). */
  static readonly layerWith: Layer.Layer<ConfigReload, never, RuntimeConfig | FileSystem.FileSystem> = Layer.effect(
    ConfigReload,
    make
  )
  /** ConfigReload.layer — reloads from the real file system. */
  static readonly layer: Layer.Layer<ConfigReload, never, RuntimeConfig> = ConfigReload.layerWith.pipe(
    Layer.provide(NodeFileSystem.layer)
  )
}
