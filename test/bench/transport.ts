/**
 * Transport benchmark (`npm run bench -- transport --json FILE`): the QUIC transport against the
 * unpatched library, TLS over TCP and plain TCP, measured in the same run so the results are
 * ratios. Both ends of every link run in this one process, on loopback, so each figure is what one
 * core achieves doing both sides' work; a two-process run is faster for every row alike.
 *
 * Rows: `quic_bulk_mb_s` (patched, one stream, 64 KiB datagrams, framed through the `Transport`),
 * `quic_bulk_1350_mb_s` (the same at 1350-byte datagrams), `quic_small_msgs` (100-byte frames per
 * second, one way), `quic_rtt_us` (median framed round trip), `handshake_ms` (median dial) and
 * `idle_conn_bytes` (memory per idle connection end). The TLS-over-TCP transport (§3.2a, framed
 * streams over the multiplexer) is measured by the same code: `tls_mb_s`, `tls_small_msgs` and
 * `tls_rtt_us` are rows of their own with raw `node:tls` (`tls_raw_*`, same certificate, same
 * framing and coalescing, no multiplexer) as baselines, and appear as baselines of the QUIC rows.
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import Logger, { LogLevel } from "@matrixai/logger"
import { Effect, Fiber } from "effect"
import type { Scope } from "effect/Scope"
import * as Certificate from "../../src/platform/transport/Certificate.ts"
import { FrameDecoder, writePrefix } from "../../src/platform/transport/Frame.ts"
import type { TransportStartFailed } from "../../src/platform/transport/Errors.ts"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"
import * as Tls from "../../src/platform/transport/Tls.ts"
import * as TlsConfig from "../../src/platform/transport/TlsConfig.ts"
import type { Transport } from "../../src/platform/transport/Transport.ts"

interface Result {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baselines: Record<string, number>
}

const MiB = 1024 * 1024
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[xs.length >> 1] ?? 0
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const scoped = <A, E>(body: Effect.Effect<A, E, Scope>): Promise<A> => Effect.runPromise(Effect.scoped(body))

/** Starts one transport end in the current scope. */
type Maker = () => Effect.Effect<Transport["Service"], TransportStartFailed, Scope>

const quicNode = (maxUdpPayloadBytes: number): Maker => () =>
  Quic.make(QuicConfig.make(randomBytes(32), { host: "127.0.0.1", maxUdpPayloadBytes, quicIdleTimeoutMs: 30_000 }))

const tlsNode: Maker = () => Tls.make(TlsConfig.make(randomBytes(32), { host: "127.0.0.1", tlsIdleTimeoutMs: 30_000 }))

// ---------------------------------------------------------------------------------------------
// Through the Transport: QUIC (patched library) or TLS over TCP (multiplexed), the same code
// ---------------------------------------------------------------------------------------------

/** MB/s of `totalBytes` in `frameBytes` frames on one stream. */
const transportBulk = (node: Maker, totalBytes: number, frameBytes = 256 * 1024) =>
  scoped(Effect.gen(function*() {
    const a = yield* node()
    const b = yield* node()
    const listener = yield* a.listen
    const out = yield* b.dial(listener.address)
    const stream = yield* out.openStream
    const body = randomBytes(frameBytes)
    yield* stream.send(body)
    const inbound = yield* listener.accept
    const peer = yield* inbound.acceptStream
    yield* peer.receive
    const start = performance.now()
    const sender = yield* Effect.forkChild(Effect.gen(function*() {
      for (let sent = 0; sent < totalBytes; sent += frameBytes) yield* stream.send(body)
    }))
    let got = 0
    while (got < totalBytes) for (const b of yield* peer.receiveMany) got += b.length
    const seconds = (performance.now() - start) / 1000
    yield* Fiber.join(sender)
    return got / seconds / 1e6
  }))

