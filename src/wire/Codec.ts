/**
 * Frames to bytes and back: a 4-byte big-endian length L, then exactly L bytes holding one
 * msgpack map (PROTOCOL.md §4).
 *
 * Key invariant: decoding is total. For any bytes it returns a `Frame` or a `DecodeError`,
 * never throws, and never allocates before the checks that bound the allocation: L against
 * `maxFrameBytes` before the body is read, each rule of the pre-scan before the value it
 * guards is built (the fused decoder, `Decoder.ts`, checks and builds in one pass), field
 * checks before a frame is returned. Encoding either returns the complete framed bytes of a frame
 * the peer will accept, or an `EncodeError`, and then nothing is produced to send.
 *
 * Order of checks when decoding a body: L (`malformed_frame` for 0, `frame_too_large`) →
 * the pre-scan rules (`malformed_frame`) → `v` and `t` present and typed (`invalid_field`) → `v` equal
 * to the negotiated version, except on `hello`, which is how versions are negotiated
 * (`unsupported_version`) → known `t` (`unknown_type`) → no integer beyond ±(2^53−1)
 * (`invalid_field`) → the `content.block` limit (`frame_too_large`) → fields (`invalid_field`).
 *
 * It does not know streams: `wrong_stream` is decided with `Streams.check`, and incremental
 * reading of a byte stream is `FrameDecoder`'s job.
 *
 * @since 0.1.0
 */
import * as CodecConfig from "./CodecConfig.ts"
import * as Catalogue from "./Catalogue.ts"
import { protocolVersion } from "./Constants.ts"
import * as DecodeError from "./DecodeError.ts"
import * as Decoder from "./Decoder.ts"
import * as EncodeError from "./EncodeError.ts"
import * as Fields from "./Fields.ts"
import type { Frame } from "./Frame.ts"
import { packr, plain, reservePrefix } from "./Msgpack.ts"
import * as PreScan from "./PreScan.ts"

/**
 * Length of the frame prefix, in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const prefixBytes = 4

const malformed = (detail: string): DecodeError.DecodeError => DecodeError.make("malformed_frame", detail)

/**
 * Checks a decoded body as a frame; the steps after the pre-scan (see the module header).
 * `length` is the body length L, for the `content.block` limit.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromWire = (
  value: unknown,
  length: number,
  wideInteger: boolean,
  config: CodecConfig.CodecConfig,
  version: number
): Frame | DecodeError.DecodeError => {
  if (!Fields.isMap(value)) return malformed("top level is not a map")
  const v = value["v"]
  const t = value["t"]
  if (!Fields.isU(v)) return DecodeError.make("invalid_field", v === undefined ? "v: missing" : "v: expected u")
  if (typeof t !== "string") {
    return DecodeError.make("invalid_field", t === undefined ? "t: missing" : "t: expected str")
  }
  if (v !== version && t !== "hello") {
    return DecodeError.make("unsupported_version", `v = ${v}, negotiated ${version}`)
  }
  const check = Catalogue.checkFor(t)
  if (check === undefined) return DecodeError.make("unknown_type", `t = ${JSON.stringify(t.slice(0, 64))}`)
  if (wideInteger) return DecodeError.make("invalid_field", `${t}: integer beyond ±(2^53-1)`)
  if (t === "content.block" && length > CodecConfig.blockFrameLimit(config)) {
    return DecodeError.make("frame_too_large", `content.block body of ${length} bytes`)
  }
  Fields.reset()
  const frame = check(value)
  const problem = Fields.problem()
  return problem === undefined ? frame : DecodeError.make("invalid_field", `${t}.${problem}`)
}

/**
 * Decodes the body `src[start..end)` (L = end − start) without copying it. Decoded `bin`
 * values are copies, so the frame may outlive `src`; with `owned`, a caller that owns `src`
 * (nothing else will write to it) gets a bin of at least half the body as a view instead: a
 * block payload is not copied, and what the view pins is little more than itself.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBodyAt = (
  src: Uint8Array,
  start: number,
  end: number,
  config: CodecConfig.CodecConfig = CodecConfig.defaults,
  version: number = protocolVersion,
  owned: boolean = false
): Frame | DecodeError.DecodeError => {
  const length = end - start
  if (length <= 0) return malformed("empty frame (L = 0)")
  if (length > config.maxFrameBytes) {
    return DecodeError.make("frame_too_large", `L = ${length} above maxFrameBytes ${config.maxFrameBytes}`)
  }
  const viewFrom = owned ? Math.max(1, Math.ceil(length / 2)) : Infinity
  const value = Decoder.decode(src, start, end, config.maxDecodeDepth, config.maxCollectionEntries, viewFrom)
  if (value === undefined) return malformed(PreScan.describe(Decoder.result()))
  return fromWire(value, length, Decoder.result() === PreScan.okWideInteger, config, version)
}

/**
 * Decodes one whole frame body (the L bytes after the prefix). `owned` as for `decodeBodyAt`:
 * only for a body nothing else holds or will write to.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBody = (
  body: Uint8Array,
  config: CodecConfig.CodecConfig = CodecConfig.defaults,
  version: number = protocolVersion,
  owned: boolean = false
): Frame | DecodeError.DecodeError => decodeBodyAt(body, 0, body.length, config, version, owned)

/**
 * Reads the big-endian length prefix at `at` (4 bytes must be present).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readLength = (src: Uint8Array, at: number): number =>
  src[at]! * 0x100_0000 + ((src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!)

/**
 * Checks a length prefix before any body byte is read: `malformed_frame` for 0,
 * `frame_too_large` above `maxFrameBytes`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const checkLength = (
  length: number,
  config: CodecConfig.CodecConfig
): DecodeError.DecodeError | undefined => {
  if (length === 0) return malformed("empty frame (L = 0)")
  if (length > config.maxFrameBytes) {
    return DecodeError.make("frame_too_large", `L = ${length} above maxFrameBytes ${config.maxFrameBytes}`)
  }
  return undefined
}

/**
 * Decodes exactly one framed frame (prefix and body). Fewer bytes than the prefix announces
 * are `truncated_frame`; more are `malformed_frame`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (
  bytes: Uint8Array,
  config: CodecConfig.CodecConfig = CodecConfig.defaults,
  version: number = protocolVersion
): Frame | DecodeError.DecodeError => {
  if (bytes.length < prefixBytes) return DecodeError.make("truncated_frame", "stream ended inside the length prefix")
  const length = readLength(bytes, 0)
  const bad = checkLength(length, config)
  if (bad !== undefined) return bad
  const available = bytes.length - prefixBytes
  if (available < length) {
    return DecodeError.make("truncated_frame", `stream ended inside a body (${available} of ${length} bytes)`)
  }
  if (available > length) return malformed("bytes after the frame")
  return decodeBodyAt(bytes, prefixBytes, bytes.length, config, version)
}

/**
 * How to encode a frame for one peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncodeOptions {
  /** The peer's `hello.lim.f`: largest body it accepts. Default: this side's `maxFrameBytes`. */
  readonly maxFrameBytes?: number
  /** The negotiated version written as `v`. Default: 1. */
  readonly version?: number
  /** Local limits (depth, entries, the block limit). Default: `CodecConfig.defaults`. */
  readonly config?: CodecConfig.CodecConfig
}

