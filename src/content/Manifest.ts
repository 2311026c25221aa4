/**
 * Manifests: the description of content larger than one chunk (PROTOCOL.md §12.2).
 *
 * A manifest is a msgpack map with keys in exactly this order and every value in its shortest
 * encoding: `v` 1, `size` u, `cs` 262 144, `n` u, `root` bin32, `h` [bin32] (every chunk hash),
 * then `name`? str and `mime`? str, omitted when absent. `encode` writes that form byte by byte
 * (not through msgpackr, whose string headers are not always the shortest), so equal content
 * with equal metadata always has equal bytes and an equal MCID.
 *
 * `decode` is total: any byte string gives a `Manifest` or a `ManifestError`, never a throw.
 * It accepts exactly the bytes `encode` produces for some manifest (it re-encodes what it read
 * and compares), after the §4.2 pre-scan and every §12.2 consistency check, including the
 * Merkle root. `open` adds the check that the bytes hash to the manifest MCID.
 *
 * @since 0.1.0
 */
import type { WireMap } from "../wire/Fields.ts"
import * as CodecConfig from "../wire/CodecConfig.ts"
import * as Decoder from "../wire/Decoder.ts"
import * as PreScan from "../wire/PreScan.ts"
import * as Blake3 from "./Blake3.ts"
import * as Chunker from "./Chunker.ts"
import * as ManifestError from "./ManifestError.ts"
import type { Mcid } from "./Mcid.ts"
import * as Merkle from "./Merkle.ts"

/**
 * A decoded, consistent manifest.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  /** Content size in bytes (more than one chunk). */
  readonly size: number
  /** Number of chunks, ⌈size / 262 144⌉ (at least 2). */
  readonly chunkCount: number
  /** Merkle root of `hashes`. */
  readonly root: Uint8Array
  /** BLAKE3 of each chunk, in order. */
  readonly hashes: ReadonlyArray<Uint8Array>
  /** Optional file name, informational. */
  readonly name?: string
  /** Optional media type, informational. */
  readonly mime?: string
}

