/**
 * Realm ids (PROTOCOL.md §1): a realm is named by a string obeying the topic segment rule, and
 * identified on the wire by SHA-256 of the name's UTF-8 bytes (32 bytes). The zero realm (32 ×
 * 0x00, §0.3) carries system topics and protocol-internal traffic.
 *
 * This module computes ids only; it does not validate names (that is the topic segment rule of
 * §7.1) and it does not deal with realm authorities or membership delegations (UCAN, `./ucan/`).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Bytes from "../core/Bytes.ts"

/**
 * Bytes in a realm id.
 *
 * @since 0.1.0
 * @category constants
 */
export const idLength = 32

/**
 * The zero realm: 32 × 0x00 (a fresh copy on each call).
 *
 * @since 0.1.0
 * @category constants
 */
export const zero = (): Uint8Array => new Uint8Array(idLength)

/**
 * The realm id of a realm name: SHA-256(UTF-8 name).
 *
 * @example
 * ```ts
 * Realm.idHex("io.macula") // "abb81b5a614b63551b400b810648c0c8a78efad845442630c94b46cc95d2fcd1"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const id = (name: string): Uint8Array => Uint8Array.from(createHash("sha256").update(name, "utf8").digest())

/**
 * The realm id of a name as 64 lower-case hex digits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const idHex = (name: string): string => createHash("sha256").update(name, "utf8").digest("hex")

/**
 * Lower-case hex of a realm id: `Bytes.toHex` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toHex: (realmId: Uint8Array) => string = Bytes.toHex

/**
 * Parses 64 hex digits (either case) into a realm id, or `undefined` if the text is not exactly
 * that.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromHex = (text: string): Uint8Array | undefined =>
  text.length === 64 ? Bytes.fromHex(text) : undefined