/** 100-byte frames per second, one way, over `count` frames. */
const transportSmall = (node: Maker, count: number) =>
  scoped(Effect.gen(function*() {
    const a = yield* node()
    const b = yield* node()
    const listener = yield* a.listen
    const out = yield* b.dial(listener.address)
    const stream = yield* out.openStream
    const body = randomBytes(100)
    yield* stream.send(body)
    const peer = yield* (yield* listener.accept).acceptStream
    yield* peer.receive
    const start = performance.now()
    const sender = yield* Effect.forkChild(Effect.gen(function*() {
      for (let i = 0; i < count; i++) yield* stream.send(body)
    }))
    let got = 0
    while (got < count) got += (yield* peer.receiveMany).length
    const seconds = (performance.now() - start) / 1000
    yield* Fiber.join(sender)
    return count / seconds
  }))

/** Median framed round trip in µs (100-byte ping, echoed). */
const transportRtt = (node: Maker, rounds: number) =>
  scoped(Effect.gen(function*() {
    const a = yield* node()
    const b = yield* node()
    const listener = yield* a.listen
    const out = yield* b.dial(listener.address)
    const stream = yield* out.openStream
    const body = randomBytes(100)
    yield* stream.send(body)
    const peer = yield* (yield* listener.accept).acceptStream
    yield* peer.receive
    const echo = yield* Effect.forkChild(Effect.forever(Effect.flatMap(peer.receive, (frame) => peer.send(frame))))
    const samples: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      const t = performance.now()
      yield* stream.send(body)
      yield* stream.receive
      samples.push((performance.now() - t) * 1000)
    }
    yield* Fiber.interrupt(echo)
    return median(samples)
  }))

/** Median time of a full dial (TLS 1.3 handshake, certificate checks, DID derivation), ms. */
const transportHandshake = (node: Maker, rounds: number) =>
  scoped(Effect.gen(function*() {
    const a = yield* node()
    const b = yield* node()
    const listener = yield* a.listen
    const samples: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      const t = performance.now()
      const conn = yield* b.dial(listener.address)
      samples.push(performance.now() - t)
      yield* conn.close()
    }
    return median(samples)
  }))

const gc: () => void = (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
})()

const settledMemory = async () => {
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(50)
  }
  const m = process.memoryUsage()
  return { rss: m.rss, js: m.heapUsed + m.external }
}

/** Memory per idle connection end (both ends live in this process): RSS and JS heap+external. */
const transportIdle = (connections: number) =>
  scoped(Effect.gen(function*() {
    const a = yield* quicNode(1_350)()
    const b = yield* quicNode(1_350)()
    const listener = yield* a.listen
    // Warm up code paths so the delta holds connections only.
    yield* (yield* b.dial(listener.address)).close()
    const before = yield* Effect.promise(settledMemory)
    const held = []
    for (let i = 0; i < connections; i++) {
      held.push(yield* b.dial(listener.address))
      held.push(yield* listener.accept)
    }
    yield* Effect.sleep(500)
    const after = yield* Effect.promise(settledMemory)
    return { rss: (after.rss - before.rss) / held.length, js: (after.js - before.js) / held.length }
  }))

// ---------------------------------------------------------------------------------------------
// The raw library, patched or stock (same code for both)
// ---------------------------------------------------------------------------------------------

type QuicModule = typeof import("@matrixai/quic")

