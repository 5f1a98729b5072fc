/**
 * ConfigView — what `GET /config` shows: version, source, load time and every tunable, with secrets redacted by shape
 * (secret key names, URL credentials, secret query parameters) and nothing else changed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import { isSecretKey, redacted, redactUrl, view } from "../../src/services/ConfigView.ts"
import { defaults, type Snapshot } from "../../src/services/RuntimeConfig.ts"

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  ...defaults,
  version: 3,
  source: "environment+/etc/app.json",
  loadedAt: Date.UTC(2026, 10, 29, 20, 0, 0),
  ...overrides
})

describe("ConfigView", () => {
  it("shows version, source, an ISO load time and every tunable; durations as '<n> millis'", () => {
    expect(view(snapshot({ simulatedLatency: Duration.seconds(1.5) }))).toEqual({
      version: 3,
      source: "environment+/etc/app.json",
      loadedAt: "2026-11-29T20:00:00.000Z",
      upstreamUrl: null,
      aggregateConcurrency: 4,
      simulatedLatency: "1500 millis",
      simulatedFailureRate: 0,
      logLevel: "Info"
    })
  })

  it.each([
    ["http://upstream:9000/api", "http://upstream:9000/api"],
    ["https://bob:hunter2@upstream/api", "https://***@upstream/api"],
    ["https://tok3n@upstream/", "https://***@upstream/"],
    ["http://upstream/x?token=abc&page=2", "http://upstream/x?token=***&page=2"],
    ["http://upstream/x?API_KEY=abc", "http://upstream/x?API_KEY=***"],
    ["environment", "environment"]
  ])("redactUrl(%s) = %s", (input, shown) => {
    expect(redactUrl(input)).toBe(shown)
  })

  it("hides the value of any key named like a secret, whatever tunable is added later", () => {
    const shown = view({ ...snapshot(), upstreamToken: "abc", dbPassword: "x" } as Snapshot)
    expect([shown.upstreamToken, shown.dbPassword]).toEqual([redacted, redacted])
    expect(view(snapshot({ upstreamUrl: "https://u:p@h/" })).upstreamUrl).toBe("https://***@h/")
    expect(["ADMIN_TOKEN", "clientSecret", "api_key", "privateKey"].every(isSecretKey)).toBe(true)
    expect(["upstreamUrl", "logLevel", "aggregateConcurrency"].some(isSecretKey)).toBe(false)
  })
})
