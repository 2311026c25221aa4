/**
 * The Merkle root of a manifest (PROTOCOL.md §12.2, as the reference computes it).
 *
 * Leaves are the chunk hashes. Each level hashes pairs left to right, parent =
 * BLAKE3(left ‖ right); an odd last hash is paired with itself; levels repeat until one hash
 * remains. With that self-pairing, `[a, b, c]` and `[a, b, c, c]` share a root: harmless here,
 * because a manifest MCID commits to `n` and every chunk hash, not only to the root.
 *
 * @since 0.1.0
 */
import * as Blake3 from "./Blake3.ts"

/**
 * The root of `leaves` (at least one; a single leaf is its own root). Throws on an empty list,
 * which no manifest has: callers check `n ≥ 2` first.
 *
 * @since 0.1.0
 * @category hashing
 */
export const root = (leaves: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (leaves.length === 0) throw new Error("Merkle.root of no leaves")
  if (leaves.length === 1) return leaves[0]!.slice()
  // Each level is written into one buffer of 32-byte hashes; a pair is copied into a 64-byte
  // scratch buffer and hashed into its parent's slot, so a level costs no per-node allocation.
  const D = Blake3.digestBytes
  let count = leaves.length
  let level = new Uint8Array(count * D)
  leaves.forEach((leaf, i) => level.set(leaf, i * D))
  const pair = new Uint8Array(2 * D)
  while (count > 1) {
    const parents = Math.ceil(count / 2)
    const next = new Uint8Array(parents * D)
    for (let p = 0; p < parents; p++) {
      const left = 2 * p * D
      const right = 2 * p + 1 < count ? left + D : left
      pair.set(level.subarray(left, left + D), 0)
      pair.set(level.subarray(right, right + D), D)
      Blake3.hashInto(pair, next.subarray(p * D, (p + 1) * D))
    }
    level = next
    count = parents
  }
  return level
}
