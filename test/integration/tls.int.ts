/**
 * The TLS-over-TCP transport over real sockets on loopback: identity binding (§3.3) both ways,
 * refusals on both sides, ordered delivery, bulk integrity, many concurrent streams, dead and
 * wedged peer processes, malformed bytes from raw clients, and a node listening on QUIC and TLS at
 * once. Every test has a hard timeout; the file runs in well under a minute.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Fiber, Option } from "effect"
import type { Scope } from "effect/Scope"
import { describe, expect, it } from "vitest"
import { connectionClose } from "../../src/core/Codes.ts"
import * as Did from "../../src/identity/Did.ts"
import * as Certificate from "../../src/platform/transport/Certificate.ts"
import * as Composite from "../../src/platform/transport/Composite.ts"
import * as Der from "../../src/platform/transport/Der.ts"
import type { ConnectionLost } from "../../src/platform/transport/Errors.ts"
import * as Chunk from "../../src/platform/transport/MuxChunk.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"
import * as Tls from "../../src/platform/transport/Tls.ts"
import * as TlsConfig from "../../src/platform/transport/TlsConfig.ts"
import type { Connection } from "../../src/platform/transport/Transport.ts"

const run = <A, E>(body: Effect.Effect<A, E, Scope>): Promise<A> => Effect.runPromise(Effect.scoped(body))

const node = (overrides: Partial<Omit<TlsConfig.TlsConfig, "seed">> = {}, seed: Uint8Array = randomBytes(32)) =>
  Tls.make(TlsConfig.make(seed, { host: "127.0.0.1", ...overrides }))

const utf8 = (text: string) => new TextEncoder().encode(text)
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const portOf = (address: string) => Number(/:(\d+)$/.exec(address)![1])

/** Fails the test with `label` when `effect` takes longer than `ms`, so a hang says where it hung. */
const within = <A, E, R>(label: string, ms: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.timeoutOrElse(effect, { duration: ms, orElse: () => Effect.die(new Error(`${label}: not within ${ms} ms`)) })

const noConnectionWithin = <A, E>(accept: Effect.Effect<A, E>, ms: number) =>
  Effect.map(Effect.timeoutOption(accept, ms), Option.isNone)

interface Pem {
  readonly certPem: string
  readonly keyPem: string
}

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`

/** A self-signed ECDSA P-256 certificate: well-formed X.509, wrong key type for §3.3. */
const ecdsa = (): Pem => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const algorithm = Der.sequence(Der.oid("1.2.840.10045.4.3.2"))
  const name = Der.sequence(Der.tlv(Der.Tag.set, Der.sequence(Der.oid("2.5.4.3"), Der.utf8String("ecdsa"))))
  const now = Date.now()
  const tbs = Der.sequence(
    Der.tlv(Der.Tag.context(0), Der.tlv(Der.Tag.integer, Uint8Array.of(2))),
    Der.unsignedInteger(Uint8Array.of(9)),
    algorithm,
    name,
    Der.sequence(Der.time(now - 86_400_000), Der.time(now + 86_400_000)),
    name,
    publicKey.export({ type: "spki", format: "der" })
  )
  return {
    certPem: pem(Der.sequence(tbs, algorithm, Der.bitString(sign("sha256", tbs, privateKey)))),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}

/** A node certificate with its self-signature broken; the key is fine, so TLS itself succeeds. */
const badSignature = (): Pem => {
  const good = Certificate.make(randomBytes(32), Date.now())
  const der = Uint8Array.from(good.der)
  der[der.length - 1]! ^= 0x01
  return { certPem: pem(der), keyPem: good.privateKeyPem }
}

const valid = (): Pem & { readonly did: string } => {
  const c = Certificate.make(randomBytes(32), Date.now())
  return { certPem: c.certificatePem, keyPem: c.privateKeyPem, did: c.did }
}

const preface = Chunk.preface({ streamWindowBytes: 1 << 20, connectionWindowBytes: 1 << 22, maxStreams: 8, idleTimeoutMs: 0 })

/**
 * A raw TLS client: handshakes with `credentials` (or none), sends a preface and then `after`
 * once the listener's preface arrived, and reports what came back until the socket closed.
 */
const rawClient = (port: number, credentials: Pem | undefined, options: { alpn?: string; after?: Uint8Array } = {}) =>
  new Promise<{ readonly handshake: boolean; readonly received: Uint8Array; readonly closed: boolean }>((resolve) => {
    let handshake = false
    const received: Array<Buffer> = []
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ...(credentials === undefined ? {} : { cert: credentials.certPem, key: credentials.keyPem }),
      minVersion: "TLSv1.3",
      ALPNProtocols: [options.alpn ?? Tls.alpn],
      rejectUnauthorized: false
    })
    const done = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ handshake, received: Buffer.concat(received), closed })
    }
    const timer = setTimeout(() => done(false), 2_500)
    socket.on("secureConnect", () => {
      handshake = true
      socket.write(preface)
    })
    socket.on("data", (bytes: Buffer) => {
      if (received.length === 0 && options.after !== undefined) socket.write(options.after)
      received.push(bytes)
    })
    socket.on("error", () => undefined)
    socket.on("close", () => done(true))
  })

/** The chunks in `bytes` (a raw client's view of what the listener sent). */
const chunksOf = (bytes: Uint8Array) => {
  const out: Array<Chunk.Chunk> = []
  new Chunk.ChunkDecoder().push(bytes, out)
  return out
}

/** A TLS server that is not a macula-node listener, for the dialer's refusals. */
const rawServer = (credentials: Pem, onSecure: (socket: tls.TLSSocket) => void) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<tls.Server>((resolve) => {
        const server = tls.createServer({
          cert: credentials.certPem,
          key: credentials.keyPem,
          minVersion: "TLSv1.3",
          ALPNProtocols: [Tls.alpn],
          requestCert: true,
          rejectUnauthorized: false
        }, (socket) => {
          socket.on("error", () => undefined)
          onSecure(socket)
        })
        server.on("tlsClientError", () => undefined)
        server.listen(0, "127.0.0.1", () => resolve(server))
      })
    ),
    (server) => Effect.sync(() => server.close())
  )

const fixture = fileURLToPath(new URL("./fixtures/tls-peer.mjs", import.meta.url))

describe("TLS transport", () => {
  it("binds each side's DID to its certificate key, both ways, and carries closes with their code", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      expect(listener.address).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/)
      expect(station.localAddress).toBe(listener.address)
      const outbound = yield* within("dial", 5_000, client.dial(listener.address))
      const inbound = yield* within("accept", 5_000, listener.accept)
      expect(outbound.peerDid).toBe(station.localDid)
      expect(inbound.peerDid).toBe(client.localDid)
      expect(Did.fromPublicKey(outbound.peerPublicKey)).toBe(station.localDid)
      expect(Did.fromPublicKey(inbound.peerPublicKey)).toBe(client.localDid)
      expect([outbound.direction, inbound.direction]).toEqual(["outbound", "inbound"])
      expect(station.localDid).toMatch(/^did:key:z6Mk/)
      const a = yield* outbound.openStream
      yield* a.send(utf8("ping"))
      const b = yield* within("accept a stream", 2_000, inbound.acceptStream)
      expect([a.id, b.id, a.openedLocally, b.openedLocally]).toEqual([0, 0, true, false])
      expect(text(yield* b.receive)).toBe("ping")
      const c = yield* inbound.openStream
      yield* c.send(utf8("from the listener"))
      const d = yield* within("accept the listener's stream", 2_000, outbound.acceptStream)
      expect(d.id).toBe(1)
      expect(text(yield* d.receive)).toBe("from the listener")
      yield* outbound.close("going_away", "maintenance")
      const lost = yield* within("the close arrives", 2_000, inbound.closed)
      expect(lost).toMatchObject({ by: "peer", code: "going_away", message: "maintenance" })
      expect((yield* outbound.closed).by).toBe("local")
      expect(outbound.isClosed() && inbound.isClosed()).toBe(true)
    })), 20_000)

  it("refuses a pinned DID that the certificate does not prove, closing identity_mismatch", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const other = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const error = yield* Effect.flip(client.dial(listener.address, { expectedDid: other.localDid }))
      expect(error).toMatchObject({ _tag: "IdentityMismatch", expected: other.localDid, actual: station.localDid })
      // The dialer sends only its close, never a preface: the listener never admits it.
      expect(yield* noConnectionWithin(listener.accept, 500)).toBe(true)
      const pinned = yield* client.dial(`${listener.address}#${station.localDid}`)
      expect(pinned.peerDid).toBe(station.localDid)
      const wrongFragment = yield* Effect.flip(client.dial(`${listener.address}#${other.localDid}`))
      expect(wrongFragment._tag).toBe("IdentityMismatch")
      expect((yield* listener.accept).peerDid).toBe(client.localDid)
    })), 20_000)

  it("refuses clients without a certificate, with a wrong one, or with another ALPN", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const listener = yield* station.listen
      const port = portOf(listener.address)
      const good = valid()
      const cases: Array<[string, Pem | undefined, string | undefined]> = [
        ["none", undefined, undefined],
        ["ecdsa", ecdsa(), undefined],
        ["bad self-signature", badSignature(), undefined],
        ["another ALPN", good, "h2"]
      ]
      const results = yield* Effect.promise(() => Promise.all(cases.map(([, pemOf, alpn]) => rawClient(port, pemOf, alpn === undefined ? {} : { alpn }))))
      for (const [i, [name]] of cases.entries()) {
        // Refused in the handshake, or right after it: closed without a single byte (no preface).
        expect([name, results[i]!.closed, results[i]!.received.length]).toEqual([name, true, 0])
      }
      expect(yield* noConnectionWithin(listener.accept, 300)).toBe(true)
      // The same raw client with a valid certificate is admitted: the refusals were about the certificate.
      const admitted = yield* Effect.promise(() => rawClient(port, good, { after: Chunk.close(connectionClose.normal, "bye") }))
      expect(chunksOf(admitted.received)[0]).toMatchObject({ id: Chunk.connectionId, flags: Chunk.Flag.open })
      expect((yield* within("the valid raw client is accepted", 2_000, listener.accept)).peerDid).toBe(good.did)
    })), 30_000)

  it("fails a dial to a listener with a wrong certificate, one that refuses us, or one that never answers", () =>
    run(Effect.gen(function*() {
      const client = yield* node()
      const ecdsaServer = yield* rawServer(ecdsa(), () => undefined)
      const badServer = yield* rawServer(badSignature(), () => undefined)
      const refusing = yield* rawServer(valid(), (socket) => socket.destroy())
      const silent = yield* rawServer(valid(), () => undefined)
      const address = (server: tls.Server) => `tls://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      expect(yield* Effect.flip(client.dial(address(ecdsaServer), { timeoutMs: 3_000 }))).toMatchObject({ _tag: "DialFailed", reason: "tls_refused" })
      expect(yield* Effect.flip(client.dial(address(badServer), { timeoutMs: 3_000 }))).toMatchObject({
        _tag: "DialFailed",
        reason: "tls_refused",
        message: "bad_signature"
      })
      expect(yield* Effect.flip(client.dial(address(refusing), { timeoutMs: 3_000 }))).toMatchObject({ _tag: "DialFailed", reason: "tls_refused" })
      expect(yield* Effect.flip(client.dial(address(silent), { timeoutMs: 400 }))).toMatchObject({ _tag: "DialFailed", reason: "handshake_timeout" })
      const closedPort = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = net.createServer()
          s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port
            s.close(() => resolve(port))
          })
        })
      )
      expect(yield* Effect.flip(client.dial(`tls://127.0.0.1:${closedPort}`))).toMatchObject({ _tag: "DialFailed", reason: "unreachable" })
      expect(yield* Effect.flip(client.dial("quic://127.0.0.1:4433"))).toMatchObject({ _tag: "DialFailed", reason: "invalid_address" })
    })), 20_000)

  it("delivers 10k framed messages in order on one stream", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      const stream = yield* outbound.openStream
      const count = 10_000
      const sender = yield* Effect.forkChild(Effect.gen(function*() {
        for (let i = 0; i < count; i++) {
          const body = new Uint8Array(8 + (i % 200))
          new DataView(body.buffer).setUint32(0, i)
          yield* stream.send(body)
        }
      }))
      const peer = yield* inbound.acceptStream
      let expected = 0
      while (expected < count) {
        for (const body of yield* within("frames keep coming", 5_000, peer.receiveMany)) {
          expect(new DataView(body.buffer, body.byteOffset).getUint32(0)).toBe(expected)
          expect(body.length).toBe(8 + (expected % 200))
          expected++
        }
      }
      yield* Fiber.join(sender)
      expect(expected).toBe(count)
    })), 20_000)

  it("moves a 64 MiB stream intact (SHA-256 on both ends) and ends it cleanly", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      const stream = yield* outbound.openStream
      const total = 64 * 1024 * 1024
      const sent = createHash("sha256")
      const sender = yield* Effect.forkChild(Effect.gen(function*() {
        let left = total
        let size = 1
        while (left > 0) {
          // Sizes from 1 byte to the 1 MiB frame limit, so frames straddle chunks in every way.
          size = Math.min(left, (size * 7919 + 12_345) % (1024 * 1024) + 1)
          const body = randomBytes(size)
          sent.update(body)
          left -= size
          yield* stream.send(body)
        }
        yield* stream.end
      }))
      const peer = yield* inbound.acceptStream
      const received = createHash("sha256")
      let bytes = 0
      const ended = yield* within("the transfer", 30_000, Effect.flip(Effect.forever(Effect.map(peer.receiveMany, (bodies) => {
        for (const body of bodies) {
          received.update(body)
          bytes += body.length
        }
      }))))
      yield* Fiber.join(sender)
      expect(ended._tag).toBe("StreamEnded")
      expect(bytes).toBe(total)
      expect(received.digest("hex")).toBe(sent.digest("hex"))
    })), 40_000)

  it("runs 100 concurrent streams both ways, each in order, and refuses the 101st", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ maxStreamsPerConnection: 100 })
      const client = yield* node({ maxStreamsPerConnection: 100 })
      const listener = yield* station.listen
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      const lanes = 100
      const frames = 50
      const streams = yield* Effect.forEach(Array.from({ length: lanes }), () => outbound.openStream)
      expect((yield* Effect.flip(outbound.openStream))._tag).toBe("StreamLimitReached")
      // The station echoes every frame on the stream it came from (the echo fibers are children of
      // `echo`, which stays up until interrupted).
      const echo = yield* Effect.forkChild(Effect.andThen(
        Effect.forEach(Array.from({ length: lanes }), () =>
          Effect.flatMap(inbound.acceptStream, (s) =>
            Effect.forkChild(Effect.forever(Effect.flatMap(s.receiveMany, (bodies) => s.sendAll(bodies))))), { concurrency: 1 }),
        Effect.never
      ))
      yield* within("every lane echoes in order", 15_000, Effect.forEach(streams, (stream, lane) =>
        Effect.gen(function*() {
          for (let i = 0; i < frames; i++) {
            const body = new Uint8Array(64 + lane)
            new DataView(body.buffer).setUint32(0, lane)
            new DataView(body.buffer).setUint32(4, i)
            yield* stream.send(body)
          }
          let next = 0
          while (next < frames) {
            for (const body of yield* stream.receiveMany) {
              const view = new DataView(body.buffer, body.byteOffset)
              expect([view.getUint32(0), view.getUint32(4)]).toEqual([lane, next])
              next++
            }
          }
        }), { concurrency: "unbounded" }))
      yield* Fiber.interrupt(echo)
      // Resetting one stream frees its place.
      yield* streams[0]!.reset("cancelled")
      const again = yield* within("a freed stream slot", 2_000, Effect.eventually(outbound.openStream))
      expect(again.id).toBe(2 * lanes)
    })), 30_000)

  it("notices a SIGKILLed peer process at once and a SIGSTOPped one within the idle timeout", () =>
    run(Effect.gen(function*() {
      const idleMs = 2_000
      const station = yield* node({ tlsIdleTimeoutMs: idleMs, tlsKeepAliveMs: 500 })
      const listener = yield* station.listen
      const children: Array<ChildProcess> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((c) => c.kill("SIGKILL"))))
      const peers = [valid(), valid()]
      for (const peer of peers) {
        const child = spawn(process.execPath, [fixture], { stdio: ["pipe", "ignore", "inherit"] })
        children.push(child)
        child.stdin!.end(`${JSON.stringify({
          host: "127.0.0.1",
          port: portOf(listener.address),
          certPem: peer.certPem,
          keyPem: peer.keyPem,
          alpn: Tls.alpn,
          idleMs,
          keepAliveMs: 500
        })}\n`)
      }
      const byDid = new Map<string, Connection>()
      for (let i = 0; i < 2; i++) {
        const inbound = yield* within("the peer processes connect", 8_000, listener.accept)
        byDid.set(inbound.peerDid, inbound)
      }
      const killed = byDid.get(peers[0]!.did)!
      const stopped = byDid.get(peers[1]!.did)!
      for (const inbound of [killed, stopped]) {
        const stream = yield* within("its stream arrives", 2_000, inbound.acceptStream)
        expect(text(yield* within("its first frame arrives", 2_000, stream.receive))).toBe("ready")
      }
      // Alive past several keep-alive rounds…
      expect(Option.isNone(yield* Effect.timeoutOption(Effect.raceFirst(killed.closed, stopped.closed), 1_200))).toBe(true)
      // …then one is killed without a chance to close, the other frozen (its kernel still ACKs).
      children[0]!.kill("SIGKILL")
      children[1]!.kill("SIGSTOP")
      const since = performance.now()
      const lostKilled: ConnectionLost = yield* within("the kill is noticed", 2_000, killed.closed)
      const killMs = performance.now() - since
      expect(lostKilled.by).toBe("transport")
      expect(killMs).toBeLessThan(1_000)
      const lostStopped: ConnectionLost = yield* within("the freeze is noticed", idleMs + 3_000, stopped.closed)
      expect(lostStopped.by).toBe("idle_timeout")
      expect(performance.now() - since).toBeLessThan(idleMs + 1_500)
    })), 20_000)

  it("keeps live connections healthy while raw clients send junk, oversized and illegal chunks", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const port = portOf(listener.address)
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      const stream = yield* outbound.openStream
      yield* stream.send(utf8("open"))
      const peer = yield* inbound.acceptStream
      expect(text(yield* peer.receive)).toBe("open")
      const junkTcp = () =>
        new Promise<void>((resolve) => {
          const socket = net.connect(port, "127.0.0.1", () => socket.write(randomBytes(2_000)))
          socket.on("error", () => undefined)
          socket.on("close", () => resolve())
          setTimeout(() => socket.destroy(), 2_000).unref()
        })
      const header = (flags: number, length: number) => {
        const h = new Uint8Array(Chunk.headerBytes)
        Chunk.writeHeader(h, 0, 0, flags, length)
        return h
      }
      const illegal = [header(0x40, 0), header(Chunk.Flag.data, 0x7fff_ffff), Chunk.encode(6, Chunk.Flag.data, Uint8Array.of(1)), randomBytes(500)]
      for (let round = 0; round < 5; round++) {
        const attacks = Promise.all([
          ...Array.from({ length: 10 }, junkTcp),
          ...illegal.map((after) => rawClient(port, valid(), { after }))
        ])
        yield* stream.send(utf8(`round ${round}`))
        expect(text(yield* within("the live stream", 2_000, peer.receive))).toBe(`round ${round}`)
        const outcomes = yield* within("the attacks end", 5_000, Effect.promise(() => attacks))
        // Each raw TLS client was admitted, then closed protocol_violation, and told so.
        for (const outcome of outcomes.slice(10) as Array<{ received: Uint8Array; closed: boolean }>) {
          expect(outcome.closed).toBe(true)
          const close = chunksOf(outcome.received).find((c) => c.id === Chunk.connectionId && c.flags === Chunk.Flag.reset)
          expect(close === undefined ? undefined : Chunk.readU32(close.payload, 0)).toBe(connectionClose.protocol_violation)
        }
        for (let i = 0; i < illegal.length; i++) {
          const victim = yield* within("the raw client was admitted", 2_000, listener.accept)
          expect(yield* within("it is closed", 2_000, victim.closed)).toMatchObject({ by: "local", code: "protocol_violation" })
        }
      }
      expect(inbound.isClosed() || outbound.isClosed()).toBe(false)
      yield* peer.send(utf8("still here"))
      expect(text(yield* stream.receive)).toBe("still here")
    })), 30_000)

  it("listens on QUIC and TLS at once and dials by scheme", () =>
    run(Effect.gen(function*() {
      const configs = (seed: Uint8Array) => {
        const quic = QuicConfig.make(seed, { host: "127.0.0.1" })
        return { quic, tls: TlsConfig.fromQuic(quic) }
      }
      const station = yield* Composite.fromConfigs(configs(randomBytes(32)))
      const client = yield* Composite.fromConfigs(configs(randomBytes(32)))
      const listener = yield* station.listen
      const addresses = listener.addresses ?? []
      expect(addresses.map((a) => a.split(":")[0])).toEqual(["quic", "tls"])
      expect(listener.address).toBe(addresses[0])
      const connections: Array<[Connection, Connection]> = []
      for (const address of addresses) {
        const out = yield* within(`dial ${address}`, 5_000, client.dial(address))
        const accepted = yield* within(`accept ${address}`, 5_000, listener.accept)
        expect(out.peerDid).toBe(station.localDid)
        expect(accepted.peerDid).toBe(client.localDid)
        expect(accepted.remoteAddress.split(":")[0]).toBe(address.split(":")[0])
        connections.push([out, accepted])
      }
      for (const [out, accepted] of connections) {
        const s = yield* out.openStream
        yield* s.send(utf8(out.remoteAddress))
        const t = yield* within("the stream arrives", 2_000, accepted.acceptStream)
        expect(text(yield* t.receive)).toBe(out.remoteAddress)
      }
      expect(yield* Effect.flip(client.dial("udp://127.0.0.1:1"))).toMatchObject({ _tag: "DialFailed", reason: "invalid_address" })
      expect(Exit.isFailure(yield* Effect.exit(station.listen))).toBe(true)
    })), 30_000)
})
