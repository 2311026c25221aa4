/**
 * Connections as supervised actors over real QUIC on loopback (PROTOCOL.md §3.4–§3.7, §14 #12–14,
 * §15): the HELLO exchange and lanes between two nodes, a wedged peer and a killed peer noticed
 * by the application ping, redial with backoff, a pinned DID mismatch, a station without proof of
 * work, and a connection flood from one address. Every test has a hard timeout; the file runs in
 * well under a minute on two cores.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import * as Deferred from "effect/Deferred"
import type { Scope } from "effect/Scope"
import { describe, expect, it } from "vitest"
import * as ConnectionActor from "../../actors/ConnectionActor.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as NodeId from "../../src/identity/NodeId.ts"
import * as Certificate from "../../src/platform/transport/Certificate.ts"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"
import { Transport } from "../../src/platform/transport/Transport.ts"
import type { Connection } from "../../src/protocols/connection/index.ts"
import * as Codec from "../../src/wire/Codec.ts"
import type { Frame } from "../../src/wire/Frame.ts"
import * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"

const run = <A, E>(body: Effect.Effect<A, E, Scope>): Promise<A> => Effect.runPromise(Effect.scoped(body))

/** Fails with `label` when `effect` takes longer than `ms`, so a hang says where it hung. */
const within = <A, E, R>(label: string, ms: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.timeoutOrElse(effect, { duration: ms, orElse: () => Effect.die(new Error(`${label}: not within ${ms} ms`)) })

/** A station identity with enough proof of work for `bits` (0: any key). */
const stationSeed = (bits: number): Uint8Array => Identity.generateStation(bits).exportSeed()

/** A seed whose key has *less* than `bits` of proof of work. */
const weakSeed = (bits: number): Uint8Array => {
  for (;;) {
    const id = Identity.generate()
    if (NodeId.powBits(id.publicKey) < bits) return id.exportSeed()
  }
}

interface NodeSpec {
  readonly role: "station" | "client"
  readonly seed?: Uint8Array
  readonly host?: string
  readonly port?: number
  readonly core?: Partial<Omit<Connection.Config.Config, "role" | "placement">>
  readonly tree?: Partial<TransportSupervisor.Options>
}

/** A node's transport and its TransportSupervisor, in the current scope. */
const node = (spec: NodeSpec) =>
  Effect.gen(function*() {
    const seed = spec.seed ?? (spec.role === "station" ? stationSeed(4) : randomBytes(32))
    const transport = yield* Quic.make(QuicConfig.make(seed, { host: spec.host ?? "127.0.0.1", port: spec.port ?? 0 }))
    const tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config(spec.role, { stationPowBits: 4, ...spec.core }),
        ...spec.tree
      }),
      Transport,
      transport
    )
    return { transport, tree, did: transport.localDid }
  })

const frames = {
  findNode: (id: number): Frame => ({ t: "dht.find_node", id, key: new Uint8Array(32).fill(id % 256) }),
  nodes: (id: number): Frame => ({ t: "dht.nodes", id, n: [] })
}


/** Polls `probe` every 20 ms until it yields a value. */
const eventually = <A>(probe: Effect.Effect<A | undefined>): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (;;) {
      const found = yield* probe
      if (found !== undefined) return found
      yield* Effect.sleep(20)
    }
  })

/** The station's first connection from `did` in `phase`. */
const inboundFrom = (tree: TransportSupervisor.TransportTree, did: string, phase: string) =>
  eventually(Effect.map(tree.connections, (list) => list.find((h) => h.peerDid === did && h.status().phase === phase)))

/** A body (no prefix) of a frame, as a raw peer sends it. */
const body = (frame: Frame): Uint8Array => {
  const bytes = Codec.encode(frame)
  if (!(bytes instanceof Uint8Array)) throw new Error(bytes.message)
  return bytes.slice(Codec.prefixBytes)
}

const clientHello = (): Frame => ({
  t: "hello", role: "client", vers: [1], feat: [], realms: [], addrs: [], lim: { f: 1_048_576 }, ts: Date.now()
})

/** The station-peer fixture in its own process, listening on `port` (0: any). */
const stationProcess = (seed: Uint8Array, port: number) =>
  Effect.gen(function*() {
    const credentials = Certificate.make(seed, Date.now())
    const fixture = fileURLToPath(new URL("./fixtures/station-peer.mjs", import.meta.url))
    const child = spawn(process.execPath, [fixture], { stdio: ["pipe", "pipe", "inherit"] })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    child.stdin.write(`${JSON.stringify({ host: "127.0.0.1", port, certPem: credentials.certificatePem, keyPem: credentials.privateKeyPem, alpn: Quic.alpn })}\n`)
    const bound = yield* within("fixture start", 10_000, Effect.callback<number>((resume) => {
      let text = ""
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8")
        const m = /listening (\d+)/.exec(text)
        if (m !== null) resume(Effect.succeed(Number(m[1])))
      })
    }))
    return { child, port: bound, did: credentials.did }
  })

