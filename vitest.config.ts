import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    exclude: ["test/bench/**", "node_modules/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: ["test/support/bundles.setup.ts"],
    projects: [
      {
        // In-process tests share one worker: importing the runtime once instead of once per
        // file saves most of their time; none of them changes global state.
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts", "props/**/*.props.ts", "test/**/*.sim.ts"], isolate: false }
      },
      {
        // Integration files start processes and bind ports: each gets a fresh worker.
        extends: true,
        test: { name: "integration", include: ["test/**/*.int.ts"] }
      }
    ]
  }
})
