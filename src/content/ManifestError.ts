/**
 * `ManifestError`: why manifest bytes were refused (PROTOCOL.md §12.2, §14 row 27).
 *
 * An expected failure, and always the provider's fault: the fetch penalises the provider that
 * sent the bytes and asks the next one.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Why the bytes were refused:
 *
 * - `hash_mismatch`: BLAKE3 of the bytes is not the MCID's digest, or the MCID is not a
 *   manifest MCID.
 * - `malformed`: not a msgpack map passing the pre-scan of §4.2, or a field of the wrong type.
 * - `not_canonical`: a valid manifest written with other key order, extra keys or longer
 *   encodings than the shortest (§12.2 fixes all three, so equal content has equal bytes).
 * - `inconsistent`: `v` ≠ 1, `cs` ≠ 262 144, `n` ≠ ⌈size / cs⌉, `n` < 2, or `h` does not
 *   have `n` entries of 32 bytes.
 * - `too_many_chunks`: `n` above `maxManifestChunks`.
 * - `bad_root`: the Merkle root of `h` is not `root`.
 *
 * @since 0.1.0
 * @category models
 */
export type ManifestErrorReason =
  | "hash_mismatch"
  | "malformed"
  | "not_canonical"
  | "inconsistent"
  | "too_many_chunks"
  | "bad_root"

/**
 * A refused manifest.
 *
 * @since 0.1.0
 * @category errors
 */
export class ManifestError extends Data.TaggedError("ManifestError")<{
  readonly reason: ManifestErrorReason
  readonly message: string
}> {}

/**
 * Builds a `ManifestError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (reason: ManifestErrorReason, message: string): ManifestError =>
  new ManifestError({ reason, message })
