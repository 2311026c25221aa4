/**
 * What actors and supervisors have in common: a process with a pid that runs until it exits
 * with an `ExitReason`, can be asked to stop, and can be watched.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { ExitReason } from "./ExitReason.ts"

/**
 * A process id, unique within the JavaScript process for its lifetime.
 *
 * @since 0.1.0
 * @category models
 */
export type Pid = number

let lastPid = 0

/**
 * The next unused pid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nextPid = (): Pid => ++lastPid

/**
 * A running (or exited) actor or supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Process {
  /** Unique id. */
  readonly pid: Pid
  /** The registered name, or a label such as `actor#12`; shown in trees and logs. */
  readonly label: string
  /** Workers are actors; supervisors supervise. */
  readonly kind: "worker" | "supervisor"
  /** Waits for the exit and returns its reason (at once if it already exited). */
  readonly await: Effect.Effect<ExitReason>
  /** The exit reason once exited, `undefined` while alive. */
  readonly exitReason: () => ExitReason | undefined
  /** Alive: started and not yet exited. */
  readonly isAlive: () => boolean
  /**
   * Asks the process to stop with `reason` (default `Shutdown`) and waits until it has:
   * `terminate` ran and its resources were released. Stopping an exited process does nothing.
   */
  readonly stop: (reason?: ExitReason) => Effect.Effect<void>
  /**
   * Sends an exit signal, as OTP's `exit/2`: a process trapping exits receives it as a
   * message; otherwise it exits with `reason` unless the reason is `Normal`. `Killed` cannot
   * be trapped. Does not wait.
   */
  readonly exit: (reason: ExitReason) => Effect.Effect<void>
  /**
   * Calls `onExit` once with the exit reason (at once if already exited); returns a function
   * that cancels the watch. Synchronous and cheap: the runtime's monitors and links use it.
   */
  readonly watchUnsafe: (onExit: (reason: ExitReason) => void) => () => void
}

/**
 * Waits for the exit of a process, as a monitor without a mailbox.
 *
 * @since 0.1.0
 * @category combinators
 */
export const awaitExit = (process: Process): Effect.Effect<ExitReason> => process.await
