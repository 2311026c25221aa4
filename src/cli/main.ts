#!/usr/bin/env node
/**
 * The `macula` command. Each subcommand parses its own arguments; errors end with a one-line
 * message on stderr and a non-zero exit code.
 */
import * as Effect from "effect/Effect"
import { supervisionAct } from "./demo/SupervisionAct.ts"
import * as Output from "./demo/Output.ts"

const usage = `usage: macula <command> [options]

commands:
  demo [--seed N] [--faults N] [--interval-ms N]
      a supervision tree healing under seeded chaos, with the live tree and a summary
`

/** Reads `--name value` options into a map; anything else is positional. */
const parseOptions = (args: ReadonlyArray<string>): { options: Map<string, string>; positional: Array<string> } => {
  const options = new Map<string, string>()
  const positional: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("--")) {
      const value = args[i + 1]
      if (value === undefined || value.startsWith("--")) throw new Error(`option ${arg} needs a value`)
      options.set(arg.slice(2), value)
      i++
    } else positional.push(arg)
  }
  return { options, positional }
}

const integer = (options: Map<string, string>, name: string, fallback: number, min = 0): number => {
  const text = options.get(name)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min} (got "${text}")`)
  return value
}

const demo = async (args: ReadonlyArray<string>): Promise<number> => {
  const { options } = parseOptions(args)
  const seed = integer(options, "seed", 7)
  const faults = integer(options, "faults", 60, 1)
  const meanIntervalMs = integer(options, "interval-ms", 60, 0)
  const out = Output.make()
  out.line("macula demo: the runtime under chaos (the mesh acts join as the mesh lands)")
  const ok = await Effect.runPromise(Effect.scoped(supervisionAct(out, { seed, faults, meanIntervalMs })))
  out.line(ok ? "\ndemo finished: every check held" : "\ndemo finished: a check FAILED")
  return ok ? 0 : 1
}

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  switch (command) {
    case "demo":
      return demo(rest)
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`macula: unknown command "${command}"\n${usage}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`macula: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
