/**
 * RuntimeConfig reload — SIGHUP's work, deterministically: a valid file is swapped in as version + 1 with its source
 * and load time (TestClock) and the live log level follows; an invalid one (bad JSON, a bad value, an unknown key, an
 * unreadable file) is refused with a reason naming the file and the key, logged, and the snapshot stays; a request
 * keeps the snapshot it read and never waits for a reload; requests coalesce so a storm of 100 costs two reloads and
 * no fiber; a SIGHUP storm through `Signals` neither crashes the member nor grows the fibers; an invalid file at
 * start-up fails the layer naming the file and the key.
 *
 * The file system is injected (`FileSystem.makeNoop`): each test holds the file's contents in a variable and can
 * hold a read open with a `Deferred`, so "a reload is in progress" is a state the test controls, not a race.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Duration, Effect, Exit, Fiber, FileSystem, Layer, PlatformError } from "effect"
import { TestClock } from "effect/testing"
import { SignalReceived } from "../../src/Errors.ts"
import * as Logging from "../../src/Logging.ts"
import { LiveLogLevel } from "../../src/Logging.ts"
import { Signals } from "../../src/layers/Signals.ts"
import { ConfigFileInvalid } from "../../src/services/ConfigFile.ts"
import { ConfigReload } from "../../src/services/ConfigReload.ts"
import { Lifecycle } from "../../src/services/Lifecycle.ts"
import { RuntimeConfig } from "../../src/services/RuntimeConfig.ts"
import { Teardown } from "../../src/services/Teardown.ts"
import { watching } from "../support/goleak.ts"
import { captureLogs, type LogLine } from "../support/lifecycle.ts"

const path = "/etc/service/config.json"

/** a file system holding one file whose contents the test changes; a read waits while `gate` is set */
const fakeFiles = (initial: string | undefined) => {
  const state = {
    contents: initial,
    reads: 0,
    gate: undefined as Deferred.Deferred<void> | undefined,
    reading: undefined as Deferred.Deferred<void> | undefined
  }
  const fs = FileSystem.makeNoop({
    readFileString: (file) =>
      Effect.gen(function* () {
        state.reads++
        if (state.reading !== undefined) yield* Deferred.succeed(state.reading, undefined)
        if (state.gate !== undefined) yield* Deferred.await(state.gate)
        if (file !== path || state.contents === undefined) {
          return yield* PlatformError.systemError({
            _tag: "NotFound",
            module: "FileSystem",
            method: "readFileString",
            description: "No such file or directory",
            pathOrDescriptor: file
          })
        }
        return state.contents
      })
  })
  return { state, layer: Layer.succeed(FileSystem.FileSystem, fs) }
}

const environment = (vars: Record<string, string> = {}) => ConfigProvider.layer(ConfigProvider.fromEnv({ env: vars }))

/** the signal listener's test layer (signals arrive through `emit`) with its lifecycle */
const signals = Signals.layerTest.pipe(Layer.provide(Teardown.layerTest), Layer.provideMerge(Lifecycle.layerTest))

/** RuntimeConfig from `path` + ConfigReload + a live log level, over `files`, with every log line in `lines` */
const reloadable = (files: ReturnType<typeof fakeFiles>, lines: Array<LogLine> = [], env = environment()) =>
  Layer.merge(
    ConfigReload.layerWith.pipe(
      Layer.provideMerge(RuntimeConfig.layerWith(path)),
      Layer.provideMerge(Logging.make("json", "Info")),
      Layer.provide(files.layer),
      Layer.provide(env)
    ),
    captureLogs(lines) // after Logging's logger: it replaces it
  )

