/**
 * Identity for the Macula mesh: Ed25519 keys, `did:key` DIDs, node ids, station proof of work
 * and realm ids (PROTOCOL.md §1–§2). A pure, synchronous library on `node:crypto` and
 * `@noble/ed25519`; the only randomness is `Identity.generate`.
 *
 * - `Identity`: a key pair with `did`, `publicKey`, `sign`, and static `generate`, `fromSeed`,
 *   `generateStation`, `verify`.
 * - `Did`: `fromPublicKey`, `toPublicKey` (throws `DidError`), `isValid`.
 * - `Ed25519`: strict RFC 8032 verification on the platform and on `@noble/ed25519`.
 * - `NodeId`: SHA-256 node ids and the §2.4 proof of work.
 * - `Realm`: realm ids.
 * - `Base58`, `Varint`: the encodings `did:key` is made of.
 *
 * UCAN 1.0 capabilities live in `./ucan/`.
 *
 * @since 0.1.0
 */

/**
 * Base58btc encoding.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Base58 from "./Base58.ts"

/**
 * `did:key` DIDs for Ed25519 keys.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Did from "./Did.ts"

/**
 * The error `Did.toPublicKey` throws, and its codes.
 *
 * @since 0.1.0
 * @category errors
 */
export { DidError, type DidErrorCode } from "./DidError.ts"

/**
 * Strict Ed25519 on the platform and on `@noble/ed25519`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Ed25519 from "./Ed25519.ts"

/**
 * A node's key pair, DID and node id.
 *
 * @since 0.1.0
 * @category models
 */
export { Identity } from "./Identity.ts"

/**
 * Node ids and station proof of work.
 *
 * @since 0.1.0
 * @category modules
 */
export * as NodeId from "./NodeId.ts"

/**
 * Realm ids.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Realm from "./Realm.ts"

/**
 * Unsigned varints (multicodec prefixes).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Varint from "./Varint.ts"
