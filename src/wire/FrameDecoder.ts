/**
 * Incremental reading of one stream: push the chunks as they arrive, get whole frames out
 * (PROTOCOL.md §4.1).
 *
 * Key invariant: the frames produced do not depend on how the stream was split into chunks,
 * and the decoder never holds more than one frame's bytes: a frame wholly inside a chunk is
 * decoded in place, without copying; only a frame split across chunks is assembled, in a
 * buffer that grows with the bytes actually received and never beyond its L, which was
 * checked against `maxFrameBytes` first. Chunks are never retained after `push` returns, and
 * decoded frames share no memory with them; a large bin of a frame that was assembled may be
 * a view of that frame's own assembly buffer, which nothing else holds.
 *
 * After the first `DecodeError` the decoder is failed: the stream must be reset, and every
 * later `push` returns that error again with no frames. `end()` reports `truncated_frame` if
 * the stream ended inside a prefix or a body.
 *
 * It does not check which stream a frame may travel on (`Streams.check`), and does no I/O.
 *
 * @since 0.1.0
 */
import * as Codec from "./Codec.ts"
import * as CodecConfig from "./CodecConfig.ts"
import { protocolVersion } from "./Constants.ts"
import * as DecodeError from "./DecodeError.ts"
import type { Frame } from "./Frame.ts"
import { plain } from "./Msgpack.ts"

/**
 * What one `push` produced: the frames completed by the chunk, in order, then the error that
 * stopped decoding, if any (frames before the error are valid and may be dispatched).
 *
 * @since 0.1.0
 * @category models
 */
export interface PushResult {
  readonly frames: ReadonlyArray<Frame>
  readonly error: DecodeError.DecodeError | undefined
}

/**
 * An incremental decoder for one stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameDecoder {
  /** Feeds the next chunk of the stream. */
  readonly push: (chunk: Uint8Array) => PushResult
  /** The stream ended: `truncated_frame` if it ended inside a frame, else `undefined`. */
  readonly end: () => DecodeError.DecodeError | undefined
  /** Bytes of an incomplete frame currently held (prefix included). */
  readonly bufferedBytes: () => number
  /** The error that failed this decoder, if any. */
  readonly failure: () => DecodeError.DecodeError | undefined
}

const NO_FRAMES: ReadonlyArray<Frame> = []
const MIN_ASSEMBLY_BYTES = 4_096

class Decoder implements FrameDecoder {
  private readonly config: CodecConfig.CodecConfig
  private readonly version: number
  /** Bytes of the length prefix received so far, when it is split across chunks. */
  private readonly prefix = new Uint8Array(Codec.prefixBytes)
  private prefixHave = 0
  /** L of the frame being read, or −1 while reading a prefix. */
  private need = -1
  /** Assembly buffer of a frame split across chunks, and how much of it is filled. */
  private body: Uint8Array | undefined = undefined
  private bodyHave = 0
  private failed: DecodeError.DecodeError | undefined = undefined

  constructor(config: CodecConfig.CodecConfig, version: number) {
    this.config = config
    this.version = version
  }

  readonly push = (chunk: Uint8Array): PushResult => {
    if (this.failed !== undefined) return { frames: NO_FRAMES, error: this.failed }
    const src = plain(chunk)
    const size = src.length
    let frames: Array<Frame> | undefined
    let pos = 0
    while (pos < size) {
      if (this.need < 0) {
        let length: number
        if (this.prefixHave === 0 && size - pos >= Codec.prefixBytes) {
          length = Codec.readLength(src, pos)
          pos += Codec.prefixBytes
        } else {
          while (this.prefixHave < Codec.prefixBytes && pos < size) this.prefix[this.prefixHave++] = src[pos++]!
          if (this.prefixHave < Codec.prefixBytes) break
          this.prefixHave = 0
          length = Codec.readLength(this.prefix, 0)
        }
        const bad = Codec.checkLength(length, this.config)
        if (bad !== undefined) return this.fail(frames, bad)
        this.need = length
      }
      const need = this.need
      let result: Frame | DecodeError.DecodeError
      if (this.bodyHave === 0 && size - pos >= need) {
        // The whole body is in this chunk: decode it in place.
        result = Codec.decodeBodyAt(src, pos, pos + need, this.config, this.version)
        pos += need
      } else {
        const take = Math.min(need - this.bodyHave, size - pos)
        this.append(src, pos, take)
        pos += take
        if (this.bodyHave < need) break
        // The assembly buffer is this frame's alone and dropped right after: a block payload
        // may stay a view of it instead of being copied once more.
        result = Codec.decodeBodyAt(this.body!, 0, need, this.config, this.version, true)
        this.body = undefined
        this.bodyHave = 0
      }
      this.need = -1
      if (result instanceof DecodeError.DecodeError) return this.fail(frames, result)
      if (frames === undefined) frames = [result]
      else frames.push(result)
    }
    return { frames: frames ?? NO_FRAMES, error: undefined }
  }

  readonly end = (): DecodeError.DecodeError | undefined => {
    if (this.failed !== undefined) return this.failed
    if (this.prefixHave > 0) {
      return this.fail(undefined, DecodeError.make("truncated_frame", "stream ended inside a length prefix")).error
    }
    if (this.need >= 0) {
      const detail = `stream ended inside a body (${this.bodyHave} of ${this.need} bytes)`
      return this.fail(undefined, DecodeError.make("truncated_frame", detail)).error
    }
    return undefined
  }

  readonly bufferedBytes = (): number => this.prefixHave + (this.need >= 0 ? Codec.prefixBytes : 0) + this.bodyHave

  readonly failure = (): DecodeError.DecodeError | undefined => this.failed

  /** Copies `src[from..from+count)` into the assembly buffer, growing it up to L. */
  private append(src: Uint8Array, from: number, count: number): void {
    const want = this.bodyHave + count
    let body = this.body
    if (body === undefined || body.length < want) {
      // Grow with what has arrived (doubling), never past L, so a prefix alone pins no memory.
      const size = Math.min(this.need, Math.max(want, MIN_ASSEMBLY_BYTES, body === undefined ? 0 : body.length * 2))
      const grown = new Uint8Array(size)
      if (body !== undefined) grown.set(body.subarray(0, this.bodyHave))
      this.body = body = grown
    }
    body.set(src.subarray(from, from + count), this.bodyHave)
    this.bodyHave = want
  }

  private fail(frames: Array<Frame> | undefined, error: DecodeError.DecodeError): PushResult {
    this.failed = error
    this.body = undefined
    this.bodyHave = 0
    return { frames: frames ?? NO_FRAMES, error }
  }
}

/**
 * A decoder for one stream, checking frames against `config` and the negotiated `version`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: CodecConfig.CodecConfig = CodecConfig.defaults,
  version: number = protocolVersion
): FrameDecoder => new Decoder(config, version)
