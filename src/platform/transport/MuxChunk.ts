/**
 * The chunk format that multiplexes logical streams on one TLS-over-TCP connection (PROTOCOL.md
 * §3.2a): `stream id (u32 BE) ‖ flags (u8) ‖ length (u32 BE) ‖ length bytes`.
 *
 * | flag | bit | on a stream id | on `connectionId` (0xFFFF_FFFF) |
 * |---|---|---|---|
 * | `open` | 0x01 | opens the stream (may carry `data`, `fin`) | the preface: this side's `Settings` (16 bytes) |
 * | `data` | 0x02 | payload bytes, 1..`maxPayloadBytes` | — |
 * | `fin` | 0x04 | the sender's last chunk on the stream | — |
 * | `reset` | 0x08 | both directions reset; payload = §3.7 code (u32 BE) | connection close: code (u32 BE) ‖ UTF-8 reason |
 * | `credit` | 0x10 | flow-control credit; payload = increment (u32 BE) | connection credit; an increment of 0 is a keep-alive |
 *
 * `credit` and the reserved connection id are our additions to §3.2a (which names the four flags
 * and per-stream credit but no encoding for it); docs/transport.md lists them as a deviation.
 *
 * This module is pure: encoding, and an incremental decoder that checks each header *before*
 * allocating anything for its payload (unknown flag bits, forbidden combinations, lengths that do
 * not fit the chunk kind, payloads above `maxPayloadBytes`). Whether a chunk makes sense for the
 * connection's state (stream ids, credit, order) is the session's to judge (`Mux.ts`).
 *
 * @since 0.1.0
 */

/**
 * Bytes in a chunk header: id (4) + flags (1) + length (4).
 *
 * @since 0.1.0
 * @category constants
 */
export const headerBytes = 9

/**
 * Flag bits (§3.2a, plus `credit`).
 *
 * @since 0.1.0
 * @category constants
 */
export const Flag = {
  open: 0x01,
  data: 0x02,
  fin: 0x04,
  reset: 0x08,
  credit: 0x10
} as const

const knownFlags = Flag.open | Flag.data | Flag.fin | Flag.reset | Flag.credit

/**
 * The id reserved for the connection itself: its preface (`open`), credit and close (`reset`).
 * Stream ids are below it.
 *
 * @since 0.1.0
 * @category constants
 */
export const connectionId = 0xffff_ffff

/**
 * The largest payload of any chunk. Senders cut stream data into chunks of at most this size, so
 * streams interleave at this granularity; receivers refuse larger lengths before allocating.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxPayloadBytes = 65_536

/**
 * The longest reason text a connection close carries, in UTF-8 bytes; longer reasons are cut.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCloseReasonBytes = 1_024

/**
 * Payload bytes of the preface.
 *
 * @since 0.1.0
 * @category constants
 */
export const settingsBytes = 16

/**
 * What each side announces in its preface, the first chunk it sends (the TLS counterpart of QUIC
 * transport parameters). All u32.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Initial credit of every stream, in each direction towards the announcing side, bytes (≥ 1). */
  readonly streamWindowBytes: number
  /** Initial credit of the connection towards the announcing side, bytes (≥ 1). */
  readonly connectionWindowBytes: number
  /** Streams the peer may have open at once, opened by the peer. */
  readonly maxStreams: number
  /** The announcing side's idle timeout, ms; 0 = none. Both sides use the smaller non-zero value. */
  readonly idleTimeoutMs: number
}

/**
 * One decoded chunk, or one piece of a data chunk. Control chunks (no `data` flag) always come
 * whole. A data chunk comes as one or more pieces, in order and with nothing in between, each a view
 * of the bytes pushed (never a copy): the first has `first`, the last has `last`, and every piece
 * carries the chunk's id, flags and full `length`, so a receiver can check credit on the first
 * piece, before the rest has arrived. (A first piece may be empty: a header that ends a push is
 * announced at once.)
 *
 * @since 0.1.0
 * @category models
 */
export interface Chunk {
  readonly id: number
  readonly flags: number
  /** The payload length stated in the header. */
  readonly length: number
  /** The payload, or this piece of it. */
  readonly payload: Uint8Array
  /** This piece starts the chunk. */
  readonly first: boolean
  /** This piece ends the chunk. */
  readonly last: boolean
}

/**
 * Why bytes could not be decoded into chunks. The byte stream cannot be re-synchronised after any
 * of these, so the session closes the connection `protocol_violation`.
 *
 * - `unknown_flags`: a flag bit outside the five defined ones.
 * - `invalid_flags`: a combination the table above does not allow (e.g. `reset|data`, no flag).
 * - `invalid_length`: a length that does not fit the chunk kind (a 3-byte credit, data of 0 bytes,
 *   a `fin` with a payload).
 * - `payload_too_large`: a length above `maxPayloadBytes`.
 * - `truncated`: the byte stream ended inside a chunk.
 *
 * @since 0.1.0
 * @category models
 */
