/**
 * soak-probe — loaded into the program under soak with `node --import bench/soak-probe.ts`: samples the event loop's
 * delay (`perf_hooks.monitorEventLoopDelay`, 10 ms resolution) and, once a second, writes one line to stderr:
 * `soak-probe {"p50":…,"p99":…,"max":…,"heapMiB":…,"heapTotalMiB":…,"externalMiB":…}` (the delay in milliseconds over
 * that second; the V8 heap in use, the heap's size, and memory outside it held by JS objects, at its end), then starts the next second afresh.
 * Its timer is unref'd: it never keeps the program alive, and it changes nothing else in the program.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"

const histogram = monitorEventLoopDelay({ resolution: 10 })
histogram.enable()

const millis = (nanos: number) => Math.round(nanos / 1e4) / 100

const mib = (bytes: number) => Math.round(bytes / 104_857.6) / 10

setInterval(() => {
  const memory = process.memoryUsage()
  process.stderr.write(
    `soak-probe ${JSON.stringify({
      p50: millis(histogram.percentile(50)),
      p99: millis(histogram.percentile(99)),
      max: millis(histogram.max),
      heapMiB: mib(memory.heapUsed),
      heapTotalMiB: mib(memory.heapTotal),
      externalMiB: mib(memory.external)
    })}\n`
  )
  histogram.reset()
}, 1_000).unref()
