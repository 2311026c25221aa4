/**
 * Splitting content into 256 KiB chunks (PROTOCOL.md §12.2).
 *
 * Content of at most one chunk (empty included) is a single raw block; larger content is cut
 * into ⌈size / 262 144⌉ chunks, every one full but the last. Chunks are views (`subarray`) of
 * the content, never copies.
 *
 * @since 0.1.0
 */
import { chunkSizeBytes as wireChunkSize } from "../wire/Constants.ts"
import * as Blake3 from "./Blake3.ts"

/**
 * The chunk size: 262 144 bytes (a protocol constant, §0.3).
 *
 * @since 0.1.0
 * @category constants
 */
export const chunkSizeBytes: number = wireChunkSize

/**
 * How many chunks content of `size` bytes has: 1 up to one chunk (empty included), else
 * ⌈size / chunk size⌉.
 *
 * @since 0.1.0
 * @category getters
 */
export const count = (size: number): number => (size <= chunkSizeBytes ? 1 : Math.ceil(size / chunkSizeBytes))

/**
 * Whether content of `size` bytes is a single raw block (no manifest).
 *
 * @since 0.1.0
 * @category getters
 */
export const isSingleBlock = (size: number): boolean => size <= chunkSizeBytes

/**
 * Byte range `[start, end)` of chunk `index` in content of `size` bytes.
 *
 * @since 0.1.0
 * @category getters
 */
export const range = (size: number, index: number): readonly [number, number] => {
  const start = index * chunkSizeBytes
  return [start, Math.min(size, start + chunkSizeBytes)]
}

/**
 * Length in bytes of chunk `index` of content of `size` bytes.
 *
 * @since 0.1.0
 * @category getters
 */
export const lengthOf = (size: number, index: number): number => {
  const [start, end] = range(size, index)
  return end - start
}

/**
 * Chunk `index` of `content`, as a view.
 *
 * @since 0.1.0
 * @category getters
 */
export const chunk = (content: Uint8Array, index: number): Uint8Array => {
  const [start, end] = range(content.length, index)
  return content.subarray(start, end)
}

/**
 * Every chunk of `content`, in order, as views.
 *
 * @since 0.1.0
 * @category getters
 */
export const split = (content: Uint8Array): ReadonlyArray<Uint8Array> =>
  Array.from({ length: count(content.length) }, (_, i) => chunk(content, i))

/**
 * BLAKE3 of every chunk, in order: the `h` list of a manifest.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashes = (content: Uint8Array): ReadonlyArray<Uint8Array> => split(content).map(Blake3.hash)
