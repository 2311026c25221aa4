/**
 * The live `Transport` layer over QUIC (`@matrixai/quic`, quiche; PROTOCOL.md §3.1, §3.3).
 *
 * One UDP socket per node carries the listener and every outgoing dial, so a station dials from
 * the address it listens on. Both sides present the node's self-signed Ed25519 certificate and
 * check the peer's with `Certificate.verifyChain` in the TLS verify hook (`verifyPeer` on both
 * sides; the listener requests a client certificate); the peer DID comes from that certificate.
 * ALPN is `macula-node/1`, 0-RTT is off, only bidirectional streams exist, the idle timeout and
 * keep-alive come from the config, and the socket buffers are raised to `socketBufferBytes`.
 *
 * Performance depends on the patched library (`patches/`, docs/transport.md); unpatched it is
 * correct but about ten times slower. The library logs at WARN and above only.
 *
 * Ordering at shutdown (the layer's scope): stop listening, close every connection (`going_away`
 * is the connection actor's to send first; here connections are closed `normal`), stop the socket.
 *
 * @since 0.1.0
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { events as quicEvents, errors as quicErrors, native as quicNative, QUICClient, QUICServer, QUICSocket } from "@matrixai/quic"
import type { QUICConnection, QUICStream } from "@matrixai/quic"
import Logger, { LogLevel } from "@matrixai/logger"
import { Effect, Layer } from "effect"
import type { Scope } from "effect/Scope"
import * as Address from "./Address.ts"
import * as Certificate from "./Certificate.ts"
import { connectionClose, connectionCloseLabel, type ConnectionCloseName, hexCode, streamReset, streamResetLabel } from "../../core/Codes.ts"
import {
  ConnectionLost,
  DialFailed,
  IdentityMismatch,
  ListenerClosed,
  ListenFailed,
  StreamLimitReached,
  StreamReset,
  TransportStartFailed
} from "./Errors.ts"
import { type BytePort, FramedStream } from "./FramedStream.ts"
import { Inbox } from "./Inbox.ts"
import * as QuicConfig from "./QuicConfig.ts"
import { type Connection, type DialOptions, type FrameStream, type Listener, Transport } from "./Transport.ts"

/**
 * The ALPN every macula-node v1 connection negotiates (§0.3).
 *
 * @since 0.1.0
 * @category constants
 */
export const alpn = "macula-node/1"

/**
 * The largest UDP payload accepted from peers (the IPv6 maximum); what we *send* is capped by
 * `maxUdpPayloadBytes`.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxRecvUdpPayloadBytes = 65_527

/** Reason objects carried through the library's stream cancel/abort paths. */
class LocalResetReason {
  constructor(readonly code: number) {}
}
class PeerResetReason {
  constructor(readonly code: number) {}
}

const reasonToCode = (_type: "read" | "write", reason?: unknown): number =>
  reason instanceof LocalResetReason ? reason.code : reason instanceof PeerResetReason ? reason.code : streamReset.internal

const codeToReason = (_type: "read" | "write", code: number): unknown => new PeerResetReason(code)

const cryptoErrorName = (code: number): string => {
  const name = (quicNative.CryptoError as unknown as Record<number, string | undefined>)[code]
  return name === undefined ? hexCode(code) : `tls_${name}`
}

interface CloseData {
  readonly isApp: boolean
  readonly errorCode: number
  readonly reason?: Uint8Array
}

const closeData = (error: unknown): CloseData | undefined => {
  const data = (error as { data?: unknown } | null)?.data as Partial<CloseData> | undefined
  return data !== undefined && typeof data.errorCode === "number" && typeof data.isApp === "boolean"
    ? (data as CloseData)
    : undefined
}

const text = (bytes: Uint8Array | undefined): string =>
  bytes === undefined || bytes.length === 0 ? "" : Buffer.from(bytes).toString("utf8")

