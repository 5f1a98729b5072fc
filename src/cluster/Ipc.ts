/**
 * Ipc — one end of the IPC channel between a cluster's primary and one worker: send a message, listen to messages.
 *
 * Behind an interface so that both sides can be tested with a channel in memory (`Ipc.pair`). The live ends are a
 * worker's own `process` (`Ipc.ofProcess`) and the primary's `cluster.Worker` (`Ipc.ofWorker`). `send` never throws:
 * a channel that is already closed (the other side exited) drops the message and `send` returns false.
 */
import type { Worker } from "node:cluster"
import { EventEmitter } from "node:events"

/** Ipc — one end of a channel. `listen` returns the function that removes the listener. */
export interface Ipc {
  readonly send: (message: unknown) => boolean
  readonly listen: (listener: (message: unknown) => void) => () => void
}

const sending =
  (send: (message: unknown) => unknown, connected: () => boolean) =>
  (message: unknown): boolean => {
    if (!connected()) return false
    try {
      send(message)
      return true
    } catch {
      return false
    }
  }

/** Ipc.ofProcess — a worker's end: its own process's channel to the primary (undefined outside a child process). */
export const ofProcess = (): Ipc | undefined => {
  const send = process.send?.bind(process)
  if (send === undefined) return undefined
  return {
    send: sending(send, () => process.connected),
    listen: (listener) => {
      process.on("message", listener)
      return () => process.off("message", listener)
    }
  }
}

/** Ipc.ofWorker — the primary's end of the channel to `worker`. */
export const ofWorker = (worker: Worker): Ipc => ({
  send: sending(
    (message) => worker.send(message as Parameters<Worker["send"]>[0]),
    () => worker.isConnected()
  ),
  listen: (listener) => {
    worker.on("message", listener)
    return () => worker.off("message", listener)
  }
})

/** Ipc.pair — two connected ends in memory, for tests; messages are delivered asynchronously, as over a pipe. */
export const pair = (): readonly [Ipc, Ipc] => {
  const a = new EventEmitter()
  const b = new EventEmitter()
  const end = (self: EventEmitter, other: EventEmitter): Ipc => ({
    send: (message) => {
      setImmediate(() => other.emit("message", structuredClone(message)))
      return true
    },
    listen: (listener) => {
      self.on("message", listener)
      return () => self.off("message", listener)
    }
  })
  return [end(a, b), end(b, a)]
}
