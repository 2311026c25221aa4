/**
 * The simulation runner: `npm run sim -- KIND [ARGS...] [--json FILE]`.
 *
 * Each kind is a module `test/sim/KIND.ts` that exports `run(args): Promise<object>` (the
 * arguments after `KIND`, with `--json FILE` taken out) and may export `usage`, its own usage
 * text. It throws an error named `UsageError` for bad arguments. The runner imports the module
 * only when its kind is asked for, so a kind whose file is not written yet costs nothing, and
 * adding one is one line in `KINDS`.
 *
 * The result goes to stdout as JSON and, with `--json FILE`, to FILE; progress and wall-clock
 * times go to stderr. Runs are deterministic: same arguments and seed, same JSON.
 *
 * Exit codes: 0 done; 1 the run failed; 2 bad usage, unknown kind or a kind not written yet.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, extname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** A kind's module, as the runner sees it. */
interface KindModule {
  readonly run: (args: ReadonlyArray<string>) => Promise<object>
  readonly usage?: string
}

/** Every kind: its module's base name is the kind; the text is the one-line summary. */
const KINDS: Readonly<Record<string, string>> = {
  swim: "SWIM + Lifeguard failure detection at scale: detection, dissemination, false positives, load",
  dht: "Kademlia lookups at scale: success, hops, messages per lookup under churn and adversaries"
}

const USAGE = `usage: npm run sim -- KIND [ARGS...] [--json FILE]
${Object.entries(KINDS).map(([kind, summary]) => `  ${kind.padEnd(6)} ${summary}`).join("\n")}
  --json FILE  also write the result to FILE
  npm run sim -- KIND --help   the arguments of one kind`

const describe = (error: unknown): string => error instanceof Error ? (error.stack ?? error.message) : String(error)

const isUsageError = (error: unknown): error is Error => error instanceof Error && error.name === "UsageError"

/** Imports the kind's module (same extension as this file, `.js` once built); a string is why not. */
const load = async (kind: string): Promise<KindModule | string> => {
  const here = fileURLToPath(import.meta.url)
  const file = resolve(dirname(here), `${kind}${extname(here)}`)
  if (!existsSync(file)) return `kind "${kind}" is not written yet (no ${kind}${extname(here)} beside the runner)`
  const module = (await import(pathToFileURL(file).href)) as Partial<KindModule>
  if (typeof module.run !== "function") return `kind "${kind}" exports no run function`
  return module as KindModule
}

/** Splits `--json FILE` (or `--json=FILE`) off the kind's arguments. */
const takeJson = (argv: ReadonlyArray<string>): { readonly json: string | undefined; readonly rest: Array<string> } | string => {
  let json: string | undefined
  const rest: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--json") {
      const file = argv[++i]
      if (file === undefined || file.startsWith("--")) return "--json needs a file name"
      json = file
    } else if (arg.startsWith("--json=")) json = arg.slice("--json=".length)
    else rest.push(arg)
  }
  return { json, rest }
}

const main = async (): Promise<number> => {
  const [kind, ...argv] = process.argv.slice(2)
  if (kind === undefined || kind === "--help" || kind === "-h") {
    process.stderr.write(`${kind === undefined ? "sim: which kind?\n" : ""}${USAGE}\n`)
    return kind === undefined ? 2 : 0
  }
  if (!Object.hasOwn(KINDS, kind)) {
    process.stderr.write(`sim: unknown kind ${JSON.stringify(kind)}\n${USAGE}\n`)
    return 2
  }
  const module = await load(kind)
  if (typeof module === "string") {
    process.stderr.write(`sim: ${module}\n`)
    return 2
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stderr.write(`${module.usage ?? `usage: npm run sim -- ${kind} [ARGS...] [--json FILE]`}\n`)
    return 0
  }
  const split = takeJson(argv)
  if (typeof split === "string") {
    process.stderr.write(`sim: ${split}\n`)
    return 2
  }
  let result: object
  try {
    result = await module.run(split.rest)
  } catch (error) {
    if (isUsageError(error)) {
      process.stderr.write(`sim ${kind}: ${error.message}\n${module.usage ?? USAGE}\n`)
      return 2
    }
    process.stderr.write(`sim ${kind}: failed: ${describe(error)}\n`)
    return 1
  }
  const text = `${JSON.stringify(result, null, 2)}\n`
  process.stdout.write(text)
  if (split.json !== undefined) {
    mkdirSync(dirname(resolve(split.json)), { recursive: true })
    writeFileSync(split.json, text)
    process.stderr.write(`sim: wrote ${split.json}\n`)
  }
  return 0
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`sim: ${describe(error)}\n`)
    process.exit(1)
  }
)
