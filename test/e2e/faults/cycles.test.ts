/**
 * Fault suite — 200 start/stop cycles of the reference service's layer graph in one process (the program's layers
 * as in `src/program.ts`: API and admin servers on real loopback ports, the real signal handlers, the process-fault
 * handlers). Each cycle serves one request on each server, then a SIGTERM (delivered through `Signals`) stops the
 * group. After the cycles, the process listeners, Node's active handles and the live fibers (every fiber the cycles
 * ran, at any depth: `verifyNone`) are back to their starting counts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Logger } from "effect"
import * as Group from "../../../src/Group.ts"
import { AdminServer } from "../../../src/layers/AdminServer.ts"
import { ApiServer } from "../../../src/layers/ApiServer.ts"
import { ProcessFaults } from "../../../src/layers/ProcessFaults.ts"
import { Signals } from "../../../src/layers/Signals.ts"
import { AppConfig } from "../../../src/services/AppConfig.ts"
import { Lifecycle } from "../../../src/services/Lifecycle.ts"
import { Teardown } from "../../../src/services/Teardown.ts"
import { verifyNone } from "../../support/goleak.ts"
import { listenerCounts } from "../../support/leaks.ts"
import { get } from "../support.ts"

const cycles = Number(process.env.FAULT_CYCLES ?? 200)

/** Node's active resources by type (`TCPServerWrap`, `TCPSocketWrap`, `Timeout`, …), as counts */
const handles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

/** the program's layers (as `src/program.ts`) on free loopback ports, with a fresh lifecycle and a test teardown */
const programLayers = ApiServer.layer.pipe(
  Layer.merge(AdminServer.layer),
  Layer.merge(ProcessFaults.layer),
  Layer.provideMerge(
    Layer.mergeAll(
      Signals.layer,
      AppConfig.layerTest({ host: "127.0.0.1", port: 0, adminHost: "127.0.0.1", adminPort: 0 })
    )
  ),
  Layer.provideMerge(Layer.merge(Teardown.layerTest, Lifecycle.layerTest))
)

/** one cycle: build, serve a request on each server, SIGTERM, drain, release; the group's exit code */
const cycle = Effect.gen(function* () {
  const group = yield* Effect.forkChild(
    Group.run({
      signals: Signals.member,
      api: ApiServer.member,
      admin: AdminServer.member,
      faults: ProcessFaults.member
    })
  )
  const api = yield* ApiServer
  const admin = yield* AdminServer
  const replies = yield* Effect.promise(() =>
    Promise.all([get(api.address.port, "/api/delay/1"), get(admin.address.port, "/readyz")])
  )
  expect(replies.map((reply) => reply.status)).toEqual([200, 200])
  yield* (yield* Signals).emit("SIGTERM")
  return yield* Fiber.join(group)
}).pipe(Effect.provide(programLayers))

describe("fault suite: start/stop cycles", () => {
  it.live(
    `${cycles} start/stop cycles of the layer graph leave listeners, handles and fibers as they were`,
    () =>
      Effect.gen(function* () {
        // one warm-up cycle: Node creates some handles once per process (e.g. its DNS/TCP machinery)
        yield* cycle
        yield* Effect.sleep(Duration.millis(50))
        const listenersBefore = listenerCounts()
        const handlesBefore = handles()
        const codes = yield* verifyNone(Effect.forEach(Array.from({ length: cycles }), () => cycle))
        yield* Effect.sleep(Duration.millis(100)) // closed sockets leave Node's list on the next turns of the loop
        expect(codes.every((stop) => stop.exitCode === 0)).toBe(true)
        expect(listenerCounts()).toEqual(listenersBefore)
        expect(handles()).toEqual(handlesBefore)
      }).pipe(Effect.provide(Logger.layer([]))),
    120_000
  )
})