const rawBulk = async (lib: QuicModule, datagramBytes: number, totalBytes: number): Promise<number> => {
  const credentials = Certificate.make(randomBytes(32), Date.now())
  const logger = new Logger("bench", LogLevel.ERROR)
  const config = {
    key: credentials.privateKeyPem,
    cert: credentials.certificatePem,
    verifyPeer: false,
    applicationProtos: [Quic.alpn],
    maxIdleTimeout: 30_000,
    maxRecvUdpPayloadSize: 65_527,
    maxSendUdpPayloadSize: datagramBytes,
    initialMaxData: 16 * MiB,
    initialMaxStreamDataBidiLocal: 4 * MiB,
    initialMaxStreamDataBidiRemote: 4 * MiB,
    readableChunkSize: 64 * 1024
  }
  const key = randomBytes(32)
  const server = new lib.QUICServer({
    crypto: {
      key: key.buffer.slice(key.byteOffset, key.byteOffset + 32) as ArrayBuffer,
      ops: {
        sign: async (_k: ArrayBuffer, data: ArrayBuffer) => {
          const d = createHash("sha256").update(key).update(Buffer.from(data)).digest()
          return d.buffer.slice(d.byteOffset, d.byteOffset + d.length) as ArrayBuffer
        },
        verify: async (_k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) =>
          createHash("sha256").update(key).update(Buffer.from(data)).digest().equals(Buffer.from(sig))
      }
    },
    config,
    logger
  })
  let received = 0
  let done: () => void = () => undefined
  const finished = new Promise<void>((resolve) => (done = resolve))
  server.addEventListener(lib.events.EventQUICServerConnection.name, (event: Event) => {
    const connection = (event as CustomEvent).detail
    connection.addEventListener(lib.events.EventQUICConnectionStream.name, (e: Event) => {
      const reader = (e as CustomEvent).detail.readable.getReader()
      const pump = (): void => {
        reader.read().then(({ value, done: end }: { value?: Uint8Array; done: boolean }) => {
          if (end) return done()
          received += value!.length
          if (received >= totalBytes) done()
          pump()
        }, () => done())
      }
      pump()
    })
  })
  await server.start({ host: "127.0.0.1", port: 0 })
  const socketOf = (x: unknown) => (x as { socket: { socket: import("node:dgram").Socket } }).socket.socket
  socketOf(server).setRecvBufferSize(4 * MiB)
  socketOf(server).setSendBufferSize(4 * MiB)
  const client = await lib.QUICClient.createQUICClient({
    host: "127.0.0.1",
    port: server.port,
    localHost: "127.0.0.1",
    crypto: { ops: { randomBytes: async (data: ArrayBuffer) => void randomFillSync(new Uint8Array(data)) } },
    config: { ...config, key: undefined, cert: undefined } as never,
    logger
  })
  socketOf(client).setRecvBufferSize(4 * MiB)
  socketOf(client).setSendBufferSize(4 * MiB)
  const writer = client.connection.newStream().writable.getWriter()
  const chunk = randomBytes(64 * 1024)
  const start = performance.now()
  for (let sent = 0; sent < totalBytes; sent += chunk.length) await writer.write(chunk)
  await finished
  const seconds = (performance.now() - start) / 1000
  await client.destroy({ force: true }).catch(() => undefined)
  await server.stop({ force: true }).catch(() => undefined)
  return received / seconds / 1e6
}

// ---------------------------------------------------------------------------------------------
// TCP and TLS over TCP baselines (same certificate, same framing for the message rows)
// ---------------------------------------------------------------------------------------------

type Pair = { readonly client: net.Socket; readonly server: net.Socket; readonly close: () => void }

const connectPair = async (secure: boolean): Promise<Pair> => {
  const credentials = Certificate.make(randomBytes(32), Date.now())
  const options = {
    key: credentials.privateKeyPem,
    cert: credentials.certificatePem,
    minVersion: "TLSv1.3" as const,
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: [Quic.alpn]
  }
  let accepted: (socket: net.Socket) => void = () => undefined
  const serverSide = new Promise<net.Socket>((resolve) => (accepted = resolve))
  const server = secure
    ? tls.createServer(options, (s) => accepted(s))
    : net.createServer((s) => accepted(s))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  const client = await new Promise<net.Socket>((resolve) => {
    const s: net.Socket = secure
      ? tls.connect({ ...options, host: "127.0.0.1", port }, () => resolve(s))
      : net.connect(port, "127.0.0.1", () => resolve(s))
  })
  client.setNoDelay(true)
  const serverSocket = await serverSide
  serverSocket.setNoDelay(true)
  return {
    client,
    server: serverSocket,
    close: () => {
      client.destroy()
      serverSocket.destroy()
      server.close()
    }
  }
}

