/**
 * Fault suite — faults inside the process (`fault-program.ts`): a defect in a handler is that request's 500 and
 * nothing more; a defect in a member, an `uncaughtException` from a timer and an `unhandledRejection` each take the
 * graceful path — the request in flight is answered, the group drains, exit 1, the cause logged once.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { exitOf, get, killLeftovers, type LogLine, messageOf, sleep } from "../support.ts"
import { faultBundle, startFaultProgram } from "./support.ts"

afterEach(killLeftovers)
beforeAll(() => faultBundle().then(() => {}), 60_000)

/** the error lines that mention `text` (the "shutting down: <reason>" line names it too, at info level) */
const errorsMentioning = (logs: ReadonlyArray<LogLine>, text: string) =>
  logs.filter(
    (line) => line.level === "ERROR" && `${messageOf(line)} ${JSON.stringify(line.annotations)}`.includes(text)
  )

describe("fault suite: defects", () => {
  it("a defect thrown inside a handler: that request gets 500; the service keeps serving", async () => {
    const program = await startFaultProgram()
    const replies = await Promise.all([
      get(program.port, "/fault/defect"),
      get(program.port, "/api/delay/50"),
      get(program.port, "/fault/defect")
    ])
    expect(replies.map((reply) => reply.status)).toEqual([500, 200, 500])
    expect(replies[0]?.body, "the defect is not shown to the client").not.toContain("defect thrown")
    expect((await get(program.port, "/healthz")).status).toBe(200)
    expect(program.child.exitCode).toBeNull()

    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program)
    expect(exit.code, program.output()).toBe(0)
    expect(exit.at - sent).toBeLessThan(1_500)
  })

  it.each([
    { fault: "member", cause: "defect in a member" },
    { fault: "uncaught", cause: "uncaught exception from a timer" },
    { fault: "rejection", cause: "unhandled rejection" }
  ])(
    "$cause: the whole group drains (the request in flight is answered), exit 1, the cause logged once",
    async ({ fault, cause }) => {
      const program = await startFaultProgram()
      const inFlight = get(program.port, "/api/delay/700")
      await sleep(150)
      const triggered = await get(program.port, `/fault/${fault}`)
      expect(triggered.status).toBe(202)
      const answered = await inFlight
      const exit = await exitOf(program)

      expect(answered.status).toBe(200)
      expect(JSON.parse(answered.body)).toEqual({ waited: 700 })
      expect(exit.code, program.output()).toBe(1)
      expect(exit.at, "exited after the drain answered the request").toBeGreaterThan(answered.at)
      expect(errorsMentioning(program.logs, cause), program.output()).toHaveLength(1)
      expect(program.logs.some((line) => messageOf(line) === "shutdown phase drain done")).toBe(true)
    }
  )
})
