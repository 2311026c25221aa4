/**
 * The transport port and its QUIC implementation (PROTOCOL.md §3–§4.1): identity-bound
 * connections carrying long-lived streams of length-prefixed frames.
 *
 * @since 0.1.0
 */

/**
 * Node addresses: `quic://host:port#did:key:…`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Address from "./Address.ts"

/**
 * The self-signed Ed25519 certificate of §3.3: building and checking.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Certificate from "./Certificate.ts"

/**
 * The §3.7 stream reset and connection close codes.
 *
 * @since 0.1.0
 * @category modules
 */
export * as CloseCode from "./CloseCode.ts"

/**
 * The frame decoder and encoder of §4.1.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Frame from "./Frame.ts"

/**
 * The QUIC `Transport` layer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Quic from "./Quic.ts"

/**
 * Knobs of the QUIC transport.
 *
 * @since 0.1.0
 * @category modules
 */
export * as QuicConfig from "./QuicConfig.ts"

/**
 * The frame layer over any WHATWG byte stream pair (shared by every transport).
 *
 * @since 0.1.0
 * @category modules
 */
export { type BytePort, FramedStream, type FramedStreamOptions } from "./FramedStream.ts"

/**
 * Typed transport errors.
 *
 * @since 0.1.0
 * @category errors
 */
export * from "./Errors.ts"

/**
 * The port: the `Transport` service and its connection and stream models.
 *
 * @since 0.1.0
 * @category services
 */
export { type Connection, type DialOptions, type FrameStream, type Listener, Transport } from "./Transport.ts"
