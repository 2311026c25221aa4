/**
 * The `Transport` port: identity-bound, stream-multiplexed connections between nodes
 * (PROTOCOL.md §3). One interface, several layers: QUIC (`Quic.layer`, the default), TLS over TCP
 * (`Tls.layer`, §3.2a), both at once (`Composite.layer`, dialling by address scheme) and the
 * in-memory simulated network used by tests and the simulator.
 *
 * What every implementation guarantees:
 * - **Identity.** `Connection.peerDid` is derived from the key the peer proved it holds in the
 *   handshake (§3.3), never from anything the peer merely claims. A dial with a pinned DID
 *   (`expectedDid` or a `#did:key:…` address fragment) never returns a connection to another
 *   key: it fails `IdentityMismatch` and the connection is closed `identity_mismatch`.
 * - **Streams of frames.** A `FrameStream` is a long-lived bidirectional stream carrying
 *   length-prefixed frames (§4.1) whose bodies are opaque bytes. Frames arrive whole and in order
 *   per stream. Sending is coalescing (all frames queued in one event-loop turn leave in one
 *   write) and applies backpressure (a send waits while more than the stream's buffer is queued).
 * - **Typed failure.** Everything expected fails with the tagged errors of `Errors.ts`; a reset
 *   or close carries its §3.7 name.
 *
 * What it does not do: HELLO, liveness pings, scoring or redial (the connection actor does, on
 * top of this port); decoding frame bodies (`src/wire`).
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Effect } from "effect/Effect"
import type { Scope } from "effect/Scope"
import type { ConnectionCloseName, StreamResetName } from "../../core/Codes.ts"
import type {
  ConnectionLost,
  DialError,
  ListenerClosed,
  ListenFailed,
  ReceiveError,
  SendError,
  StreamLimitReached
} from "./Errors.ts"

/**
 * One long-lived bidirectional stream of frames. One fiber sends and one fiber receives at a
 * time; concurrent senders are allowed (their frames interleave whole), concurrent receivers are
 * not.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameStream {
  /** Stream id, unique within its connection (QUIC stream id; §3.2a id on TLS). */
  readonly id: number
  /** Whether this side opened the stream. */
  readonly openedLocally: boolean
  /**
   * Queues one frame (its body; the length prefix is added). Succeeds at once while the queued
   * bytes stay under the stream's send buffer, otherwise waits until they drain: that wait is the
   * backpressure. Fails `PayloadTooLarge` (nothing queued) if the body exceeds `sendLimitBytes`.
   */
  readonly send: (body: Uint8Array) => Effect<void, SendError>
  /** `send` for several frames in order, with one backpressure check at the end. */
  readonly sendAll: (bodies: ReadonlyArray<Uint8Array>) => Effect<void, SendError>
  /** The next frame body. Fails `StreamEnded` once the peer finished its side. */
  readonly receive: Effect<Uint8Array, ReceiveError>
  /**
   * Every frame already received and decoded (at least one, waiting if none): the cheap way to
   * drain a busy stream.
   */
  readonly receiveMany: Effect<ReadonlyArray<Uint8Array>, ReceiveError>
  /** Finishes our side after the queued frames are written (FIN); receiving goes on. */
  readonly end: Effect<void>
  /** Resets both directions with a §3.7 code; queued frames are dropped. Idempotent. */
  readonly reset: (code: StreamResetName) => Effect<void>
  /** Largest body `send` accepts; the connection actor lowers it to the peer's `lim.f`. */
  readonly sendLimitBytes: number
  /** Sets `sendLimitBytes` (from the peer's HELLO `lim.f`). */
  readonly setSendLimit: (bytes: number) => void
}

/**
 * One authenticated connection to a peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** Unique per transport instance, for logs and registries. */
  readonly id: string
  /** The peer's DID, derived from its certificate key. */
  readonly peerDid: string
  /** The peer's 32-byte Ed25519 public key. */
  readonly peerPublicKey: Uint8Array
  /** The peer's address as seen from here, e.g. `quic://127.0.0.1:4433`. */
  readonly remoteAddress: string
  /** `outbound` if we dialled, `inbound` if we accepted it. */
  readonly direction: "inbound" | "outbound"
  /** Opens a new bidirectional stream. */
  readonly openStream: Effect<FrameStream, ConnectionLost | StreamLimitReached>
  /** The next stream the peer opened. */
  readonly acceptStream: Effect<FrameStream, ConnectionLost>
  /**
   * Closes the connection with a §3.7 code (default `normal`) and an optional reason for the
   * peer's logs; waits until the close is sent. Idempotent. Draining (`goodbye`) is the caller's.
   */
  readonly close: (code?: ConnectionCloseName, reason?: string) => Effect<void>
  /** Completes when the connection is gone, with why. Never fails. */
  readonly closed: Effect<ConnectionLost>
  /** Whether the connection is gone. */
  readonly isClosed: () => boolean
}

/**
 * Incoming connections on a listening transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /** The bound address, e.g. `quic://127.0.0.1:4433` (the real port when 0 was asked for). */
  readonly address: string
  /**
   * Every address this listener accepts on (a composite listens on QUIC and TLS at once); absent
   * means just `address`.
   */
  readonly addresses?: ReadonlyArray<string>
  /** The next authenticated inbound connection. */
  readonly accept: Effect<Connection, ListenerClosed>
}

/**
 * Options of one dial.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialOptions {
  /** The DID the peer must have; overrides a `#did:key:…` fragment in the address. */
  readonly expectedDid?: string
  /** Give up the handshake after this long. @default handshakeTimeoutMs of the layer */
  readonly timeoutMs?: number
}

/**
 * The transport port. The layer's scope owns everything: closing it stops listening, closes
 * every connection and releases the socket.
 *
 * @since 0.1.0
 * @category services
 */
export class Transport extends Context.Service<Transport, {
  /** This node's DID, as peers will see it. */
  readonly localDid: string
  /** The local socket address, e.g. `quic://127.0.0.1:40123` (shared by listener and dials). */
  readonly localAddress: string
  /** Starts accepting connections; stops when the scope closes. At most one listener at a time. */
  readonly listen: Effect<Listener, ListenFailed, Scope>
  /**
   * Connects to `address` (`quic://host:port` or `tls://host:port`, IPv6 bracketed, optional
   * `#did:key:…` pin) and authenticates the peer. Resolves once TLS is complete and the peer's
   * certificate checked. On QUIC the listener's verdict on *our* certificate is confirmed by its
   * HELLO (§3.4), and a refusal there surfaces as `ConnectionLost` with `by: "tls"` on the
   * connection; on TLS over TCP the dial waits for the listener's preface, so a refusal fails it.
   */
  readonly dial: (address: string, options?: DialOptions) => Effect<Connection, DialError>
}>()("macula/Transport") {}
