/**
 * The transport port and its implementations (PROTOCOL.md §3–§4.1): identity-bound connections
 * carrying long-lived streams of length-prefixed frames, over QUIC, over TLS on TCP (§3.2a), or
 * both at once.
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
 * The TLS-over-TCP `Transport` layer (§3.2a).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Tls from "./Tls.ts"

/**
 * Knobs of the TLS-over-TCP transport.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TlsConfig from "./TlsConfig.ts"

/**
 * The §3.2a stream multiplexer (sessions over any ordered byte link) and its chunk codec.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Mux from "./Mux.ts"

/**
 * The §3.2a chunk format: encoding and the incremental decoder.
 *
 * @since 0.1.0
 * @category modules
 */
export * as MuxChunk from "./MuxChunk.ts"

/**
 * One `Transport` over QUIC and TLS at once, dialling by address scheme.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Composite from "./Composite.ts"

/**
 * The port other actors use to reach a live connection (types and errors); the connection
 * actor implements it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ConnectionHandle from "./ConnectionHandle.ts"

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