/**
 * Encodes a frame as prefix and body, ready to write. Refuses, producing nothing, a frame
 * whose body exceeds the peer's limit (`payload_too_large`) or that the peer would reset
 * (`invalid_frame`: a field of the wrong type or size, or a payload msgpack cannot carry).
 * The result is a plain `Uint8Array` view into the shared packer's buffer: other encoded
 * frames may sit in the same memory (never overlapping), so copy it before modifying it.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (frame: Frame, options?: EncodeOptions): Uint8Array | EncodeError.EncodeError => {
  const config = options?.config ?? CodecConfig.defaults
  const version = options?.version ?? protocolVersion
  const peerLimit = options?.maxFrameBytes ?? config.maxFrameBytes
  const t: unknown = (frame as { readonly t?: unknown } | null)?.t
  const check = typeof t === "string" ? Catalogue.checkFor(t) : undefined
  if (check === undefined) return EncodeError.make("invalid_frame", `unknown frame type ${String(t)}`)
  Fields.reset()
  const wire = check(frame as unknown as Fields.WireMap) as { v?: number }
  const problem = Fields.problem()
  if (problem !== undefined) return EncodeError.make("invalid_frame", `${String(t)}.${problem}`)
  wire.v = version
  const unfit = Fields.unencodable(wire, 1, config.maxDecodeDepth, config.maxCollectionEntries)
  if (unfit !== undefined) return EncodeError.make("invalid_frame", `${String(t)}: cannot carry ${unfit}`)
  let bytes: Uint8Array
  try {
    bytes = plain(packr.pack(wire, reservePrefix))
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.slice(0, 200) : "unencodable value"
    return EncodeError.make("invalid_frame", `msgpack cannot encode it: ${why}`)
  }
  const length = bytes.length - prefixBytes
  const limit = t === "content.block" ? Math.min(peerLimit, CodecConfig.blockFrameLimit(config)) : peerLimit
  if (length > limit) return EncodeError.make("payload_too_large", `body of ${length} bytes above the limit ${limit}`)
  const scanned = PreScan.scan(bytes, prefixBytes, bytes.length, config.maxDecodeDepth, config.maxCollectionEntries)
  if (scanned !== PreScan.ok) {
    const why = scanned === PreScan.okWideInteger ? "integer beyond ±(2^53-1)" : PreScan.describe(scanned)
    return EncodeError.make("invalid_frame", `payload the peer would reject: ${why}`)
  }
  bytes[0] = length >>> 24
  bytes[1] = (length >>> 16) & 0xff
  bytes[2] = (length >>> 8) & 0xff
  bytes[3] = length & 0xff
  return bytes
}
