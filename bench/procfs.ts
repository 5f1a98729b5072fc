/**
 * Readings of a live process from Linux /proc: user+sys CPU ticks
 * (/proc/<pid>/stat fields 14+15) and resident set size (VmRSS).
 */
import { readFileSync } from "node:fs"

/** `getconf CLK_TCK` — clock ticks per second used by /proc/<pid>/stat. */
export const CLK_TCK = 100

/** user+sys CPU of a live process, in clock ticks. */
export const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12])
}

/** Resident set size of a live process, in KiB. */
export const rssKb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1])
}