export type ChunkProblem = "unknown_flags" | "invalid_flags" | "invalid_length" | "payload_too_large" | "truncated"

/**
 * Checks a chunk header on its own: flags and length. Pure; `undefined` means acceptable.
 *
 * @since 0.1.0
 * @category validation
 */
export const headerProblem = (id: number, flags: number, length: number): ChunkProblem | undefined => {
  if ((flags & ~knownFlags) !== 0) return "unknown_flags"
  if (length > maxPayloadBytes) return "payload_too_large"
  if (id === connectionId) {
    if (flags === Flag.open) return length === settingsBytes ? undefined : "invalid_length"
    if (flags === Flag.credit) return length === 4 ? undefined : "invalid_length"
    if (flags === Flag.reset) return length >= 4 && length <= 4 + maxCloseReasonBytes ? undefined : "invalid_length"
    return "invalid_flags"
  }
  if ((flags & (Flag.reset | Flag.credit)) !== 0) {
    if (flags !== Flag.reset && flags !== Flag.credit) return "invalid_flags"
    return length === 4 ? undefined : "invalid_length"
  }
  if (flags === 0) return "invalid_flags"
  // open / data / fin in any non-empty combination; a payload exactly when `data` is set.
  return ((flags & Flag.data) !== 0) === (length > 0) ? undefined : "invalid_length"
}

/**
 * Writes a chunk header into `target` at `offset`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeHeader = (target: Uint8Array, offset: number, id: number, flags: number, length: number): void => {
  target[offset] = (id >>> 24) & 0xff
  target[offset + 1] = (id >>> 16) & 0xff
  target[offset + 2] = (id >>> 8) & 0xff
  target[offset + 3] = id & 0xff
  target[offset + 4] = flags
  target[offset + 5] = (length >>> 24) & 0xff
  target[offset + 6] = (length >>> 16) & 0xff
  target[offset + 7] = (length >>> 8) & 0xff
  target[offset + 8] = length & 0xff
}

const writeU32 = (target: Uint8Array, offset: number, value: number): void => {
  target[offset] = (value >>> 24) & 0xff
  target[offset + 1] = (value >>> 16) & 0xff
  target[offset + 2] = (value >>> 8) & 0xff
  target[offset + 3] = value & 0xff
}

/**
 * Reads a u32 BE at `offset` (the caller checked the bounds).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readU32 = (bytes: Uint8Array, offset: number): number =>
  ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!

/**
 * One chunk as bytes (header then payload, a copy). Does not validate; see `headerProblem`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (id: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const out = new Uint8Array(headerBytes + payload.length)
  writeHeader(out, 0, id, flags, payload.length)
  out.set(payload, headerBytes)
  return out
}

const u32Chunk = (id: number, flags: number, value: number): Uint8Array => {
  const out = new Uint8Array(headerBytes + 4)
  writeHeader(out, 0, id, flags, 4)
  writeU32(out, headerBytes, value)
  return out
}

/**
 * A credit chunk: `increment` more bytes may be sent on stream `id` (or on the connection, for
 * `connectionId`).
 *
 * @since 0.1.0
 * @category encoding
 */
export const credit = (id: number, increment: number): Uint8Array => u32Chunk(id, Flag.credit, increment)

/**
 * A keep-alive: a connection credit of 0, which only resets the peer's idle timer.
 *
 * @since 0.1.0
 * @category encoding
 */
export const keepAlive = (): Uint8Array => credit(connectionId, 0)

/**
 * A stream reset carrying a §3.7 stream code.
 *
 * @since 0.1.0
 * @category encoding
 */
export const reset = (id: number, code: number): Uint8Array => u32Chunk(id, Flag.reset, code)

/**
 * A connection close carrying a §3.7 connection code and a reason (cut to `maxCloseReasonBytes`).
 *
 * @since 0.1.0
 * @category encoding
 */
export const close = (code: number, reason: string): Uint8Array => {
  let text = Buffer.from(reason, "utf8")
  if (text.length > maxCloseReasonBytes) {
    // Cut at a character boundary so the reason stays valid UTF-8.
    let end = maxCloseReasonBytes
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--
    text = text.subarray(0, end)
  }
  const payload = new Uint8Array(4 + text.length)
  writeU32(payload, 0, code)
  payload.set(text, 4)
  return encode(connectionId, Flag.reset, payload)
}

