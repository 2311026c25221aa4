// Bundles the processes the integration tests start (the CLI and two fixture nodes) from the
// sources into the directory given as the only argument. Dependencies stay external, so the
// bundles run the same code `npm run build` compiles. Run by `bundles.setup.ts` in a child
// process, so a bundler that never returns can be killed and tried again.
import { join, resolve } from "node:path"
import { build } from "rolldown"

const root = resolve(import.meta.dirname, "../..")
const out = process.argv[2]
if (out === undefined) throw new Error("usage: build-bundles.mjs OUT_DIR")

await build({
  input: {
    main: join(root, "src/cli/main.ts"),
    "content-node": join(root, "test/integration/fixtures/content-node.ts"),
    "alo-subscriber": join(root, "test/integration/fixtures/alo-subscriber.ts")
  },
  platform: "node",
  external: (id) => !id.startsWith(".") && !id.startsWith("/"),
  output: { dir: out, format: "esm", entryFileNames: "[name].mjs", chunkFileNames: "[name]-[hash].mjs" },
  logLevel: "warn"
})
