/**
 * The one shared msgpackr packer of PROTOCOL.md §4.3, used for every frame and signed body.
 *
 * Key invariant: bodies are plain msgpack: no records (`useRecords: false`), maps decode to
 * plain objects, decoded `bin` values are copies (`copyBuffers`), never views of the receive
 * buffer, and `undefined` encodes as nil. Nothing here is handed to user code as a callback
 * (msgpackr's `pack(value, flags)` would misread an array index as flags), and nothing here
 * decodes bytes the pre-scan has not passed.
 *
 * It does not validate: `Codec` and `Signed` pre-scan before `unpack` and check fields after.
 *
 * @since 0.1.0
 */
import { Packr, RESERVE_START_SPACE } from "msgpackr"

/**
 * The shared packer. int64 values decode as numbers; the pre-scan has already flagged any
 * beyond ±(2^53−1), so no precision loss goes unnoticed.
 *
 * @since 0.1.0
 * @category internal
 */
export const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  copyBuffers: true,
  encodeUndefinedAsNil: true,
  int64AsType: "number"
})

/**
 * Flags for `packr.pack` that leave 4 bytes free before the body, for the length prefix.
 *
 * @since 0.1.0
 * @category internal
 */
export const reservePrefix = RESERVE_START_SPACE | 4

const range: { start: number; end: number } = { start: 0, end: 0 }

/**
 * Decodes `src[start..end)`, which the pre-scan passed. Bytes given as a Node `Buffer` (or any
 * subclass) are read through a plain `Uint8Array` view, so decoded `bin` values are plain
 * `Uint8Array` copies. May throw only if the pre-scan and msgpackr disagree; callers catch.
 *
 * @since 0.1.0
 * @category internal
 */
export const unpackRange = (src: Uint8Array, start: number, end: number): unknown => {
  range.start = start
  range.end = end
  return packr.unpack(plain(src), range)
}

/**
 * `bytes` itself when it is a plain `Uint8Array`, else a plain view of the same memory.
 *
 * @since 0.1.0
 * @category internal
 */
export const plain = (bytes: Uint8Array): Uint8Array =>
  bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