describe("connections over QUIC", () => {
  it("handshakes station and client and exchanges frames on lanes both ways", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ role: "station" })
      const client = yield* node({ role: "client" })
      const address = yield* within("listen", 5_000, station.tree.listenAddress)
      // The station answers every dht.find_node on the client's lane with dht.nodes.
      const answered = yield* Deferred.make<number>()
      const handle = yield* within("dial", 10_000, client.tree.dialer.dial(`${address}#${station.did}`))
      expect(handle.status()).toMatchObject({ phase: "ready", peerRole: "station", version: 1, peerDid: station.did })
      const inbound = yield* within("inbound", 5_000, Effect.gen(function*() {
        for (;;) {
          const list = yield* station.tree.connections
          const ready = list.find((h) => h.status().phase === "ready")
          if (ready !== undefined) return ready
          yield* Effect.sleep(20)
        }
      }))
      expect(inbound.status()).toMatchObject({ peerRole: "client", peerDid: client.did, direction: "inbound" })
      inbound.subscribe("dht", (msg) =>
        msg.frame.t === "dht.find_node" ? Effect.ignore(msg.reply(frames.nodes(msg.frame.id))) : Effect.void)
      let replies = 0
      handle.subscribe("dht", (msg) =>
        Effect.sync(() => {
          if (msg.frame.t === "dht.nodes" && msg.opener === "local" && ++replies === 100) {
            Deferred.doneUnsafe(answered, Effect.succeed(replies))
          }
        }))
      const lane = yield* handle.openLane("dht")
      for (let i = 1; i <= 100; i++) yield* lane.send(frames.findNode(i))
      expect(yield* within("replies", 5_000, Deferred.await(answered))).toBe(100)
      // The same lane comes back; a frame of another family is refused locally.
      expect((yield* handle.openLane("dht")).stream).toBe(lane.stream)
      const wrong = yield* Effect.flip(lane.send({ t: "sub", id: 1, sid: 1, realm: new Uint8Array(32), pat: "a" }))
      expect(wrong.reason).toBe("wrong_stream")
      // A graceful close reaches the station as the client's goodbye.
      yield* handle.close({ code: "going_away" })
      const closed = yield* within("close", 5_000, inbound.closed)
      expect(closed.ending).toMatchObject({ code: "going_away", by: "peer" })
    })), 30_000)
  it("notices a wedged peer that ignores pings (its QUIC stack still acks) within about 4 s", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ role: "station" })
      const address = yield* within("listen", 5_000, station.tree.listenAddress)
      const raw = yield* Quic.make(QuicConfig.make(randomBytes(32), { host: "127.0.0.1" }))
      const connection = yield* raw.dial(address)
      const control = yield* connection.openStream
      yield* control.send(body(clientHello()))
      yield* within("station hello", 5_000, control.receive) // from here on the peer never reads nor writes
      const heardAt = Date.now()
      const inbound = yield* within("ready", 5_000, inboundFrom(station.tree, raw.localDid, "ready"))
      let decidedMs = 0
      inbound.watch((status) => void (status.ending !== undefined && decidedMs === 0 && (decidedMs = Date.now() - heardAt)))
      const final = yield* within("liveness", 8_000, inbound.closed)
      const closedMs = Date.now() - heardAt
      expect(final.ending).toMatchObject({ code: "liveness_lost", by: "local" })
      expect(decidedMs).toBeGreaterThan(3_500)
      expect(decidedMs).toBeLessThan(4_800)
      expect(closedMs).toBeLessThan(6_000)
      console.info(`wedged peer: liveness_lost decided after ${decidedMs} ms, connection gone after ${closedMs} ms`)
    })), 20_000)

  it("notices a SIGKILLed peer process and redials it with growing backoff until it is back", () =>
    run(Effect.gen(function*() {
      const seed = stationSeed(4)
      const first = yield* stationProcess(seed, 0)
      const client = yield* node({
        role: "client",
        tree: { dialer: { reconnectMinMs: 200, reconnectMaxMs: 1_600, jitter: 0, dialTimeoutMs: 600 } }
      })
      const events: Array<{ readonly at: number; readonly event: TransportSupervisor.LinkEvent }> = []
      const up = yield* Deferred.make<void>()
      const down = yield* Deferred.make<ConnectionActor.Status>()
      const back = yield* Deferred.make<void>()
      let ups = 0
      yield* Effect.forkScoped(client.tree.dialer.maintain(
        `quic://127.0.0.1:${first.port}#${first.did}`,
        {},
        () => Effect.void,
        (event) => {
          events.push({ at: Date.now(), event })
          if (event._tag === "Up" && ++ups === 1) Deferred.doneUnsafe(up, Effect.void)
          if (event._tag === "Up" && ups === 2) Deferred.doneUnsafe(back, Effect.void)
          if (event._tag === "Down") Deferred.doneUnsafe(down, Effect.succeed(event.status))
        }
      ))
      yield* within("first link", 10_000, Deferred.await(up))
      first.child.kill("SIGKILL")
      const killedAt = Date.now()
      const status = yield* within("detection", 8_000, Deferred.await(down))
      const detectedMs = Date.now() - killedAt
      expect(status.ending?.code).toBe("liveness_lost")
      expect(detectedMs).toBeLessThan(5_000)
      console.info(`killed peer detected after ${detectedMs} ms`)
      // Let a few redials fail, then bring the station back on the same port.
      yield* within("failed redials", 10_000, eventually(Effect.sync(() =>
        events.filter((e) => e.event._tag === "Failed").length >= 3 ? true : undefined)))
      yield* stationProcess(seed, first.port)
      yield* within("redialled", 10_000, Deferred.await(back))
      const waits = events.flatMap((e) => e.event._tag === "Waiting" ? [e.event.delayMs] : [])
      expect(waits.slice(0, 4)).toEqual([200, 400, 800, 1_600])
    })), 40_000)

  it("refuses a pinned DID the certificate does not prove", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ role: "station" })
      const client = yield* node({ role: "client" })
      const address = yield* within("listen", 5_000, station.tree.listenAddress)
      const other = Identity.generate().did
      const error = yield* Effect.flip(within("dial", 10_000, client.tree.dialer.dial(`${address}#${other}`)))
      expect(error).toMatchObject({ _tag: "IdentityMismatch", expected: other, actual: station.did })
      expect(yield* client.tree.connections).toEqual([])
    })), 20_000)

  it("refuses a station whose key lacks the proof of work, closing pow_insufficient", () =>
    run(Effect.gen(function*() {
      const strong = yield* node({ role: "station", seed: stationSeed(8), core: { stationPowBits: 8 } })
      const weak = yield* node({ role: "station", seed: weakSeed(8), core: { stationPowBits: 8 }, tree: { listen: false } })
      const address = yield* within("listen", 5_000, strong.tree.listenAddress)
      const error = yield* Effect.flip(within("dial", 10_000, weak.tree.dialer.dial(address)))
      expect(error).toMatchObject({ _tag: "ConnectionClosed", code: "pow_insufficient" })
    })), 20_000)

  it("refuses a flood from one address with too_many_connections while other peers stay healthy", () =>
    run(Effect.gen(function*() {
      const station = yield* node({ role: "station", tree: { limits: { maxConnectionsPerIp: 3 } } })
      const address = yield* within("listen", 5_000, station.tree.listenAddress)
      // A healthy client on another loopback address, with a lane in use.
      const healthy = yield* node({ role: "client", host: "127.0.0.2" })
      const handle = yield* within("healthy dial", 10_000, healthy.tree.dialer.dial(address))
      const inbound = yield* within("inbound", 5_000, inboundFrom(station.tree, healthy.did, "ready"))
      inbound.subscribe("dht", (msg) =>
        msg.frame.t === "dht.find_node" ? Effect.ignore(msg.reply(frames.nodes(msg.frame.id))) : Effect.void)
      const replies = yield* Deferred.make<void>()
      let count = 0
      handle.subscribe("dht", () => Effect.sync(() => void (++count === 2 && Deferred.doneUnsafe(replies, Effect.void))))
      const lane = yield* handle.openLane("dht")
      yield* lane.send(frames.findNode(1))
      // The flood: 8 connections from 127.0.0.1.
      const flood = yield* Effect.forEach(Array.from({ length: 8 }), () =>
        Effect.gen(function*() {
          const t = yield* Quic.make(QuicConfig.make(randomBytes(32), { host: "127.0.0.1" }))
          return yield* t.dial(address)
        }), { concurrency: 4 })
      const outcomes = yield* Effect.forEach(flood, (c) =>
        Effect.map(Effect.timeoutOption(c.closed, 2_000), (lost) => lost._tag === "Some" ? lost.value.code : "open"), {
        concurrency: "unbounded"
      })
      expect(outcomes.filter((code) => code === "too_many_connections").length).toBe(5)
      expect(outcomes.filter((code) => code === "open").length).toBe(3)
      // The healthy client is untouched.
      yield* lane.send(frames.findNode(2))
      yield* within("healthy replies", 5_000, Deferred.await(replies))
      expect(handle.status().phase).toBe("ready")
    })), 30_000)
})
