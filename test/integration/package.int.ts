/**
 * The package as users meet it: after `npm run build`, the three entry points resolve through
 * the `exports` map and the `macula` bin runs, with the public names API.md promises.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly bin: Record<string, string>
}

/** Imports `specifier` by package name from inside the package and prints the named keys. */
const keysOf = (specifier: string): ReadonlyArray<string> => {
  const out = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).sort()))`],
    { cwd: root, encoding: "utf8" }
  )
  return JSON.parse(out) as ReadonlyArray<string>
}

describe("the built package", () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "inherit"
    })
  }, 240_000)

  it("exports the mesh names from macula-node", () => {
    expect(keysOf("macula-node")).toEqual(
      expect.arrayContaining(["Topic", "TopicError", "Identity", "Did", "DidError", "Ucan", "UcanError", "Realm", "DecodeError"])
    )
  })

  it("exports the runtime from macula-node/runtime", () => {
    expect(keysOf("macula-node/runtime")).toEqual(
      expect.arrayContaining(["Actor", "Supervisor", "Registry", "Lifecycle", "ExitReason", "ConfigError", "CallTimeout", "ActorExited"])
    )
  })

  it("exports the testkit from macula-node/testkit", () => {
    expect(keysOf("macula-node/testkit")).toEqual(expect.arrayContaining(["Chaos", "Invariants", "Arbitraries", "Sim", "Workers"]))
  })

  it("runs the macula bin, with a one-line error and a non-zero exit on an unknown command", () => {
    const bin = join(root, pkg.bin["macula"]!)
    const help = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" })
    expect(help.status).toBe(0)
    expect(help.stdout).toContain("demo")
    const bad = spawnSync(process.execPath, [bin, "teleport"], { encoding: "utf8" })
    expect(bad.status).not.toBe(0)
    expect(bad.stderr.split("\n")[0]).toContain('unknown command "teleport"')
  })
})
