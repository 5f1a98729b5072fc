/**
 * HashWork — the CPU-bound work of a `hash` job, run inside a worker thread: iterated SHA-256 (see `Job`).
 *
 * Synchronous on purpose: a worker thread runs one job at a time and nothing else, so the loop may hold its thread.
 * `node:crypto`'s one-shot `hash` spares the `Hash` object per round (~5% here).
 */
import { hash } from "node:crypto"
import type { Request } from "./Job.ts"

/** iteratedSha256 — SHA-256 of `input`'s UTF-8 bytes, then of each digest, `rounds` times in all; hex. */
export const iteratedSha256 = (input: string, rounds: number): string => {
  let digest = hash("sha256", input, "buffer")
  for (let round = 1; round < rounds; round++) digest = hash("sha256", digest, "buffer")
  return digest.toString("hex")
}

/** run — the result of `request`; throws what the work throws. */
export const run = (request: Request): string => {
  switch (request.kind) {
    case "hash":
      return iteratedSha256(request.input, request.rounds)
  }
}
