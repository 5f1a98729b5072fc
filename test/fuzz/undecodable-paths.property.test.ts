/**
 * Fuzzing: undecodable paths (issue #8: every request answered, counted and logged, "undecodable paths like `/%ZZ`").
 *
 * A path holding a percent-sequence that does not decode (`%ZZ`, a lone `%C3`, `%FF`, a bare `%`) fails the router's
 * own lookup before any route runs; it used to be answered 404 with an empty body, uncounted. Property: a 4xx with a
 * message, never a 5xx, for any such path, on a known route's prefix or not.
 */
import { describe, it } from "@effect/vitest"
import fc from "fast-check"
import { exchange, runs, undecodablePath, useApiServer, wellBehaved } from "./server.ts"

useApiServer()

describe("fuzz: undecodable paths", () => {
  it("any undecodable path: a 4xx with a message, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/", "/api/delay/", "/healthz/"), undecodablePath, async (prefix, path) => {
        wellBehaved(await exchange(`${prefix}${path}`), `${prefix}${path}`)
      }),
      runs
    )
  })
})
