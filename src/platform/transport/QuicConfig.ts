/**
 * Knobs of the QUIC transport (PROTOCOL.md §3.1, §16). Durations in ms, sizes in bytes; each knob
 * names its unit. `defaults` holds the §16 values; `problems` lists what is wrong with a config.
 *
 * @since 0.1.0
 */

/**
 * QUIC transport configuration (everything but the key has a default).
 *
 * @since 0.1.0
 * @category models
 */
export interface QuicConfig {
  /** The node's 32-byte Ed25519 seed (§2.1). **Secret.** */
  readonly seed: Uint8Array
  /**
   * Local address of the one UDP socket shared by the listener and every dial. Stations bind
   * their listen address; clients an ephemeral port. @default "0.0.0.0"
   */
  readonly host: string
  /** Local UDP port; 0 picks a free one. @default 0 */
  readonly port: number
  /**
   * A connection from which nothing was heard for this long is closed (QUIC max_idle_timeout,
   * the smaller of both sides' values applies). With keep-alives flowing this only fires for a
   * dead or unreachable peer, so it bounds how long a dead peer goes unnoticed at this layer;
   * the application ping of §3.6 notices it sooner. Must exceed `quicKeepAliveMs`.
   * @default 10_000
   */
  readonly quicIdleTimeoutMs: number
  /** An ack-eliciting PING goes out after this long without sending (keeps NAT bindings and the idle timer alive). @default 3_000 */
  readonly quicKeepAliveMs: number
  /** A dial or an inbound handshake not complete within this long fails. @default 10_000 */
  readonly handshakeTimeoutMs: number
  /** Streams the peer may open on one connection (QUIC initial_max_streams_bidi). @default 128 */
  readonly maxStreamsPerConnection: number
  /** Per-stream flow-control window: bytes in flight on one stream before the sender waits. @default 4_194_304 */
  readonly streamWindowBytes: number
  /** Per-connection flow-control window over all streams. @default 16_777_216 */
  readonly connectionWindowBytes: number
  /** Largest frame body accepted from a peer (§4.1); also the initial send limit. @default 1_048_576 */
  readonly maxFrameBytes: number
  /**
   * Largest UDP payload we send (QUIC max_udp_payload_size). 1_350 fits every common path MTU;
   * loopback and jumbo-frame networks can use up to 65_527 for far less per-packet work.
   * @default 1_350
   */
  readonly maxUdpPayloadBytes: number
  /** Requested SO_RCVBUF and SO_SNDBUF of the UDP socket; below 4 MiB bursts drop packets. The OS may cap it. @default 4_194_304 */
  readonly socketBufferBytes: number
  /** Queued bytes per stream above which `send` waits (backpressure). @default 1_048_576 */
  readonly streamSendBufferBytes: number
  /** Bytes taken from QUIC per stream read. Larger = fewer reads for bulk, more memory per stream. @default 65_536 */
  readonly readChunkBytes: number
  /** Certificate creation time, unix ms. @default the current time when the transport starts */
  readonly certificateTimeMs?: number
}

/**
 * The §16 defaults of every knob except `seed`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Omit<QuicConfig, "seed"> = {
  host: "0.0.0.0",
  port: 0,
  quicIdleTimeoutMs: 10_000,
  quicKeepAliveMs: 3_000,
  handshakeTimeoutMs: 10_000,
  maxStreamsPerConnection: 128,
  streamWindowBytes: 4 * 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  maxUdpPayloadBytes: 1_350,
  socketBufferBytes: 4 * 1024 * 1024,
  streamSendBufferBytes: 1024 * 1024,
  readChunkBytes: 64 * 1024
}

/**
 * A full config from a seed and overrides.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: Uint8Array, overrides: Partial<Omit<QuicConfig, "seed">> = {}): QuicConfig => ({
  ...defaults,
  ...overrides,
  seed
})

/**
 * What is wrong with a config, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: QuicConfig): ReadonlyArray<string> => {
  const out: Array<string> = []
  const positive = (name: keyof QuicConfig, value: number) => {
    if (!Number.isSafeInteger(value) || value <= 0) out.push(`${name} must be a positive integer`)
  }
  if (!(c.seed instanceof Uint8Array) || c.seed.length !== 32) out.push("seed must be 32 bytes")
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65_535) out.push("port must be 0..65535")
  positive("quicIdleTimeoutMs", c.quicIdleTimeoutMs)
  positive("quicKeepAliveMs", c.quicKeepAliveMs)
  positive("handshakeTimeoutMs", c.handshakeTimeoutMs)
  positive("maxStreamsPerConnection", c.maxStreamsPerConnection)
  positive("streamWindowBytes", c.streamWindowBytes)
  positive("connectionWindowBytes", c.connectionWindowBytes)
  positive("maxFrameBytes", c.maxFrameBytes)
  positive("socketBufferBytes", c.socketBufferBytes)
  positive("streamSendBufferBytes", c.streamSendBufferBytes)
  positive("readChunkBytes", c.readChunkBytes)
  if (c.quicKeepAliveMs >= c.quicIdleTimeoutMs) out.push("quicKeepAliveMs must be below quicIdleTimeoutMs")
  if (c.maxUdpPayloadBytes < 1_200 || c.maxUdpPayloadBytes > 65_527) out.push("maxUdpPayloadBytes must be 1200..65527")
  if (c.maxFrameBytes > 0xffff_ffff) out.push("maxFrameBytes must fit the 4-byte prefix")
  return out
}
