/**
 * Crash safety of the store on disk: a real child process writing content is SIGKILLed at a
 * random instant, several times over the same directory. Afterwards the store must show no
 * corrupt or partial entry (every block file hashes to its name, nothing is left in `tmp/`
 * once reopened), and every `put` the child reported complete must read back whole.
 */
import { Effect, Option } from "effect"
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import ts from "typescript"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Manifest from "../../../../src/content/Manifest.ts"
import * as Mcid from "../../../../src/content/Mcid.ts"
import * as ContentStore from "../../../../src/platform/content/ContentStore.ts"
import * as FileBackend from "../../../../src/platform/content/FileBackend.ts"

const dir = mkdtempSync(join(tmpdir(), "content-crash-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const root = resolve(import.meta.dirname, "../../../..")
// Node 20 cannot run TypeScript, and load hooks slow a child's start tenfold: the writer and the
// sources it needs are transpiled once into a cache folder inside node_modules (so `effect`
// resolves from there), types dropped and `.ts` imports rewritten to `.js`.
const built = join(root, "node_modules", ".cache", "macula-content-crash")
const writer = join(built, "test/unit/platform/content/fixtures/crash-writer.js")
/** The writer and every repository file it imports, transitively (relative `.ts` imports). */
const closure = (entry: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const source = readFileSync(join(root, file), "utf8")
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g)) {
      visit(relative(root, resolve(root, dirname(file), m[1]!)))
    }
  }
  visit(entry)
  return [...seen]
}

beforeAll(() => {
  for (const file of closure("test/unit/platform/content/fixtures/crash-writer.ts")) {
    const { outputText } = ts.transpileModule(readFileSync(join(root, file), "utf8"), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        rewriteRelativeImportExtensions: true
      }
    })
    const out = join(built, file.replace(/\.ts$/, ".js"))
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
})

/** Runs the writer until it has completed `atLeast` puts, waits `extraMs`, then SIGKILLs it. */
const writeThenKill = (seed: number, atLeast: number, extraMs: number): Promise<ReadonlyArray<string>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, String(seed)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    const done: Array<string> = []
    let text = ""
    let errors = ""
    let killing = false
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`writer made no progress: ${errors}`))
    }, 45_000)
    child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString()
      const lines = text.split("\n")
      text = lines.pop()!
      for (const line of lines) done.push(line.split(" ")[0]!)
      if (done.length >= atLeast && !killing) {
        killing = true
        setTimeout(() => child.kill("SIGKILL"), extraMs)
      }
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (signal === "SIGKILL") resolve([...done])
      else reject(new Error(`writer exited ${code}: ${errors}`))
    })
  })

/** Checks every block file independently of the store: its bytes hash to its name. */
const auditFiles = (): number => {
  let files = 0
  for (const shard of readdirSync(join(dir, "blocks"))) {
    for (const name of readdirSync(join(dir, "blocks", shard))) {
      const mcid = Mcid.parse(name)
      const bytes = new Uint8Array(readFileSync(join(dir, "blocks", shard, name)))
      const ok = mcid.codec === "raw" ? Mcid.verifies(mcid, bytes) : !Manifest.isError(Manifest.open(mcid, bytes))
      expect([name, ok]).toEqual([name, true])
      files++
    }
  }
  return files
}

describe("ContentStore crash safety", () => {
  it("shows no corrupt or partial entry after its writer is SIGKILLed mid-write, and keeps every completed put", async () => {
    const completed: Array<string> = []
    for (const [round, extraMs] of [[1, 0], [2, 11], [3, 37]] as const) {
      completed.push(...await writeThenKill(round * 7919, 2, extraMs))
      const store = await Effect.runPromise(ContentStore.make(FileBackend.make({ dir })))
      expect(readdirSync(join(dir, "tmp"))).toEqual([])
      expect(auditFiles()).toBeGreaterThan(0)
      for (const text of completed) {
        const back = await Effect.runPromise(store.read(Mcid.parse(text)))
        expect([text, Option.isSome(back)]).toEqual([text, true])
      }
      expect((await Effect.runPromise(store.usage)).corruptDropped).toBe(0)
    }
  }, 180_000)
})
