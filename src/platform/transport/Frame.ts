/**
 * Length-prefixed frames on a byte stream (PROTOCOL.md §4.1): a 4-byte big-endian length L, then
 * exactly L body bytes. Bodies are opaque here; the msgpack codec lives in `src/wire`.
 *
 * `FrameDecoder` is a pure incremental decoder that accepts the stream cut into any chunks. It
 * checks 0 < L ≤ `maxFrameBytes` before allocating anything for a body, hands out bodies that lie
 * inside one chunk without copying (views of that chunk) and copies only bodies that straddle
 * chunks. Its first error is sticky: after `frame_too_large` or `malformed_frame` it accepts
 * nothing more, because the rest of the stream cannot be framed.
 *
 * @since 0.1.0
 */

/**
 * Bytes in the length prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const prefixBytes = 4

/**
 * The largest length a 4-byte prefix can state.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxEncodableBytes = 0xffff_ffff

/**
 * Why a stream could not be framed: the §3.7 stream reset names of §4.1.
 *
 * @since 0.1.0
 * @category models
 */
export type DecodeProblem = "frame_too_large" | "malformed_frame" | "truncated_frame"

/**
 * Writes the 4-byte big-endian prefix for a body of `length` bytes into `target` at `offset`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const writePrefix = (target: Uint8Array, offset: number, length: number): void => {
  target[offset] = (length >>> 24) & 0xff
  target[offset + 1] = (length >>> 16) & 0xff
  target[offset + 2] = (length >>> 8) & 0xff
  target[offset + 3] = length & 0xff
}

/**
 * One frame as bytes: prefix then body (a copy).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(prefixBytes + body.length)
  writePrefix(out, 0, body.length)
  out.set(body, prefixBytes)
  return out
}

// Bodies the decoder assembled across chunks: each its own buffer, exactly the body.
const assembled = new WeakSet<Uint8Array>()

/**
 * Whether `body` is one a `FrameDecoder` assembled across chunks: a fresh buffer holding
 * exactly that body, which the decoder forgot once it handed it out. Such a body is owned by
 * its receiver, so the codec may hand out a large `bin` as a view of it rather than a copy
 * (`Codec.decodeBody`'s `owned`); a body that is a view of a chunk is not.
 *
 * @since 0.1.0
 * @category decoding
 */
export const isAssembled = (body: Uint8Array): boolean => assembled.has(body)

/**
 * Incremental frame decoder. Feed chunks with `push`, which appends every completed body to
 * `out`; call `end` when the stream finished to learn whether it stopped inside a frame.
 *
 * @since 0.1.0
 * @category models
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  /** Prefix bytes gathered so far when a prefix straddles chunks. */
  readonly #prefix = new Uint8Array(prefixBytes)
  #prefixFill = 0
  /** The body being assembled across chunks, or `undefined` between frames. */
  #body: Uint8Array | undefined = undefined
  #bodyFill = 0
  #failed: DecodeProblem | undefined = undefined

  /**
   * @param maxFrameBytes - largest body accepted, 1..2^32−1. @default 1_048_576 (`maxFrameBytes`, §16)
   */
  constructor(maxFrameBytes = 1_048_576) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > maxEncodableBytes) {
      throw new RangeError("maxFrameBytes must be an integer in 1..2^32-1")
    }
    this.maxFrameBytes = maxFrameBytes
  }

  /** The sticky error, if the stream has already failed to frame. */
  get failed(): DecodeProblem | undefined {
    return this.#failed
  }

  /** Whether the decoder sits between frames (nothing partial buffered). */
  get idle(): boolean {
    return this.#prefixFill === 0 && this.#body === undefined
  }

  /**
   * Consumes `chunk`, appending completed bodies to `out` in order. Returns the problem if the
   * stream is (or already was) unframeable; bodies completed before the bad prefix stay in `out`.
   */
  push(chunk: Uint8Array, out: Array<Uint8Array>): DecodeProblem | undefined {
    if (this.#failed !== undefined) return this.#failed
    let at = 0
    const size = chunk.length
    while (at < size) {
      if (this.#body !== undefined) {
        const want = this.#body.length - this.#bodyFill
        const take = Math.min(want, size - at)
        this.#body.set(chunk.subarray(at, at + take), this.#bodyFill)
        this.#bodyFill += take
        at += take
        if (this.#bodyFill === this.#body.length) {
          assembled.add(this.#body)
          out.push(this.#body)
          this.#body = undefined
          this.#bodyFill = 0
        }
        continue
      }
      let length: number
      if (this.#prefixFill === 0 && size - at >= prefixBytes) {
        length = ((chunk[at]! << 24) >>> 0) + (chunk[at + 1]! << 16) + (chunk[at + 2]! << 8) + chunk[at + 3]!
        at += prefixBytes
      } else {
        while (this.#prefixFill < prefixBytes && at < size) this.#prefix[this.#prefixFill++] = chunk[at++]!
        if (this.#prefixFill < prefixBytes) break
        const p = this.#prefix
        length = ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!
        this.#prefixFill = 0
      }
      if (length === 0) return (this.#failed = "malformed_frame")
      if (length > this.maxFrameBytes) return (this.#failed = "frame_too_large")
      if (size - at >= length) {
        // Whole body inside this chunk: a view, no copy.
        out.push(chunk.subarray(at, at + length))
        at += length
      } else {
        this.#body = new Uint8Array(length)
        this.#bodyFill = 0
      }
    }
    return undefined
  }

  /** The stream ended: `truncated_frame` if it stopped inside a prefix or a body. */
  end(): DecodeProblem | undefined {
    if (this.#failed !== undefined) return this.#failed
    return this.idle ? undefined : (this.#failed = "truncated_frame")
  }
}
