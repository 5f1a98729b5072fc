/**
 * AccessLog — one log line per request answered (Info level, message `GET /path 200`), rate-limited per server.
 *
 * Each line carries as annotations the server, method, path, route pattern, status and duration (`millis`). The path
 * is the request target without its query string (queries carry secrets: `?access_token=…`), cut at 200 characters,
 * so a line's size does not grow with what clients send.
 *
 * Policy: at most `perSecond` lines per server per second of wall-clock time (`ACCESS_LOG`, default 100; `off`: no
 * line). Past the limit lines are dropped, not delayed; the next line written carries `dropped: N`, the number dropped
 * since the line before it. Counting is not sampled: `http_requests_total` counts every request, logged or not.
 * A limit rather than sampling keeps every request of a quiet service (where each one matters to whoever reads the
 * log) and bounds the cost under a flood, at one comparison per request beyond the limit.
 */
import { Effect } from "effect"

/** AccessLog.maxPathLength — the longest path written; longer ones are cut and end with `…`. */
export const maxPathLength = 200

/** AccessLog.pathOf — a request target's path without its query, cut at `maxPathLength`. */
export const pathOf = (url: string): string => {
  const query = url.indexOf("?")
  const path = query === -1 ? url : url.slice(0, query)
  return path.length > maxPathLength ? `${path.slice(0, maxPathLength)}…` : path
}

/** AccessLog.Entry — what one line says about a request. */
export interface Entry {
  readonly method: string
  readonly url: string
  readonly route: string
  readonly status: number
  readonly seconds: number
}

/**
 * AccessLog.make — the access log of `server`: `write(entry)` is the line to log, or `undefined` when the line is
 * dropped (over `perSecond` this second) or the log is off (`perSecond` 0). `now` is the clock (ms).
 */
export const make = (server: string, perSecond: number, now: () => number = Date.now) => {
  let window = -1
  let written = 0
  let dropped = 0
  return (entry: Entry): Effect.Effect<void> | undefined => {
    if (perSecond <= 0) return undefined
    const second = Math.floor(now() / 1000)
    if (second !== window) {
      window = second
      written = 0
    }
    if (written >= perSecond) {
      dropped++
      return undefined
    }
    written++
    const path = pathOf(entry.url)
    const method = entry.method.length > 16 ? `${entry.method.slice(0, 16)}…` : entry.method
    const annotations: Record<string, unknown> = {
      server,
      method,
      path,
      route: entry.route,
      status: entry.status,
      millis: Math.round(entry.seconds * 1e4) / 10
    }
    if (dropped > 0) {
      annotations.dropped = dropped
      dropped = 0
    }
    return Effect.logInfo(`${method} ${path} ${entry.status}`).pipe(Effect.annotateLogs(annotations))
  }
}
