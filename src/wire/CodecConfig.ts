/**
 * Knobs of the wire codec (PROTOCOL.md §4 and §16, "codec" rows).
 *
 * Key invariant: every limit is checked before the bytes it guards are allocated or decoded,
 * so a peer cannot make the codec allocate more than `maxFrameBytes` per stream, nor recurse
 * deeper than `maxDecodeDepth`.
 *
 * This module does not enforce anything itself: the pre-scan, the codec and the frame
 * decoder read these values. It reads no environment and no file.
 *
 * @since 0.1.0
 */
import { chunkSizeBytes } from "./Constants.ts"

/**
 * Limits applied to every frame read from, or written to, a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface CodecConfig {
  /**
   * Largest frame body (the L of the length prefix) this side accepts, in bytes; announced to
   * peers as `hello.lim.f`. Lower values bound the memory a stream can pin; the value must
   * leave room for a `content.block` (chunk size + `blockFrameOverheadBytes`).
   * @default 1_048_576
   */
  readonly maxFrameBytes: number
  /**
   * Bytes a `content.block` frame may carry beyond one chunk (262 144 bytes) for its header
   * and fields; its body is limited to min(`maxFrameBytes`, chunk size + this).
   * @default 4_096
   */
  readonly blockFrameOverheadBytes: number
  /**
   * Deepest nesting of arrays and maps in a body, the top-level map counting as 1. Deeper
   * bodies are `malformed_frame` in the pre-scan, before the decoder recurses.
   * @default 32
   */
  readonly maxDecodeDepth: number
  /**
   * Most entries any single array or map may declare (a map entry is a key and a value).
   * Larger declarations are `malformed_frame` before any allocation.
   * @default 65_536
   */
  readonly maxCollectionEntries: number
}

/**
 * The defaults of PROTOCOL.md §16.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: CodecConfig = {
  maxFrameBytes: 1_048_576,
  blockFrameOverheadBytes: 4_096,
  maxDecodeDepth: 32,
  maxCollectionEntries: 65_536
}

/**
 * A config with some knobs changed and the rest at their defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (overrides: Partial<CodecConfig> = {}): CodecConfig => ({ ...defaults, ...overrides })

/**
 * Largest body a `content.block` frame may have under `config`: min(`maxFrameBytes`, chunk
 * size + `blockFrameOverheadBytes`).
 *
 * @since 0.1.0
 * @category getters
 */
export const blockFrameLimit = (config: CodecConfig): number =>
  Math.min(config.maxFrameBytes, chunkSizeBytes + config.blockFrameOverheadBytes)

const isCount = (n: number, min: number, max: number): boolean => Number.isSafeInteger(n) && n >= min && n <= max

/**
 * What is wrong with a config, in words; empty means valid. Checked once, where a node starts.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (config: CodecConfig): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (!isCount(config.maxFrameBytes, 1, 0x7fff_ffff)) {
    found.push("maxFrameBytes must be an integer in 1..2 147 483 647")
  }
  if (!isCount(config.blockFrameOverheadBytes, 0, 0xffff_ffff)) {
    found.push("blockFrameOverheadBytes must be a non-negative integer")
  }
  if (isCount(config.maxFrameBytes, 1, 0x7fff_ffff) && config.maxFrameBytes < chunkSizeBytes + 64) {
    found.push("maxFrameBytes must leave room for a content.block (262 144 bytes of chunk plus its fields)")
  }
  if (!isCount(config.maxDecodeDepth, 1, 1_024)) {
    found.push("maxDecodeDepth must be an integer in 1..1 024")
  }
  if (!isCount(config.maxCollectionEntries, 1, 0xffff_ffff)) {
    found.push("maxCollectionEntries must be a positive integer")
  }
  return found
}
