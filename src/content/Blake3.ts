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
 * Pure: no state beyond scratch memory (the library's, and one aligned buffer here); every call
 * returns a fresh array.
 *
 * Alignment: the library reads 4-byte words straight from an input whose offset is a multiple
 * of 4 and assembles them byte by byte otherwise, which measured about 40 % slower on 256 KiB.
 * A block taken from a received frame is a view at an arbitrary offset, so a large unaligned
 * input is first copied into an aligned scratch buffer: the copy costs far less than it saves.
 *
 * @since 0.1.0
 */
import { hash as blake3, hashInto as blake3Into } from "blake3-jit"

/** Inputs at least this long are hashed from an aligned copy when unaligned. */
const alignFrom = 4_096
/** The largest input copied into scratch (a chunk); longer unaligned inputs are hashed in place. */
const scratchBytes = 262_144
let scratch: Uint8Array | undefined

/** `bytes`, or an aligned copy in scratch memory when that hashes faster. */
const aligned = (bytes: Uint8Array): Uint8Array => {
  if (bytes.byteOffset % 4 === 0 || bytes.length < alignFrom || bytes.length > scratchBytes) return bytes
  scratch ??= new Uint8Array(scratchBytes)
  const copy = scratch.subarray(0, bytes.length)
  copy.set(bytes)
  return copy
}

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
export const hash = (bytes: Uint8Array): Uint8Array => blake3(aligned(bytes))

/**
 * BLAKE3-256 of `bytes` written into `out` (at least 32 bytes), with no allocation.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashInto = (bytes: Uint8Array, out: Uint8Array): void => blake3Into(aligned(bytes), out, digestBytes)

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
