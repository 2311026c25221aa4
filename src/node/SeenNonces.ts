/**
 * The seen-nonce memory of invocation checkers (PROTOCOL.md §13.4: an invocation is single-use):
 * a bounded, expiring set of nonces (invocation CIDs), each kept until its expiry plus the
 * clock-skew leeway. One memory serves the station's check of `au` (`Authorisation`), a
 * provider's check of `/content/get` and `/content/put` (`ContentAuthority`) and a
 * `requireInvocation` provider's check of `/mesh/call` (`ProviderInvocation`): a nonce is a CID,
 * so theirs never collide, and a node shares one ({@link make}, or `NonceLog.open` with a data
 * directory, which makes it survive a restart).
 *
 * A checker asks {@link SeenNonces.has} before it verifies an invocation (a replay is refused
 * `InvalidClaim` without a signature check) and {@link SeenNonces.record} once it passed, which
 * checks and records in one call. Both are synchronous, so nothing runs between the check and the
 * record.
 *
 * Bounded: at most `cap` entries. Each record first sweeps expired entries (`exp + leeway` before
 * now), then drops the oldest (insertion order) until there is room for the new one. Where the
 * checkers differed, the caller picks: the sweep looks at every entry (`sweep: "all"`, the
 * station's `Authorisation`) or only at the oldest ones, up to the first live one (`"head"`, the
 * providers' checkers: insertion order is roughly expiry order, so this is cheap and nearly as
 * good); and `Authorisation` builds its own memory with `maxSeenInvocations + 1` entries, as it
 * always kept one more than its cap. `has` does not look at expiries: an expired nonce not yet
 * swept is still refused as seen, as before.
 *
 * @since 0.1.0
 */

/**
 * What a memory is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Leeway on expiries, unix s: an entry lives until `exp + leewaySec`. */
  readonly leewaySec: number
  /** Most entries kept; the oldest go first. */
  readonly cap: number
}

/**
 * How one {@link SeenNonces.record} sweeps expired entries: every entry, or the oldest ones up to
 * the first live one.
 *
 * @since 0.1.0
 * @category models
 */
export type Sweep = "all" | "head"

/**
 * A seen-nonce memory.
 *
 * @since 0.1.0
 * @category models
 */
export interface SeenNonces {
  /** Whether `nonce` is held (expired entries not yet swept included). */
  readonly has: (nonce: string) => boolean
  /**
   * Check and record: `false` when `nonce` is held already (nothing changes), else sweeps, makes
   * room, records it until `expSec` (unix s) and returns `true`. A store with a file has the
   * nonce written before it returns `true` (see `NonceLog`).
   */
  readonly record: (nonce: string, expSec: number, nowSec: number, sweep?: Sweep) => boolean
  /** Entries held. */
  readonly size: () => number
  /** The entries held, oldest first: nonce and expiry (unix s). */
  readonly entries: () => ReadonlyArray<readonly [string, number]>
}

/**
 * A memory-only seen-nonce set, optionally seeded with `initial` entries (oldest first; expired
 * ones and those beyond the cap, oldest first, are dropped at the first record).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options, initial: Iterable<readonly [string, number]> = []): SeenNonces => {
  /** Nonce → expiry, unix s; insertion order is roughly expiry order. */
  const seen = new Map<string, number>(initial)
  const cap = Math.max(1, options.cap)
  return {
    has: (nonce) => seen.has(nonce),
    record: (nonce, expSec, nowSec, sweep = "head") => {
      if (seen.has(nonce)) return false
      for (const [cid, exp] of seen) {
        if (exp + options.leewaySec >= nowSec) {
          if (sweep === "head") break
          continue
        }
        seen.delete(cid)
      }
      // Still full: drop the oldest (a Map keeps insertion order).
      for (const cid of seen.keys()) {
        if (seen.size < cap) break
        seen.delete(cid)
      }
      seen.set(nonce, expSec)
      return true
    },
    size: () => seen.size,
    entries: () => Array.from(seen)
  }
}
