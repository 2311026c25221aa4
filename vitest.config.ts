import { defineConfig } from "vitest/config"
import { realNetwork } from "./test/support/realNetwork.ts"

export default defineConfig({
  test: {
    exclude: ["test/bench/**", "node_modules/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: ["test/support/bundles.setup.ts"],
    projects: [
      {
        // Pure and in-memory tests share one worker: importing the runtime once instead of once
        // per file saves most of their time; none of them changes global state.
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts", "props/**/*.props.ts", "test/**/*.sim.ts"],
          exclude: ["test/bench/**", "node_modules/**", "dist/**", ...realNetwork],
          isolate: false
        }
      },
      {
        // Files that start processes, bind ports or run real nodes: each gets a fresh worker,
        // so nothing one leaves running (a socket, a node's fibers) reaches another.
        extends: true,
        test: { name: "integration", include: ["test/**/*.int.ts", ...realNetwork] }
      }
    ]
  }
})
