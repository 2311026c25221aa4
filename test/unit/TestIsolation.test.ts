/**
 * Every test file under `test/unit` that starts real nodes or QUIC endpoints is listed in
 * `test/support/realNetwork.ts`, so it gets a worker of its own; the others share one.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"
import { realNetwork, startsRealNetwork } from "../support/realNetwork.ts"

const root = join(import.meta.dirname, "..", "..")

const testFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(path)
    return entry.name.endsWith(".test.ts") ? [relative(root, path).split("\\").join("/")] : []
  })

describe("test isolation", () => {
  it("lists every unit test file that starts real nodes or endpoints, and only existing files", () => {
    const files = testFiles(join(root, "test", "unit"))
    const starting = files.filter((file) => startsRealNetwork.test(readFileSync(join(root, file), "utf8")))
    expect(starting.filter((file) => !realNetwork.includes(file))).toEqual([])
    expect(realNetwork.filter((file) => !files.includes(file))).toEqual([])
  })
})
