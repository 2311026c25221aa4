/**
 * The live `Transport` layer over TLS 1.3 on TCP (`tls://host:port`, PROTOCOL.md §3.2a), for
 * networks that block UDP and for bulk transfer.
 *
 * One TLS connection per peer (`node:tls`), ALPN `macula-node/1`, TLS 1.3 only, Ed25519 signatures
 * only. Identity is bound exactly as on QUIC (§3.3): both sides present the node's self-signed
 * certificate (`Certificate.make`), the listener requests a client certificate, and each side
 * checks the peer's with `Certificate.verifyChain` when the handshake completes, before a single
 * application byte is read or written: exactly one certificate, an Ed25519 key passing §2.1, a valid
 * self-signature, dates ignored. The peer DID is derived from that key; a pinned DID that does not
 * match closes the connection `identity_mismatch` and fails `IdentityMismatch`.
 *
 * `node:tls` verifies nothing itself here (`rejectUnauthorized: false`: every certificate is
 * self-signed) and exposes the presented chain only as far as it links up by issuer, so a second
 * certificate that does not chain to the first is invisible and ignored; one that does is refused.
 *
 * The logical streams of §3.5 run on the multiplexer of `Mux.ts`; each is a `FramedStream`, as on
 * QUIC. A dial completes only when the listener's preface arrives, which the listener sends only
 * after it accepted our certificate: unlike QUIC, a refused client certificate fails the dial
 * (`DialFailed { reason: "tls_refused" }`) instead of surfacing after it.
 *
 * Ordering at shutdown (the layer's scope): the listener (if any) stops and closes the connections
 * it accepted `going_away`, then every remaining connection is closed `normal`.
 *
 * @since 0.1.0
 */
import type { AddressInfo } from "node:net"
import * as tls from "node:tls"
import { Effect, Layer } from "effect"
import type { Scope } from "effect/Scope"
import * as Address from "./Address.ts"
import * as Certificate from "./Certificate.ts"
import { connectionClose, type ConnectionCloseName, streamReset } from "../../core/Codes.ts"
import {
  ConnectionLost,
  DialFailed,
  IdentityMismatch,
  ListenerClosed,
  ListenFailed,
  type StreamLimitReached,
  TransportStartFailed
} from "./Errors.ts"
import { FramedStream } from "./FramedStream.ts"
import { Inbox } from "./Inbox.ts"
import { type MuxLink, MuxSession, MuxStream } from "./Mux.ts"
import * as MuxChunk from "./MuxChunk.ts"
import * as TlsConfig from "./TlsConfig.ts"
import { type Connection, type DialOptions, type FrameStream, type Listener, Transport } from "./Transport.ts"

/**
 * The ALPN of every macula-node v1 connection (§0.3), the same on TLS as on QUIC.
 *
 * @since 0.1.0
 * @category constants
 */
export const alpn = "macula-node/1"

/**
 * After we end our direction, how long we keep reading while waiting for the peer to end its own
 * before the socket is destroyed, ms. Reading on until then keeps a TCP reset from discarding the
 * close chunk on its way to the peer.
 *
 * @since 0.1.0
 * @category constants
 */
export const closeLingerMs = 2_000

/** The chain the peer presented, as far as `node:tls` shows it (leaf first, linked by issuer). */
const presentedChain = (socket: tls.TLSSocket): Array<Uint8Array> => {
  const chain: Array<Uint8Array> = []
  const seen = new Set<object>()
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
  // Node links a self-issued last certificate to itself; `seen` ends the walk there.
  while (cert !== undefined && cert.raw !== undefined && !seen.has(cert)) {
    seen.add(cert)
    chain.push(cert.raw)
    cert = cert.issuerCertificate
  }
  return chain
}

/** §3.3 on a completed handshake: the negotiated ALPN and the peer's certificate. */
const checkPeer = (socket: tls.TLSSocket): Certificate.Verdict | { readonly ok: false; readonly problem: "alpn" } => {
  if (socket.alpnProtocol !== alpn) return { ok: false, problem: "alpn" }
  return Certificate.verifyChain(presentedChain(socket))
}

/** The socket as the multiplexer's link. `end` half-closes and keeps reading until the peer ends too. */
const socketLink = (socket: tls.TLSSocket): MuxLink => {
  let ending: Promise<void> | undefined
  return {
    write: (bytes) => socket.write(bytes),
    end: () =>
      ending ??= new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve()
        const linger = setTimeout(() => socket.destroy(), closeLingerMs)
        linger.unref()
        socket.once("close", () => {
          clearTimeout(linger)
          resolve()
        })
        socket.end(() => resolve())
      }),
    destroy: () => {
      socket.destroy()
    }
  }
}

