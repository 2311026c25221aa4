/**
 * Content addressing for the Macula mesh (PROTOCOL.md §12.1–§12.2): MCIDs, BLAKE3, chunks,
 * Merkle roots, manifests, and the block layout of content. A pure, synchronous library: it
 * reads no clock, does no I/O and holds no state. Storing blocks is `ContentStore`'s job
 * (`src/platform/content`); moving them between nodes is the content exchange core's
 * (`src/protocols/content`).
 *
 * - `Mcid`: `ofBytes`, `ofBlock`, `parse`, `toString`, `bytes`, `fromBytes`, `equals`, `key`.
 * - `McidError`: the one error of MCID parsing, reason `invalid_mcid`.
 * - `Manifest`: canonical encoding and a total, checking decoder (`ManifestError`).
 * - `Content`: the blocks of some content, chunk verification, reassembly.
 * - `Blake3`, `Base32`, `Chunker`, `Merkle`: the pieces.
 *
 * @since 0.1.0
 */

/**
 * RFC 4648 base32, lowercase, unpadded.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Base32 from "./Base32.ts"

/**
 * BLAKE3-256.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Blake3 from "./Blake3.ts"

/**
 * 256 KiB chunking.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Chunker from "./Chunker.ts"

/**
 * Content as blocks: layout, verification, reassembly.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Content from "./Content.ts"

/**
 * The pure functions handed to the content exchange cores.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Hooks from "./Hooks.ts"

/**
 * Manifests: encoding and checked decoding.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Manifest from "./Manifest.ts"

/**
 * The error of a refused manifest.
 *
 * @since 0.1.0
 * @category errors
 */
export { ManifestError, type ManifestErrorReason } from "./ManifestError.ts"

/**
 * Content addresses.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Mcid from "./Mcid.ts"

/**
 * The error of MCID parsing.
 *
 * @since 0.1.0
 * @category errors
 */
export { McidError, type McidErrorReason } from "./McidError.ts"

/**
 * The Merkle root of chunk hashes.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Merkle from "./Merkle.ts"
