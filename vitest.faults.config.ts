import { defineConfig } from "vitest/config"

/**
 * `npm run test:faults` — the whole fault suite: the rows `npm test` runs (`test/e2e/faults/*.test.ts`), the slow
 * ones kept out of it (`*.slow.ts`: two servers under load), and the fuzzing with more runs (FUZZ_RUNS).
 */
export default defineConfig({
  test: {
    include: ["test/e2e/faults/**/*.test.ts", "test/e2e/faults/**/*.slow.ts", "test/fuzz/**/*.test.ts"],
    env: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? "1000" },
    testTimeout: 120_000,
    hookTimeout: 30_000
  }
})
