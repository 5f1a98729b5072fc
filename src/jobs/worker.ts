/**
 * worker — the entry point of a job worker thread: `JobWorker.serve` with the real work. Bundled as `dist/worker.js`;
 * run as this file from source (`node src/program.ts`, tsx, tests). See `WorkerThreads` for how it is found.
 */
import * as HashWork from "./HashWork.ts"
import * as JobWorker from "./JobWorker.ts"

JobWorker.serve(HashWork.run)