/**
 * The preface: this side's settings, on `connectionId` with `open`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const preface = (settings: Settings): Uint8Array => {
  const payload = new Uint8Array(settingsBytes)
  writeU32(payload, 0, settings.streamWindowBytes)
  writeU32(payload, 4, settings.connectionWindowBytes)
  writeU32(payload, 8, settings.maxStreams)
  writeU32(payload, 12, settings.idleTimeoutMs)
  return encode(connectionId, Flag.open, payload)
}

/**
 * Reads the settings of a preface payload; `undefined` if a window is 0.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeSettings = (payload: Uint8Array): Settings | undefined => {
  if (payload.length !== settingsBytes) return undefined
  const settings = {
    streamWindowBytes: readU32(payload, 0),
    connectionWindowBytes: readU32(payload, 4),
    maxStreams: readU32(payload, 8),
    idleTimeoutMs: readU32(payload, 12)
  }
  return settings.streamWindowBytes === 0 || settings.connectionWindowBytes === 0 ? undefined : settings
}

/**
 * Incremental chunk decoder. Feed the byte stream in any pieces with `push`, which appends every
 * completed chunk (or data piece, see `Chunk`) to `out`; call `end` when the stream finished. Data
 * payloads are handed out as views of the pushed bytes, never copied; the few bytes of a control
 * payload straddling pushes are gathered. The first problem is sticky: nothing after it is
 * decoded.
 *
 * @since 0.1.0
 * @category models
 */
export class ChunkDecoder {
  readonly #header = new Uint8Array(headerBytes)
  #headerFill = 0
  /** The chunk whose payload is under way: its header fields and how much of it is still to come. */
  #id = 0
  #flags = 0
  #length = 0
  #remaining = 0
  #started = false
  /** A control payload being gathered across pushes (data payloads are never gathered). */
  #control: Uint8Array | undefined = undefined
  #failed: ChunkProblem | undefined = undefined

  /** The sticky problem, if the stream has failed to decode. */
  get failed(): ChunkProblem | undefined {
    return this.#failed
  }

  /** Whether the decoder sits between chunks. */
  get idle(): boolean {
    return this.#headerFill === 0 && this.#remaining === 0
  }

  /**
   * Consumes `bytes`, appending completed chunks and data pieces to `out` in order. Returns the
   * problem if the stream is (or already was) undecodable; what was decoded before the bad header
   * stays in `out`.
   */
  push(bytes: Uint8Array, out: Array<Chunk>): ChunkProblem | undefined {
    if (this.#failed !== undefined) return this.#failed
    let at = 0
    const size = bytes.length
    while (at < size) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, size - at)
        const piece = bytes.subarray(at, at + take)
        at += take
        this.#remaining -= take
        const last = this.#remaining === 0
        if (this.#control !== undefined) {
          this.#control.set(piece, this.#length - this.#remaining - take)
          if (last) {
            out.push({ id: this.#id, flags: this.#flags, length: this.#length, payload: this.#control, first: true, last: true })
            this.#control = undefined
          }
        } else {
          out.push({ id: this.#id, flags: this.#flags, length: this.#length, payload: piece, first: !this.#started, last })
          this.#started = true
        }
        continue
      }
      let id: number
      let flags: number
      let length: number
      if (this.#headerFill === 0 && size - at >= headerBytes) {
        id = readU32(bytes, at)
        flags = bytes[at + 4]!
        length = readU32(bytes, at + 5)
        at += headerBytes
      } else {
        while (this.#headerFill < headerBytes && at < size) this.#header[this.#headerFill++] = bytes[at++]!
        if (this.#headerFill < headerBytes) break
        const h = this.#header
        id = readU32(h, 0)
        flags = h[4]!
        length = readU32(h, 5)
        this.#headerFill = 0
      }
      const problem = headerProblem(id, flags, length)
      if (problem !== undefined) return (this.#failed = problem)
      const isData = (flags & Flag.data) !== 0
      if (length === 0 || (!isData && size - at >= length)) {
        out.push({ id, flags, length, payload: bytes.subarray(at, at + length), first: true, last: true })
        at += length
        continue
      }
      // A payload still to come: data streams out piece by piece; control is gathered (≤ 1 KiB).
      this.#id = id
      this.#flags = flags
      this.#length = length
      this.#remaining = length
      this.#started = false
      this.#control = isData ? undefined : new Uint8Array(length)
      if (isData && at === size) {
        // The header ends this push: announce the chunk now (an empty first piece), so a
        // receiver judges its credit without waiting for the payload.
        out.push({ id, flags, length, payload: bytes.subarray(at, at), first: true, last: false })
        this.#started = true
      }
    }
    return undefined
  }

  /** The byte stream ended: `truncated` if it stopped inside a header or a payload. */
  end(): ChunkProblem | undefined {
    if (this.#failed !== undefined) return this.#failed
    return this.idle ? undefined : (this.#failed = "truncated")
  }
}
