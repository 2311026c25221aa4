/**
 * The benchmark runner: `npm run bench -- SUITE [--json FILE] [--quick]`.
 *
 * - `SUITE` is `runtime`, `transport`, `foundations`, `content`, `mesh` (a module `test/bench/SUITE.ts`
 *   exporting `run(options): Promise<SuiteResult>`), or `all` for every suite present.
 * - `--json FILE` writes the results: for one suite the object
 *   `{ "suite", "results": [{ "name", "unit", "value", "baselines": { name: value } }] }`; for
 *   `all` a JSON array of those objects, one per suite that ran, in the order above.
 * - `--quick` shrinks every size for a smoke run; its numbers are not measurements.
 *
 * The table goes to stdout, progress to stderr. Heap figures need a garbage collector the
 * runner can call, so without `--expose-gc` the runner starts itself again with it.
 *
 * Exit codes: 0 done; 1 a suite failed (the others still ran and were written); 2 bad usage
 * or a suite that does not exist.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, extname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { formatTable, isSuiteResult, toJson } from "./Report.ts"
import type { SuiteModule, SuiteOptions, SuiteResult } from "./Report.ts"

/** Every suite the runner knows, in the order `all` runs them. */
const SUITES = ["runtime", "transport", "foundations", "content", "mesh"] as const

const USAGE = `usage: npm run bench -- SUITE [--json FILE] [--quick]
  SUITE    ${SUITES.join(" | ")} | all
  --json   write the results as JSON to FILE (for "all": an array with one object per suite)
  --quick  small sizes, few rounds: a smoke run, not a measurement`

interface Args {
  readonly suite: string
  readonly json: string | undefined
  readonly quick: boolean
}

/** Reads the command line; a string is a usage error. */
const parseArgs = (argv: ReadonlyArray<string>): Args | string => {
  let suite: string | undefined
  let json: string | undefined
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--quick") quick = true
    else if (arg === "--json") {
      const file = argv[++i]
      if (file === undefined || file.startsWith("--")) return "--json needs a file name"
      json = file
    } else if (arg.startsWith("--json=")) json = arg.slice("--json=".length)
    else if (arg === "--help" || arg === "-h") return ""
    else if (arg.startsWith("-")) return `unknown option ${arg}`
    else if (suite === undefined) suite = arg
    else return `one suite at a time (got ${suite} and ${arg}); use "all" for every suite`
  }
  if (suite === undefined) return "which suite?"
  if (suite !== "all" && !(SUITES as ReadonlyArray<string>).includes(suite)) return `unknown suite ${suite}`
  return { suite, json, quick }
}

/** Starts this script again with `--expose-gc` and exits with its status; returns only if `gc` is already there. */
const ensureGc = (): void => {
  if (typeof (globalThis as { gc?: unknown }).gc === "function") return
  const script = fileURLToPath(import.meta.url)
  const child = spawnSync(process.execPath, ["--expose-gc", ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: "inherit"
  })
  if (child.error !== undefined) {
    process.stderr.write(`bench: could not start node with --expose-gc (${child.error.message}); heap figures will be NaN\n`)
    return
  }
  process.exit(child.status ?? 1)
}

type Loaded = { readonly ok: true; readonly module: SuiteModule } | { readonly ok: false; readonly missing: boolean; readonly message: string }

/** Imports `./NAME` (the same extension as this file: `.js` once built). */
const load = async (name: string): Promise<Loaded> => {
  const here = fileURLToPath(import.meta.url)
  const file = resolve(dirname(here), `${name}${extname(here)}`)
  if (!existsSync(file)) return { ok: false, missing: true, message: `suite "${name}" is not written yet (no ${name}${extname(here)} in the bench folder)` }
  try {
    const module = (await import(pathToFileURL(file).href)) as Partial<SuiteModule>
    if (typeof module.run !== "function") return { ok: false, missing: false, message: `suite "${name}" exports no run function` }
    return { ok: true, module: module as SuiteModule }
  } catch (error) {
    return { ok: false, missing: false, message: `suite "${name}" failed to load: ${describe(error)}` }
  }
}

const describe = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? error.message) : String(error)

const main = async (): Promise<number> => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === "string") {
    if (args !== "") process.stderr.write(`bench: ${args}\n`)
    process.stderr.write(`${USAGE}\n`)
    return args === "" ? 0 : 2
  }
  ensureGc()
  const options: SuiteOptions = { quick: args.quick, log: (line) => void process.stderr.write(`  ${line}\n`) }
  const names = args.suite === "all" ? SUITES : [args.suite]
  const done: Array<SuiteResult> = []
  let status = 0
  for (const name of names) {
    const loaded = await load(name)
    if (!loaded.ok) {
      process.stderr.write(`bench: ${loaded.message}${args.suite === "all" && loaded.missing ? ", skipped" : ""}\n`)
      if (args.suite !== "all") return 2
      if (!loaded.missing) status = 1
      continue
    }
    process.stderr.write(`bench: ${name}${args.quick ? " (quick)" : ""}, node ${process.version}\n`)
    try {
      const result: unknown = await loaded.module.run(options)
      if (!isSuiteResult(result)) throw new Error("run() did not return { suite, results: [{ name, unit, value, baselines }] }")
      done.push(result)
      process.stdout.write(`\n${formatTable(result)}\n`)
    } catch (error) {
      process.stderr.write(`bench: suite "${name}" failed: ${describe(error)}\n`)
      status = 1
    }
  }
  if (args.json !== undefined && done.length > 0) {
    const json = args.suite === "all" ? done.map(toJson) : toJson(done[0]!)
    mkdirSync(dirname(resolve(args.json)), { recursive: true })
    writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`)
    process.stderr.write(`bench: wrote ${args.json}\n`)
  }
  return status
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`bench: ${describe(error)}\n`)
    process.exit(1)
  }
)
