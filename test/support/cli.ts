/**
 * The processes integration tests start: the bundled `macula` command and fixture nodes (built
 * once per run by `bundles.setup.ts`), and the clean-up of the processes a file started.
 */
import type { ChildProcess } from "node:child_process"
import { join } from "node:path"
import { inject } from "vitest"

/** The path of a bundled entry point (run it as `node PATH ARGS…`): `main` is the CLI. */
export const bundled = (entry: "main" | "content-node" | "alo-subscriber"): string => join(inject("bundleDir"), `${entry}.mjs`)

/** SIGKILLs every child that is still running. */
export const killAll = (children: ReadonlyArray<ChildProcess>): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
