/**
 * Unique names for processes, as OTP's local registry: a name maps to at most one live
 * process and is freed when that process exits.
 *
 * The registry is an Effect reference with a process-wide default; provide a fresh one
 * (`Registry.make()`) to isolate a test or a node.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { NameTaken } from "./Errors.ts"
import type { Process } from "./Process.ts"

/**
 * A name table.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  /** Registers `name` for `process` until it exits; fails if a live process holds it. */
  readonly registerUnsafe: (name: string, process: Process) => NameTaken | undefined
  /** The live process registered under `name`. */
  readonly whereisUnsafe: (name: string) => Process | undefined
  /** Frees `name` if `process` holds it. */
  readonly unregisterUnsafe: (name: string, process?: Process) => void
  /** Every registered name with its process. */
  readonly entriesUnsafe: () => ReadonlyArray<readonly [string, Process]>
}

/**
 * A fresh, empty registry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Registry => {
  const names = new Map<string, { readonly process: Process; readonly unwatch: () => void }>()
  const unregisterUnsafe = (name: string, process?: Process) => {
    const entry = names.get(name)
    if (entry === undefined || (process !== undefined && entry.process !== process)) return
    names.delete(name)
    entry.unwatch()
  }
  return {
    registerUnsafe: (name, process) => {
      const held = names.get(name)
      if (held !== undefined && held.process.isAlive()) return new NameTaken({ name })
      if (held !== undefined) unregisterUnsafe(name)
      if (!process.isAlive() && process.exitReason() !== undefined) return undefined
      let registered = true
      const entry = { process, unwatch: () => {} }
      names.set(name, entry)
      const unwatch = process.watchUnsafe(() => {
        registered = false
        if (names.get(name) === entry) names.delete(name)
      })
      if (registered) entry.unwatch = unwatch
      return undefined
    },
    whereisUnsafe: (name) => {
      const entry = names.get(name)
      return entry !== undefined && entry.process.isAlive() ? entry.process : undefined
    },
    unregisterUnsafe,
    entriesUnsafe: () => [...names].filter(([, e]) => e.process.isAlive()).map(([name, e]) => [name, e.process] as const)
  }
}

/**
 * The registry in use: a process-wide one unless a test or node provides its own.
 *
 * @since 0.1.0
 * @category services
 */
export const CurrentRegistry: Context.Reference<Registry> = Context.Reference<Registry>(
  "macula/runtime/Registry",
  { defaultValue: make }
)

/**
 * Registers `name` for `process`; the name is freed when the process exits.
 *
 * @since 0.1.0
 * @category combinators
 */
export const register = (name: string, process: Process): Effect.Effect<void, NameTaken> =>
  Effect.flatMap(CurrentRegistry, (registry) => {
    const taken = registry.registerUnsafe(name, process)
    return taken === undefined ? Effect.void : Effect.fail(taken)
  })

/**
 * The live process registered under `name`, if any.
 *
 * @since 0.1.0
 * @category combinators
 */
export const whereis = (name: string): Effect.Effect<Process | undefined> =>
  Effect.map(CurrentRegistry, (registry) => registry.whereisUnsafe(name))

/**
 * Frees `name` (only if `process`, when given, is its holder).
 *
 * @since 0.1.0
 * @category combinators
 */
export const unregister = (name: string, process?: Process): Effect.Effect<void> =>
  Effect.map(CurrentRegistry, (registry) => registry.unregisterUnsafe(name, process))

/**
 * Every live registration.
 *
 * @since 0.1.0
 * @category combinators
 */
export const registered: Effect.Effect<ReadonlyArray<readonly [string, Process]>> = Effect.map(
  CurrentRegistry,
  (registry) => registry.entriesUnsafe()
)
