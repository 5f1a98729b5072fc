/**
 * request-server — an Effect HTTP app behind platform-node's own request handler (`NodeHttpServer.makeHandler`, the
 * path every `GracefulHttpServer` request takes) on a plain `node:http` server on 127.0.0.1:0, for tests of what
 * runs inside a request. The server (and every connection) closes with the test's scope; log lines are kept as JSON.
 */

import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Logger, Scope } from "effect"
import type { HttpServerResponse } from "effect/http"
import { within } from "./http-client.ts"

/** LogLine — one JSON log line written while handling requests. */
export interface LogLine {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
  readonly cause?: string
}

/**
 * listenScoped — `server` listening on 127.0.0.1 at a free port (returned) until the scope closes, which closes it
 * and its connections (bounded by 2 s, `label` naming the wait).
 */
export const listenScoped = (server: http.Server, label: string) =>
  Effect.gen(function* () {
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        }).pipe(within(2_000, label), Effect.ignore)
    )
    return (server.address() as AddressInfo).port
  })

/** serve — `app` behind a `node:http` server on 127.0.0.1:0, closed (connections too) with the scope; logs kept. */
export const serve = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function* () {
    const logs: Array<LogLine> = []
    const logger = Logger.map(Logger.formatJson, (line) => void logs.push(JSON.parse(line)))
    const scope = yield* Effect.scope
    const requests = yield* Scope.fork(scope, "parallel")
    const handler = yield* NodeHttpServer.makeHandler(app, { scope: requests }).pipe(
      Effect.provide(Logger.layer([logger]))
    )
    const server = http.createServer(handler)
    const port = yield* listenScoped(server, "server close")
    return { port, logs, url: (path: string) => `http://127.0.0.1:${port}${path}` }
  })
