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
 * Bounded: at most `cap` entries. Each record first sweeps the expired entries at the head (the
 * oldest, up to the first live one: insertion order is roughly expiry order, so this is cheap);
 * only when the memory is still full does it sweep every expired entry, and only then does it drop
 * live ones, oldest first. A record costs a few steps, not a walk of the whole memory, until it
 * is full. `Authorisation` builds its own memory with `maxSeenInvocations + 1` entries, as it
 * always kept one more than its cap. `has` does not look at expiries: an expired nonce not yet
 * swept is still refused as seen (the invocation's own expiry refuses it anyway).
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
  readonly record: (nonce: string, expSec: number, nowSec: number) => boolean
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
    record: (nonce, expSec, nowSec) => {
      if (seen.has(nonce)) return false
      const expired = (exp: number) => exp + options.leewaySec < nowSec
      for (const [cid, exp] of seen) {
        if (!expired(exp)) break
        seen.delete(cid)
      }
      // Full: every expired entry goes before a live one does.
      if (seen.size >= cap) for (const [cid, exp] of seen) if (expired(exp)) seen.delete(cid)
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
