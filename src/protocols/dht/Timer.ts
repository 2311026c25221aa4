/**
 * The DHT core's timers, as data (STYLE.md, the sans-IO rule 3). The core sends
 * `SetTimer {timer, at, generation}`; the actor fires `TimerFired` with the same generation at
 * `at`. Setting a timer again supersedes the old one: a firing whose generation is not the
 * latest for its `key` is ignored, so the actor never has to win a race against a cancel.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A timer of the DHT core.
 *
 * @since 0.1.0
 * @category models
 */
export type Timer = Data.TaggedEnum<{
  /** One outgoing request's `dhtRpcTimeoutMs`. */
  Rpc: { readonly request: number }
  /** One lookup's `lookupTimeoutMs`. */
  Lookup: { readonly lookup: number }
  /** Check buckets for a refresh (`bucketRefreshIntervalMs`). */
  Refresh: {}
  /** Look up our own id (`selfLookupIntervalMs`). */
  SelfLookup: {}
  /** Re-store held records (`replicateIntervalMs`). */
  Replicate: {}
  /** Drop expired records (`expireSweepIntervalMs`). */
  Sweep: {}
  /** The next own record due for republishing. */
  Republish: {}
  /** Emit a routing-table snapshot (`routingSnapshotIntervalMs`). */
  Snapshot: {}
}>

/**
 * Constructors and matchers for `Timer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Timer = Data.taggedEnum<Timer>()

/**
 * A string naming a timer, unique per timer: the key of the core's generation table and of
 * the actor's fiber map.
 *
 * @since 0.1.0
 * @category getters
 */
export const key = (timer: Timer): string => {
  switch (timer._tag) {
    case "Rpc":
      return `rpc:${timer.request}`
    case "Lookup":
      return `lookup:${timer.lookup}`
    default:
      return timer._tag
  }
}
