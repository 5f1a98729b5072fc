/**
 * End-to-end: the jobs API of the built program (`dist/program.js` with `dist/worker.js`) and of the sources (`node
 * src/program.ts`, `tsx src/program.ts`: the worker thread runs `src/jobs/worker.ts`), and "incomplete work" at
 * shutdown — jobs queued and running at SIGTERM finish within the budget (exit 0, new jobs refused with 503 during
 * the shutdown delay); with a budget too short, the unfinished ones are logged by id as abandoned (exit 2). Real
 * processes and threads on a loaded machine: every wait is bounded and generous.
 */
import { type ChildProcess, spawn } from "node:child_process"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { exitOf, freePorts, host, killLeftovers, messageOf, sleep, startProgram, withMessage } from "./support.ts"

afterEach(killLeftovers)

const repoRoot = path.resolve(import.meta.dirname, "../..")

/** iterated SHA-256 of "hello", 1000 rounds (Python's hashlib) */
const hello1000 = "f6eec10c841b542f37ffb4ca00f82c5b6b4b11b79636d20201078b667ac37159"

const post = async (port: number, body: unknown) => {
  const response = await fetch(`http://${host}:${port}/api/jobs`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000)
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

const status = async (port: number, id: string) => {
  const response = await fetch(`http://${host}:${port}/api/jobs/${id}`, { signal: AbortSignal.timeout(5_000) })
  return (await response.json()) as Record<string, unknown>
}

/** waitDone — polls the job until it is done or failed (bounded) */
const waitDone = async (port: number, id: string, timeoutMs = 20_000) => {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const view = await status(port, id)
    if (view.status === "done" || view.status === "failed") return view
    await sleep(50)
  }
  throw new Error(`job ${id} not finished in ${timeoutMs} ms`)
}

describe("jobs on the built program", () => {
  it("jobs queued and running at SIGTERM finish within the budget; new ones get 503; exit 0", async () => {
    const program = await startProgram({
      WORKER_THREADS: "2",
      JOB_QUEUE_SIZE: "8",
      SHUTDOWN_TIMEOUT: "60 seconds",
      SHUTDOWN_DELAY: "1 second"
    })
    const ids: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const answer = await post(program.port, { kind: "hash", input: `job ${i}`, rounds: 100_000 })
      expect(answer.status, program.output()).toBe(202)
      ids.push(answer.json.id as string)
    }
    program.kill("SIGTERM")
    await program.waitForLog(withMessage("shutting down"), 10_000)
    const refused = await post(program.port, { kind: "hash", input: "late", rounds: 1 })
    expect(refused).toEqual({ status: 503, json: { error: "the service is shutting down and accepts no new jobs" } })
    const exit = await exitOf(program, 60_000)
    expect(exit.code, program.output()).toBe(0)
    const messages = program.logs.map(messageOf)
    expect(messages).toContain("shutdown hook jobs: finish done")
    expect(messages.filter((m) => m.startsWith("job abandoned"))).toEqual([])
    expect(messages.filter((m) => m.includes("failed"))).toEqual([])
  }, 90_000)

  it("a budget too short: the unfinished jobs are logged by id as abandoned, and the exit code is 2", async () => {
    const program = await startProgram({ WORKER_THREADS: "1", SHUTDOWN_TIMEOUT: "1 second" })
    // ~10 s of work each: far beyond the budget
    const running = (await post(program.port, { kind: "hash", input: "a", rounds: 5_000_000 })).json.id as string
    const queued = (await post(program.port, { kind: "hash", input: "b", rounds: 5_000_000 })).json.id as string
    await sleep(200)
    expect((await status(program.port, running)).status).toBe("running")
    const sent = program.kill("SIGTERM")
    const exit = await exitOf(program, 20_000)
    expect(exit.code, program.output()).toBe(2)
    expect(exit.at - sent, "the exit comes with the budget, not with the jobs").toBeLessThan(5_000)
    const abandoned = program.logs.filter((line) => messageOf(line).startsWith("job abandoned"))
    expect(abandoned.map((line) => [line.level, line.annotations.job, line.annotations.status])).toEqual([
      ["WARN", running, "running"],
      ["WARN", queued, "queued"]
    ])
  }, 60_000)
})

/** runs `args` from the repository root with the program's ports; resolves once /healthz answers */
const startSource = async (args: ReadonlyArray<string>) => {
  const [port, adminPort] = (await freePorts(2)) as [number, number]
  let output = ""
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), ADMIN_PORT: String(adminPort), HOST: host, WORKER_THREADS: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout?.on("data", (chunk) => {
    output += chunk
  })
  child.stderr?.on("data", (chunk) => {
    output += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  const deadline = performance.now() + 30_000
  while (true) {
    const healthy = await fetch(`http://${host}:${port}/healthz`).then(
      (r) => r.ok,
      () => false
    )
    if (healthy) break
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`${args.join(" ")} did not become healthy\n${output}`)
    }
    await sleep(100)
  }
  return { port, child, exited, output: () => output }
}

describe("jobs from the sources (the worker thread runs src/jobs/worker.ts)", () => {
  for (const [name, args] of [
    ["node src/program.ts", ["src/program.ts"]],
    ["tsx src/program.ts", [path.join(repoRoot, "node_modules/tsx/dist/cli.mjs"), "src/program.ts"]]
  ] as const) {
    it(`${name}: a job runs on a worker thread and answers the right digest`, async () => {
      const service = await startSource(args)
      try {
        const answer = await post(service.port, { kind: "hash", input: "hello", rounds: 1000 })
        expect(answer.status, service.output()).toBe(202)
        const view = await waitDone(service.port, answer.json.id as string)
        expect(view, service.output()).toEqual(expect.objectContaining({ status: "done", result: hello1000 }))
      } finally {
        service.child.kill("SIGTERM")
        const timer = setTimeout(() => service.child.kill("SIGKILL"), 15_000)
        await service.exited
        clearTimeout(timer)
      }
    }, 60_000)
  }
})
