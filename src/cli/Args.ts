/**
 * The command line parser of `macula`: options are declared per command, parsing is pure and
 * total, and every mistake is a typed `UsageError` with a one-line message (the CLI prints it
 * and exits 2).
 *
 * Accepted forms: `--name value`, `--name=value`, `-o value` for declared short names, flags
 * (`--json`), repeatable options (`--seed A --seed B`, kept in order), and positional arguments.
 * `--` ends the options. A value may start with `-` only in the `--name=value` form, so a
 * forgotten value is reported instead of swallowing the next option.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The command line is wrong; `message` says how, in one line.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * One declared option.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptionSpec {
  /** Long name without dashes, e.g. `seed`. */
  readonly name: string
  /** One-letter short name without the dash, e.g. `o`. */
  readonly short?: string
  /** Takes no value. @default false */
  readonly flag?: boolean
  /** May be given more than once. @default false */
  readonly repeatable?: boolean
  /** Must be given. @default false */
  readonly required?: boolean
}

/**
 * What a command accepts.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandSpec {
  /** Shown in errors, e.g. `station`. */
  readonly command: string
  readonly options: ReadonlyArray<OptionSpec>
  /** Names of the positional arguments, in order; all required. @default [] */
  readonly positional?: ReadonlyArray<string>
}

/**
 * A parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parsed {
  /** Values by option name, in the order given. */
  readonly values: ReadonlyMap<string, ReadonlyArray<string>>
  readonly flags: ReadonlySet<string>
  readonly positional: ReadonlyArray<string>
}

/**
 * Parses `args` against `spec`: a `Parsed`, or a `UsageError`. Pure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (spec: CommandSpec, args: ReadonlyArray<string>): Parsed | UsageError => {
  const byName = new Map(spec.options.map((o) => [o.name, o]))
  const byShort = new Map(spec.options.flatMap((o) => (o.short === undefined ? [] : [[o.short, o] as const])))
  const values = new Map<string, Array<string>>()
  const flags = new Set<string>()
  const positional: Array<string> = []
  const fail = (message: string) => new UsageError({ message: `${spec.command}: ${message}` })
  let onlyPositional = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (onlyPositional || !arg.startsWith("-") || arg === "-") {
      positional.push(arg)
      continue
    }
    if (arg === "--") {
      onlyPositional = true
      continue
    }
    let option: OptionSpec | undefined
    let inline: string | undefined
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
      inline = eq < 0 ? undefined : arg.slice(eq + 1)
      option = byName.get(name)
      if (option === undefined) return fail(`unknown option --${name}`)
    } else {
      option = byShort.get(arg.slice(1))
      if (option === undefined) return fail(`unknown option ${arg}`)
    }
    const shown = `--${option.name}`
    if (option.flag === true) {
      if (inline !== undefined) return fail(`${shown} takes no value`)
      flags.add(option.name)
      continue
    }
    let value = inline
    if (value === undefined) {
      const next = args[i + 1]
      if (next === undefined || (next.startsWith("-") && next !== "-")) return fail(`${shown} needs a value`)
      value = next
      i++
    }
    const list = values.get(option.name) ?? []
    if (list.length > 0 && option.repeatable !== true) return fail(`${shown} may be given only once`)
    list.push(value)
    values.set(option.name, list)
  }
  for (const option of spec.options) {
    if (option.required === true && !values.has(option.name) && !flags.has(option.name)) {
      return fail(`--${option.name} is required`)
    }
  }
  const names = spec.positional ?? []
  if (positional.length < names.length) return fail(`missing ${names.slice(positional.length).join(", ")}`)
  if (positional.length > names.length) return fail(`unexpected argument "${positional[names.length]}"`)
  return { values, flags, positional }
}

/**
 * The single value of an option, if given.
 *
 * @since 0.1.0
 * @category getters
 */
export const one = (parsed: Parsed, name: string): string | undefined => parsed.values.get(name)?.[0]

/**
 * Every value of a repeatable option (empty if none).
 *
 * @since 0.1.0
 * @category getters
 */
export const all = (parsed: Parsed, name: string): ReadonlyArray<string> => parsed.values.get(name) ?? []

/**
 * An integer option in `[min, max]`, `fallback` when absent, or a `UsageError`.
 *
 * @since 0.1.0
 * @category getters
 */
export const integer = (
  parsed: Parsed,
  command: string,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER
): number | UsageError => {
  const text = one(parsed, name)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    return new UsageError({ message: `${command}: --${name} must be an integer from ${min} to ${max} (got "${text}")` })
  }
  return value
}
