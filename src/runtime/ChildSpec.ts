/**
 * Child specifications: how a supervisor starts, restarts and stops one child.
 *
 * | key        | meaning                                                      | default |
 * |------------|--------------------------------------------------------------|---------|
 * | `id`       | unique among the supervisor's children                       | —       |
 * | `start`    | an Effect that starts the child in the `Scope` it is given   | —       |
 * | `restart`  | `permanent` always, `transient` after an abnormal exit, `temporary` never | `permanent` |
 * | `shutdown` | ms to wait for `terminate` before abandoning it; `"brutal"` kills at once; `"infinity"` waits | 5 000 (workers), `"infinity"` (supervisors) |
 * | `kind`     | `worker` or `supervisor`                                     | `worker` |
 *
 * Warning: `"infinity"` on a worker can hang its supervisor's shutdown forever.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as ExitReason from "./ExitReason.ts"
import type { Process } from "./Process.ts"

/**
 * When a child is restarted after it exits.
 *
 * @since 0.1.0
 * @category models
 */
export type RestartType = "permanent" | "transient" | "temporary"

/**
 * How long a child may take to stop: ms, `"brutal"` (interrupt and do not wait) or `"infinity"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Shutdown = number | "brutal" | "infinity"

/**
 * One child of a static supervisor. `R` is the services its start effect needs (`Scope`
 * is provided by the supervisor: each child gets its own).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec<R = never> {
  readonly id: string
  /** Starts the child; resources it acquires in the given `Scope` are released after the child exits. */
  readonly start: Effect.Effect<Process, unknown, R>
  readonly restart?: RestartType
  readonly shutdown?: Shutdown
  readonly kind?: "worker" | "supervisor"
}

/**
 * The template of a `simple_one_for_one` supervisor: every child is started from it with
 * the arguments given to `startChild`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildTemplate<Args, R = never> {
  readonly start: (args: Args) => Effect.Effect<Process, unknown, R>
  readonly restart?: RestartType
  readonly shutdown?: Shutdown
  readonly kind?: "worker" | "supervisor"
  /** Shown in events and trees: `label#n`. @default "child" */
  readonly label?: string
}

/**
 * The restart type's verdict on an exit reason (OTP's `do_restart` clauses).
 *
 * @since 0.1.0
 * @category combinators
 */
export const shouldRestart = (restart: RestartType, reason: ExitReason.ExitReason): boolean => {
  switch (restart) {
    case "permanent":
      return true
    case "temporary":
      return false
    case "transient":
      return reason._tag === "Killed" || reason._tag === "Failure"
  }
}

/**
 * A child's effective shutdown: the given one, else 5 000 ms for workers and `"infinity"` for
 * supervisors (which wait for their own children).
 *
 * @since 0.1.0
 * @category getters
 */
export const shutdownOf = (spec: { readonly shutdown?: Shutdown; readonly kind?: "worker" | "supervisor" }): Shutdown =>
  spec.shutdown ?? (spec.kind === "supervisor" ? "infinity" : 5_000)

/**
 * What is wrong with a child spec's options, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (
  where: string,
  spec: { readonly restart?: unknown; readonly shutdown?: unknown; readonly kind?: unknown }
): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (spec.restart !== undefined && spec.restart !== "permanent" && spec.restart !== "transient" && spec.restart !== "temporary") {
    out.push(`${where}: unknown restart type ${JSON.stringify(spec.restart)}`)
  }
  const shutdown = spec.shutdown
  if (
    shutdown !== undefined && shutdown !== "brutal" && shutdown !== "infinity" &&
    !(typeof shutdown === "number" && Number.isFinite(shutdown) && shutdown >= 0)
  ) {
    out.push(`${where}: shutdown must be ms ≥ 0, "brutal" or "infinity" (got ${JSON.stringify(shutdown)})`)
  }
  if (spec.kind !== undefined && spec.kind !== "worker" && spec.kind !== "supervisor") {
    out.push(`${where}: unknown kind ${JSON.stringify(spec.kind)}`)
  }
  return out
}
