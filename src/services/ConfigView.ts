/**
 * ConfigView — the current `RuntimeConfig` snapshot as the admin server's `GET /config` shows it: JSON, with secrets
 * redacted.
 *
 * Secrets are recognized by shape, so a tunable added later is covered without a list to keep up to date:
 * - a key whose name contains `token`, `secret`, `password`, `passwd`, `credential`, `apikey`/`api_key` or
 *   `privatekey`/`private_key` (case-insensitive): its value is shown as `"[redacted]"`;
 * - a URL (any string value that parses as one) with credentials in its userinfo (`https://user:pass@host`): the
 *   userinfo is shown as `***` (`https://***@host/`), and so is the value of any query parameter whose name is secret
 *   by the rule above (`?token=***`).
 * Durations are shown as `"<n> millis"`, which `CONFIG_FILE` accepts back; `loadedAt` as an ISO 8601 string.
 */
import { Duration } from "effect"
import type { Snapshot } from "./RuntimeConfig.ts"

/** ConfigView.redacted — what a secret value is shown as. */
export const redacted = "[redacted]"

const secretName = /token|secret|passw(or)?d|credential|api[-_]?key|private[-_]?key/i

/** ConfigView.isSecretKey — a key whose value is never shown (see the module comment). */
export const isSecretKey = (key: string): boolean => secretName.test(key)

/** ConfigView.redactUrl — `text` with a URL's userinfo and secret query values replaced by `***`; other text as is. */
export const redactUrl = (text: string): string => {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || !URL.canParse(text)) return text
  const url = new URL(text)
  let changed = false
  if (url.username !== "" || url.password !== "") {
    url.username = "***"
    url.password = ""
    changed = true
  }
  for (const name of [...url.searchParams.keys()]) {
    if (isSecretKey(name)) {
      url.searchParams.set(name, "***")
      changed = true
    }
  }
  return changed ? url.toString().replace(/%2A%2A%2A/g, "***") : text
}

const show = (key: string, value: unknown): unknown => {
  if (value === undefined) return null
  if (isSecretKey(key)) return redacted
  if (Duration.isDuration(value)) return `${Duration.toMillis(value)} millis`
  if (typeof value === "string") return redactUrl(value)
  return value
}

/** ConfigView.view — the snapshot as JSON-ready data: `version`, `source`, `loadedAt`, then every tunable. */
export const view = (snapshot: Snapshot): Record<string, unknown> => {
  const { version, source, loadedAt, ...tunables } = snapshot
  const shown: Record<string, unknown> = {
    version,
    source: redactUrl(source),
    loadedAt: new Date(loadedAt).toISOString()
  }
  for (const [key, value] of Object.entries(tunables)) shown[key] = show(key, value)
  return shown
}
