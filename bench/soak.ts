/**
 * Soak (`npm run soak`, not in CI): the built program under mixed load for SOAK_SECONDS (default 60), a SIGHUP every
 * SOAK_HUP_SECONDS (default 3), then a SIGTERM under the same load.
 *
 * - Load: SOAK_CONNECTIONS (default 64) clients, each on a keep-alive connection of its own (every fourth one opens a
 *   new connection per request instead), back to back over a mix of API routes with their expected answers — 200s,
 *   the delay route's 400, the catch-all 404, the deadline header (valid, and malformed: 400), HEAD — and of admin
 *   routes (`/metrics`, `/debug/fibers`).
 * - Every second: the program's RSS (`/proc`), its event-loop delay (p50/p99/max over that second, measured inside
 *   the program by `bench/soak-probe.ts`, loaded with `--import`), requests per second; printed every 5 s.
 * - Fails (exit 1) if any request is lost (a socket error, or an answer other than the expected one) before the
 *   SIGTERM; if the RSS grows more than 10% from the end of the warm-up (SOAK_WARMUP_SECONDS, default a quarter of
 *   the run, at most 15 s) to the end (medians of five samples at each end); or if the drain loses anything — after
 *   the SIGTERM a request is either answered (503 allowed only on `/readyz`) or its new connection refused, never
 *   reset — or the exit is not 0. One exception is counted apart, not failed: a *new* connection that the kernel
 *   accepted into the listen backlog just before the listener closed is reset by the kernel when it closes (Linux;
 *   Go's `Shutdown` and nginx do the same); its request never reached the program, so retrying it is safe.
 */
import { spawn } from "node:child_process"
import http from "node:http"
import path from "node:path"
import { freePorts, HOST, ROOT, rssKb, sleep } from "./proc.ts"

const seconds = Number(process.env.SOAK_SECONDS ?? 60)
const hupEvery = Number(process.env.SOAK_HUP_SECONDS ?? 3)
const connections = Number(process.env.SOAK_CONNECTIONS ?? 64)
const warmup = Number(process.env.SOAK_WARMUP_SECONDS ?? Math.min(15, seconds / 4))
const maxGrowth = 0.1

interface Call {
  readonly server: "api" | "admin"
  readonly method: "GET" | "HEAD"
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly expect: number
}

const mix: ReadonlyArray<Call> = [
  { server: "api", method: "GET", path: "/healthz", expect: 200 },
  { server: "api", method: "GET", path: "/readyz", expect: 200 },
  { server: "api", method: "GET", path: "/api/delay/0", expect: 200 },
  { server: "api", method: "GET", path: "/api/delay/5", expect: 200 },
  { server: "api", method: "GET", path: "/api/delay/20?page=2", expect: 200 },
  { server: "api", method: "GET", path: "/api/delay/abc", expect: 400 },
  { server: "api", method: "GET", path: "/no/such/route", expect: 404 },
  { server: "api", method: "GET", path: "/api/delay/2", headers: { "x-request-timeout-ms": "5000" }, expect: 200 },
  { server: "api", method: "GET", path: "/api/delay/2", headers: { "x-request-timeout-ms": "soon" }, expect: 400 },
  { server: "api", method: "HEAD", path: "/healthz", expect: 200 },
  { server: "admin", method: "GET", path: "/metrics", expect: 200 },
  { server: "admin", method: "GET", path: "/debug/fibers", expect: 200 }
]

type Outcome = { readonly status: number } | { readonly error: string }