const streamBulk = async (secure: boolean, totalBytes: number): Promise<number> => {
  const pair = await connectPair(secure)
  const chunk = randomBytes(64 * 1024)
  let received = 0
  const finished = new Promise<void>((resolve) =>
    pair.server.on("data", (d: Buffer) => {
      received += d.length
      if (received >= totalBytes) resolve()
    })
  )
  const start = performance.now()
  for (let sent = 0; sent < totalBytes; sent += chunk.length) {
    if (!pair.client.write(chunk)) await new Promise((resolve) => pair.client.once("drain", resolve))
  }
  await finished
  const seconds = (performance.now() - start) / 1000
  pair.close()
  return received / seconds / 1e6
}

/** A coalescing frame writer on a Node socket: frames of one turn leave in one write. */
const frameWriter = (socket: net.Socket) => {
  let queued: Array<Uint8Array> = []
  let size = 0
  const flush = () => {
    const out = Buffer.allocUnsafe(size)
    let at = 0
    for (const body of queued) {
      writePrefix(out, at, body.length)
      out.set(body, at + 4)
      at += 4 + body.length
    }
    queued = []
    size = 0
    return socket.write(out)
  }
  return (body: Uint8Array): Promise<void> | undefined => {
    if (queued.length === 0) setImmediate(flush)
    queued.push(body)
    size += 4 + body.length
    if (size < MiB) return undefined
    return new Promise<void>((resolve) => (flush() ? resolve() : socket.once("drain", () => resolve())))
  }
}

const frameReader = (socket: net.Socket, onFrames: (frames: Array<Uint8Array>) => void) => {
  const decoder = new FrameDecoder()
  socket.on("data", (d: Buffer) => {
    const out: Array<Uint8Array> = []
    decoder.push(d, out)
    onFrames(out)
  })
}

const streamSmall = async (count: number): Promise<number> => {
  const pair = await connectPair(true)
  const send = frameWriter(pair.client)
  let got = 0
  const finished = new Promise<void>((resolve) =>
    frameReader(pair.server, (frames) => {
      got += frames.length
      if (got >= count) resolve()
    })
  )
  const body = randomBytes(100)
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const wait = send(body)
    if (wait !== undefined) await wait
  }
  await finished
  const seconds = (performance.now() - start) / 1000
  pair.close()
  return count / seconds
}

const streamRtt = async (rounds: number): Promise<number> => {
  const pair = await connectPair(true)
  const echo = frameWriter(pair.server)
  frameReader(pair.server, (frames) => frames.forEach((f) => echo(f)))
  const send = frameWriter(pair.client)
  let arrived: () => void = () => undefined
  frameReader(pair.client, () => arrived())
  const body = randomBytes(100)
  const samples: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const t = performance.now()
    const back = new Promise<void>((resolve) => (arrived = resolve))
    send(body)
    await back
    samples.push((performance.now() - t) * 1000)
  }
  pair.close()
  return median(samples)
}

