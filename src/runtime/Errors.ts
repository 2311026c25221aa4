/**
 * The typed failures of the runtime. Each is a `Data.TaggedError`, so callers recover with
 * `Effect.catchTag("CallTimeout", ...)`; whatever escapes unhandled is a defect for the
 * supervisor above.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { ExitReason } from "./ExitReason.ts"
import { describe } from "./ExitReason.ts"

/**
 * A supervisor or actor spec is invalid; nothing was started.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.problems.join("; ")
  }
}

/**
 * A `call` got no reply within its timeout. The callee may still handle the request later;
 * its reply is then dropped.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Data.TaggedError("CallTimeout")<{
  readonly actor: string
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `${this.actor} did not reply within ${this.timeoutMs} ms`
  }
}

/**
 * The callee exited (for any reason) before it replied, or was not alive when called.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorExited extends Data.TaggedError("ActorExited")<{
  readonly actor: string
  readonly reason: ExitReason
}> {
  override get message(): string {
    return `${this.actor} exited (${describe(this.reason)})`
  }
}

/**
 * The mailbox is full and its overflow policy is `fail`.
 *
 * @since 0.1.0
 * @category errors
 */
export class MailboxFull extends Data.TaggedError("MailboxFull")<{
  readonly actor: string
  readonly capacity: number
}> {
  override get message(): string {
    return `${this.actor}'s mailbox is full (${this.capacity} messages)`
  }
}

/**
 * A registry name is already held by a live process.
 *
 * @since 0.1.0
 * @category errors
 */
export class NameTaken extends Data.TaggedError("NameTaken")<{
  readonly name: string
}> {
  override get message(): string {
    return `the name "${this.name}" is already registered`
  }
}

/**
 * No child with that id (or ref) under this supervisor.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildNotFound extends Data.TaggedError("ChildNotFound")<{
  readonly supervisor: string
  readonly id: string
}> {
  override get message(): string {
    return `${this.supervisor} has no child "${this.id}"`
  }
}

/**
 * `startChild` with an id that is already present, or `deleteChild`/`restartChild` on a
 * child in the wrong state (OTP's `already_present`, `running`, `restarting`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildStateError extends Data.TaggedError("ChildStateError")<{
  readonly supervisor: string
  readonly id: string
  readonly state: "already_present" | "already_started" | "running" | "restarting" | "not_running"
}> {
  override get message(): string {
    return `${this.supervisor}: child "${this.id}" is ${this.state.replace("_", " ")}`
  }
}

/**
 * A child's start effect failed (or the child crashed in `init`).
 *
 * @since 0.1.0
 * @category errors
 */
export class StartFailed extends Data.TaggedError("StartFailed")<{
  readonly supervisor: string
  readonly id: string
  readonly reason: ExitReason
}> {
  override get message(): string {
    return `${this.supervisor}: child "${this.id}" failed to start (${describe(this.reason)})`
  }
}

/**
 * A supervisor restarted its children more than `intensity` times within `periodMs` and gave
 * up: it stopped all its children and exited with this failure, escalating to its parent.
 *
 * @since 0.1.0
 * @category errors
 */
export class RestartBudgetExceeded extends Data.TaggedError("RestartBudgetExceeded")<{
  readonly supervisor: string
  readonly intensity: number
  readonly periodMs: number
}> {
  override get message(): string {
    return `${this.supervisor} exceeded ${this.intensity} restarts in ${this.periodMs} ms`
  }
}

/**
 * The supervisor that was asked is no longer running.
 *
 * @since 0.1.0
 * @category errors
 */
export class SupervisorStopped extends Data.TaggedError("SupervisorStopped")<{
  readonly supervisor: string
}> {
  override get message(): string {
    return `${this.supervisor} is not running`
  }
}
