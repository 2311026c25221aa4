/**
 * The `macula` command for integration tests: `src/cli/main.ts` bundled once per test file from
 * the sources (dependencies stay external, so the bundle runs the same code `npm run build`
 * compiles), and the clean-up of the processes a file started.
 */
import type { ChildProcess } from "node:child_process"
import { rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { build } from "rolldown"

const root = resolve(import.meta.dirname, "../..")

/** Where a test file's bundle goes (`name` and the pid keep parallel files apart), and how to make and remove it. */
export const cliBundle = (name: string) => {
  const path = join(root, "node_modules/.cache/macula-int", `${name}-${process.pid}`, "main.mjs")
  return {
    /** The bundled entry point: run it as `node PATH ARGS…`. */
    path,
    /** Bundles the CLI (call in `beforeAll`, with a generous timeout). */
    build: async (): Promise<void> => {
      await build({
        input: join(root, "src/cli/main.ts"),
        platform: "node",
        external: (id) => !id.startsWith(".") && !id.startsWith("/"),
        output: { dir: join(path, ".."), format: "esm", entryFileNames: "main.mjs", chunkFileNames: "[name]-[hash].mjs" },
        logLevel: "warn"
      })
    },
    /** Removes the bundle. */
    remove: (): void => rmSync(join(path, ".."), { recursive: true, force: true })
  }
}

/** SIGKILLs every child that is still running. */
export const killAll = (children: ReadonlyArray<ChildProcess>): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
