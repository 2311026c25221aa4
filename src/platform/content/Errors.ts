/**
 * The errors of the content store: an I/O failure, a block that is not what its MCID says, a
 * store that is full.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The file system failed (permissions, disk full, a vanished directory). Not the peer's fault;
 * the actor that sees it decides whether to retry or to die.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentStoreError extends Data.TaggedError("ContentStoreError")<{
  /** What the store was doing, e.g. `write`, `read`, `list`. */
  readonly op: string
  /** The path or MCID concerned. */
  readonly target: string
  readonly cause: unknown
}> {}

/**
 * Bytes offered for an MCID that they do not hash to (or manifest bytes that do not open). The
 * store wrote nothing. For a fetched block this is the provider lying (§14 row 26).
 *
 * @since 0.1.0
 * @category errors
 */
export class IntegrityError extends Data.TaggedError("IntegrityError")<{
  /** The MCID, text form. */
  readonly mcid: string
  /** What did not match. */
  readonly message: string
}> {}

/**
 * Storing the block would take the store past `quotaBytes`, even after evicting every
 * unpinned block. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class QuotaExceeded extends Data.TaggedError("QuotaExceeded")<{
  /** Bytes the write needed. */
  readonly needed: number
  /** Bytes in use that cannot be evicted (pinned or reachable from a pin). */
  readonly pinnedBytes: number
  /** The quota. */
  readonly quotaBytes: number
}> {}
