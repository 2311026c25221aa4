/**
 * BLAKE3-256, the hash of every MCID, chunk and Merkle node (PROTOCOL.md §12).
 *
 * Backed by `blake3-jit` (JavaScript with WebAssembly SIMD compiled at run time, no native
 * binary, no `.wasm` file, synchronous). It was chosen by measurement on 256 KiB chunks: about
 * 850 MB/s against about 50 MB/s for `@noble/hashes/blake3` (which stays the independent
 * reference the tests compare against) and on par with the other WebAssembly builds, while
 * being the fastest of them on the 64-byte inputs of the Merkle tree. A native addon was
 * faster still but ships binaries for only some platforms. `docs/guides/content.md` has the
 * numbers; `test/bench/content.ts` measures them again.
 *
 * Pure: no state beyond the library's own scratch memory; every call returns a fresh array.
 *
 * @since 0.1.0
 */
import { hash as blake3, hashInto as blake3Into } from "blake3-jit"

/**
 * Length of a digest in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const digestBytes = 32

/**
 * BLAKE3-256 of `bytes` (32 bytes, a new array).
 *
 * @since 0.1.0
 * @category hashing
 */
export const hash = (bytes: Uint8Array): Uint8Array => blake3(bytes)

/**
 * BLAKE3-256 of `bytes` written into `out` (at least 32 bytes), with no allocation.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashInto = (bytes: Uint8Array, out: Uint8Array): void => blake3Into(bytes, out, digestBytes)

/**
 * A Merkle parent: BLAKE3(left ‖ right) (§12.2).
 *
 * @since 0.1.0
 * @category hashing
 */
export const parent = (left: Uint8Array, right: Uint8Array): Uint8Array => {
  const both = new Uint8Array(left.length + right.length)
  both.set(left, 0)
  both.set(right, left.length)
  return blake3(both)
}
