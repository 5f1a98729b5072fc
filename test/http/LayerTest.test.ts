/**
 * LayerTest — `GracefulHttpServer.layerTest` as a test suite uses it in place of `NodeHttpServer.layerTest`: shared by
 * a block with `@effect/vitest`'s `layer(…)`, which builds it with the test services (a TestClock) and closes it
 * after the block. The block's release should be as prompt as the stock layer's: the test client's idle keep-alive
 * connection is the only thing left, and nothing advances the TestClock once the tests are over.
 *
 * Each case builds the layer the way `layer(…)` does (`Layer.provideMerge(TestClock.layer())`, closed from a plain
 * `runPromise`), makes one request with the layer's `HttpClient`, then measures the real time the release takes; the
 * stock layer is measured in the same run.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { HttpClient, HttpRouter, type HttpServer, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { GracefulHttpServer } from "../../src/index.ts"

const routes = HttpRouter.add("GET", "/ping", Effect.succeed(HttpServerResponse.text("pong")))

/** millis — real time the release of `testLayer` takes after one request through its client, built as `layer()` does */
const releaseMillis = <E>(testLayer: Layer.Layer<HttpServer.HttpServer | HttpClient.HttpClient, E>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const app = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provideMerge(testLayer),
      Layer.provideMerge(TestClock.layer())
    )
    const services = yield* Layer.buildWithScope(app, scope)
    const body = yield* Effect.flatMap(HttpClient.get("/ping"), (response) => response.text).pipe(
      Effect.provideContext(services)
    )
    expect(body).toBe("pong")
    const started = performance.now()
    yield* Effect.promise(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    return Math.round(performance.now() - started)
  })

describe("GracefulHttpServer.layerTest under @effect/vitest's layer()", () => {
  it.live(
    "is released as promptly as NodeHttpServer.layerTest (within 1 s)",
    () =>
      Effect.gen(function* () {
        const stock = yield* releaseMillis(NodeHttpServer.layerTest)
        const graceful = yield* releaseMillis(GracefulHttpServer.layerTest)
        console.log(`layerTest release: stock ${stock} ms, graceful ${graceful} ms`)
        expect(graceful).toBeLessThanOrEqual(Math.max(1_000, stock + 500))
      }),
    { timeout: 60_000 }
  )
})