const formatRemote = (socket: tls.TLSSocket): string =>
  Address.format({ scheme: "tls", host: socket.remoteAddress ?? "unknown", port: socket.remotePort ?? 0 })

/** One authenticated TLS connection and its multiplexer, as the `Connection` port. */
class TlsConnectionHandle implements Connection {
  readonly id: string
  readonly peerDid: string
  readonly peerPublicKey: Uint8Array
  readonly remoteAddress: string
  readonly direction: "inbound" | "outbound"
  /** Resolves when the peer's preface arrived; rejects with the loss if the connection died first. */
  readonly ready: Promise<void>
  readonly #session: MuxSession
  readonly #config: TlsConfig.TlsConfig
  readonly #streams = new Inbox<FrameStream, ConnectionLost>()

  constructor(options: {
    readonly id: string
    readonly socket: tls.TLSSocket
    readonly peer: { readonly did: string; readonly publicKey: Uint8Array }
    readonly direction: "inbound" | "outbound"
    readonly config: TlsConfig.TlsConfig
    readonly onGone: (handle: TlsConnectionHandle) => void
  }) {
    const { socket, config } = options
    this.id = options.id
    this.peerDid = options.peer.did
    this.peerPublicKey = options.peer.publicKey
    this.direction = options.direction
    this.remoteAddress = formatRemote(socket)
    this.#config = config
    let readyResolve: () => void = () => undefined
    let readyReject: (lost: ConnectionLost) => void = () => undefined
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve
      readyReject = reject
    })
    this.ready.catch(() => undefined)
    const session = new MuxSession(socketLink(socket), {
      role: options.direction === "outbound" ? "dialer" : "acceptor",
      peerDid: this.peerDid,
      settings: {
        streamWindowBytes: config.streamWindowBytes,
        connectionWindowBytes: config.connectionWindowBytes,
        maxStreams: config.maxStreamsPerConnection,
        idleTimeoutMs: config.tlsIdleTimeoutMs
      },
      keepAliveMs: config.tlsKeepAliveMs,
      writeBatchBytes: config.writeBatchBytes
    }, {
      onReady: () => readyResolve(),
      onStream: (stream) => {
        if (!this.#streams.offer(this.#frame(stream))) stream.reset(streamReset.cancelled)
      },
      onClosed: (lost) => {
        readyReject(lost)
        this.#streams.fail(lost)
        options.onGone(this)
      }
    })
    this.#session = session
    socket.setNoDelay(true)
    socket.setKeepAlive(true, config.tlsKeepAliveMs)
    socket.on("data", (bytes: Buffer) => session.receive(bytes))
    socket.on("drain", () => session.drained())
    socket.on("end", () => session.linkEnded())
    socket.on("error", (error) => session.linkFailed(error))
    socket.on("close", () => session.linkFailed(new Error("the connection closed")))
    session.start()
  }

  #frame(stream: MuxStream): FramedStream {
    return new FramedStream(stream, {
      maxFrameBytes: this.#config.maxFrameBytes,
      sendBufferBytes: this.#config.streamSendBufferBytes
    })
  }

  /** Closes with a §3.7 code; resolves once the close is written. */
  shutdown(code: ConnectionCloseName, reason: string): Promise<void> {
    return this.#session.close(code, reason)
  }

  readonly isClosed = (): boolean => this.#session.lost !== undefined

  readonly openStream: Effect.Effect<FrameStream, ConnectionLost | StreamLimitReached> = Effect.suspend(() => {
    const stream = this.#session.openStream()
    return stream instanceof MuxStream ? Effect.succeed<FrameStream>(this.#frame(stream)) : Effect.fail(stream)
  })

  readonly acceptStream: Effect.Effect<FrameStream, ConnectionLost> = this.#streams.take

  readonly close = (code: ConnectionCloseName = "normal", reason = ""): Effect.Effect<void> =>
    Effect.promise(() => this.shutdown(code, reason))

  readonly closed: Effect.Effect<ConnectionLost> = Effect.callback<ConnectionLost>((resume) => {
    const withdraw = this.#session.whenClosed((lost) => resume(Effect.succeed(lost)))
    return Effect.sync(withdraw)
  })
}

