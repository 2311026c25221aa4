/**
 * The layering rules of ARCHITECTURE.md, checked on every `npm test`:
 * - protocol cores (`src/protocols/**`) and `src/core/**` import no clock, timer, randomness,
 *   I/O or Effect runtime, and use no `Date`, `Math.random`, timers or `console`;
 * - actors never import actors;
 * - only the assembly layers (`src/node`, `src/cli`) import `supervisors/` or `actors/`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../../..")

const sourceFiles = (dir: string): ReadonlyArray<string> => {
  const abs = join(root, dir)
  let names: ReadonlyArray<string>
  try {
    names = readdirSync(abs)
  } catch {
    return []
  }
  return names.flatMap((name) => {
    const path = join(abs, name)
    if (statSync(path).isDirectory()) return sourceFiles(relative(root, path))
    return /\.tsx?$/.test(name) ? [relative(root, path)] : []
  })
}

/** Every module specifier a file names, with whether the import is type-only. */
export const importsOf = (source: string): ReadonlyArray<{ readonly spec: string; readonly typeOnly: boolean }> => {
  const found: Array<{ spec: string; typeOnly: boolean }> = []
  const statement = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/g
  for (const m of source.matchAll(statement)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined })
  for (const m of source.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push({ spec: m[1]!, typeOnly: false })
  return found
}

/** The repository-relative path an import resolves to, or the bare package name. */
const target = (file: string, spec: string): string =>
  spec.startsWith(".") ? relative(root, resolve(root, dirname(file), spec)) : spec

const stripComments = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1")

/** Effect modules a pure core may use: data structures only, no runtime. */
const pureEffectModules = new Set([
  "effect/Data", "effect/Option", "effect/HashMap", "effect/HashSet", "effect/Array", "effect/Equal",
  "effect/Function", "effect/Order", "effect/Predicate", "effect/Hash", "effect/Result", "effect/Chunk"
])
const pureNamedFromEffect = new Set([
  "Data", "Option", "HashMap", "HashSet", "Array", "Equal", "Function", "Order", "Predicate", "Hash", "Result", "Chunk",
  "pipe", "dual", "identity"
])

const violationsOfPureCore = (file: string): ReadonlyArray<string> => {
  const source = readFileSync(join(root, file), "utf8")
  const problems: Array<string> = []
  for (const { spec, typeOnly } of importsOf(source)) {
    const to = target(file, spec)
    if (spec.startsWith(".")) {
      const allowed = to.startsWith("src/core/") || to.startsWith(dirname(file).split("/").slice(0, 3).join("/")) ||
        (to.startsWith("src/wire/") && typeOnly) || to.startsWith("src/topic/")
      if (!allowed) problems.push(`${file} imports ${to}`)
    } else if (spec === "effect") {
      const names = /import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+["']effect["']/.exec(source)?.[1] ?? ""
      for (const name of names.split(",").map((n) => n.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0]!)) {
        if (name !== "" && !pureNamedFromEffect.has(name) && !typeOnly) problems.push(`${file} imports ${name} from effect`)
      }
    } else if (spec.startsWith("effect/")) {
      if (!pureEffectModules.has(spec) && !typeOnly) problems.push(`${file} imports ${spec}`)
    } else {
      problems.push(`${file} imports ${spec}`)
    }
  }
  const code = stripComments(source)
  for (const [pattern, what] of [
    [/\bDate\.now\s*\(|\bnew Date\s*\(/, "reads the clock"],
    [/\bperformance\.now\s*\(/, "reads the clock"],
    [/\bMath\.random\s*\(/, "uses Math.random"],
    [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, "sets a timer"],
    [/\bconsole\./, "logs"],
    [/\bprocess\./, "touches the process"]
  ] as const) {
    if (pattern.test(code)) problems.push(`${file} ${what}`)
  }
  return problems
}

describe("layering", () => {
  it("keeps protocol cores and src/core free of clocks, timers, randomness, I/O and the Effect runtime", () => {
    const files = [...sourceFiles("src/protocols"), ...sourceFiles("src/core")]
    expect(files.flatMap(violationsOfPureCore)).toEqual([])
  })

  it("never lets an actor import another actor", () => {
    const problems = sourceFiles("actors").flatMap((file) =>
      importsOf(readFileSync(join(root, file), "utf8"))
        .map(({ spec }) => target(file, spec))
        .filter((to) => to.startsWith("actors/"))
        .map((to) => `${file} imports ${to}`))
    expect(problems).toEqual([])
  })

  it("lets only src/node and src/cli import supervisors/ and actors/", () => {
    const problems = sourceFiles("src")
      .filter((file) => !file.startsWith("src/node/") && !file.startsWith("src/cli/"))
      .flatMap((file) =>
        importsOf(readFileSync(join(root, file), "utf8"))
          .map(({ spec }) => target(file, spec))
          .filter((to) => to.startsWith("supervisors/") || to.startsWith("actors/"))
          .map((to) => `${file} imports ${to}`))
    expect(problems).toEqual([])
  })

  it("keeps the runtime free of the mesh", () => {
    const problems = sourceFiles("src/runtime").flatMap((file) =>
      importsOf(readFileSync(join(root, file), "utf8"))
        .map(({ spec }) => target(file, spec))
        .filter((to) => to.startsWith("src/") && !to.startsWith("src/runtime/") && !to.startsWith("src/core/"))
        .map((to) => `${file} imports ${to}`))
    expect(problems).toEqual([])
  })

  it("detects a forbidden import (the check itself can fail)", () => {
    expect(importsOf(`import { Effect } from "effect"\nimport type { X } from "../wire/Frame.ts"`)).toEqual([
      { spec: "effect", typeOnly: false },
      { spec: "../wire/Frame.ts", typeOnly: true }
    ])
  })
})
