/**
 * Nodes for the content subtree tests: each with its transport subtree (real connection
 * actors over the simulated network, no QUIC) and its `ContentSupervisor`, on `TestClock`.
 * The DHT is a shared table of providers (the DHT has its own tests); the transport port dials
 * through each node's `Dialer`. A node's `content` sink can be wrapped to count or corrupt
 * what it serves.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import * as ContentConfig from "../../../src/protocols/content/Config.ts"
import type { Supervisor } from "../../../src/runtime/index.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import * as ContentSupervisor from "../../../supervisors/ContentSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"

export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
export const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

/**
 * Runs `effect` while moving the clock in 10 ms steps until it ends (at most `limitMs`),
 * calling `each` after every step (faults injected mid-transfer).
 */
export const drive = <A, E>(effect: Effect.Effect<A, E>, limitMs = 60_000, each?: () => Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* settle
    for (let t = 0; t < limitMs && fiber.pollUnsafe() === undefined; t += 10) {
      yield* advance(10)
      if (each !== undefined) yield* Effect.orDie(each())
    }
    return yield* Fiber.await(fiber)
  })

export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n + 41))

/** Deterministic content of `bytes` bytes (never all-equal chunks, so chunks differ). */
export const content = (bytes: number, salt = 1): Uint8Array => {
  const out = new Uint8Array(bytes)
  let x = 0x9e3779b9 ^ salt
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export const CHUNK = 262_144

/** The DHT stand-in: MCID → provider DIDs; every node's address by DID. */
export interface World {
  readonly net: SimNetwork.SimNetwork
  readonly providers: Map<string, Set<string>>
  readonly addresses: Map<string, string>
}

export interface Node {
  readonly who: Identity
  readonly address: string
  readonly tree: TransportSupervisor.TransportTree
  readonly content: ContentSupervisor.Api
  readonly supervisor: Supervisor.SupervisorRef
  /** Block wants received, by chunk MCID text (`content.want` entries of kind `block`). */
  readonly wants: Map<string, number>
  /** `content.cancel` frames received on sessions peers opened. */
  readonly cancels: { count: number }
}

export interface NodeOptions {
  readonly config?: Partial<ContentConfig.Knobs & ContentSupervisor.SubtreeKnobs>
  /** Rewrites each frame this node sends on sessions peers opened (a lying provider). */
  readonly rewrite?: (frame: Frame) => Frame
  /** Keep blocks on disk under this directory. @default memory */
  readonly dir?: string
}

export const knobs: Partial<ContentConfig.Knobs & ContentSupervisor.SubtreeKnobs> = {
  ...ContentConfig.local,
  providerRetryMs: 200,
  providerQueries: 3
}

export const world = (seed = 11, network: Partial<SimNetwork.Link> = {}, maxStreamsPerConnection?: number) =>
  Effect.map(
    SimNetwork.make({ seed, network, ...(maxStreamsPerConnection === undefined ? {} : { maxStreamsPerConnection }) }),
    (net): World => ({ net, providers: new Map(), addresses: new Map() })
  )

export const startNode = (w: World, n: number, options: NodeOptions = {}) =>
  Effect.gen(function*() {
    const who = identity(n)
    const address = `quic://10.0.1.${n + 1}:4433`
    w.addresses.set(who.did, address)
    const transport = yield* SimNetwork.transport(w.net, who, { listen: address })
    let tree: TransportSupervisor.TransportTree | undefined
    const wants = new Map<string, number>()
    const cancels = { count: 0 }
    const { api, startTree } = ContentSupervisor.make({
      identity: { did: who.did },
      transport: {
        connect: (p) =>
          tree === undefined
            ? Effect.fail("transport down")
            : tree.dialer.dial(p.address ?? w.addresses.get(p.did) ?? "quic://0.0.0.0:1", { expectedDid: p.did })
      },
      dht: {
        findProviders: (mcid) =>
          Effect.succeed(
            [...(w.providers.get(Mcid.toString(mcid)) ?? [])].filter((did) => did !== who.did).map((did) => ({
              did,
              address: w.addresses.get(did)!
            }))
          ),
        announce: (mcid) =>
          Effect.sync(() => {
            const key = Mcid.toString(mcid)
            const set = w.providers.get(key) ?? new Set()
            set.add(who.did)
            w.providers.set(key, set)
          })
      },
      config: { ...knobs, ...options.config },
      ...(options.dir === undefined ? {} : { store: { dir: options.dir, fsync: false } })
    })
    const rewrite = options.rewrite
    const sink: ConnectionActor.Sink = (inbound) => {
      if (inbound.opener === "peer" && inbound.frame.t === "content.want") {
        for (const e of inbound.frame.w) {
          if (e.k !== "block") continue
          const m = Mcid.fromBinary(e.m)
          const key = m === undefined ? "?" : Mcid.toString(m)
          wants.set(key, (wants.get(key) ?? 0) + 1)
        }
      }
      if (inbound.opener === "peer" && inbound.frame.t === "content.cancel") cancels.count++
      if (rewrite === undefined || inbound.opener !== "peer") return api.sink(inbound)
      return api.sink({ ...inbound, reply: (frame) => inbound.reply(rewrite(frame)) })
    }
    tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config("station", { stationPowBits: 0, hello: { feat: [], realms: [], addrs: [address] } }),
        sinks: { content: sink }
      }),
      Transport,
      transport
    )
    const supervisor = yield* startTree
    return { who, address, tree, content: api, supervisor, wants, cancels } satisfies Node
  })

export const nodes = (w: World, count: number, options: (n: number) => NodeOptions = () => ({})) =>
  Effect.gen(function*() {
    const out: Array<Node> = []
    for (let i = 0; i < count; i++) out.push(yield* startNode(w, i, options(i)))
    yield* settle
    return out
  })

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0

/** A node that flips one byte in every block it serves. */
export const corrupting: NodeOptions = {
  rewrite: (frame) => {
    if (frame.t !== "content.block") return frame
    const d = frame.d.slice()
    d[0] = d[0]! ^ 0xff
    return { ...frame, d }
  }
}

/** Chunks of `mcid` the node holds now. */
export const heldChunks = (node: Node, mcid: Mcid.Mcid) =>
  Effect.gen(function*() {
    const progress = yield* Effect.orDie(node.content.store()!.progress(mcid))
    return progress._tag === "chunked" ? progress.held.flatMap((yes, i) => (yes ? [i] : [])) : []
  })
