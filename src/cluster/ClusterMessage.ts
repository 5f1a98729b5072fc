/**
 * ClusterMessage — what the cluster's primary and its workers say to each other over Node's IPC channel.
 *
 * The channel uses `serialization: "advanced"` (the structured clone algorithm, set by `ClusterPrimary`), so metric
 * snapshots cross intact: `Map`s (frequencies), `bigint` counters and `Infinity` bucket boundaries survive, which
 * JSON would lose. Every message carries a `_tag` in the `cluster/` namespace; anything else on the channel (another
 * library's messages, Node's own `NODE_CLUSTER` traffic) is ignored by both sides.
 *
 * | message            | from    | meaning                                                                  |
 * |--------------------|---------|--------------------------------------------------------------------------|
 * | `cluster/serving`  | worker  | the worker's group is running: every server it owns is bound             |
 * | `cluster/query`    | primary | answer `what` (`metrics` or `readiness`) under `id`                      |
 * | `cluster/answer`   | worker  | the answer to query `id`                                                 |
 * | `cluster/shutdown` | primary | shut down gracefully (the primary is stopping, for `reason`)             |
 */
import type { Metric } from "effect"
import type * as Readiness from "../services/Readiness.ts"

/** ClusterMessage.Query — what the primary asks a worker for. */
export type Query = "metrics" | "readiness"

/** ClusterMessage.Answers — the value each query is answered with. */
export interface Answers {
  readonly metrics: ReadonlyArray<Metric.Metric.Snapshot>
  readonly readiness: Readiness.Report
}

/** ClusterMessage.ToPrimary — a worker's message to the primary. */
export type ToPrimary =
  | { readonly _tag: "cluster/serving" }
  | { readonly _tag: "cluster/answer"; readonly id: number; readonly value: Answers[Query] }

/** ClusterMessage.ToWorker — the primary's message to a worker. */
export type ToWorker =
  | { readonly _tag: "cluster/query"; readonly id: number; readonly what: Query }
  | { readonly _tag: "cluster/shutdown"; readonly reason: string }

const tagOf = (message: unknown): unknown =>
  typeof message === "object" && message !== null && "_tag" in message ? message._tag : undefined

/** ClusterMessage.isToPrimary — a message of this protocol sent by a worker. */
export const isToPrimary = (message: unknown): message is ToPrimary => {
  const tag = tagOf(message)
  return tag === "cluster/serving" || tag === "cluster/answer"
}

/** ClusterMessage.isToWorker — a message of this protocol sent by the primary. */
export const isToWorker = (message: unknown): message is ToWorker => {
  const tag = tagOf(message)
  return tag === "cluster/query" || tag === "cluster/shutdown"
}

/** ClusterMessage.serialization — the IPC serialization both sides rely on (see the module comment). */
export const serialization = "advanced"
