/**
 * Knobs of the TLS-over-TCP transport (PROTOCOL.md §3.2a, §16). Durations in ms, sizes in bytes;
 * each knob names its unit. The flow-control and limit knobs are the §16 transport knobs shared
 * with QUIC; `tlsIdleTimeoutMs` and `tlsKeepAliveMs` are the TLS counterparts of
 * `quicIdleTimeoutMs` and `quicKeepAliveMs`, with the same defaults. `fromQuic` derives a TLS
 * config from a QUIC one, for a node that listens on both.
 *
 * @since 0.1.0
 */
import type { QuicConfig } from "./QuicConfig.ts"

/**
 * TLS transport configuration (everything but the key has a default).
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  /** The node's 32-byte Ed25519 seed (§2.1). **Secret.** */
  readonly seed: Uint8Array
  /** Local address the listener binds (dials use an ephemeral port). @default "0.0.0.0" */
  readonly host: string
  /** TCP port the listener binds; 0 picks a free one (stations use 4433, §3.2a). @default 0 */
  readonly port: number
  /**
   * A connection from which nothing was received for this long is closed
   * (`ConnectionLost { by: "idle_timeout" }`). Both sides announce theirs and the smaller non-zero
   * value applies, as with QUIC's max_idle_timeout; 0 disables it. Keep-alives keep a live but
   * quiet connection open, so this bounds how long a dead or wedged peer goes unnoticed here.
   * @default 10_000
   */
  readonly tlsIdleTimeoutMs: number
  /**
   * A keep-alive chunk goes out after this long without sending (capped at half the idle
   * timeout); also the idle time before the OS sends TCP keep-alive probes (SO_KEEPALIVE), which
   * keep NAT bindings alive. Must be below `tlsIdleTimeoutMs`.
   * @default 3_000
   */
  readonly tlsKeepAliveMs: number
  /** A dial, or an inbound TLS handshake plus preface, not complete within this long fails. @default 10_000 */
  readonly handshakeTimeoutMs: number
  /** Streams the peer may have open at once on one connection (announced in the preface). @default 128 */
  readonly maxStreamsPerConnection: number
  /** Per-stream credit: bytes the peer may send on one stream before we read them. @default 4_194_304 */
  readonly streamWindowBytes: number
  /** Per-connection credit over all streams; bounds what one peer can make us buffer. @default 16_777_216 */
  readonly connectionWindowBytes: number
  /** Largest frame body accepted from a peer (§4.1); also the initial send limit. @default 1_048_576 */
  readonly maxFrameBytes: number
  /** Queued bytes per stream above which `send` waits (backpressure). @default 1_048_576 */
  readonly streamSendBufferBytes: number
  /**
   * Most stream-data bytes in one socket write. Larger = fewer writes for bulk; smaller = other
   * streams' chunks wait behind less of a bulk stream in the socket buffer.
   * @default 1_048_576
   */
  readonly writeBatchBytes: number
  /** Certificate creation time, unix ms. @default the current time when the transport starts */
  readonly certificateTimeMs?: number
}

/**
 * The defaults of every knob except `seed` (§16 where §16 names the knob).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Omit<TlsConfig, "seed"> = {
  host: "0.0.0.0",
  port: 0,
  tlsIdleTimeoutMs: 10_000,
  tlsKeepAliveMs: 3_000,
  handshakeTimeoutMs: 10_000,
  maxStreamsPerConnection: 128,
  streamWindowBytes: 4 * 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  streamSendBufferBytes: 1024 * 1024,
  writeBatchBytes: 1024 * 1024
}

/**
 * A full config from a seed and overrides.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: Uint8Array, overrides: Partial<Omit<TlsConfig, "seed">> = {}): TlsConfig => ({
  ...defaults,
  ...overrides,
  seed
})

/**
 * The TLS config matching a QUIC config: same key, host, certificate time, limits, windows and
 * liveness timings (`quicIdleTimeoutMs` → `tlsIdleTimeoutMs`, `quicKeepAliveMs` →
 * `tlsKeepAliveMs`), then `overrides` (typically the TCP `port`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromQuic = (quic: QuicConfig, overrides: Partial<Omit<TlsConfig, "seed">> = {}): TlsConfig => ({
  ...defaults,
  host: quic.host,
  port: quic.port,
  tlsIdleTimeoutMs: quic.quicIdleTimeoutMs,
  tlsKeepAliveMs: quic.quicKeepAliveMs,
  handshakeTimeoutMs: quic.handshakeTimeoutMs,
  maxStreamsPerConnection: quic.maxStreamsPerConnection,
  streamWindowBytes: quic.streamWindowBytes,
  connectionWindowBytes: quic.connectionWindowBytes,
  maxFrameBytes: quic.maxFrameBytes,
  streamSendBufferBytes: quic.streamSendBufferBytes,
  ...(quic.certificateTimeMs === undefined ? {} : { certificateTimeMs: quic.certificateTimeMs }),
  ...overrides,
  seed: quic.seed
})

/**
 * What is wrong with a config, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: TlsConfig): ReadonlyArray<string> => {
  const out: Array<string> = []
  const u32 = (name: keyof TlsConfig, value: number, min: number) => {
    if (!Number.isSafeInteger(value) || value < min || value > 0xffff_ffff) {
      out.push(`${name} must be an integer in ${min}..4294967295`)
    }
  }
  if (!(c.seed instanceof Uint8Array) || c.seed.length !== 32) out.push("seed must be 32 bytes")
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65_535) out.push("port must be 0..65535")
  u32("tlsIdleTimeoutMs", c.tlsIdleTimeoutMs, 0)
  u32("tlsKeepAliveMs", c.tlsKeepAliveMs, 1)
  u32("handshakeTimeoutMs", c.handshakeTimeoutMs, 1)
  u32("maxStreamsPerConnection", c.maxStreamsPerConnection, 1)
  u32("streamWindowBytes", c.streamWindowBytes, 1)
  u32("connectionWindowBytes", c.connectionWindowBytes, 1)
  u32("maxFrameBytes", c.maxFrameBytes, 1)
  u32("streamSendBufferBytes", c.streamSendBufferBytes, 1)
  u32("writeBatchBytes", c.writeBatchBytes, 1)
  if (c.tlsIdleTimeoutMs > 0 && c.tlsKeepAliveMs >= c.tlsIdleTimeoutMs) out.push("tlsKeepAliveMs must be below tlsIdleTimeoutMs")
  return out
}
