/**
 * EarlySignals — termination signals caught before the service is loaded, handed over to `Signals.layer` later.
 *
 * Loading the program (the Effect runtime, the HTTP stack) takes tens of milliseconds, or more on a busy machine. A
 * signal that arrives in that window would meet Node's default action — the process dies by the signal, with no
 * log line and no graceful exit. So the entry point (`dist/program.js`, written by `scripts/build.ts`) calls
 * `install` first, before it imports anything slow:
 * - `install` registers one `process.on` handler each for SIGINT, SIGTERM and SIGHUP that only records the signal
 *   and its arrival time (`Date.now()`). Idempotent until the take-over: a second call registers nothing more.
 * - `takeOver` (called by `Signals.layer` once its own handlers are registered, in the same synchronous step, so no
 *   signal can fall between the two) removes the early handlers and returns what they recorded, in arrival order,
 *   for the layer to deliver. It returns nothing when `install` never ran (`node src/program.ts`, tests, a library
 *   user's own program).
 * The record lives on `globalThis` under a registered symbol: the entry point and the bundle each carry a copy of
 * this module, and the two copies must see the same record. This file imports nothing, so the entry point inlines it.
 */

/** EarlySignals.Name — the signals recorded (the ones `Signals` listens to). */
export type EarlySignalName = "SIGINT" | "SIGTERM" | "SIGHUP"

/** EarlySignals.Arrival — one recorded signal and when it arrived (`Date.now()`). */
export interface EarlySignal {
  readonly signal: EarlySignalName
  readonly at: number
}

interface Record_ {
  readonly arrived: Array<EarlySignal>
  readonly handlers: Array<readonly [EarlySignalName, () => void]>
}

const key = Symbol.for("lifecycle/EarlySignals")
const names: ReadonlyArray<EarlySignalName> = ["SIGINT", "SIGTERM", "SIGHUP"]

const current = (): Record_ | undefined => (globalThis as { [key]?: Record_ })[key]

/** EarlySignals.install — starts recording SIGINT, SIGTERM and SIGHUP (see the module comment); no-op if recording. */
export const install = (): void => {
  if (current() !== undefined) return
  const record: Record_ = { arrived: [], handlers: [] }
  for (const signal of names) {
    const handler = () => void record.arrived.push({ signal, at: Date.now() })
    process.on(signal, handler)
    record.handlers.push([signal, handler])
  }
  ;(globalThis as { [key]?: Record_ })[key] = record
}

/**
 * EarlySignals.takeOver — removes the early handlers and returns the signals they recorded, oldest first; empty when
 * `install` never ran or a take-over already happened. Call it only once handlers of your own are registered.
 */
export const takeOver = (): ReadonlyArray<EarlySignal> => {
  const record = current()
  if (record === undefined) return []
  for (const [signal, handler] of record.handlers) process.off(signal, handler)
  delete (globalThis as { [key]?: Record_ })[key]
  return record.arrived
}
