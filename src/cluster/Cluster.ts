/**
 * Cluster — the part this process plays, from `WORKERS` and `node:cluster`, and the program it runs for it:
 * - `single` — `WORKERS=1` (the default): the whole service in this one process, exactly as without a cluster (no
 *   primary, nothing forked);
 * - `primary` — `WORKERS=N` > 1, the process that was started: the errgroup of N workers (`ClusterPrimary`) and the
 *   admin server, aggregated (`ClusterAdmin`);
 * - `worker` — a process the primary forked (`cluster.isWorker`): the API without the admin server, answering the
 *   primary (`ClusterWorker`). Its log lines carry `worker: <id>`.
 * Only the chosen program is built: the others' layers (their ports) are never touched.
 */
import cluster from "node:cluster"
import { Effect } from "effect"
import type { Stop } from "../Group.ts"
import { AppConfig } from "../services/AppConfig.ts"

/** Cluster.Role — see the module comment. */
export type Role = "single" | "primary" | "worker"

/** Cluster.role — this process's role: a forked worker is a worker whatever `WORKERS` says. */
export const role: Effect.Effect<Role, never, AppConfig> = AppConfig.use((config) =>
  Effect.succeed(cluster.isWorker ? "worker" : config.workers > 1 ? "primary" : "single")
)

/** Cluster.run — runs the program of this process's role (see the module comment). */
export const run = <const Programs extends Readonly<Record<Role, Effect.Effect<Stop, unknown, unknown>>>>(
  programs: Programs
): Effect.Effect<Stop, Effect.Error<Programs[Role]>, Effect.Services<Programs[Role]> | AppConfig> =>
  Effect.flatMap(role, (which) =>
    which === "worker"
      ? programs.worker.pipe(Effect.annotateLogs({ worker: cluster.worker?.id ?? 0 }))
      : programs[which]
  ) as Effect.Effect<Stop, Effect.Error<Programs[Role]>, Effect.Services<Programs[Role]> | AppConfig>
