/**
 * Baseline server for the benchmark: raw `node:http`, same routes as the
 * program, with the *conventional* shutdown (`server.close` then exit).
 * That conventional close is what loses requests — it is the point of it.
 */
import http from "node:http"

const port = Number(process.env.PORT ?? 3000)
const host = "127.0.0.1"
const delayRoute = /^\/api\/delay\/(\d+)$/

const server = http.createServer((req, res) => {
  const url = req.url ?? "/"
  if (req.method === "GET" && url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" })
    res.end("ok")
    return
  }
  const match = req.method === "GET" ? delayRoute.exec(url) : null
  if (match !== null) {
    const ms = Number(match[1])
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ waited: ms }))
    }, ms)
    return
  }
  res.writeHead(404, { "content-type": "text/plain" })
  res.end("not found")
})

server.listen(port, host)

const shutdown = (): void => {
  server.close(() => process.exit(0))
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)