/** Maps a library connection error to who ended the connection and with which code. */
const lostFrom = (peerDid: string, error: unknown): ConnectionLost => {
  const data = closeData(error)
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof quicErrors.ErrorQUICConnectionIdleTimeout) {
    return new ConnectionLost({ peerDid, by: "idle_timeout", code: "idle_timeout", message: "no packet within the idle timeout" })
  }
  if (data !== undefined) {
    const local = error instanceof quicErrors.ErrorQUICConnectionLocal &&
      !(error instanceof quicErrors.ErrorQUICConnectionPeerTLS)
    if (data.isApp) {
      // The library files application codes 0x100–0x1ff under "TLS" by number; isApp decides.
      return new ConnectionLost({
        peerDid,
        by: local ? "local" : "peer",
        code: connectionCloseLabel(data.errorCode),
        message: text(data.reason) || message
      })
    }
    const tls = data.errorCode >= 0x100 && data.errorCode <= 0x1ff
    return new ConnectionLost({
      peerDid,
      by: tls ? "tls" : local ? "local" : "peer",
      code: tls ? cryptoErrorName(data.errorCode) : hexCode(data.errorCode),
      message: text(data.reason) || message
    })
  }
  return new ConnectionLost({ peerDid, by: "transport", code: "transport_error", message })
}

/** `Certificate.verifyChain` as the library's TLS verify hook. */
const verifyCallback = (certs: Array<Uint8Array>): Promise<number | undefined> => {
  const verdict = Certificate.verifyChain(certs)
  if (verdict.ok) return Promise.resolve(undefined)
  const errors = quicNative.CryptoError
  const code = verdict.problem === "no_certificate"
    ? errors.CertificateRequired
    : verdict.problem === "not_ed25519"
    ? errors.UnsupportedCertificate
    : errors.BadCertificate
  return Promise.resolve(code)
}

/** One authenticated QUIC connection, as the `Connection` port. */
class QuicConnectionHandle implements Connection {
  readonly id: string
  readonly peerDid: string
  readonly peerPublicKey: Uint8Array
  readonly remoteAddress: string
  readonly direction: "inbound" | "outbound"
  readonly #quic: QUICConnection
  readonly #client: QUICClient | undefined
  readonly #config: QuicConfig.QuicConfig
  readonly #streams = new Inbox<FrameStream, ConnectionLost>()
  readonly #onGone: (handle: QuicConnectionHandle) => void
  #lost: ConnectionLost | undefined = undefined
  #gone = false
  #closing: Promise<void> | undefined = undefined
  readonly #goneWaiters: Array<(lost: ConnectionLost) => void> = []

