/**
 * Global set-up of the test run: bundles the processes the integration tests start, once per
 * run (`build-bundles.mjs`), and hands their directory to the test files (`bundled` in
 * `cli.ts`). The bundler runs in a child process with a deadline and one more attempt, so a
 * bundler that hangs fails the run with a message instead of stalling a test file.
 */
import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { join, resolve } from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** The directory of this run's bundles. */
    readonly bundleDir: string
  }
}

const root = resolve(import.meta.dirname, "../..")
const deadlineMs = 60_000

/** One bundling in a child process: resolves when it exits 0, rejects on failure or deadline. */
const bundleOnce = (dir: string): Promise<void> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, "test/support/build-bundles.mjs"), dir], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => void (stderr += c.toString("utf8")))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      fail(new Error(`bundling did not finish within ${deadlineMs} ms`))
    }, deadlineMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (code === 0) done()
      else fail(new Error(`bundling failed (${signal ?? code}):\n${stderr}`))
    })
  })

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = join(root, "node_modules/.cache/macula-int", `run-${process.pid}`)
  const remove = () => rmSync(dir, { recursive: true, force: true })
  try {
    await bundleOnce(dir)
  } catch (first) {
    process.stderr.write(`${(first as Error).message}; bundling once more\n`)
    remove()
    await bundleOnce(dir)
  }
  project.provide("bundleDir", dir)
  return remove
}
