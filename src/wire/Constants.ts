/**
 * Protocol constants of the wire (PROTOCOL.md §0.3 and the size rules of §3.4 and §6).
 *
 * Key invariant: these values are part of protocol version 1; changing one means a new
 * protocol version, so none of them is a knob. Knobs live in `CodecConfig`.
 *
 * This module does not validate anything; the catalogue and the pre-scan use these values.
 *
 * @since 0.1.0
 */

/**
 * The protocol version `v` carried by every frame of this implementation.
 *
 * @since 0.1.0
 * @category constants
 */
export const protocolVersion = 1

/**
 * Largest protocol integer: every `u` field lies in 0..2^53−1, and payload integers within
 * ±(2^53−1) (§4.3).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxProtocolInteger = Number.MAX_SAFE_INTEGER

/**
 * Content chunk size in bytes (256 KiB). A `content.block` carries at most one chunk.
 *
 * @since 0.1.0
 * @category constants
 */
export const chunkSizeBytes = 262_144

/**
 * Size of an MCID in bytes: `0x01 ‖ codec ‖ BLAKE3-256` (§12.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const mcidBytes = 34

/**
 * Size of a realm id, DHT key, node public key or node id in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const keyBytes = 32

/**
 * Size of an Ed25519 signature in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const signatureBytes = 64

/**
 * Size of a call id (`cid`) in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const callIdBytes = 16

/**
 * Size of a publisher session id (`sess`) in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const sessionIdBytes = 8

/**
 * Most listen addresses a station may list in its `hello` (`addrs`, §3.4).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxHelloAddrs = 8

/**
 * Longest `hello.impl` string, in UTF-8 bytes (§3.4).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxImplBytes = 64

/**
 * Longest `err.m` message, in UTF-8 bytes (§6).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxErrMessageBytes = 256

/**
 * Highest priority `p` of a `content.want` entry (§6).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxWantPriority = 255
