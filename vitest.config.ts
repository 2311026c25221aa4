import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "props/**/*.props.ts", "test/**/*.sim.ts", "test/**/*.int.ts"],
    exclude: ["test/bench/**", "node_modules/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: ["test/support/bundles.setup.ts"]
  }
})