/**
 * Optional metadata of a manifest.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  readonly name?: string
  readonly mime?: string
}

/**
 * Default cap on `n`: `maxManifestChunks` of §16 (30 000 chunks, about 7.3 GiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxChunks = 30_000

/**
 * The manifest of `content` (which must be larger than one chunk: smaller content is a raw
 * block and has no manifest; this throws for it, as a misuse).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ofContent = (content: Uint8Array, metadata: Metadata = {}): Manifest => {
  if (Chunker.isSingleBlock(content.length)) throw new Error("content of at most one chunk has no manifest")
  const hashes = Chunker.hashes(content)
  return withMetadata({ size: content.length, chunkCount: hashes.length, root: Merkle.root(hashes), hashes }, metadata)
}

/**
 * The manifest of content of `size` bytes whose chunk hashes are `hashes` (in order): what a
 * streaming put builds after hashing a file chunk by chunk, without the content in memory.
 * Throws, as a misuse, when `size` fits one chunk or `hashes` is not ⌈size / chunk size⌉ long.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ofHashes = (size: number, hashes: ReadonlyArray<Uint8Array>, metadata: Metadata = {}): Manifest => {
  if (Chunker.isSingleBlock(size)) throw new Error("content of at most one chunk has no manifest")
  if (hashes.length !== Chunker.count(size)) throw new Error(`${hashes.length} chunk hashes for ${Chunker.count(size)} chunks`)
  return withMetadata({ size, chunkCount: hashes.length, root: Merkle.root(hashes), hashes }, metadata)
}

const withMetadata = (base: Manifest, metadata: Metadata): Manifest => {
  const out: { -readonly [K in keyof Manifest]: Manifest[K] } = { ...base }
  if (metadata.name !== undefined) out.name = metadata.name
  if (metadata.mime !== undefined) out.mime = metadata.mime
  return out
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

const utf8 = new TextEncoder()

class Writer {
  bytes: Uint8Array
  at = 0
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity)
  }
  private room(n: number): void {
    if (this.at + n <= this.bytes.length) return
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n))
    grown.set(this.bytes.subarray(0, this.at))
    this.bytes = grown
  }
  byte(b: number): void {
    this.room(1)
    this.bytes[this.at++] = b
  }
  raw(b: Uint8Array): void {
    this.room(b.length)
    this.bytes.set(b, this.at)
    this.at += b.length
  }
  be(value: number, width: number): void {
    this.room(width)
    for (let i = width - 1; i >= 0; i--) {
      this.bytes[this.at + i] = value % 256
      value = Math.floor(value / 256)
    }
    this.at += width
  }
  uint(n: number): void {
    if (n < 0x80) this.byte(n)
    else if (n <= 0xff) (this.byte(0xcc), this.be(n, 1))
    else if (n <= 0xffff) (this.byte(0xcd), this.be(n, 2))
    else if (n <= 0xffff_ffff) (this.byte(0xce), this.be(n, 4))
    else (this.byte(0xcf), this.be(n, 8))
  }
  str(s: string): void {
    const b = utf8.encode(s)
    if (b.length < 32) this.byte(0xa0 | b.length)
    else if (b.length <= 0xff) (this.byte(0xd9), this.be(b.length, 1))
    else if (b.length <= 0xffff) (this.byte(0xda), this.be(b.length, 2))
    else (this.byte(0xdb), this.be(b.length, 4))
    this.raw(b)
  }
  bin(b: Uint8Array): void {
    if (b.length <= 0xff) (this.byte(0xc4), this.be(b.length, 1))
    else if (b.length <= 0xffff) (this.byte(0xc5), this.be(b.length, 2))
    else (this.byte(0xc6), this.be(b.length, 4))
    this.raw(b)
  }
  arrayHeader(n: number): void {
    if (n < 16) this.byte(0x90 | n)
    else if (n <= 0xffff) (this.byte(0xdc), this.be(n, 2))
    else (this.byte(0xdd), this.be(n, 4))
  }
  mapHeader(n: number): void {
    // A manifest map has 6 to 8 entries: always a fixmap.
    this.byte(0x80 | n)
  }
}

/**
 * The canonical bytes of `manifest` (§12.2): fixed key order, shortest encodings.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (manifest: Manifest): Uint8Array => {
  const w = new Writer(64 + 34 * manifest.hashes.length)
  w.mapHeader(6 + (manifest.name === undefined ? 0 : 1) + (manifest.mime === undefined ? 0 : 1))
  w.str("v")
  w.uint(1)
  w.str("size")
  w.uint(manifest.size)
  w.str("cs")
  w.uint(Chunker.chunkSizeBytes)
  w.str("n")
  w.uint(manifest.chunkCount)
  w.str("root")
  w.bin(manifest.root)
  w.str("h")
  w.arrayHeader(manifest.hashes.length)
  for (const h of manifest.hashes) w.bin(h)
  if (manifest.name !== undefined) (w.str("name"), w.str(manifest.name))
  if (manifest.mime !== undefined) (w.str("mime"), w.str(manifest.mime))
  return w.bytes.slice(0, w.at)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Limits for `decode` and `open`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /** Most chunks a manifest may list (`maxManifestChunks`). @default 30_000 */
  readonly maxChunks?: number
}

const isU = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

const malformed = (message: string) => ManifestError.make("malformed", message)
const inconsistent = (message: string) => ManifestError.make("inconsistent", message)

