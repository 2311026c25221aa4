/**
 * The QUIC transport over real sockets on loopback: identity binding (§3.3), refusals, ordered
 * delivery, bulk integrity, dead-peer detection across processes (§3.6 at the QUIC layer) and
 * junk datagrams. Every test has a hard timeout; the file runs in well under a minute.
 */
import { spawn } from "node:child_process"
import { createHash, generateKeyPairSync, randomBytes, randomFillSync, sign } from "node:crypto"
import { createSocket } from "node:dgram"
import { fileURLToPath } from "node:url"
import { QUICClient } from "@matrixai/quic"
import Logger, { LogLevel } from "@matrixai/logger"
import { Effect, Exit, Fiber, Option } from "effect"
import type { Scope } from "effect/Scope"
import { describe, expect, it } from "vitest"
import * as Certificate from "../../src/platform/transport/Certificate.ts"
import * as Der from "../../src/platform/transport/Der.ts"
import type { ConnectionLost } from "../../src/platform/transport/Errors.ts"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"

const run = <A, E>(body: Effect.Effect<A, E, Scope>): Promise<A> => Effect.runPromise(Effect.scoped(body))

const node = (overrides: Partial<Omit<QuicConfig.QuicConfig, "seed">> = {}, seed: Uint8Array = randomBytes(32)) =>
  Quic.make(QuicConfig.make(seed, { host: "127.0.0.1", ...overrides }))

const utf8 = (text: string) => new TextEncoder().encode(text)
const portOf = (address: string) => Number(/:(\d+)$/.exec(address)![1])

/** A raw client with any (or no) certificate, for the refusal tests. */
const rawDial = (port: number, credentials?: { readonly certPem: string; readonly keyPem: string }) =>
  QUICClient.createQUICClient({
    host: "127.0.0.1",
    port,
    localHost: "127.0.0.1",
    crypto: { ops: { randomBytes: async (data: ArrayBuffer) => void randomFillSync(new Uint8Array(data)) } },
    config: {
      ...(credentials === undefined ? {} : { key: credentials.keyPem, cert: credentials.certPem }),
      verifyPeer: true,
      verifyCallback: async () => undefined,
      applicationProtos: [Quic.alpn],
      maxIdleTimeout: 2_000
    },
    logger: new Logger("raw", LogLevel.ERROR)
  }, { timer: 3_000 })

/** What a refused raw client experiences: the dial fails, or the connection dies shortly after. */
const refusal = async (port: number, credentials?: { readonly certPem: string; readonly keyPem: string }) => {
  try {
    const client = await rawDial(port, credentials)
    const outcome = await Promise.race([
      client.closedP.then(() => "closed"),
      new Promise((resolve) => setTimeout(resolve, 2_000, "still open"))
    ])
    await client.destroy({ force: true }).catch(() => undefined)
    return { dialed: true, outcome }
  } catch (error) {
    return { dialed: false, outcome: (error as Error).constructor.name }
  }
}

