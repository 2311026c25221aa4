/**
 * A raw macula-node peer for bad-input tests: a QUIC connection made with the library directly
 * (an Ed25519 certificate from `Certificate.make`, the protocol's ALPN), whose streams write any
 * bytes at all: frames of our codec, hand-made bodies, bare length prefixes, truncated frames.
 * It reports what the other side did: the frames it sent, a stream reset and its §3.7 code, the
 * end of the stream, or the connection close and its code.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto"
import { events as quicEvents, QUICClient } from "@matrixai/quic"
import type { QUICConnection, QUICStream } from "@matrixai/quic"
import Logger, { LogLevel } from "@matrixai/logger"
import { Packr } from "msgpackr"
import { connectionCloseLabel, hexCode, streamResetLabel } from "../../src/core/Codes.ts"
import * as Certificate from "../../src/platform/transport/Certificate.ts"
import * as Der from "../../src/platform/transport/Der.ts"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as Codec from "../../src/wire/Codec.ts"
import type { Frame } from "../../src/wire/Frame.ts"

/** The reason object a reset code travels in (the library hands codes through these). */
class ResetReason {
  constructor(readonly code: number) {}
}

/** What the peer did to a stream, as seen by the next read. */
export type Outcome =
  | { readonly kind: "frame"; readonly frame: Record<string, unknown> }
  | { readonly kind: "reset"; readonly code: string }
  | { readonly kind: "ended" }
  | { readonly kind: "closed" }
  | { readonly kind: "timeout" }

/** How the connection ended: the §3.7 close name (or a hex code) and whether it was an application close. */
export interface Closed {
  readonly code: string
  readonly isApp: boolean
  readonly reason: string
}

/** One raw bidirectional stream. */
export interface RawStream {
  /** Writes bytes exactly as given. */
  readonly write: (bytes: Uint8Array) => Promise<void>
  /** Writes one frame of our codec (`v` 1 added), with its length prefix. */
  readonly send: (frame: Frame) => Promise<void>
  /** Writes a length prefix and then `body`, whatever it holds. */
  readonly sendBody: (body: Uint8Array) => Promise<void>
  /** Finishes our side (FIN). */
  readonly end: () => Promise<void>
  /** The next thing the peer did on this stream, or `timeout` after `ms`. */
  readonly next: (ms?: number) => Promise<Outcome>
}

/** A raw connection. */
export interface RawPeer {
  readonly did: string
  readonly connection: QUICConnection
  readonly open: () => RawStream
  /** The next stream the other side opened (waits for one). */
  readonly incoming: () => Promise<RawStream>
  /** Resolves once the connection is gone, with how it ended. */
  readonly closed: Promise<Closed>
  readonly isClosed: () => boolean
  readonly destroy: () => Promise<void>
}

/** A frame's length-prefixed bytes, as our codec writes it. */
export const encode = (frame: Frame): Uint8Array => {
  const bytes = Codec.encode(frame)
  if (!(bytes instanceof Uint8Array)) throw new Error(bytes.message)
  return bytes.slice() // the codec's view shares the packer's buffer
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })

/** Any value as msgpack, unchecked: for bodies our codec would refuse to write. */
export const pack = (value: unknown): Uint8Array => Uint8Array.from(packr.pack(value))

/** PEM credentials whose certificate holds a P-256 (not Ed25519) key, self-signed. */
export const ecdsaCredentials = (): { readonly certPem: string; readonly keyPem: string } => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const algorithm = Der.sequence(Der.oid("1.2.840.10045.4.3.2"))
  const name = Der.sequence(Der.tlv(Der.Tag.set, Der.sequence(Der.oid("2.5.4.3"), Der.utf8String("not-ed25519"))))
  const now = Date.now()
  const tbs = Der.sequence(
    Der.tlv(Der.Tag.context(0), Der.tlv(Der.Tag.integer, Uint8Array.of(2))),
    Der.unsignedInteger(Uint8Array.of(7)),
    algorithm,
    name,
    Der.sequence(Der.time(now - 86_400_000), Der.time(now + 86_400_000)),
    name,
    publicKey.export({ type: "spki", format: "der" })
  )
  const der = Der.sequence(tbs, algorithm, Der.bitString(sign("sha256", tbs, privateKey)))
  const body = Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n")
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}

/** A 4-byte big-endian length prefix. */
export const prefix = (length: number): Uint8Array => {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, length)
  return out
}

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const wrap = (stream: QUICStream): RawStream => {
  const writer = stream.writable.getWriter()
  const reader = stream.readable.getReader()
  let buffered: Uint8Array = new Uint8Array(0)
  let pending: Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }> | undefined
  const write = (bytes: Uint8Array) => writer.write(bytes).catch(() => undefined)
  const frameOf = (): Outcome | undefined => {
    if (buffered.length < 4) return undefined
    const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0)
    if (buffered.length < 4 + length) return undefined
    const decoded = Codec.decodeBody(buffered.slice(4, 4 + length))
    buffered = buffered.slice(4 + length)
    return { kind: "frame", frame: decoded as unknown as Record<string, unknown> }
  }
  const next = async (ms = 5_000): Promise<Outcome> => {
    const deadline = Date.now() + ms
    for (;;) {
      const ready = frameOf()
      if (ready !== undefined) return ready
      const left = deadline - Date.now()
      if (left <= 0) return { kind: "timeout" }
      pending ??= reader.read()
      let timer: ReturnType<typeof setTimeout> | undefined
      const result = await Promise.race([
        pending.then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e })),
        new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, left, "timeout")))
      ])
      clearTimeout(timer)
      if (result === "timeout") return { kind: "timeout" }
      pending = undefined
      if (!result.ok) {
        // A reset carries its code; any other read error is the connection going away.
        return result.e instanceof ResetReason ? { kind: "reset", code: streamResetLabel(result.e.code) } : { kind: "closed" }
      }
      if (result.r.done || result.r.value === undefined) return { kind: "ended" }
      buffered = concat(buffered, result.r.value)
    }
  }
  return {
    write,
    send: (frame) => write(encode(frame)),
    sendBody: (body) => write(concat(prefix(body.length), body)),
    end: () => writer.close().catch(() => undefined),
    next
  }
}