  constructor(options: {
    readonly id: string
    readonly quic: QUICConnection
    readonly client: QUICClient | undefined
    readonly peer: { readonly did: string; readonly publicKey: Uint8Array }
    readonly config: QuicConfig.QuicConfig
    readonly onGone: (handle: QuicConnectionHandle) => void
  }) {
    this.id = options.id
    this.#quic = options.quic
    this.#client = options.client
    this.#config = options.config
    this.#onGone = options.onGone
    this.peerDid = options.peer.did
    this.peerPublicKey = options.peer.publicKey
    this.direction = options.client === undefined ? "inbound" : "outbound"
    this.remoteAddress = Address.format({ scheme: "quic", host: options.quic.remoteHost, port: options.quic.remotePort })
    const quic = options.quic
    quic.addEventListener(quicEvents.EventQUICConnectionError.name, this.#onError)
    quic.addEventListener(quicEvents.EventQUICConnectionStopped.name, this.#onStopped, { once: true })
    if (this.direction === "outbound") {
      quic.addEventListener(quicEvents.EventQUICConnectionStream.name, this.#onClientStream)
    }
    if (quic.closed) this.#onStopped()
  }

  readonly #onError = (event: Event): void => {
    this.#lost ??= lostFrom(this.peerDid, (event as CustomEvent).detail)
  }

  readonly #onStopped = (): void => {
    if (this.#gone) return
    this.#gone = true
    const lost = this.#lost ??= lostFrom(this.peerDid, this.#quic.getConnectionError())
    this.#streams.fail(lost)
    for (const waiter of this.#goneWaiters.splice(0)) waiter(lost)
    this.#quic.removeEventListener(quicEvents.EventQUICConnectionError.name, this.#onError)
    this.#quic.removeEventListener(quicEvents.EventQUICConnectionStream.name, this.#onClientStream)
    this.#onGone(this)
  }

  readonly #onClientStream = (event: Event): void => {
    this.acceptPeerStream((event as CustomEvent<QUICStream>).detail)
  }

  /** A stream the peer opened: framed and queued for `acceptStream`. */
  acceptPeerStream(stream: QUICStream): void {
    if (!this.#streams.offer(this.#frame(stream, false))) stream.cancel(new LocalResetReason(streamReset.cancelled))
  }

  #frame(stream: QUICStream, openedLocally: boolean): FramedStream {
    const port: BytePort = {
      id: stream.streamId,
      openedLocally,
      readable: stream.readable as unknown as ReadableStream<Uint8Array>,
      writable: stream.writable as unknown as WritableStream<Uint8Array>,
      reset: (code) => {
        try {
          stream.cancel(new LocalResetReason(code))
        } catch {
          // The stream or connection is already gone; nothing is left to reset.
        }
      },
      classify: (cause) => {
        if (cause instanceof PeerResetReason) {
          return new StreamReset({ streamId: stream.streamId, by: "peer", code: streamResetLabel(cause.code) })
        }
        if (cause instanceof LocalResetReason) {
          return new StreamReset({ streamId: stream.streamId, by: "local", code: streamResetLabel(cause.code) })
        }
        return this.#lost ??= lostFrom(this.peerDid, cause)
      }
    }
    return new FramedStream(port, {
      maxFrameBytes: this.#config.maxFrameBytes,
      sendBufferBytes: this.#config.streamSendBufferBytes
    })
  }

  get lost(): ConnectionLost | undefined {
    return this.#gone ? this.#lost : undefined
  }

  readonly isClosed = (): boolean => this.#gone || this.#closing !== undefined

  readonly openStream: Effect.Effect<FrameStream, ConnectionLost | StreamLimitReached> = Effect.suspend(():
    Effect.Effect<FrameStream, ConnectionLost | StreamLimitReached> => {
    if (this.#gone || this.#closing !== undefined) return Effect.fail(this.#lostOrClosing())
    try {
      return Effect.succeed(this.#frame(this.#quic.newStream("bidi"), true))
    } catch (error) {
      if (error instanceof quicErrors.ErrorQUICStreamLimit) return Effect.fail(new StreamLimitReached({ peerDid: this.peerDid }))
      return Effect.fail(this.#lost ??= lostFrom(this.peerDid, error))
    }
  })

  readonly acceptStream: Effect.Effect<FrameStream, ConnectionLost> = this.#streams.take

  #lostOrClosing(): ConnectionLost {
    return this.#lost ?? new ConnectionLost({ peerDid: this.peerDid, by: "local", code: "normal", message: "closing" })
  }

  /** Closes with an application code; resolves once the close is sent and the connection drained. */
  shutdown(code: ConnectionCloseName, reason: string): Promise<void> {
    if (this.#gone) return Promise.resolve()
    if (this.#closing === undefined) {
      const errorCode = connectionClose[code]
      const options = { isApp: true as const, errorCode, reason: Buffer.from(reason), force: true }
      this.#lost ??= new ConnectionLost({ peerDid: this.peerDid, by: "local", code, message: reason })
      const stopping = this.#client !== undefined ? this.#client.destroy(options) : this.#quic.stop(options)
      this.#closing = stopping.catch(() => undefined).then(() => this.#onStopped())
    }
    return this.#closing
  }

  readonly close = (code: ConnectionCloseName = "normal", reason = ""): Effect.Effect<void> =>
    Effect.promise(() => this.shutdown(code, reason))

  readonly closed: Effect.Effect<ConnectionLost> = Effect.callback<ConnectionLost>((resume) => {
    if (this.#gone) {
      resume(Effect.succeed(this.#lost!))
      return
    }
    const waiter = (lost: ConnectionLost) => resume(Effect.succeed(lost))
    this.#goneWaiters.push(waiter)
    return Effect.sync(() => {
      const at = this.#goneWaiters.indexOf(waiter)
      if (at >= 0) this.#goneWaiters.splice(at, 1)
    })
  })
}

/** The peer identity of an established connection, from its (already verified) certificate. */
const peerOf = (quic: QUICConnection): Certificate.Verdict => Certificate.verifyChain(quic.getRemoteCertsChain())

const dialFailure = (address: string, error: unknown): DialFailed => {
  const message = error instanceof Error ? error.message || error.constructor.name : String(error)
  if (error instanceof quicErrors.ErrorQUICClientCreateTimeout || error instanceof quicErrors.ErrorQUICConnectionStartTimeout) {
    return new DialFailed({ address, reason: "handshake_timeout", message })
  }
  if (
    error instanceof quicErrors.ErrorQUICConnectionLocalTLS || error instanceof quicErrors.ErrorQUICConnectionPeerTLS
  ) {
    const data = closeData(error)
    return new DialFailed({
      address,
      reason: "tls_refused",
      message: data === undefined ? message : `${cryptoErrorName(data.errorCode)}: ${message}`
    })
  }
  if (error instanceof quicErrors.ErrorQUICClientInvalidHost) return new DialFailed({ address, reason: "invalid_address", message })
  if (error instanceof quicErrors.ErrorQUICClientSocketNotRunning) {
    return new DialFailed({ address, reason: "transport_stopped", message })
  }
  return new DialFailed({ address, reason: "unreachable", message })
}

/**
 * Starts a QUIC transport in the current scope: binds the socket, builds the certificate and
 * returns the `Transport` service. Closing the scope closes everything it made.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: QuicConfig.QuicConfig): Effect.Effect<Transport["Service"], TransportStartFailed, Scope> =>
  Effect.gen(function*() {
    const problems = QuicConfig.problems(config)
    if (problems.length > 0) return yield* Effect.fail(new TransportStartFailed({ message: problems.join("; ") }))
    const credentials = Certificate.make(config.seed, config.certificateTimeMs ?? Date.now())
    const logger = new Logger("macula/quic", LogLevel.WARN)
    const socket = new QUICSocket({ logger: logger.getChild("socket") })
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => socket.start({ host: config.host, port: config.port }),
        catch: (e) => new TransportStartFailed({ message: `cannot bind ${config.host}:${config.port}: ${String(e)}` })
      }),
      () => Effect.promise(() => socket.stop({ force: true }).catch(() => undefined))
    )
    const udp = (socket as unknown as { socket: import("node:dgram").Socket }).socket
    try {
      udp.setRecvBufferSize(config.socketBufferBytes)
      udp.setSendBufferSize(config.socketBufferBytes)
    } catch {
      // The platform refused the size; the OS default stays. Bursts may drop more packets.
    }
    const localAddress = Address.format({ scheme: "quic", host: socket.host, port: socket.port })

    const quicConfig = {
      key: credentials.privateKeyPem,
      cert: credentials.certificatePem,
      sigalgs: "ed25519",
      verifyPeer: true,
      verifyCallback,
      applicationProtos: [alpn],
      grease: true,
      enableEarlyData: false,
      maxIdleTimeout: config.quicIdleTimeoutMs,
      keepAliveIntervalTime: config.quicKeepAliveMs,
      initialMaxData: config.connectionWindowBytes,
      initialMaxStreamDataBidiLocal: config.streamWindowBytes,
      initialMaxStreamDataBidiRemote: config.streamWindowBytes,
      initialMaxStreamDataUni: 0,
      initialMaxStreamsBidi: config.maxStreamsPerConnection,
      initialMaxStreamsUni: 0,
      maxStreamWindow: config.streamWindowBytes,
      maxConnectionWindow: config.connectionWindowBytes,
      maxRecvUdpPayloadSize: maxRecvUdpPayloadBytes,
      maxSendUdpPayloadSize: config.maxUdpPayloadBytes,
      enableDgram: [false, 0, 0] as [boolean, number, number],
      disableActiveMigration: true,
      readableChunkSize: config.readChunkBytes
    }

    // Retry tokens and server connection ids are keyed by a per-process secret (HMAC-SHA256).
    const tokenKey = randomBytes(32)
    const hmac = (data: ArrayBuffer) => createHmac("sha256", tokenKey).update(Buffer.from(data)).digest()
    const serverCrypto = {
      key: tokenKey.buffer.slice(tokenKey.byteOffset, tokenKey.byteOffset + tokenKey.length) as ArrayBuffer,
      ops: {
        sign: async (_key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> => {
          const mac = hmac(data)
          return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.length) as ArrayBuffer
        },
        verify: async (_key: ArrayBuffer, data: ArrayBuffer, signature: ArrayBuffer): Promise<boolean> => {
          const expected = hmac(data)
          const given = Buffer.from(signature)
          return given.length === expected.length && timingSafeEqual(given, expected)
        }
      }
    }
    const clientCrypto = {
      ops: {
        randomBytes: async (data: ArrayBuffer): Promise<void> => {
          randomBytes(data.byteLength).copy(Buffer.from(data))
        }
      }
    }

    let nextId = 0
    const connections = new Set<QuicConnectionHandle>()
    const inbound = new Map<QUICConnection, QuicConnectionHandle>()
    const forget = (handle: QuicConnectionHandle) => connections.delete(handle)

    yield* Effect.addFinalizer(() =>
      Effect.promise(() =>
        Promise.all([...connections].map((c) => c.shutdown("normal", "transport stopped").catch(() => undefined)))
      )
    )

    /** The handle of an inbound connection, made on first sight (its first stream may precede the accept event). */
    const inboundHandle = (quic: QUICConnection): QuicConnectionHandle | undefined => {
      const known = inbound.get(quic)
      if (known !== undefined) return known
      const peer = peerOf(quic)
      if (!peer.ok) {
        // Unreachable while the verify hook runs, but never admit an unverified peer.
        void quic.stop({ isApp: true, errorCode: connectionClose.protocol_violation, force: true }).catch(() => undefined)
        return undefined
      }
      const handle = new QuicConnectionHandle({
        id: `in-${++nextId}`,
        quic,
        client: undefined,
        peer,
        config,
        onGone: (h) => {
          forget(h)
          inbound.delete(quic)
        }
      })
      connections.add(handle)
      inbound.set(quic, handle)
      return handle
    }

    let listening = false

    const listen: Effect.Effect<Listener, ListenFailed, Scope> = Effect.gen(function*() {
      if (listening) return yield* Effect.fail(new ListenFailed({ address: localAddress, message: "already listening" }))
      const accepted = new Inbox<Connection, ListenerClosed>()
      const server = new QUICServer({
        crypto: serverCrypto,
        config: quicConfig,
        socket,
        reasonToCode,
        codeToReason,
        minIdleTimeout: config.handshakeTimeoutMs,
        logger: logger.getChild("server")
      })
      const onConnection = (event: Event) => {
        const handle = inboundHandle((event as CustomEvent<QUICConnection>).detail)
        if (handle !== undefined) accepted.offer(handle)
      }
      const onStream = (event: Event) => {
        const stream = (event as CustomEvent<QUICStream>).detail
        const quic = (stream as unknown as { connection: QUICConnection }).connection
        inboundHandle(quic)?.acceptPeerStream(stream)
      }
      server.addEventListener(quicEvents.EventQUICServerConnection.name, onConnection)
      server.addEventListener(quicEvents.EventQUICConnectionStream.name, onStream)
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => server.start(),
          catch: (e) => new ListenFailed({ address: localAddress, message: String(e) })
        }),
        () =>
          Effect.promise(async () => {
            listening = false
            accepted.fail(new ListenerClosed({ address: localAddress }))
            server.removeEventListener(quicEvents.EventQUICServerConnection.name, onConnection)
            await server.stop({ isApp: true, errorCode: connectionClose.going_away, force: true }).catch(() => undefined)
            server.removeEventListener(quicEvents.EventQUICConnectionStream.name, onStream)
          })
      )
      listening = true
      return { address: localAddress, addresses: [localAddress], accept: accepted.take }
    })

    const dial = (address: string, options: DialOptions = {}) =>
      Effect.gen(function*() {
        const parsed = Address.parse(address)
        if (parsed === undefined || parsed.scheme !== "quic") {
          return yield* Effect.fail(new DialFailed({ address, reason: "invalid_address", message: "not a quic:// address" }))
        }
        const expected = options.expectedDid ?? parsed.did
        const client = yield* Effect.tryPromise({
          try: (signal) =>
            QUICClient.createQUICClient({
              host: parsed.host,
              port: parsed.port,
              socket,
              crypto: clientCrypto,
              config: quicConfig,
              reasonToCode,
              codeToReason,
              logger: logger.getChild("client")
            }, { timer: options.timeoutMs ?? config.handshakeTimeoutMs, signal }),
          catch: (error) => dialFailure(address, error)
        })
        const peer = peerOf(client.connection)
        if (!peer.ok) {
          yield* Effect.promise(() => client.destroy({ force: true }).catch(() => undefined))
          return yield* Effect.fail(new DialFailed({ address, reason: "tls_refused", message: peer.problem }))
        }
        const handle = new QuicConnectionHandle({
          id: `out-${++nextId}`,
          quic: client.connection,
          client,
          peer,
          config,
          onGone: forget
        })
        connections.add(handle)
        if (expected !== undefined && peer.did !== expected) {
          yield* Effect.promise(() => handle.shutdown("identity_mismatch", `expected ${expected}`))
          return yield* Effect.fail(new IdentityMismatch({ address, expected, actual: peer.did }))
        }
        return handle as Connection
      })

    return { localDid: credentials.did, localAddress, listen, dial }
  })

/**
 * The QUIC `Transport` layer; the transport lives as long as the layer.
 *
 * @example
 * ```ts
 * const live = Quic.layer(QuicConfig.make(identity.exportSeed(), { host: "0.0.0.0", port: 4433 }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: QuicConfig.QuicConfig): Layer.Layer<Transport, TransportStartFailed> =>
  Layer.effect(Transport, make(config))