/** A self-signed ECDSA P-256 certificate: well-formed X.509, wrong key type for §3.3. */
const ecdsaCredentials = () => {
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

/** Fails the test with `label` when `effect` takes longer than `ms`, so a hang says where it hung. */
const within = <A, E>(label: string, ms: number, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.timeoutOrElse(effect, { duration: ms, orElse: () => Effect.die(new Error(`${label}: not within ${ms} ms`)) })

const noConnectionWithin = <A, E>(accept: Effect.Effect<A, E>, ms: number) =>
  Effect.map(Effect.timeoutOption(accept, ms), Option.isNone)

describe("QUIC transport", () => {
  it("binds each side's DID to its certificate key, both ways", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      expect(outbound.peerDid).toBe(station.localDid)
      expect(inbound.peerDid).toBe(client.localDid)
      expect(outbound.direction).toBe("outbound")
      expect(inbound.direction).toBe("inbound")
      expect(station.localDid).toMatch(/^did:key:z6Mk/)
      // Streams work in both directions, opened by either side.
      const a = yield* outbound.openStream
      yield* a.send(utf8("ping"))
      const b = yield* inbound.acceptStream
      expect(new TextDecoder().decode(yield* b.receive)).toBe("ping")
      const c = yield* inbound.openStream
      yield* c.send(utf8("from the listener"))
      const d = yield* outbound.acceptStream
      expect(new TextDecoder().decode(yield* d.receive)).toBe("from the listener")
      // A graceful close reaches the peer with its §3.7 name and reason.
      yield* outbound.close("going_away", "maintenance")
      const lost = yield* inbound.closed
      expect(lost).toMatchObject({ by: "peer", code: "going_away", message: "maintenance" })
      expect((yield* outbound.closed).by).toBe("local")
    })), 20_000)

  it("refuses a pinned DID that the certificate does not prove, closing identity_mismatch", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const other = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const error = yield* Effect.flip(client.dial(listener.address, { expectedDid: other.localDid }))
      expect(error).toMatchObject({ _tag: "IdentityMismatch", expected: other.localDid, actual: station.localDid })
      // The dialer's close can reach the listener with its handshake, which then never admits
      // the connection; if it was admitted, it is closed `identity_mismatch`.
      const refused = yield* Effect.timeoutOption(listener.accept, 500)
      if (Option.isSome(refused)) {
        expect(yield* refused.value.closed).toMatchObject({ by: "peer", code: "identity_mismatch" })
      }
      // The `#did` fragment pins too, and the right DID connects.
      const pinned = yield* client.dial(`${listener.address}#${station.localDid}`)
      expect(pinned.peerDid).toBe(station.localDid)
      const wrongFragment = yield* Effect.flip(client.dial(`${listener.address}#${other.localDid}`))
      expect(wrongFragment._tag).toBe("IdentityMismatch")
    })), 20_000)

  it("refuses peers without a certificate, with a non-Ed25519 one or with a chain of two", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const listener = yield* station.listen
      const port = portOf(listener.address)
      const good = Certificate.make(randomBytes(32), Date.now())
      const extra = Certificate.make(randomBytes(32), Date.now())
      const cases = [
        { name: "none", credentials: undefined },
        { name: "ecdsa", credentials: ecdsaCredentials() },
        { name: "chain", credentials: { certPem: good.certificatePem + extra.certificatePem, keyPem: good.privateKeyPem } }
      ]
      for (const c of cases) {
        const result = yield* Effect.promise(() => refusal(port, c.credentials))
        // Either the handshake fails outright or the listener's refusal closes it right after.
        expect([c.name, result.dialed ? result.outcome : "refused"]).toEqual([c.name, result.dialed ? "closed" : "refused"])
      }
      expect(yield* noConnectionWithin(listener.accept, 300)).toBe(true)
      // And a dial to a listener whose certificate is not Ed25519 fails in TLS.
      const client = yield* node()
      const wrongServer = yield* Effect.promise(async () => {
        const { QUICServer } = await import("@matrixai/quic")
        const creds = ecdsaCredentials()
        const server = new QUICServer({
          crypto: {
            key: randomBytes(32).buffer as ArrayBuffer,
            ops: { sign: async () => randomBytes(32).buffer as ArrayBuffer, verify: async () => true }
          },
          config: { key: creds.keyPem, cert: creds.certPem, verifyPeer: false, applicationProtos: [Quic.alpn] },
          logger: new Logger("bad", LogLevel.ERROR)
        })
        await server.start({ host: "127.0.0.1", port: 0 })
        return server
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => wrongServer.stop({ force: true })))
      const failed = yield* Effect.flip(client.dial(`quic://127.0.0.1:${wrongServer.port}`, { timeoutMs: 3_000 }))
      expect(failed).toMatchObject({ _tag: "DialFailed", reason: "tls_refused" })
    })), 30_000)

  it("delivers 10k framed messages in order on one stream, coalesced", () =>
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
        for (const body of yield* peer.receiveMany) {
          expect(new DataView(body.buffer, body.byteOffset).getUint32(0)).toBe(expected)
          expect(body.length).toBe(8 + (expected % 200))
          expected++
        }
      }
      yield* Fiber.join(sender)
      expect(expected).toBe(count)
    })), 30_000)

  it("moves a 64 MiB stream intact (SHA-256 on both ends) and ends it cleanly", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ maxUdpPayloadBytes: 65_527 })
      const client = yield* node({ maxUdpPayloadBytes: 65_527 })
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
          // Sizes from 1 byte to the 1 MiB frame limit, so frames straddle reads in every way.
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
      const ended = yield* Effect.flip(Effect.forever(Effect.map(peer.receiveMany, (bodies) => {
        for (const body of bodies) {
          received.update(body)
          bytes += body.length
        }
      })))
      yield* Fiber.join(sender)
      expect(ended._tag).toBe("StreamEnded")
      expect(bytes).toBe(total)
      expect(received.digest("hex")).toBe(sent.digest("hex"))
    })), 40_000)

  it("notices a SIGKILLed peer process within the idle timeout", () =>
    run(Effect.gen(function*() {
      const idleMs = 2_000
      const station = yield* node({ quicIdleTimeoutMs: idleMs, quicKeepAliveMs: 500 })
      const listener = yield* station.listen
      const peerCredentials = Certificate.make(randomBytes(32), Date.now())
      const fixture = fileURLToPath(new URL("./fixtures/quic-peer.mjs", import.meta.url))
      const child = spawn(process.execPath, [fixture], { stdio: ["pipe", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      child.stdin.end(`${JSON.stringify({
        host: "127.0.0.1",
        port: portOf(listener.address),
        certPem: peerCredentials.certificatePem,
        keyPem: peerCredentials.privateKeyPem,
        idleMs,
        keepAliveMs: 500,
        alpn: Quic.alpn
      })}\n`)
      const inbound = yield* within("the peer process connects", 8_000, listener.accept)
      expect(inbound.peerDid).toBe(peerCredentials.did)
      const stream = yield* within("its stream arrives", 2_000, inbound.acceptStream)
      expect(new TextDecoder().decode(yield* within("its first frame arrives", 2_000, stream.receive))).toBe("ready")
      // Alive past several keep-alive rounds…
      expect(Option.isNone(yield* Effect.timeoutOption(inbound.closed, 1_200))).toBe(true)
      // …then killed without a chance to close.
      child.kill("SIGKILL")
      const killedAt = performance.now()
      const lost: ConnectionLost = yield* within("the loss is noticed", idleMs + 3_000, inbound.closed)
      const detectedMs = performance.now() - killedAt
      expect(lost.by).toBe("idle_timeout")
      expect(detectedMs).toBeLessThan(idleMs + 1_500)
      expect(yield* within("the stream fails", 2_000, Effect.exit(stream.receive))).toSatisfy(Exit.isFailure)
    })), 20_000)

  it("keeps a live connection healthy while junk and flooded datagrams hit its socket", () =>
    run(Effect.gen(function*() {
      const station = yield* node()
      const client = yield* node()
      const listener = yield* station.listen
      const outbound = yield* client.dial(listener.address)
      const inbound = yield* listener.accept
      const stream = yield* outbound.openStream
      const junk = createSocket("udp4")
      yield* Effect.addFinalizer(() => Effect.sync(() => junk.close()))
      const port = portOf(listener.address)
      const flood = () => {
        for (let i = 0; i < 2_000; i++) {
          // Random bytes, truncated headers and long-header look-alikes with random ids.
          const size = 1 + (i * 37) % 1_400
          const bytes = randomBytes(size)
          if (i % 3 === 0) bytes[0] = 0xc0 | (bytes[0]! & 0x0f)
          junk.send(bytes, port, "127.0.0.1")
        }
      }
      flood()
      // A stream becomes visible to the peer with its first bytes.
      yield* stream.send(utf8("open"))
      const peer = yield* inbound.acceptStream
      expect(new TextDecoder().decode(yield* peer.receive)).toBe("open")
      for (let round = 0; round < 20; round++) {
        flood()
        yield* stream.send(utf8(`round ${round}`))
        expect(new TextDecoder().decode(yield* peer.receive)).toBe(`round ${round}`)
      }
      expect(inbound.isClosed()).toBe(false)
      expect(outbound.isClosed()).toBe(false)
    })), 30_000)
})