/**
 * Decodes and checks manifest bytes (everything of §12.2 except the MCID digest, which `open`
 * checks). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (
  bytes: Uint8Array,
  options: DecodeOptions = {}
): Manifest | ManifestError.ManifestError => {
  const maxChunks = options.maxChunks ?? defaultMaxChunks
  // A manifest of maxChunks chunks with generous metadata; anything longer is refused unread.
  if (bytes.length > 1_024 + 34 * maxChunks + 2 * 65_536) return ManifestError.make("too_many_chunks", `${bytes.length} bytes is too long for a manifest`)
  const config = CodecConfig.defaults
  const map: WireMap | undefined = Decoder.decode(bytes, 0, bytes.length, config.maxDecodeDepth, config.maxCollectionEntries)
  const scanned = Decoder.result()
  if (map === undefined) return malformed(`not a well-formed msgpack map: ${PreScan.describe(scanned)}`)
  if (scanned === PreScan.okWideInteger) return malformed("an integer outside ±(2^53−1)")
  const { v, size, cs, n, root, h, name, mime } = map as Record<string, unknown>
  if (v !== 1) return isU(v) ? inconsistent(`version ${v}, expected 1`) : malformed("v: expected u")
  if (!isU(size)) return malformed("size: expected u")
  if (!isU(cs)) return malformed("cs: expected u")
  if (!isU(n)) return malformed("n: expected u")
  if (!(root instanceof Uint8Array)) return malformed("root: expected bin")
  if (!Array.isArray(h)) return malformed("h: expected array")
  if (name !== undefined && typeof name !== "string") return malformed("name: expected str")
  if (mime !== undefined && typeof mime !== "string") return malformed("mime: expected str")
  if (cs !== Chunker.chunkSizeBytes) return inconsistent(`cs is ${cs}, expected ${Chunker.chunkSizeBytes}`)
  if (n > maxChunks) return ManifestError.make("too_many_chunks", `${n} chunks, at most ${maxChunks}`)
  if (n < 2) return inconsistent(`n is ${n}: content of one chunk is a raw block, not a manifest`)
  if (n !== Math.ceil(size / cs)) return inconsistent(`n is ${n}, but a size of ${size} makes ${Math.ceil(size / cs)} chunks`)
  if (h.length !== n) return inconsistent(`h has ${h.length} entries, n is ${n}`)
  if (root.length !== Blake3.digestBytes) return inconsistent(`root has ${root.length} bytes`)
  for (let i = 0; i < h.length; i++) {
    const x: unknown = h[i]
    if (!(x instanceof Uint8Array)) return malformed(`h[${i}]: expected bin`)
    if (x.length !== Blake3.digestBytes) return inconsistent(`h[${i}] has ${x.length} bytes`)
  }
  const hashes = h as ReadonlyArray<Uint8Array>
  const manifest = withMetadata(
    { size, chunkCount: n, root, hashes },
    { ...(name === undefined ? {} : { name }), ...(mime === undefined ? {} : { mime }) }
  )
  if (!sameBytes(encode(manifest), bytes)) {
    return ManifestError.make("not_canonical", "keys out of order, extra keys or non-shortest encodings")
  }
  if (!sameBytes(Merkle.root(hashes), root)) return ManifestError.make("bad_root", "root is not the Merkle root of h")
  return manifest
}

/**
 * Checks that `bytes` are the manifest named by `mcid` (a manifest MCID whose digest is
 * BLAKE3 of the bytes) and decodes them. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const open = (
  mcid: Mcid,
  bytes: Uint8Array,
  options: DecodeOptions = {}
): Manifest | ManifestError.ManifestError => {
  if (mcid.codec !== "manifest") return ManifestError.make("hash_mismatch", `${mcid} is not a manifest MCID`)
  if (!sameBytes(Blake3.hash(bytes), mcid.digest)) return ManifestError.make("hash_mismatch", `bytes do not hash to ${mcid}`)
  return decode(bytes, options)
}

/**
 * Whether a `decode`/`open` result is a refusal.
 *
 * @since 0.1.0
 * @category guards
 */
export const isError = (x: Manifest | ManifestError.ManifestError): x is ManifestError.ManifestError =>
  x instanceof ManifestError.ManifestError

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
