/**
 * A small mesh for the routing subtree tests: stations and clients, each with its transport
 * subtree (real connection actors over the simulated network, no QUIC) and its
 * `RoutingSupervisor`, on `TestClock`. Stations link to each other; each client dials one
 * station, and its "home" is whatever connection the test last gave it. Provider records live
 * in one shared in-memory directory standing in for the DHT.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import type { Handle } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as PubSubConfig from "../../../src/protocols/pubsub/Config.ts"
import * as RpcConfig from "../../../src/protocols/rpc/Config.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import type * as Frame from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import * as RoutingSupervisor from "../../../supervisors/RoutingSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"

export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
export const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)
/** Moves the clock `ms` in 10 ms steps. */
export const run = (ms: number) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += 10) yield* advance(10)
  })

/** Runs `effect` while moving the clock in 10 ms steps, until it ends (at most `limitMs`). */
export const drive = <A, E>(effect: Effect.Effect<A, E>, limitMs = 20_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* settle
    for (let t = 0; t < limitMs && fiber.pollUnsafe() === undefined; t += 10) yield* advance(10)
    return yield* Fiber.await(fiber)
  })

export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n + 1))

const pubsub: Partial<PubSubConfig.Config> = { ...PubSubConfig.local }
const rpc: Partial<RpcConfig.Config> = { ...RpcConfig.local, storeQuorum: 1 }

/** The DHT stand-in: the latest record per (key, signer). */
export const directory = () => {
  const records = new Map<string, Map<string, { seq: number; signed: Frame.Signed }>>()
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
  const port = {
    putProvider: (signed: Frame.Signed) =>
      Effect.sync(() => {
        const body = Signed.peekRecord(signed)
        if (body instanceof Error || body.ty !== "provider") return 0
        const key = `${hex(body.d.realm)}|${body.d.proc}`
        let row = records.get(key)
        if (row === undefined) records.set(key, row = new Map())
        const held = row.get(hex(body.pk))
        if (held === undefined || held.seq < body.seq) row.set(hex(body.pk), { seq: body.seq, signed })
        return 1
      }),
    findProviders: (realm: Uint8Array, proc: string) =>
      Effect.sync(() => Array.from(records.get(`${hex(realm)}|${proc}`)?.values() ?? [], (r) => r.signed))
  }
  return port
}

export interface Station {
  readonly who: Identity
  readonly address: string
  readonly tree: TransportSupervisor.TransportTree
  readonly routing: RoutingSupervisor.Routing
}

export interface Client {
  readonly who: Identity
  readonly tree: TransportSupervisor.TransportTree
  readonly routing: RoutingSupervisor.Routing
  /** The home connection the routing subtree sees. */
  home: Handle | undefined
}

export const startStation = (
  net: SimNetwork.SimNetwork,
  n: number,
  dir: ReturnType<typeof directory>,
  extra: Partial<RoutingSupervisor.Config> = {}
) =>
  Effect.gen(function*() {
    const who = identity(n)
    const address = `quic://10.0.0.${n + 1}:4433`
    const transport = yield* SimNetwork.transport(net, who, { listen: address })
    let tree: TransportSupervisor.TransportTree | undefined
    const routing = RoutingSupervisor.make({
      role: "station",
      identity: who,
      transport: () => tree,
      directory: dir,
      config: { pubsub, rpc, seed: n + 1, scanIntervalMs: 200, ...extra }
    })
    tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config("station", { stationPowBits: 0, hello: { feat: [], realms: [], addrs: [address] } }),
        sinks: routing.sinks
      }),
      Transport,
      transport
    )
    yield* routing.child.start
    return { who, address, tree, routing } satisfies Station
  })

export const startClient = (net: SimNetwork.SimNetwork, n: number) =>
  Effect.gen(function*() {
    const who = identity(100 + n)
    const transport = yield* SimNetwork.transport(net, who, { listen: `quic://10.0.1.${n + 1}:4433` })
    const client: { home: Handle | undefined } = { home: undefined }
    const routing = RoutingSupervisor.make({
      role: "client",
      identity: who,
      station: () => Effect.sync(() => client.home),
      config: { pubsub, rpc, seed: 100 + n, linkCheckMs: 20 }
    })
    const tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config("client", { stationPowBits: 0, hello: { feat: [], realms: [], addrs: [] } }),
        listen: false,
        sinks: routing.sinks
      }),
      Transport,
      transport
    )
    yield* routing.child.start
    return Object.assign(client, { who, tree, routing }) satisfies Client
  })

/** Attaches `client` to `station` (a fresh connection), and waits until its session links. */
export const attach = (client: Client, station: Station) =>
  Effect.gen(function*() {
    const dialed = yield* drive(client.tree.dialer.dial(station.address, { expectedDid: station.who.did }))
    if (dialed._tag !== "Success") throw new Error(`client dial failed: ${String(dialed.cause)}`)
    client.home = dialed.value
    yield* run(200)
  })

/**
 * Two stations linked to each other and three clients: c0, c1 at s0; c2 at s1. `stationConfig`
 * adds to both stations' routing config.
 */
export const mesh = (seed = 11, stationConfig: Partial<RoutingSupervisor.Config> = {}) =>
  Effect.gen(function*() {
    const net = yield* SimNetwork.make({ seed })
    const dir = directory()
    const s0 = yield* startStation(net, 0, dir, stationConfig)
    const s1 = yield* startStation(net, 1, dir, stationConfig)
    yield* settle
    const linked = yield* drive(s1.tree.dialer.dial(s0.address, { expectedDid: s0.who.did }))
    if (linked._tag !== "Success") throw new Error("station dial failed")
    const c0 = yield* startClient(net, 0)
    const c1 = yield* startClient(net, 1)
    const c2 = yield* startClient(net, 2)
    yield* attach(c0, s0)
    yield* attach(c1, s0)
    yield* attach(c2, s1)
    yield* run(500) // the stations adopt each other and exchange interest
    return { net, dir, stations: [s0, s1] as const, clients: [c0, c1, c2] as const }
  })
