/**
 * The Kubernetes deployment (`deploy/`), checked without a cluster or Docker:
 * - the manifest (parsed with the `yaml` package) holds the relations a graceful rollout depends on — probes on
 *   `/healthz` and `/readyz` at the port the program listens on, a shutdown delay, a grace period longer than the
 *   delay plus the budget plus the cluster's slack, a Service and a PodDisruptionBudget that select the pods;
 * - the Dockerfile is multi-stage, runs as a non-root user and starts `node dist/program.js` itself (never npm);
 * - then this test plays the kubelet against the real program started with the manifest's environment (on loopback
 *   ports: `HOST`, `PORT` and `ADMIN_PORT` are the only values replaced): it polls `/readyz` until ready, sends
 *   SIGTERM, and checks that readiness fails within 100 ms, that requests are still served during the delay, and
 *   that the program exits 0 after the delay and before the grace period ends.
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { Duration } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { workerSlack } from "../../src/cluster/ClusterPrimary.ts"
import { exitOf, get, killLeftovers, sleep, spawnProgram } from "./support.ts"

afterEach(killLeftovers)

const deploy = path.resolve(import.meta.dirname, "../../deploy")

interface EnvVar {
  readonly name: string
  readonly value?: string
}
interface Probe {
  readonly httpGet: { readonly path: string; readonly port: string | number }
  readonly periodSeconds?: number
  readonly timeoutSeconds?: number
}
interface Container {
  readonly name: string
  readonly ports: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>
  readonly env: ReadonlyArray<EnvVar>
  readonly livenessProbe: Probe
  readonly readinessProbe: Probe
  readonly resources: {
    readonly requests: Readonly<Record<string, string>>
    readonly limits: Readonly<Record<string, string>>
  }
}
type Labels = Readonly<Record<string, string>>
interface Resource {
  readonly kind: string
  readonly spec: {
    readonly replicas?: number
    readonly maxUnavailable?: number
    readonly minAvailable?: number
    readonly selector: { readonly matchLabels?: Labels } & Labels
    readonly ports?: ReadonlyArray<{ readonly targetPort: string | number }>
    readonly template?: {
      readonly metadata: { readonly labels: Labels }
      readonly spec: {
        readonly terminationGracePeriodSeconds: number
        readonly securityContext: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number }
        readonly containers: ReadonlyArray<Container>
      }
    }
  }
}

const resources = parseAllDocuments(readFileSync(path.join(deploy, "kubernetes.yaml"), "utf8")).map((document) => {
  expect(document.errors).toEqual([])
  return document.toJS() as Resource
})
const byKind = (kind: string) => {
  const found = resources.filter((resource) => resource.kind === kind)
  expect(found, `one ${kind} in deploy/kubernetes.yaml`).toHaveLength(1)
  return found[0] as Resource
}
const deployment = byKind("Deployment")
const pod = deployment.spec.template
if (pod === undefined) throw new Error("the Deployment has no pod template")
const container = pod.spec.containers[0] as Container
const env = Object.fromEntries(container.env.map(({ name, value }) => [name, value ?? ""]))

/** seconds in an Effect duration string as the program reads it ("5 seconds", "250 millis", or milliseconds) */
const seconds = (text: string | undefined): number => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(millis|seconds?|minutes?)?\s*$/.exec(text ?? "")
  if (match === null) throw new Error(`not a duration: ${text}`)
  const n = Number(match[1])
  const unit = match[2] ?? "millis"
  return unit === "millis" ? n / 1000 : unit.startsWith("second") ? n : n * 60
}
const delay = seconds(env.SHUTDOWN_DELAY)
const budget = seconds(env.SHUTDOWN_TIMEOUT)
const grace = pod.spec.terminationGracePeriodSeconds

/** the container port a probe or Service names (by name or number) */
const portOf = (port: string | number) =>
  typeof port === "number" ? port : container.ports.find((p) => p.name === port)?.containerPort

const matches = (selector: Labels | undefined, labels: Labels) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels[key] === value)