const call = (port: number, c: Call, agent: http.Agent | false): Promise<Outcome> =>
  new Promise((resolve) => {
    const request = http.request(
      { host: HOST, port, method: c.method, path: c.path, headers: c.headers ?? {}, agent },
      (response) => {
        response.resume()
        response.once("end", () => resolve({ status: response.statusCode ?? 0 }))
        response.once("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
      }
    )
    request.setTimeout(30_000, () => request.destroy(new Error("no answer in 30 s")))
    request.once("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    request.end()
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const main = async () => {
  const [port, adminPort] = (await freePorts(2)) as [number, number]
  const child = spawn(
    process.execPath,
    ["--import", path.join(ROOT, "bench/soak-probe.ts"), path.join(ROOT, "dist/program.js")],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), ADMIN_PORT: String(adminPort), HOST, LOG_FORMAT: "json" },
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  const pid = child.pid ?? 0
  const loop: Array<{
    p50: number
    p99: number
    max: number
    heapMiB: number
    heapTotalMiB: number
    externalMiB: number
  }> = []
  let errText = ""
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    errText += chunk
    const lines = errText.split("\n")
    errText = lines.pop() ?? ""
    for (const line of lines) if (line.startsWith("soak-probe ")) loop.push(JSON.parse(line.slice(11)))
  })
  let logTail = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    logTail = (logTail + chunk).slice(-8_000)
  })
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("exit", (code) => resolve({ code, at: performance.now() }))
  )
  const ready = performance.now() + 15_000
  while ((await call(port, mix[0] as Call, false).then((o) => ("status" in o ? o.status : 0))) !== 200) {
    if (performance.now() > ready) throw new Error(`the program never became ready:\n${logTail}`)
    await sleep(20)
  }

  let terminating = false
  let done = false
  let answered = 0
  const lost: Array<string> = []
  const drain = { answered: 0, refused: 0, backlog: 0, lost: [] as Array<string> }
  const client = async (index: number) => {
    const agents = {
      api: new http.Agent({ keepAlive: true, maxSockets: 1 }),
      admin: new http.Agent({ keepAlive: true, maxSockets: 1 })
    }
    const fresh = index % 4 === 3
    for (let n = index; !done; n++) {
      const c = mix[n % mix.length] as Call
      if (terminating && c.server === "admin") continue // the admin port drains too; the API is what is measured
      const sentDuring = terminating
      const outcome = await call(c.server === "api" ? port : adminPort, c, fresh ? false : agents[c.server])
      const during = sentDuring || terminating
      if ("status" in outcome) {
        const ok = outcome.status === c.expect || (during && c.path === "/readyz" && outcome.status === 503)
        if (during) {
          if (ok) drain.answered++
          else drain.lost.push(`${c.path}: ${outcome.status}`)
        } else if (ok) answered++
        else lost.push(`${c.method} ${c.path}: ${outcome.status}, expected ${c.expect}`)
        continue
      }
      if (during && outcome.error === "ECONNREFUSED") drain.refused++
      else if (during && fresh && outcome.error === "ECONNRESET") drain.backlog++
      else if (during) drain.lost.push(`${c.path}: ${outcome.error}${fresh ? " (new connection)" : " (keep-alive)"}`)
      else lost.push(`${c.method} ${c.path}: ${outcome.error}`)
      if (during) break
    }
    agents.api.destroy()
    agents.admin.destroy()
  }
  const clients = Promise.all(Array.from({ length: connections }, (_, i) => client(i)))

  const rss: Array<number> = []
  const started = performance.now()
  let lastAnswered = 0
  let hups = 0
  console.log(
    `soak: ${seconds} s, ${connections} connections, SIGHUP every ${hupEvery} s, warm-up ${warmup} s, pid ${pid}`
  )
  console.log("   t  req/s  RSS MiB  heap used/total MiB  external MiB  loop p50  loop p99  loop max  lost")
  for (let t = 1; t <= seconds; t++) {
    await sleep(started + t * 1_000 - performance.now())
    rss.push(rssKb(pid))
    if (t % hupEvery === 0) {
      child.kill("SIGHUP")
      hups++
    }
    if (t % 5 === 0 || t === seconds) {
      const recent = loop.slice(-5)
      const rate = Math.round((answered - lastAnswered) / 5)
      lastAnswered = answered
      console.log(
        `${String(t).padStart(4)}  ${String(rate).padStart(5)}  ${(median(rss.slice(-5)) / 1024).toFixed(1).padStart(7)}` +
          `  ${`${(recent.at(-1)?.heapMiB ?? 0).toFixed(1)} / ${(recent.at(-1)?.heapTotalMiB ?? 0).toFixed(1)}`.padStart(19)}` +
          `  ${(recent.at(-1)?.externalMiB ?? 0).toFixed(1).padStart(12)}` +
          `  ${median(recent.map((s) => s.p50))
            .toFixed(1)
            .padStart(8)}  ${Math.max(...recent.map((s) => s.p99))
            .toFixed(1)
            .padStart(8)}` +
          `  ${Math.max(...recent.map((s) => s.max))
            .toFixed(1)
            .padStart(8)}  ${String(lost.length).padStart(4)}`
      )
    }
  }

  terminating = true
  const sent = performance.now()
  child.kill("SIGTERM")
  const exit = await Promise.race([exited, sleep(30_000).then(() => ({ code: null, at: Number.NaN }))])
  done = true
  await clients
  if (exit.code === null) child.kill("SIGKILL")

  const warm = Math.max(5, Math.round(warmup))
  const rssWarm = median(rss.slice(warm - 5 < 0 ? 0 : warm - 2, warm + 3))
  const rssEnd = median(rss.slice(-5))
  const growth = rssEnd / rssWarm - 1
  const loopP99 = loop.map((s) => s.p99)
  console.log(
    `answered ${answered} before SIGTERM, lost ${lost.length}; ${hups} SIGHUPs; RSS after warm-up ${(rssWarm / 1024).toFixed(1)} MiB, ` +
      `at the end ${(rssEnd / 1024).toFixed(1)} MiB (${(growth * 100).toFixed(1)}%); event-loop delay p99 median ` +
      `${median(loopP99).toFixed(1)} ms, worst ${Math.max(...loopP99).toFixed(1)} ms`
  )
  console.log(
    `drain: SIGTERM → exit ${exit.code} in ${Math.round(exit.at - sent)} ms; during it ${drain.answered} answered, ` +
      `${drain.refused} connections refused, ${drain.backlog} new connections reset in the accept backlog, ` +
      `${drain.lost.length} lost`
  )
  const failures = [
    ...(lost.length > 0 ? [`${lost.length} requests lost under load, e.g. ${lost.slice(0, 5).join("; ")}`] : []),
    ...(growth > maxGrowth ? [`RSS grew ${(growth * 100).toFixed(1)}% after warm-up (limit ${maxGrowth * 100}%)`] : []),
    ...(drain.lost.length > 0
      ? [`${drain.lost.length} lost during the drain, e.g. ${drain.lost.slice(0, 5).join("; ")}`]
      : []),
    ...(exit.code !== 0 ? [`exit code ${exit.code}, expected 0\n${logTail}`] : [])
  ]
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  process.exitCode = failures.length === 0 ? 0 : 1
}

await main()
