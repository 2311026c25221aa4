/**
 * Content as blocks: how bytes become the blocks a store keeps and a peer serves, and how the
 * blocks become the bytes again (PROTOCOL.md §12.2).
 *
 * `describe` gives the MCID of some content and every block to store: a single raw block, or a
 * manifest plus one raw block per chunk. `verifyChunk` is the check every received chunk
 * passes before it is written; `assemble` puts verified chunks back together.
 *
 * Pure and synchronous; no I/O.
 *
 * @since 0.1.0
 */
import * as Blake3 from "./Blake3.ts"
import * as Chunker from "./Chunker.ts"
import * as Manifest from "./Manifest.ts"
import * as Mcid from "./Mcid.ts"

/**
 * One block: its MCID and its bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Block {
  readonly mcid: Mcid.Mcid
  readonly bytes: Uint8Array
}

/**
 * Content laid out as blocks: `single` (one raw block, the MCID is the block's) or `chunked`
 * (a manifest block whose MCID is the content's, then the chunk blocks in order).
 *
 * @since 0.1.0
 * @category models
 */
export type Layout =
  | { readonly _tag: "single"; readonly mcid: Mcid.Mcid; readonly size: number; readonly block: Block }
  | {
    readonly _tag: "chunked"
    readonly mcid: Mcid.Mcid
    readonly size: number
    readonly manifest: Manifest.Manifest
    readonly manifestBytes: Uint8Array
    readonly chunks: ReadonlyArray<Block>
  }

/**
 * The layout of `content`. Chunk bytes are views of `content`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describe = (content: Uint8Array, metadata: Manifest.Metadata = {}): Layout => {
  if (Chunker.isSingleBlock(content.length)) {
    const mcid = Mcid.ofBlock(content)
    return { _tag: "single", mcid, size: content.length, block: { mcid, bytes: content } }
  }
  const manifest = Manifest.ofContent(content, metadata)
  const manifestBytes = Manifest.encode(manifest)
  const chunks = manifest.hashes.map((h, i) => ({ mcid: Mcid.raw(h), bytes: Chunker.chunk(content, i) }))
  return { _tag: "chunked", mcid: Mcid.manifest(Blake3.hash(manifestBytes)), size: content.length, manifest, manifestBytes, chunks }
}

/**
 * The manifest block of chunked content known only by its size and chunk hashes (a file hashed
 * chunk by chunk): the manifest, its exact bytes and the content's MCID. The chunks themselves
 * are stored as they are read, so the content is never whole in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describeHashes = (
  size: number,
  hashes: ReadonlyArray<Uint8Array>,
  metadata: Manifest.Metadata = {}
): { readonly mcid: Mcid.Mcid; readonly manifest: Manifest.Manifest; readonly manifestBytes: Uint8Array } => {
  const manifest = Manifest.ofHashes(size, hashes, metadata)
  const manifestBytes = Manifest.encode(manifest)
  return { mcid: Mcid.manifest(Blake3.hash(manifestBytes)), manifest, manifestBytes }
}

/**
 * Every block of a layout: the manifest first (when there is one), then the chunks.
 *
 * @since 0.1.0
 * @category getters
 */
export const blocks = (layout: Layout): ReadonlyArray<Block> =>
  layout._tag === "single"
    ? [layout.block]
    : [{ mcid: layout.mcid, bytes: layout.manifestBytes }, ...layout.chunks]

/**
 * The raw-block MCID of chunk `index` of a manifest.
 *
 * @since 0.1.0
 * @category getters
 */
export const chunkMcid = (manifest: Manifest.Manifest, index: number): Mcid.Mcid => Mcid.raw(manifest.hashes[index]!)

/**
 * Every chunk MCID of a manifest, in order.
 *
 * @since 0.1.0
 * @category getters
 */
export const chunkMcids = (manifest: Manifest.Manifest): ReadonlyArray<Mcid.Mcid> => manifest.hashes.map((h) => Mcid.raw(h))

/**
 * Whether `bytes` is chunk `index` of the manifest: the right length and BLAKE3 equal to `h[index]`.
 *
 * @since 0.1.0
 * @category verification
 */
export const verifyChunk = (manifest: Manifest.Manifest, index: number, bytes: Uint8Array): boolean => {
  const expected = manifest.hashes[index]
  if (expected === undefined || bytes.length !== Chunker.lengthOf(manifest.size, index)) return false
  return sameBytes(Blake3.hash(bytes), expected)
}

/**
 * Indexes of the chunks of `content` that do not match the manifest (all of them when the size
 * differs): where a corruption sits.
 *
 * @since 0.1.0
 * @category verification
 */
export const corruptChunks = (manifest: Manifest.Manifest, content: Uint8Array): ReadonlyArray<number> => {
  const bad: Array<number> = []
  for (let i = 0; i < manifest.chunkCount; i++) {
    const [start, end] = Chunker.range(manifest.size, i)
    if (end > content.length || !verifyChunk(manifest, i, content.subarray(start, end))) bad.push(i)
  }
  if (content.length !== manifest.size && bad.length === 0) bad.push(manifest.chunkCount - 1)
  return bad
}

/**
 * The content of a manifest from its chunks (`chunk(i)` for i in order). Does not verify:
 * chunks come from a store that verified them on the way in.
 *
 * @since 0.1.0
 * @category constructors
 */
export const assemble = (manifest: Manifest.Manifest, chunk: (index: number) => Uint8Array): Uint8Array => {
  const out = new Uint8Array(manifest.size)
  for (let i = 0; i < manifest.chunkCount; i++) out.set(chunk(i), Chunker.range(manifest.size, i)[0])
  return out
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
