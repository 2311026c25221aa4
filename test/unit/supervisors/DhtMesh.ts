/**
 * A mesh of stations for the DHT subtree tests: each with its transport subtree (real
 * connection actors over the simulated network, no QUIC) and its `DhtSupervisor`, on
 * `TestClock`. Every station but the first dials the first and attaches the connection; their
 * self-lookups do the rest.
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"
import * as Xor from "../../../src/protocols/dht/Xor.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import type { RecordBody } from "../../../src/wire/SignedBody.ts"
import * as DhtSupervisor from "../../../supervisors/DhtSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"

export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
export const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

/** Runs `effect` while moving the clock in 10 ms steps, until it ends (at most `limitMs`). */
export const drive = <A, E>(effect: Effect.Effect<A, E>, limitMs = 20_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* settle
    for (let t = 0; t < limitMs && fiber.pollUnsafe() === undefined; t += 10) yield* advance(10)
    return yield* Fiber.await(fiber)
  })

export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n + 1))
export const sha256 = (bytes: Uint8Array) => Uint8Array.from(createHash("sha256").update(bytes).digest())

export const K = 4
const knobs: Partial<Config.Knobs> = { dhtK: K, storeQuorum: 3, dhtDisjointPaths: 2, valueResponsesWanted: 2 }

export interface Node {
  readonly who: Identity
  readonly id: Uint8Array
  readonly address: string
  readonly dht: DhtSupervisor.Dht
  readonly tree: TransportSupervisor.TransportTree
}

/** What a station is built from besides its number: knob overrides, its own record, persistence. */
export interface NodeOptions {
  readonly overrides?: Partial<Config.Knobs>
  readonly station?: (address: string, who: Identity) => NonNullable<DhtSupervisor.Deps["station"]>
  readonly persistence?: DhtSupervisor.Persistence
  readonly recordSaveDelayMs?: number
}

/** A station with its transport running and its DHT subtree built but not started (`startTree`). */
export const makeNode = (net: SimNetwork.SimNetwork, n: number, options: NodeOptions = {}) =>
  Effect.gen(function*() {
    const who = identity(n)
    const address = `quic://10.0.0.${n + 1}:4433`
    const transport = yield* SimNetwork.transport(net, who, { listen: address })
    let tree: TransportSupervisor.TransportTree | undefined
    const { dht, startTree } = DhtSupervisor.make({
      publicKey: who.publicKey,
      sign: (m) => who.sign(m),
      transport: {
        lookup: (did) => (tree === undefined ? Effect.succeed(undefined) : tree.registry.lookup(did)),
        dial: (a, o) => (tree === undefined ? Effect.fail("transport down") : tree.dialer.dial(a, o))
      },
      base: Config.local,
      config: { ...knobs, ...options.overrides },
      ...(options.station === undefined ? {} : { station: options.station(address, who) }),
      ...(options.persistence === undefined ? {} : { persistence: options.persistence }),
      ...(options.recordSaveDelayMs === undefined ? {} : { recordSaveDelayMs: options.recordSaveDelayMs })
    })
    tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config("station", { stationPowBits: 0, hello: { feat: [], realms: [], addrs: [address] } }),
        sinks: { dht: dht.sink }
      }),
      Transport,
      transport
    )
    return { who, id: dht.id, address, dht, tree, startTree }
  })

export const startNode = (
  net: SimNetwork.SimNetwork,
  n: number,
  overrides: Partial<Config.Knobs> = {},
  station?: (address: string, who: Identity) => NonNullable<DhtSupervisor.Deps["station"]>
) =>
  Effect.gen(function*() {
    const { startTree, ...node } = yield* makeNode(net, n, { overrides, ...(station === undefined ? {} : { station }) })
    yield* startTree
    return node satisfies Node
  })

/** `n` stations; every one but the first dials the first and attaches the connection. */
export const mesh = (
  n: number,
  seed = 7,
  overrides: Partial<Config.Knobs> = {},
  station?: (address: string, who: Identity) => NonNullable<DhtSupervisor.Deps["station"]>
) =>
  Effect.gen(function*() {
    const net = yield* SimNetwork.make({ seed })
    const nodes: Array<Node> = []
    for (let i = 0; i < n; i++) nodes.push(yield* startNode(net, i, overrides, station))
    yield* settle
    const seedNode = nodes[0]!
    for (const node of nodes.slice(1)) {
      const dialed = yield* drive(node.tree.dialer.dial(seedNode.address, { expectedDid: seedNode.who.did }))
      if (dialed._tag !== "Success") throw new Error("bootstrap dial failed")
      yield* node.dht.attach(dialed.value)
    }
    yield* advance(3_000) // self-lookups and their traffic
    for (let t = 0; t < 3_000; t += 10) yield* advance(10)
    return { net, nodes }
  })

export const hex = Xor.toHex
export const trueClosest = (nodes: ReadonlyArray<Node>, target: Uint8Array, except: Uint8Array) =>
  nodes.map((n) => n.id).filter((id) => !Xor.equals(id, except))
    .sort((a, b) => Xor.compareDistance(a, b, target)).slice(0, K).map(hex)

export const endpointRecord = (signer: Identity, iat: number, exp: number): Records.SignedRecord => {
  const draft: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk: signer.publicKey, seq: iat + 1, iat, exp, d: { st: [], a: [] } }
  const body = { ...draft, key: Records.expectedKey({ sha256 }, draft) }
  const signed = Signed.signRecord(body, (m) => signer.sign(m))
  if (!("b" in signed)) throw new Error("record does not encode")
  return { body, signed }
}
