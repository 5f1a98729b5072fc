/**
 * ProfileCache — a local cache of user profiles in front of the `profile` upstream, bounded in size and in age, in
 * which concurrent misses for one user make ONE upstream call (x/sync's `singleflight`).
 *
 * Built on Effect's `Cache`, which gives exactly that (read in `effect/src/Cache.ts`, and checked by this module's
 * tests): the first miss for a key forks the lookup and stores its pending entry; every `get` for the key meanwhile
 * joins that entry instead of starting another; the entry lives `timeToLive` from the lookup's end; beyond
 * `capacity` entries the least recently used goes.
 *
 * Guarantees:
 * - `get(userId)` answers the profile, from the cache while its entry is younger than `PROFILE_CACHE_TTL`, else from
 *   one upstream call shared by every concurrent `get` for that user;
 * - a failed lookup is not cached: it fails every caller that joined it, and the next `get` tries again;
 * - each caller waits under its own deadline and may leave (deadline, disconnect) without cancelling the others; the
 *   shared lookup runs outside any one caller's deadline (a short deadline of the first caller must not fail the
 *   callers that joined it) and is interrupted when its last caller leaves (Effect's `Cache` counts its waiters);
 * - `PROFILE_CACHE_SIZE=0` turns the cache off: each `get` is a call of its own, under its caller's deadline;
 *   `PROFILE_CACHE_TTL=0` keeps the singleflight and caches nothing (x/sync's singleflight exactly).
 */
import { Cache, Context, Duration, Effect, Exit, Layer } from "effect"
import * as RequestContext from "../toolkit/RequestContext.ts"
import { AppConfig } from "./AppConfig.ts"
import { Upstreams } from "./Upstreams.ts"
import type { Profile, UpstreamFailure, UpstreamsApi } from "./UpstreamsModel.ts"

/** ProfileCache.Options — the bounds of the cache. */
export interface Options {
  /** entries kept at most (least recently used goes first); 0 = no cache, no singleflight */
  readonly capacity: number
  /** how long a fetched profile is served from the cache; 0 = only concurrent misses share a call */
  readonly timeToLive: Duration.Duration
}

/** make — a profile cache over `upstreams.profile` with `options`. */
export const make = (upstreams: UpstreamsApi, options: Options) =>
  Effect.gen(function* () {
    if (options.capacity <= 0) {
      return ProfileCache.of({ get: upstreams.profile, size: Effect.succeed(0) })
    }
    const cache = yield* Cache.makeWith(
      (userId: string) =>
        // the lookup is shared: it belongs to no single caller's deadline (see the module comment)
        Effect.provideService(upstreams.profile(userId), RequestContext.RequestContext, RequestContext.background),
      {
        capacity: options.capacity,
        // only successes are kept; a failure goes to the callers that joined it, and the next get tries again
        timeToLive: (exit) => (Exit.isSuccess(exit) ? options.timeToLive : Duration.zero)
      }
    )
    return ProfileCache.of({ get: (userId) => Cache.get(cache, userId), size: Cache.size(cache) })
  })

/** ProfileCache — cached, singleflight profile lookups. */
export class ProfileCache extends Context.Service<
  ProfileCache,
  {
    /** ProfileCache.get — the user's profile: cached, or one upstream call shared by concurrent callers */
    readonly get: (userId: string) => Effect.Effect<Profile, UpstreamFailure>
    /** ProfileCache.size — entries held now, pending lookups included */
    readonly size: Effect.Effect<number>
  }
>()("app/ProfileCache") {
  /** ProfileCache.layer — over `Upstreams`, bounded by `PROFILE_CACHE_SIZE` and `PROFILE_CACHE_TTL`. */
  static readonly layer: Layer.Layer<ProfileCache, never, Upstreams | AppConfig> = Layer.effect(
    ProfileCache,
    Effect.gen(function* () {
      const config = yield* AppConfig
      return yield* make(yield* Upstreams, {
        capacity: config.profileCacheSize,
        timeToLive: config.profileCacheTtl
      })
    })
  )
}
