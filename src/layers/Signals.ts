/**
 * Signals — the process signals the service reacts to, behind a service so tests can deliver them.
 *
 * `layer` registers `process.on` handlers for SIGINT, SIGTERM and SIGHUP when it is built and removes exactly those
 * handlers when it is released: the process listener counts are back to what they were. While a handler is
 * registered Node no longer applies its default action (exit), so the service decides what a signal means.
 * `layerTest` registers nothing: a test delivers a signal with `Signals.emit`, like oklog/run's injected signal
 * channel.
 *
 * Signals that arrived before the layer was built — while the program was still loading — are not lost: the entry
 * point records them from its first moment (`EarlySignals.install`), and `layer`, once its own handlers are in place,
 * removes the early handlers and delivers what they recorded, in arrival order and with their arrival times (so the
 * duplicate window below applies to them as to any other), each with a log line `received SIGTERM while starting`.
 *
 * Received signals queue up in arrival order (unbounded, nothing is dropped) and are taken with `next` — except a
 * termination signal that arrives once the service is already stopping (a second SIGINT/SIGTERM, or the first one
 * after `POST /shutdown` or a failure began the shutdown): that one ends the process at once through
 * `Teardown.force` (exit 2, one log line). A SIGHUP during shutdown is logged and ignored.
 *
 * One press of Ctrl-C can arrive twice: the terminal sends SIGINT to the whole foreground process group, and a
 * parent in it (`npm start`, `tsx`) forwards its own copy, milliseconds apart. So a signal that repeats the one before
 * it within `duplicateWindow` (300 ms, on Effect's `Clock`) is the same delivery: logged at debug level, not counted.
 * A human's second Ctrl-C comes later than that. Only termination signals are merged so: each SIGHUP may follow an
 * edit of the configuration file, and dropping one would leave the edit unread (`ConfigReload` coalesces them).
 */
import { Clock, Context, Duration, Effect, Layer, Queue } from "effect"
import * as EarlySignals from "../EarlySignals.ts"
import { SignalReceived } from "../Errors.ts"
import { ConfigReload } from "../services/ConfigReload.ts"
import { Lifecycle } from "../services/Lifecycle.ts"
import { Teardown } from "../services/Teardown.ts"

/** Signals.Name — the signals this service listens to. */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP"

/** Signals.names — registered in this order. */
export const names: ReadonlyArray<SignalName> = ["SIGINT", "SIGTERM", "SIGHUP"]

/** Signals.duplicateWindow — a repeat of the same signal within this time is one delivery (see the module comment). */
export const duplicateWindow = Duration.millis(300)

/** Signals.isTermination — SIGINT and SIGTERM ask the service to stop; SIGHUP does not. */
export const isTermination = (signal: SignalName): boolean => signal !== "SIGHUP"

const make = (register: boolean) =>
  Effect.gen(function* () {
    const teardown = yield* Teardown
    const lifecycle = yield* Lifecycle.current
    const queue = yield* Queue.unbounded<SignalName>()
    let terminations = 0
    let previous: { readonly signal: SignalName; readonly at: number } | undefined
    /** `signal`, received at `now` (epoch millis); only termination signals merge (a SIGHUP may follow an edit) */
    const deliverAt = (signal: SignalName, now: number) => {
      const repeat =
        isTermination(signal) &&
        previous !== undefined &&
        previous.signal === signal &&
        now - previous.at < Duration.toMillis(duplicateWindow)
      if (isTermination(signal)) previous = { signal, at: now }
      if (repeat)
        return Effect.logDebug(`received ${signal} again within ${Duration.format(duplicateWindow)}: one delivery`)
      const stopping = lifecycle.phase() === "stopping"
      if (isTermination(signal) && (terminations++ > 0 || stopping)) {
        return teardown.force(`received ${signal} during shutdown: forcing exit`)
      }
      if (stopping) return Effect.logInfo(`received ${signal} during shutdown: ignored`)
      return Queue.offer(queue, signal).pipe(Effect.asVoid)
    }
    const deliver = (signal: SignalName) => Effect.flatMap(Clock.currentTimeMillis, (now) => deliverAt(signal, now))
    if (register) {
      const run = Effect.runForkWith(yield* Effect.context<never>())
      const registered = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const handlers = names.map((name) => {
            const handler = () => void run(deliver(name))
            process.on(name, handler)
            return [name, handler] as const
          })
          // in the same synchronous step: no signal can arrive between the early handlers and ours
          return { handlers, early: EarlySignals.takeOver() }
        }),
        ({ handlers }) =>
          Effect.sync(() => {
            for (const [name, handler] of handlers) process.off(name, handler)
          })
      )
      for (const { signal, at } of registered.early) {
        yield* Effect.logInfo(`received ${signal} while starting`).pipe(Effect.annotateLogs({ signal, at }))
        yield* deliverAt(signal, at)
      }
    }
    return Signals.of({ next: Queue.take(queue), emit: deliver })
  })

/** Signals — the signals delivered to this process. */
export class Signals extends Context.Service<
  Signals,
  {
    /** Signals.next — waits for the next received signal (in arrival order). */
    readonly next: Effect.Effect<SignalName>
    /** Signals.emit — delivers a signal as if the process had received it (a late termination forces exit). */
    readonly emit: (signal: SignalName) => Effect.Effect<void>
  }
>()("lifecycle/Signals") {
  /** Signals.layer — listens to the real process signals while the layer is alive. */
  static readonly layer: Layer.Layer<Signals, never, Teardown> = Layer.effect(Signals, make(true))
  /** Signals.layerTest — no process handlers; signals arrive only through `emit`. */
  static readonly layerTest: Layer.Layer<Signals, never, Teardown> = Layer.effect(Signals, make(false))

  /**
   * Signals.member — the signal listener's part in the group: fails with `SignalReceived` on the first SIGINT or
   * SIGTERM. SIGHUP never stops the service: it is logged and, when a `ConfigReload` is provided, asks it for a
   * reload without waiting for it (a slow reload never delays the next signal).
   */
  static readonly member: Effect.Effect<never, SignalReceived, Signals> = Signals.use((signals) =>
    Effect.gen(function* () {
      while (true) {
        const signal = yield* signals.next
        if (isTermination(signal)) return yield* new SignalReceived({ signal })
        const reload = yield* Effect.serviceOption(ConfigReload)
        if (reload._tag === "None") yield* Effect.logInfo(`received ${signal}: nothing to reload yet`)
        else yield* Effect.andThen(Effect.logInfo(`received ${signal}: reloading configuration`), reload.value.request)
      }
    })
  )
}
