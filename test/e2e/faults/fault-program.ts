/**
 * fault-program — the reference service with faults on request, for the rows of the fault suite that need a fault
 * *inside* the process (the built `dist/program.js` has no route that throws, and should not have one).
 *
 * It is `src/program.ts` — the same group (`signals`, `api`, `admin`, `faults`), the same layers, `Main.run` — bundled
 * like the program (`faultBundle` in `support.ts`), with these additions on the API server:
 * - `GET /fault/defect` dies inside the handler (`Effect.die`); the request gets 500, the service keeps serving;
 * - `GET /fault/never` never ends (interruptible): only the shutdown budget ends it;
 * - `GET /fault/member` makes the member `fault` die: the group drains and exits 1;
 * - `GET /fault/uncaught` throws from a timer (`uncaughtException`); `GET /fault/rejection` leaves a rejected promise
 *   unhandled (`unhandledRejection`);
 * - `POST /fault/small` reads its body with a 1 KiB `HttpIncomingMessage.MaxBodySize` (413 above it);
 * - `GET /fault/ws` is a WebSocket that echoes until the shutdown closes it;
 * - with `FAULT_HANGING_FINALIZER=1`, a layer whose finalizer never ends is released after the drain.
 * Each answers (or acts) at once and says nothing until then; the service is otherwise unchanged.
 */
import { ByteSize, Deferred, Effect, Layer } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Group from "../../../src/Group.ts"
import { AdminServer } from "../../../src/layers/AdminServer.ts"
import { ApiServer } from "../../../src/layers/ApiServer.ts"
import { ProcessFaults } from "../../../src/layers/ProcessFaults.ts"
import { Signals } from "../../../src/layers/Signals.ts"
import * as Main from "../../../src/Main.ts"
import { AppConfig } from "../../../src/services/AppConfig.ts"

/** the member `fault` dies once this is completed (by `GET /fault/member`) */
const memberDefect = Deferred.makeUnsafe<void>()

const answered = (what: string) => Effect.succeed(HttpServerResponse.jsonUnsafe({ fault: what }, { status: 202 }))

const faultRoutes = Layer.mergeAll(
  HttpRouter.add("GET", "/fault/defect", Effect.die(new Error("defect thrown inside a handler"))),
  HttpRouter.add("GET", "/fault/never", Effect.never),
  HttpRouter.add(
    "GET",
    "/fault/member",
    Effect.andThen(Deferred.succeed(memberDefect, undefined), answered("member defect"))
  ),
  HttpRouter.add(
    "GET",
    "/fault/uncaught",
    Effect.andThen(
      Effect.sync(() =>
        setTimeout(() => {
          throw new Error("uncaught exception from a timer")
        }, 10)
      ),
      answered("uncaughtException")
    )
  ),
  HttpRouter.add(
    "GET",
    "/fault/rejection",
    Effect.andThen(
      Effect.sync(() => void Promise.reject(new Error("unhandled rejection"))),
      answered("unhandledRejection")
    )
  ),
  HttpRouter.add(
    "POST",
    "/fault/small",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      return HttpServerResponse.text(`${(yield* request.text).length} bytes`)
    }).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(1_024)))
  ),
  HttpRouter.add(
    "GET",
    "/fault/ws",
    Effect.gen(function* () {
      const socket = yield* (yield* HttpServerRequest.HttpServerRequest).upgrade
      const writer = yield* socket.writer
      const reader = yield* socket.reader
      while (true) {
        for (const frame of yield* reader.pull) yield* writer.write(frame)
      }
    }).pipe(
      Effect.catchTag("SocketError", () => Effect.void),
      Effect.as(HttpServerResponse.empty())
    )
  )
)

const hangingFinalizer =
  process.env.FAULT_HANGING_FINALIZER === "1"
    ? Layer.effectDiscard(
        Effect.acquireRelease(Effect.void, () =>
          Effect.andThen(Effect.logInfo("fault: finalizer hanging"), Effect.never)
        )
      )
    : Layer.empty

Group.run({
  signals: Signals.member,
  api: ApiServer.member,
  admin: AdminServer.member,
  faults: ProcessFaults.member,
  fault: Effect.andThen(Deferred.await(memberDefect), Effect.die(new Error("defect in a member")))
}).pipe(
  Effect.provide(
    Layer.mergeAll(ApiServer.layerWith(faultRoutes), AdminServer.layer, ProcessFaults.layer, hangingFinalizer).pipe(
      Layer.provideMerge(Layer.mergeAll(Signals.layer, AppConfig.layer))
    )
  ),
  Main.run
)
