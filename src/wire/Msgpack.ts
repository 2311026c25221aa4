/**
 * The one shared msgpackr packer of PROTOCOL.md §4.3, used to encode every frame and signed
 * body.
 *
 * Key invariant: bodies are plain msgpack: no records (`useRecords: false`), maps are plain
 * objects and `undefined` encodes as nil. Nothing here is handed to user code as a callback
 * (msgpackr's `pack(value, flags)` would misread an array index as flags).
 *
 * Decoding does not go through msgpackr: the fused decoder (`Decoder.ts`) checks and builds
 * in one pass. The packer's decoding options (plain-object maps, `copyBuffers`, int64 as
 * numbers) still define what that decoder must produce: for any body the pre-scan passes,
 * `packr.unpack` is the reference its results are tested against.
 *
 * It does not validate: `Codec` and `Signed` check fields and pre-scan their own output.
 *
 * @since 0.1.0
 */
import { Packr, RESERVE_START_SPACE } from "msgpackr"

/**
 * The shared packer. Its decoding options are the reference for `Decoder.ts`: int64 values
 * decode as numbers (any beyond ±(2^53−1) is flagged by the scan, so no precision loss goes
 * unnoticed) and `bin` values as copies.
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

/**
 * `bytes` itself when it is a plain `Uint8Array`, else a plain view of the same memory.
 *
 * @since 0.1.0
 * @category internal
 */
export const plain = (bytes: Uint8Array): Uint8Array =>
  bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