/** The `DialFailed` reason of a socket error before the handshake completed. */
const dialError = (address: string, error: unknown): DialFailed => {
  const code = String((error as { code?: unknown } | null)?.code ?? "")
  const message = error instanceof Error ? error.message : String(error)
  const tlsFailure = code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS") || /ssl|tls|alert/i.test(message)
  return new DialFailed({ address, reason: tlsFailure ? "tls_refused" : "unreachable", message: code === "" ? message : `${code}: ${message}` })
}

/**
 * Starts a TLS transport in the current scope: builds the certificate and returns the `Transport`
 * service (listening starts with `listen`). Closing the scope closes everything it made.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: TlsConfig.TlsConfig): Effect.Effect<Transport["Service"], TransportStartFailed, Scope> =>
  Effect.gen(function*() {
    const problems = TlsConfig.problems(config)
    if (problems.length > 0) return yield* Effect.fail(new TransportStartFailed({ message: problems.join("; ") }))
    const credentials = Certificate.make(config.seed, config.certificateTimeMs ?? Date.now())
    const secure = {
      key: credentials.privateKeyPem,
      cert: credentials.certificatePem,
      minVersion: "TLSv1.3" as const,
      maxVersion: "TLSv1.3" as const,
      sigalgs: "ed25519",
      ALPNProtocols: [alpn],
      // Every certificate is self-signed: node:tls must not judge it; `checkPeer` does (§3.3).
      rejectUnauthorized: false
    }
    // Built once and shared by every dial (parsing the key and certificate per dial costs time).
    const dialContext = tls.createSecureContext(secure)

    let nextId = 0
    let stopped = false
    let listenAddress: string | undefined = undefined
    const connections = new Set<TlsConnectionHandle>()
    const forget = (handle: TlsConnectionHandle) => connections.delete(handle)

    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        stopped = true
        return Promise.all([...connections].map((c) => c.shutdown("normal", "transport stopped").catch(() => undefined)))
      })
    )

    let listening = false

    const listen: Effect.Effect<Listener, ListenFailed, Scope> = Effect.gen(function*() {
      const wanted = Address.format({ scheme: "tls", host: config.host, port: config.port })
      if (listening) return yield* Effect.fail(new ListenFailed({ address: wanted, message: "already listening" }))
      if (stopped) return yield* Effect.fail(new ListenFailed({ address: wanted, message: "transport stopped" }))
      const accepted = new Inbox<Connection, ListenerClosed>()
      const inbound = new Set<TlsConnectionHandle>()
      const server = tls.createServer({ ...secure, requestCert: true, handshakeTimeout: config.handshakeTimeoutMs })
      server.on("secureConnection", (socket: tls.TLSSocket) => {
        socket.on("error", () => undefined) // the handle reports errors once it exists
        const verdict = checkPeer(socket)
        if (!verdict.ok) {
          socket.destroy()
          return
        }
        const handle = new TlsConnectionHandle({
          id: `tls-in-${++nextId}`,
          socket,
          peer: verdict,
          direction: "inbound",
          config,
          onGone: (h) => {
            forget(h)
            inbound.delete(h)
          }
        })
        connections.add(handle)
        inbound.add(handle)
        const timer = setTimeout(() => void handle.shutdown("handshake_timeout", "no preface in time"), config.handshakeTimeoutMs)
        handle.ready.then(
          () => {
            clearTimeout(timer)
            if (!accepted.offer(handle)) void handle.shutdown("going_away", "not listening")
          },
          () => clearTimeout(timer)
        )
      })
      // A client that is not TLS, or fails the handshake: node:tls destroys its socket.
      server.on("tlsClientError", () => undefined)
      const address = yield* Effect.acquireRelease(
        Effect.callback<string, ListenFailed>((resume) => {
          const onError = (error: Error) => resume(Effect.fail(new ListenFailed({ address: wanted, message: error.message })))
          server.once("error", onError)
          server.listen(config.port, config.host, () => {
            server.off("error", onError)
            server.on("error", () => undefined)
            const bound = server.address() as AddressInfo
            resume(Effect.succeed(Address.format({ scheme: "tls", host: bound.address, port: bound.port })))
          })
        }),
        () =>
          Effect.promise(async () => {
            listening = false
            listenAddress = undefined
            accepted.fail(new ListenerClosed({ address: wanted }))
            server.close()
            await Promise.all([...inbound].map((c) => c.shutdown("going_away", "listener stopped").catch(() => undefined)))
          })
      )
      listening = true
      listenAddress = address
      return { address, addresses: [address], accept: accepted.take }
    })

    const connect = (address: string, parsed: Address.Address, expected: string | undefined, timeoutMs: number, signal: AbortSignal) =>
      new Promise<TlsConnectionHandle>((resolve, reject) => {
        let settled = false
        const socket = tls.connect({
          secureContext: dialContext,
          ALPNProtocols: secure.ALPNProtocols,
          rejectUnauthorized: false,
          host: parsed.host,
          port: parsed.port,
          checkServerIdentity: () => undefined
        })
        const settle = (error: DialFailed | IdentityMismatch | undefined, handle?: TlsConnectionHandle) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
          socket.off("error", onEarlyError)
          socket.off("close", onEarlyClose)
          if (error === undefined) return resolve(handle!)
          if (!(error instanceof IdentityMismatch)) socket.destroy()
          reject(error)
        }
        const onEarlyError = (error: Error) => settle(dialError(address, error))
        const onEarlyClose = () => settle(new DialFailed({ address, reason: "unreachable", message: "closed during the handshake" }))
        const onAbort = () => settle(new DialFailed({ address, reason: "transport_stopped", message: "dial interrupted" }))
        const timer = setTimeout(
          () => settle(new DialFailed({ address, reason: "handshake_timeout", message: `no handshake within ${timeoutMs} ms` })),
          timeoutMs
        )
        signal.addEventListener("abort", onAbort, { once: true })
        socket.on("error", onEarlyError)
        socket.on("close", onEarlyClose)
        socket.once("secureConnect", () => {
          if (settled) return
          const verdict = checkPeer(socket)
          if (!verdict.ok) return settle(new DialFailed({ address, reason: "tls_refused", message: verdict.problem }))
          if (expected !== undefined && verdict.did !== expected) {
            // Only the close goes out (no preface): the listener never admits the connection.
            socket.on("error", () => undefined)
            socket.end(MuxChunk.close(connectionClose.identity_mismatch, `expected ${expected}`))
            setTimeout(() => socket.destroy(), closeLingerMs).unref()
            return settle(new IdentityMismatch({ address, expected, actual: verdict.did }))
          }
          const handle = new TlsConnectionHandle({
            id: `tls-out-${++nextId}`,
            socket,
            peer: verdict,
            direction: "outbound",
            config,
            onGone: forget
          })
          connections.add(handle)
          // The handle now reports the socket's errors; ours would misreport them as dial failures.
          socket.off("error", onEarlyError)
          socket.off("close", onEarlyClose)
          handle.ready.then(
            () => settle(undefined, handle),
            (lost: ConnectionLost) =>
              settle(new DialFailed({
                address,
                reason: lost.by === "peer" || lost.by === "transport" ? "tls_refused" : "unreachable",
                message: `the listener closed the connection before accepting it (${lost.code}${lost.message === "" ? "" : `: ${lost.message}`})`
              }))
          )
        })
      })

    const dial = (address: string, options: DialOptions = {}): Effect.Effect<Connection, DialFailed | IdentityMismatch> =>
      Effect.suspend(() => {
        const parsed = Address.parse(address)
        if (parsed === undefined || parsed.scheme !== "tls") {
          return Effect.fail(new DialFailed({ address, reason: "invalid_address", message: "not a tls:// address" }))
        }
        if (stopped) return Effect.fail(new DialFailed({ address, reason: "transport_stopped", message: "transport stopped" }))
        const expected = options.expectedDid ?? parsed.did
        return Effect.tryPromise({
          try: (signal) => connect(address, parsed, expected, options.timeoutMs ?? config.handshakeTimeoutMs, signal),
          catch: (error) =>
            error instanceof DialFailed || error instanceof IdentityMismatch
              ? error
              : new DialFailed({ address, reason: "unreachable", message: String(error) })
        })
      })

    const service: Transport["Service"] = {
      localDid: credentials.did,
      get localAddress() {
        return listenAddress ?? Address.format({ scheme: "tls", host: config.host, port: config.port })
      },
      listen,
      dial
    }
    return service
  })

/**
 * The TLS `Transport` layer; the transport lives as long as the layer.
 *
 * @example
 * ```ts
 * const live = Tls.layer(TlsConfig.make(identity.exportSeed(), { host: "0.0.0.0", port: 4433 }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: TlsConfig.TlsConfig): Layer.Layer<Transport, TransportStartFailed> =>
  Layer.effect(Transport, make(config))
