/**
 * request — one HTTP/1.1 request with `node:http` on a fresh connection, for what `fetch` will not send: any method
 * (`TRACE`, `PROPFIND`), any `Host`, an `Origin`, an undecodable path. Bounded by 2 s of real time.
 */
import http from "node:http"
import { Effect } from "effect"

/** Reply — the status, headers and body of a response. */
export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** request — `method path` on 127.0.0.1:`port` with `headers` (a `host` header replaces Node's own). */
export const request = (
  port: number,
  path: string,
  options: { readonly method?: string; readonly headers?: Readonly<Record<string, string>> } = {}
) =>
  Effect.promise(
    () =>
      new Promise<Reply>((resolve, reject) => {
        const headers = options.headers ?? {}
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            path,
            method: options.method ?? "GET",
            agent: false,
            setHost: !("host" in headers),
            headers
          },
          (res) => {
            let body = ""
            res.setEncoding("utf8")
            res.on("data", (chunk: string) => {
              body += chunk
            })
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
            res.on("error", reject)
          }
        )
        req.setTimeout(2_000, () => req.destroy(new Error(`no answer to ${options.method ?? "GET"} ${path} in 2 s`)))
        req.on("error", reject)
        req.end()
      })
  )