const tlsHandshake = async (rounds: number): Promise<number> => {
  const samples: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const t = performance.now()
    const pair = await connectPair(true)
    samples.push(performance.now() - t)
    pair.close()
  }
  return median(samples)
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs every row once and returns them in the bench JSON shape. `quick` shrinks every size for a
 * smoke run (its numbers are not measurements).
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = async (options: { readonly quick?: boolean } = {}): Promise<{ suite: "transport"; results: Array<Result> }> => {
  const scale = options.quick === true ? 1 / 16 : 1
  const bytes = (n: number) => Math.max(MiB, Math.round(n * scale))
  const times = (n: number) => Math.max(10, Math.round(n * scale))
  const patched = (await import("@matrixai/quic")) as QuicModule
  const stock = (await import("@matrixai/quic-stock")) as unknown as QuicModule

  const tcp = await streamBulk(false, bytes(512 * MiB))
  const tlsRawBulk = await streamBulk(true, bytes(256 * MiB))
  const tlsBulk = await transportBulk(tlsNode, bytes(256 * MiB))
  const bulk = await transportBulk(quicNode(65_527), bytes(256 * MiB))
  const rawPatched = await rawBulk(patched, 65_527, bytes(256 * MiB))
  const rawStock = await rawBulk(stock, 65_527, bytes(32 * MiB))
  const bulk1350 = await transportBulk(quicNode(1_350), bytes(64 * MiB))
  const rawPatched1350 = await rawBulk(patched, 1_350, bytes(64 * MiB))
  const rawStock1350 = await rawBulk(stock, 1_350, bytes(4 * MiB))
  const small = await transportSmall(quicNode(1_350), times(300_000))
  const tlsSmall = await transportSmall(tlsNode, times(300_000))
  const tlsRawSmall = await streamSmall(times(300_000))
  const rtt = await transportRtt(quicNode(1_350), times(3_000))
  const tlsRtt = await transportRtt(tlsNode, times(3_000))
  const tlsRawRtt = await streamRtt(times(3_000))
  const handshake = await transportHandshake(quicNode(1_350), times(30))
  const tlsShake = await transportHandshake(tlsNode, times(30))
  const tlsRawShake = await tlsHandshake(times(30))
  const idle = await transportIdle(times(100))

  return {
    suite: "transport",
    results: [
      {
        name: "quic_bulk_mb_s",
        unit: "MB/s",
        value: round(bulk),
        baselines: {
          quic_stock_mb_s: round(rawStock),
          quic_raw_patched_mb_s: round(rawPatched),
          tls_mb_s: round(tlsBulk),
          tls_raw_mb_s: round(tlsRawBulk),
          tcp_mb_s: round(tcp)
        }
      },
      {
        name: "quic_bulk_1350_mb_s",
        unit: "MB/s",
        value: round(bulk1350),
        baselines: {
          quic_stock_mb_s: round(rawStock1350, 2),
          quic_raw_patched_mb_s: round(rawPatched1350),
          tls_mb_s: round(tlsBulk),
          tls_raw_mb_s: round(tlsRawBulk),
          tcp_mb_s: round(tcp)
        }
      },
      {
        name: "quic_small_msgs",
        unit: "frames/s",
        value: Math.round(small),
        baselines: { tls_small_msgs: Math.round(tlsSmall), tls_raw_small_msgs: Math.round(tlsRawSmall) }
      },
      {
        name: "quic_rtt_us",
        unit: "µs",
        value: Math.round(rtt),
        baselines: { tls_rtt_us: Math.round(tlsRtt), tls_raw_rtt_us: Math.round(tlsRawRtt) }
      },
      {
        name: "handshake_ms",
        unit: "ms",
        value: round(handshake, 2),
        baselines: { tls_handshake_ms: round(tlsShake, 2), tls_raw_handshake_ms: round(tlsRawShake, 2) }
      },
      // The TLS transport against raw node:tls: what the multiplexer and the framing cost.
      {
        name: "tls_mb_s",
        unit: "MB/s",
        value: round(tlsBulk),
        baselines: { tls_raw_mb_s: round(tlsRawBulk), tcp_mb_s: round(tcp), quic_bulk_mb_s: round(bulk) }
      },
      {
        name: "tls_small_msgs",
        unit: "frames/s",
        value: Math.round(tlsSmall),
        baselines: { tls_raw_small_msgs: Math.round(tlsRawSmall), quic_small_msgs: Math.round(small) }
      },
      {
        name: "tls_rtt_us",
        unit: "µs",
        value: Math.round(tlsRtt),
        baselines: { tls_raw_rtt_us: Math.round(tlsRawRtt), quic_rtt_us: Math.round(rtt) }
      },
      {
        name: "idle_conn_bytes",
        unit: "bytes",
        value: Math.round(idle.rss),
        baselines: { idle_conn_js_heap_bytes: Math.round(idle.js) }
      }
    ]
  }
}