describe("RuntimeConfig reload", () => {
  it.effect("a valid file becomes version 2 with its source and load time; the live log level follows", () => {
    const files = fakeFiles(JSON.stringify({ aggregateConcurrency: 8 }))
    const lines: Array<LogLine> = []
    return Effect.gen(function* () {
      const config = yield* RuntimeConfig
      const first = yield* config.current
      expect(first).toMatchObject({ version: 1, aggregateConcurrency: 8, source: `environment+${path}` })
      files.state.contents = JSON.stringify({ logLevel: "debug", simulatedLatency: "20 millis", upstreamUrl: null })
      yield* TestClock.adjust("1 minute")
      const next = yield* (yield* ConfigReload).reload
      expect(next).toMatchObject({
        version: 2,
        source: `environment+${path}`,
        loadedAt: first.loadedAt + 60_000,
        aggregateConcurrency: 3, // the file no longer sets it: the environment's value
        logLevel: "Debug",
        upstreamUrl: undefined
      })
      expect(Duration.toMillis(next.simulatedLatency)).toBe(20)
      expect(yield* config.current).toBe(next)
      expect((yield* LiveLogLevel).current()).toBe("Debug")
      const logged = lines.find((line) => line.message === "configuration reloaded")
      expect(logged?.annotations).toMatchObject({
        version: 2,
        changed: "aggregateConcurrency,simulatedLatency,logLevel"
      })
    }).pipe(Effect.provide(reloadable(files, lines, environment({ AGGREGATE_CONCURRENCY: "3" }))))
  })

  it.effect.each([
    ["not JSON", "{ aggregateConcurrency: 2", undefined, "not JSON"],
    ["a value out of range", '{"aggregateConcurrency":0}', "aggregateConcurrency", "greater than or equal to 1"],
    ["a value of the wrong type", '{"simulatedFailureRate":"high"}', "simulatedFailureRate", "Expected"],
    ["a bad URL", '{"upstreamUrl":"ftp://upstream"}', "upstreamUrl", "http:// or https://"],
    ["a bad duration", '{"simulatedLatency":"soon"}', "simulatedLatency", "duration"],
    ["an unknown key", '{"aggregateConcurency":2}', "aggregateConcurency", "unknown key"],
    ["not an object", "[1]", undefined, "Expected"],
    ["an unreadable file", undefined, undefined, "cannot read"]
  ] as const)("%s is refused, logged with the file and the key, and the snapshot stays", ([, text, key, reason]) => {
    const files = fakeFiles("{}")
    const lines: Array<LogLine> = []
    return Effect.gen(function* () {
      const config = yield* RuntimeConfig
      const before = yield* config.current
      files.state.contents = text
      const error = yield* Effect.flip((yield* ConfigReload).reload)
      expect(error).toBeInstanceOf(ConfigFileInvalid)
      expect(error).toMatchObject({ file: path, key })
      expect(error.message).toContain(reason)
      expect(yield* config.current).toBe(before)
      const logged = lines.find((line) => line.message.startsWith("configuration reload failed"))
      expect(logged?.level).toBe("Error")
      expect(logged?.message).toContain(`invalid configuration file ${path}: ${key === undefined ? "" : `${key}: `}`)
      expect(logged?.annotations).toMatchObject({ version: 1, kept: true })
    }).pipe(Effect.provide(reloadable(files, lines)))
  })

  it.effect("a request keeps the snapshot it read, and reading never waits for a reload in progress", () => {
    const files = fakeFiles(JSON.stringify({ aggregateConcurrency: 2 }))
    return Effect.gen(function* () {
      const config = yield* RuntimeConfig
      const reload = yield* ConfigReload
      const started = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const request = yield* Effect.forkChild(
        Effect.gen(function* () {
          const snapshot = yield* config.current
          yield* Deferred.succeed(started, undefined)
          yield* Deferred.await(finish)
          return [snapshot.version, snapshot.aggregateConcurrency]
        })
      )
      yield* Deferred.await(started)

      // a reload held open inside its file read
      files.state.contents = JSON.stringify({ aggregateConcurrency: 7 })
      files.state.gate = yield* Deferred.make<void>()
      files.state.reading = yield* Deferred.make<void>()
      const reloading = yield* Effect.forkChild(reload.reload)
      yield* Deferred.await(files.state.reading)
      // runSync throws if the effect suspends: reading the snapshot completes in one step, reload or not
      expect(Effect.runSync(config.current).version).toBe(1)
      expect(config.currentUnsafe().aggregateConcurrency).toBe(2)

      yield* Deferred.succeed(files.state.gate, undefined)
      expect((yield* Fiber.join(reloading)).version).toBe(2)
      yield* Deferred.succeed(finish, undefined)
      expect(yield* Fiber.join(request)).toEqual([1, 2])
      expect(Effect.runSync(config.current)).toMatchObject({ version: 2, aggregateConcurrency: 7 })
    }).pipe(Effect.provide(reloadable(files)))
  })

  it.effect("100 requests during a reload coalesce into one more reload, with no fiber left behind", () => {
    const files = fakeFiles("{}")
    return watching((watch) =>
      Effect.gen(function* () {
        const config = yield* RuntimeConfig
        const reload = yield* ConfigReload
        const before = watch.running().length
        files.state.gate = yield* Deferred.make<void>()
        files.state.reading = yield* Deferred.make<void>()
        yield* reload.request
        yield* Deferred.await(files.state.reading)
        for (let i = 0; i < 100; i++) yield* reload.request // each returns at once: none waits for the reload
        expect(watch.running().length).toBe(before)
        yield* Deferred.succeed(files.state.gate, undefined)
        for (let i = 0; i < 100 && config.currentUnsafe().version < 3; i++) yield* Effect.yieldNow
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        expect([files.state.reads, config.currentUnsafe().version]).toEqual([3, 3]) // start-up, the reload, one more
        expect(watch.running().length).toBe(before)
        // the reload loop still serves
        yield* reload.request
        for (let i = 0; i < 100 && config.currentUnsafe().version < 4; i++) yield* Effect.yieldNow
        expect(config.currentUnsafe().version).toBe(4)
      }).pipe(Effect.provide(reloadable(files)))
    )
  })

  it.effect("a SIGHUP storm (100 in 1 s) during a slow reload: no crash, no fiber growth, two reloads in all", () => {
    const files = fakeFiles("{}")
    return watching((watch) =>
      Effect.gen(function* () {
        const config = yield* RuntimeConfig
        const member = yield* Effect.forkChild(Signals.member, { startImmediately: true })
        yield* Effect.yieldNow
        const before = watch.running().length
        files.state.gate = yield* Deferred.make<void>() // the first reload's read hangs through the storm
        for (let i = 0; i < 100; i++) {
          yield* (yield* Signals).emit("SIGHUP")
          yield* TestClock.adjust("10 millis")
        }
        expect(member.pollUnsafe()).toBeUndefined()
        expect(watch.running().length).toBe(before) // the hung read is the reload loop's own fiber: nothing added
        yield* Deferred.succeed(files.state.gate, undefined)
        for (let i = 0; i < 100 && config.currentUnsafe().version < 3; i++) yield* Effect.yieldNow
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        expect([files.state.reads, config.currentUnsafe().version]).toEqual([3, 3]) // start-up, the reload, one more
        expect(watch.running().length).toBe(before)
        yield* (yield* Signals).emit("SIGTERM")
        expect(yield* Fiber.await(member)).toStrictEqual(Exit.fail(new SignalReceived({ signal: "SIGTERM" })))
      }).pipe(Effect.provide(Layer.mergeAll(reloadable(files), signals)))
    )
  })

  it.effect("the second of two SIGHUPs 10 ms apart is not lost: the file as edited between them is applied", () => {
    const files = fakeFiles(JSON.stringify({ aggregateConcurrency: 1 }))
    return Effect.gen(function* () {
      const config = yield* RuntimeConfig
      yield* Effect.forkChild(Signals.member, { startImmediately: true })
      files.state.contents = JSON.stringify({ aggregateConcurrency: 2 })
      yield* (yield* Signals).emit("SIGHUP")
      yield* TestClock.adjust("10 millis")
      files.state.contents = JSON.stringify({ aggregateConcurrency: 3 })
      yield* (yield* Signals).emit("SIGHUP")
      for (let i = 0; i < 100 && config.currentUnsafe().aggregateConcurrency !== 3; i++) yield* Effect.yieldNow
      expect(config.currentUnsafe()).toMatchObject({ aggregateConcurrency: 3 })
    }).pipe(Effect.provide(Layer.mergeAll(reloadable(files), signals)))
  })

  it.effect("a reload stuck in its file read never delays the next SIGTERM", () => {
    const files = fakeFiles("{}")
    return Effect.gen(function* () {
      const member = yield* Effect.forkChild(Signals.member, { startImmediately: true })
      files.state.gate = yield* Deferred.make<void>() // never opened
      files.state.reading = yield* Deferred.make<void>()
      yield* (yield* Signals).emit("SIGHUP")
      yield* Deferred.await(files.state.reading)
      yield* TestClock.adjust("1 second")
      yield* (yield* Signals).emit("SIGTERM")
      expect(yield* Fiber.await(member)).toStrictEqual(Exit.fail(new SignalReceived({ signal: "SIGTERM" })))
      expect((yield* RuntimeConfig).currentUnsafe().version).toBe(1)
    }).pipe(Effect.provide(Layer.mergeAll(reloadable(files), signals)))
  })

  it.effect("an invalid file at start-up fails the layer naming the file and the key", () => {
    const files = fakeFiles('{"simulatedFailureRate":1.5}')
    return Effect.gen(function* () {
      const error = yield* Effect.flip(Layer.build(RuntimeConfig.layerWith(path)).pipe(Effect.provide(files.layer)))
      expect(error).toBeInstanceOf(ConfigFileInvalid)
      expect(error.message).toBe(
        `invalid configuration file ${path}: simulatedFailureRate: Expected a value between 0 and 1, got 1.5`
      )
    }).pipe(Effect.provide(environment()))
  })
})
