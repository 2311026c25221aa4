/**
 * The typed failures of the node (API.md "The node"): one class per failure a user handles.
 * Each is a `Data.TaggedError` whose `_tag` equals its class name, so Promise users test
 * `error._tag` (or `instanceof`) and Effect users recover with `Effect.catchTag`.
 *
 * | class | raised when |
 * |---|---|
 * | `ConfigError` | `MaculaNode.start` got a configuration it cannot run (every problem listed) |
 * | `ConnectionLost` | a client cannot reach any of its seeds, or the link it relied on ended |
 * | `NodeStopped` | an operation on a node that was stopped (or is stopping) |
 * | `NotImplemented` | an operation of API.md that this build does not carry yet (never a silent no-op) |
 * | `Unauthorized` | a station refused a capability (`err unauthorized`, `reason` = the UCAN error name) |
 * | `CallTimeout` | an RPC got no reply within its timeout |
 * | `NoProvider` | nobody advertises the procedure called |
 * | `RemoteError` | the provider's handler failed (`code`, `message`, `data?`) |
 * | `ContentNotFound` | no provider holds the MCID asked for |
 * | `IntegrityError` | content failed verification against its MCID |
 *
 * Not here: the errors of the pure libraries (`TopicError`, `DidError`, `UcanError`,
 * `McidError`, the wire's `DecodeError`), which their own modules define.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The node's configuration is invalid; nothing was started. `problems` lists every problem
 * found, in words.
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
 * A connection the operation needed is gone, or none could be made: a client reached none of its
 * seeds, or its home station went away before the operation completed. `code` is the §3.7 close
 * name when one is known (`liveness_lost`, `going_away`, …), else `unreachable`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{
  readonly code: string
  readonly reason: string
  /** The peer's address or DID, when known. */
  readonly peer?: string
}> {
  override get message(): string {
    return `connection lost (${this.code}): ${this.reason}`
  }
}

/**
 * The node was stopped (or is stopping); it accepts no further operations.
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeStopped extends Data.TaggedError("NodeStopped")<{
  readonly operation: string
}> {
  override get message(): string {
    return `${this.operation}: the node is stopped`
  }
}

/**
 * The operation is part of the public contract but this build does not carry it yet. It fails
 * at once and does nothing: no partial effect, no pretend success.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotImplemented extends Data.TaggedError("NotImplemented")<{
  readonly operation: string
  /** What it waits for, in words. */
  readonly missing: string
}> {
  override get message(): string {
    return `${this.operation} is not implemented yet (${this.missing})`
  }
}

/**
 * A station (or a provider checking `ucan`) refused the capability. `reason` is the UCAN error
 * name (`Expired`, `InvalidAudience`, `Revoked`, …) when the refusal carried one.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly operation: string
  readonly reason?: string
  readonly detail?: string
}> {
  override get message(): string {
    return `${this.operation}: unauthorized${this.reason === undefined ? "" : ` (${this.reason})`}${
      this.detail === undefined ? "" : `: ${this.detail}`
    }`
  }
}

/**
 * An RPC got no reply within its timeout. A non-idempotent call may still have run.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Data.TaggedError("CallTimeout")<{
  readonly procedure: string
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `${this.procedure}: no reply within ${this.timeoutMs} ms`
  }
}

/**
 * Nobody advertises the procedure called, or (direct mode) the station serving it cannot be
 * found; `detail` then says which.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoProvider extends Data.TaggedError("NoProvider")<{
  readonly procedure: string
  readonly detail?: string
}> {
  override get message(): string {
    return `${this.procedure}: no provider${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/**
 * The provider's handler failed; `code`, `message` and `data` are what it reported.
 *
 * @since 0.1.0
 * @category errors
 */
export class RemoteError extends Data.TaggedError("RemoteError")<{
  readonly code: string
  readonly message: string
  readonly data?: unknown
}> {}

/**
 * No provider holds the content asked for.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentNotFound extends Data.TaggedError("ContentNotFound")<{
  readonly mcid: string
}> {
  override get message(): string {
    return `${this.mcid}: content not found`
  }
}

/**
 * Content failed verification against its MCID (a block or manifest whose hash does not match).
 *
 * @since 0.1.0
 * @category errors
 */
export class IntegrityError extends Data.TaggedError("IntegrityError")<{
  readonly mcid: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.mcid}: integrity check failed: ${this.detail}`
  }
}

/**
 * Every failure the node's operations report.
 *
 * @since 0.1.0
 * @category errors
 */
export type MeshError =
  | ConfigError
  | ConnectionLost
  | NodeStopped
  | NotImplemented
  | Unauthorized
  | CallTimeout
  | NoProvider
  | RemoteError
  | ContentNotFound
  | IntegrityError