/**
 * Connects to `quic://127.0.0.1:PORT` with the key of `seed` (random by default), or with the
 * PEM `credentials` given. The TLS handshake completes here; nothing is sent yet.
 */
export const connect = async (
  port: number,
  seed: Uint8Array = randomBytes(32),
  pem?: { readonly certPem: string; readonly keyPem: string }
): Promise<RawPeer> => {
  const made = Certificate.make(seed, Date.now())
  const credentials = pem === undefined
    ? made
    : { did: "(foreign certificate)", certificatePem: pem.certPem, privateKeyPem: pem.keyPem }
  const client = await QUICClient.createQUICClient({
    host: "127.0.0.1",
    port,
    localHost: "127.0.0.1",
    crypto: { ops: { randomBytes: async (data: ArrayBuffer) => void randomBytes(data.byteLength).copy(Buffer.from(data)) } },
    config: {
      key: credentials.privateKeyPem,
      cert: credentials.certificatePem,
      ...(pem === undefined ? { sigalgs: "ed25519" } : {}),
      verifyPeer: true,
      verifyCallback: async () => undefined,
      applicationProtos: [Quic.alpn],
      maxIdleTimeout: 15_000,
      keepAliveIntervalTime: 3_000,
      initialMaxStreamsUni: 0,
      // Small receive windows, so a peer that stops reading pushes back on the station soon.
      initialMaxStreamDataBidiLocal: 256 * 1024,
      initialMaxStreamDataBidiRemote: 256 * 1024,
      initialMaxData: 1024 * 1024
    },
    reasonToCode: (_type, reason) => (reason instanceof ResetReason ? reason.code : 0x0c),
    codeToReason: (_type, code) => new ResetReason(code),
    logger: new Logger("raw", LogLevel.SILENT)
  }, { timer: 10_000 })
  const connection = client.connection
  let gone = false
  let error: unknown
  connection.addEventListener(quicEvents.EventQUICConnectionError.name, (event: Event) => {
    error ??= (event as CustomEvent).detail
  })
  const closed = new Promise<Closed>((resolve) => {
    connection.addEventListener(quicEvents.EventQUICConnectionStopped.name, () => {
      gone = true
      const data = (error as { data?: { isApp?: boolean; errorCode?: number; reason?: Uint8Array } } | undefined)?.data
      const isApp = data?.isApp === true
      const code = data?.errorCode === undefined ? "unknown" : isApp ? connectionCloseLabel(data.errorCode) : hexCode(data.errorCode)
      resolve({ code, isApp, reason: data?.reason === undefined ? "" : Buffer.from(data.reason).toString("utf8") })
    }, { once: true })
  })
  // Streams the station opens (its own lanes) queue here until a test asks for them.
  const accepted: Array<RawStream> = []
  const waiting: Array<(stream: RawStream) => void> = []
  connection.addEventListener(quicEvents.EventQUICConnectionStream.name, (event: Event) => {
    const stream = wrap((event as CustomEvent<QUICStream>).detail)
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(stream)
    else accepted.push(stream)
  })
  return {
    did: credentials.did,
    connection,
    open: () => wrap(connection.newStream("bidi")),
    incoming: () => {
      const ready = accepted.shift()
      return ready !== undefined ? Promise.resolve(ready) : new Promise<RawStream>((resolve) => waiting.push(resolve))
    },
    closed,
    isClosed: () => gone,
    destroy: () => client.destroy({ force: true }).catch(() => undefined)
  }
}

/** A client `hello` (§3.4) with `ts` now. */
export const clientHello = (realms: ReadonlyArray<Uint8Array> = []): Frame => ({
  t: "hello",
  role: "client",
  vers: [1],
  feat: [],
  realms: [...realms],
  addrs: [],
  lim: { f: 1_048_576 },
  ts: Date.now()
})

/**
 * Connects and completes the HELLO exchange as a client: returns the peer and its control
 * stream, with the station's `hello` read.
 */
export const attach = async (
  port: number,
  seed?: Uint8Array,
  hello: Frame = clientHello()
): Promise<RawPeer & { readonly control: RawStream; readonly hello: Record<string, unknown> }> => {
  const peer = await connect(port, seed)
  const control = peer.open()
  await control.send(hello)
  const answer = await control.next(10_000)
  if (answer.kind !== "frame" || answer.frame["t"] !== "hello") {
    await peer.destroy()
    throw new Error(`no hello from the station: ${JSON.stringify(answer)}`)
  }
  keepAlive(control)
  return { ...peer, control, hello: answer.frame }
}

/**
 * Answers the station's liveness `ping`s on the control stream (§3.6) until it ends, so a raw
 * peer is not closed `liveness_lost` while a case runs; other control frames are dropped.
 */
export const keepAlive = (control: RawStream): void => {
  void (async () => {
    for (;;) {
      const next = await control.next(60_000)
      if (next.kind === "timeout") continue
      if (next.kind !== "frame") return
      if (next.frame["t"] === "ping") await control.send({ t: "pong", n: next.frame["n"] as number })
    }
  })()
}
