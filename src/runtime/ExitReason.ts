/**
 * Why a process (an actor or a supervisor) stopped, in OTP's vocabulary.
 *
 * | reason      | OTP                    | abnormal? | a `transient` child restarts? |
 * |-------------|------------------------|-----------|-------------------------------|
 * | `Normal`    | `normal`               | no        | no                            |
 * | `Shutdown`  | `shutdown`, `{shutdown, T}` | no   | no                            |
 * | `Killed`    | `killed` (and external interrupts) | yes | yes                     |
 * | `Failure`   | any crash: an error or a defect | yes | yes                          |
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"

/**
 * The reason a process exited.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitReason = Data.TaggedEnum<{
  /** The process finished its work and stopped on its own. */
  Normal: {}
  /** It was asked to stop (by its supervisor, its owner's scope, or `stop`). */
  Shutdown: { readonly detail?: unknown }
  /** It was killed: interrupted from outside, abandoned after its shutdown timeout, or linked to a killed process. */
  Killed: { readonly detail?: unknown }
  /** It crashed: `receive`, `init` or a resource failed or died. */
  Failure: { readonly cause: Cause.Cause<unknown> }
}>

/**
 * Constructors and matchers for `ExitReason`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ExitReason = Data.taggedEnum<ExitReason>()

/**
 * The shared `Normal` reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const normal: ExitReason = ExitReason.Normal()

/**
 * The shared plain `Shutdown` reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const shutdown: ExitReason = ExitReason.Shutdown({})

/**
 * The shared plain `Killed` reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const killed: ExitReason = ExitReason.Killed({})

/**
 * A crash carrying a typed error (as `Failure` with `Cause.fail`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const failure = (error: unknown): ExitReason => ExitReason.Failure({ cause: Cause.fail(error) })

/**
 * `Normal` and `Shutdown` are the expected ways to stop; everything else is abnormal and is
 * what links propagate and what restarts a `transient` child.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAbnormal = (reason: ExitReason): boolean => reason._tag === "Killed" || reason._tag === "Failure"

/**
 * One line for logs and the lifecycle stream.
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return reason.detail === undefined ? "shutdown" : `shutdown: ${String(reason.detail)}`
    case "Killed":
      return reason.detail === undefined ? "killed" : `killed: ${String(reason.detail)}`
    case "Failure": {
      const error = Cause.findErrorOption(reason.cause)
      if (error._tag === "Some") return `failure: ${messageOf(error.value)}`
      const defect = Cause.findDefect(reason.cause)
      return `failure: ${defect._tag === "Success" ? messageOf(defect.success) : Cause.pretty(reason.cause).split("\n")[0]}`
    }
  }
}

const messageOf = (value: unknown): string => {
  if (value instanceof Error) {
    const tag = (value as { _tag?: unknown })._tag
    const name = typeof tag === "string" ? tag : value.name
    return value.message === "" ? name : `${name}: ${value.message}`
  }
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
}