describe("deploy/kubernetes.yaml", () => {
  it("probes /healthz (liveness) and /readyz (readiness) on the port the program listens on", () => {
    expect(container.livenessProbe.httpGet.path).toBe("/healthz")
    expect(container.readinessProbe.httpGet.path).toBe("/readyz")
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(portOf(probe.httpGet.port)).toBe(Number(env.PORT))
    }
    expect(env.HOST, "reachable by the kubelet and the Service").toBe("0.0.0.0")
  })

  it("has a shutdown delay, and a grace period longer than delay + budget + the cluster's slack", () => {
    expect(delay).toBeGreaterThan(0)
    expect(delay).toBeLessThan(budget)
    // a probe period fits in the delay: the endpoint is gone before the listener closes
    expect(container.readinessProbe.periodSeconds ?? 10).toBeLessThan(delay)
    expect(grace).toBeGreaterThan(delay + budget)
    // the worst case: workers forced at the budget, SIGKILLed by the primary after workerSlack, the primary's
    // watchdog one second later — all before the kubelet's SIGKILL
    const slack = Number(env.WORKERS ?? "1") > 1 ? Duration.toSeconds(workerSlack) : 0
    expect(grace).toBeGreaterThan(budget + slack + 1)
  })

  it("requests the cores its workers use, and bounds memory", () => {
    const cpu = container.resources.requests.cpu ?? "0"
    const cores = cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu)
    expect(cores).toBeGreaterThanOrEqual(Number(env.WORKERS ?? "1"))
    expect(container.resources.requests.memory).toBeDefined()
    expect(container.resources.limits.memory).toBeDefined()
  })

  it("runs as non-root; the Service and the PodDisruptionBudget select the Deployment's pods", () => {
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true)
    expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0)
    const labels = pod.metadata.labels
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true)
    const service = byKind("Service")
    expect(matches(service.spec.selector, labels)).toBe(true)
    expect(portOf(service.spec.ports?.[0]?.targetPort ?? "")).toBe(Number(env.PORT))
    const budgetOfDisruptions = byKind("PodDisruptionBudget")
    expect(matches(budgetOfDisruptions.spec.selector.matchLabels, labels)).toBe(true)
    // a drain can always evict one pod at a time, never all at once
    const replicas = deployment.spec.replicas ?? 1
    const unavailable =
      budgetOfDisruptions.spec.maxUnavailable ?? replicas - (budgetOfDisruptions.spec.minAvailable ?? 0)
    expect(unavailable).toBeGreaterThanOrEqual(1)
    expect(unavailable).toBeLessThan(replicas)
  })
})

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(path.join(deploy, "Dockerfile"), "utf8")
  const instructions = dockerfile
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
  const stages = instructions
    .map((line, i) => [line, i] as const)
    .filter(([line]) => /^FROM\s/i.test(line))
    .map(([, i]) => i)
  const last = instructions.slice(stages.at(-1))

  it("is multi-stage on Node 24; the stage that runs is non-root and starts node dist/program.js", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24[-\w.]*$/m)
    const user = last.find((line) => /^USER\s/i.test(line))?.split(/\s+/)[1] ?? "root"
    expect(["root", "0", "0:0"]).not.toContain(user)
    expect(last.find((line) => /^ENTRYPOINT\s/i.test(line))).toBe('ENTRYPOINT ["node", "dist/program.js"]')
    expect(last.some((line) => /\bnpm\b/.test(line) && /^(CMD|ENTRYPOINT)\s/i.test(line))).toBe(false)
    // nothing of the build stage's node_modules (dev dependencies) reaches the stage that runs
    expect(last.filter((line) => /^(COPY|ADD)\s/i.test(line)).join("\n")).not.toMatch(/node_modules/)
  })
})

describe("the kubelet's part, against the real program with the manifest's environment", () => {
  // Retried: on a machine loaded far beyond its cores (load average 13 on 2 cores while this was written) the three
  // processes the SIGTERM passes through are sometimes not scheduled within 100 ms (2 failures in about 10 runs);
  // on a quiet machine the workers are unready 10–30 ms after the signal. A program that does not turn unready at
  // once fails every attempt.
  it("SIGTERM: /readyz fails within 100 ms, requests are served through the delay, exit 0 before the grace period", {
    timeout: 90_000,
    retry: 2
  }, async () => {
    // loopback and free ports (spawnProgram's) in place of the pod's; everything else as the manifest says
    const program = await spawnProgram(
      Object.fromEntries(Object.entries(env).filter(([name]) => !["HOST", "PORT", "ADMIN_PORT"].includes(name)))
    )
    const probeTimeout = (container.readinessProbe.timeoutSeconds ?? 1) * 1000
    const readyz = () => get(program.port, "/readyz", { timeoutMs: probeTimeout }).catch(() => undefined)

    // 1. poll /readyz until ready, as the kubelet does
    const startDeadline = performance.now() + 20_000
    while ((await readyz())?.status !== 200) {
      expect(performance.now(), program.output()).toBeLessThan(startDeadline)
      await sleep(50)
    }

    // 2. SIGTERM, as the container runtime sends it to PID 1
    const sent = program.kill("SIGTERM")

    // 3a. readiness fails within 100 ms: every probe the kubelet sends from 100 ms after the signal on is answered
    // 503, on every worker (four at once, on four connections, which the primary hands to the workers in turn) —
    // and readiness never comes back. (What is timed is the program: a probe sent at +100 ms that the loaded machine
    // answers late still had to be answered 503.)
    await sleep(Math.max(0, sent + 100 - performance.now()))
    const probedAt = performance.now()
    const probes = await Promise.all(Array.from({ length: 4 }, readyz))
    expect(
      probes.map((reply) => reply?.status),
      `probes sent ${(probedAt - sent).toFixed(0)} ms after SIGTERM\n${program.output()}`
    ).toEqual([503, 503, 503, 503])
    for (const reply of probes) expect(reply?.body).toBe("not ready: shutting down")

    // 3b. during the delay, new connections are still served (the endpoint may not be gone everywhere yet)
    const served: Array<number> = []
    while (performance.now() - sent < delay * 1000 - 500) {
      const [health, work, ready] = await Promise.all([
        get(program.port, "/healthz"),
        get(program.port, "/api/delay/50"),
        readyz()
      ])
      expect([health.status, work.status]).toEqual([200, 200])
      expect(ready?.status).toBe(503)
      served.push(work.at - sent)
      await sleep(250)
    }
    expect(Math.max(...served)).toBeGreaterThan(delay * 1000 - 1_500)

    // 3c. the exit: after the delay, well before the kubelet's SIGKILL
    const exit = await exitOf(program, grace * 1000)
    expect([exit.code, exit.signal], program.output()).toEqual([0, null])
    expect(exit.at - sent).toBeGreaterThanOrEqual(delay * 1000)
    expect(exit.at - sent).toBeLessThan(grace * 1000)
  })
})
