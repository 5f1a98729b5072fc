/**
 * atomics-worker — a `worker_threads` script for test/MemoryModel.test.ts: real parallelism on shared memory.
 *
 * The test starts it with `workerData: Job`. Every job shares one `SharedArrayBuffer`, seen as an `Int32Array` whose
 * cells are laid out by `Slot`. Jobs:
 * - `"add"`   — wait at the start barrier, then `Atomics.add(counter, 1)` `iterations` times;
 * - `"plain"` — wait at the start barrier, then `view[counter]++` `iterations` times: a plain read and a plain write
 *               of shared memory, racing with the other worker;
 * - `"publish"` — plain writes of `first` into the data cells, then `Atomics.store(flag, 1)` + `Atomics.notify`; then
 *               plain writes of `second` into the cells after them, then `postMessage`. The main thread must see
 *               each batch once it has crossed the matching edge (flag load, message receipt).
 * Each job ends with `postMessage("done")`.
 *
 * Start barrier: a worker counts itself in `ready` (Atomics.add + notify) and blocks in `Atomics.wait` until the
 * main thread stores 1 into `go`; then it counts itself in `running` and spins until the other one does too — so
 * both enter their loops at the same moment and truly overlap (waking from `Atomics.wait` alone can take longer than
 * a whole loop).
 * Erasable TypeScript only: Node runs it directly (type stripping), outside vitest's transform.
 */
import { parentPort, workerData } from "node:worker_threads"

/** Slot — the index of each Int32 cell in the shared buffer. */
export const Slot = { counter: 0, ready: 1, go: 2, running: 3, flag: 4, data: 5 } as const

export interface Job {
  readonly kind: "atomics-worker"
  readonly mode: "add" | "plain" | "publish"
  readonly shared: SharedArrayBuffer
  readonly iterations: number
  readonly first: ReadonlyArray<number>
  readonly second: ReadonlyArray<number>
}

const barrier = (view: Int32Array): void => {
  Atomics.add(view, Slot.ready, 1)
  Atomics.notify(view, Slot.ready)
  Atomics.wait(view, Slot.go, 0) // returns at once ("not-equal") if the main thread already said go
  // the two threads wake at different moments; spin (briefly) until both run, so that their loops overlap
  Atomics.add(view, Slot.running, 1)
  while (Atomics.load(view, Slot.running) < 2) {}
}

const run = (job: Job): void => {
  const view = new Int32Array(job.shared)
  switch (job.mode) {
    case "add":
      barrier(view)
      for (let i = 0; i < job.iterations; i++) Atomics.add(view, Slot.counter, 1)
      break
    case "plain":
      barrier(view)
      for (let i = 0; i < job.iterations; i++) view[Slot.counter] = view[Slot.counter]! + 1 // read, then write
      break
    case "publish":
      job.first.forEach((value, i) => {
        view[Slot.data + i] = value // plain writes…
      })
      Atomics.store(view, Slot.flag, 1) // …published by a sequentially consistent store: synchronizes-with its load
      Atomics.notify(view, Slot.flag)
      job.second.forEach((value, i) => {
        view[Slot.data + job.first.length + i] = value // plain writes published by the message below
      })
      break
  }
  parentPort?.postMessage("done")
}

const job = workerData as Job | undefined
if (parentPort !== null && job?.kind === "atomics-worker") run(job)
