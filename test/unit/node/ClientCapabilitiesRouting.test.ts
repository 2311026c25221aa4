/**
 * Client capabilities through the routing subtree over the simulated network (real connection
 * actors, `TestClock`): two stations pinned to a realm authority, clients whose session and
 * endpoint attach `au` from their delegations. A member subscribes, publishes, advertises and
 * calls; a publish outside its delegated topics and a stranger's subscription are refused with
 * `Unauthorized` (`UnavailableProof`); after moving to the other station the member's replayed
 * subscription carries a new invocation for it and keeps receiving.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import * as ClientCapabilities from "../../../src/node/ClientCapabilities.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import type { Handle } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as PubSubConfig from "../../../src/protocols/pubsub/Config.ts"
import * as RpcConfig from "../../../src/protocols/rpc/Config.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as RoutingSupervisor from "../../../supervisors/RoutingSupervisor.ts"
import type { SubscriptionEvent } from "../../../supervisors/RoutingSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"
import { directory, drive, identity, run, settle } from "../supervisors/RoutingMesh.ts"

const realm = "io.macula"
const chat = `${realm}/acme/app/chat/said_v1`
const other = `${realm}/other/app/chat/said_v1`
const add = `${realm}/acme/app/math/add_v1`
const authority = Identity.fromSeed(new Uint8Array(32).fill(77))
// TestClock starts at the epoch and the test runs for seconds: delegations valid for a day of
// 1970 are live throughout, and the stations judge time at 0.
const expiration = 86_400

const ok = <A>(exit: { readonly _tag: string }): A => {
  if (exit._tag !== "Success") throw new Error(`failed: ${String((exit as unknown as { cause: unknown }).cause)}`)
  return (exit as unknown as { value: A }).value
}
const failure = (exit: { readonly _tag: string }): unknown => {
  if (exit._tag !== "Failure") throw new Error("succeeded")
  const cause = (exit as unknown as { cause: { reasons?: ReadonlyArray<{ error?: unknown }> } }).cause
  return cause.reasons?.find((r) => r.error !== undefined)?.error ?? cause
}

const station = (net: SimNetwork.SimNetwork, n: number, dir: ReturnType<typeof directory>) =>
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
      authorise: Authorisation.make({ authorities: { [realm]: authority.did }, station: who.did, now: () => 0 }),
      config: { pubsub: { ...PubSubConfig.local }, rpc: { ...RpcConfig.local, storeQuorum: 1 }, seed: n + 1, scanIntervalMs: 200 }
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
    return { who, address, tree }
  })

const client = (net: SimNetwork.SimNetwork, n: number, delegations: ReadonlyArray<Uint8Array>, who = identity(100 + n)) =>
  Effect.gen(function*() {
    const transport = yield* SimNetwork.transport(net, who, { listen: `quic://10.0.1.${n + 1}:4433` })
    const self: { home: Handle | undefined } = { home: undefined }
    const capabilities = ClientCapabilities.make({ identity: who, delegations })
    const routing = RoutingSupervisor.make({
      role: "client",
      identity: who,
      station: () => Effect.sync(() => self.home),
      ...(capabilities === undefined ? {} : { capabilities }),
      config: { pubsub: { ...PubSubConfig.local }, rpc: { ...RpcConfig.local, storeQuorum: 1 }, seed: 100 + n, linkCheckMs: 20 }
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
    const attach = (to: { readonly address: string; readonly who: Identity }) =>
      Effect.gen(function*() {
        const dialed = yield* drive(tree.dialer.dial(to.address, { expectedDid: to.who.did }))
        self.home = ok<Handle>(dialed)
        yield* run(200)
      })
    return { who, routing, attach, self }
  })

describe("client capabilities through the routing subtree", () => {
  effect("members get in with au, strangers and uncovered topics are refused, fail-over presents again", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 5 })
      const dir = directory()
      const s0 = yield* station(net, 0, dir)
      const s1 = yield* station(net, 1, dir)
      yield* settle
      ok(yield* drive(s1.tree.dialer.dial(s0.address, { expectedDid: s0.who.did })))

      const member = identity(100)
      const memberCaps = [
        ...RealmCapabilities.issueMember({
          issuer: authority, member: member.did, realm, commands: ["/mesh/publish", "/mesh/subscribe"], topics: [`${realm}/acme/#`], expiration
        }),
        ...RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, commands: ["/mesh/call"], expiration })
      ]
      const providerKey = identity(101)
      const providerCaps = RealmCapabilities.issueMember({
        issuer: authority, member: providerKey.did, realm, commands: ["/mesh/advertise"], expiration
      })
      const c0 = yield* client(net, 0, memberCaps, member)
      const provider = yield* client(net, 1, providerCaps, providerKey)
      const stranger = yield* client(net, 2, [])
      yield* c0.attach(s0)
      yield* provider.attach(s1)
      yield* stranger.attach(s0)
      yield* run(500)

      // Pub/sub in the pinned realm with au; the grant then admits the rest without it.
      const seen: Array<SubscriptionEvent> = []
      ok(yield* drive(c0.routing.subscribe(`${realm}/acme/#`, (e) => void seen.push(e))))
      for (let i = 0; i < 3; i++) ok(yield* drive(c0.routing.publish(chat, { i })))
      yield* run(300)
      expect(seen.map((e) => e.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }])

      // Outside the delegated topics, and without any delegation: refused, typed.
      expect(failure(yield* drive(c0.routing.publish(other, 1)))).toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })
      expect(failure(yield* drive(stranger.routing.subscribe(`${realm}/acme/#`, () => undefined))))
        .toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })
      expect(failure(yield* drive(stranger.routing.advertise(add, () => 0))))
        .toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })

      // RPC: the provider advertises at s1 with its own capability; the member calls through s0.
      ok(yield* drive(provider.routing.advertise(add, (args) => {
        const { a, b } = args as { a: number; b: number }
        return a + b
      })))
      yield* run(300)
      expect(ok(yield* drive(c0.routing.call(add, { a: 2, b: 3 }, { timeoutMs: 5_000 })))).toBe(5)
      // The member holds no advertise delegation.
      expect(failure(yield* drive(c0.routing.advertise(`${realm}/acme/app/math/sub_v1`, () => 0))))
        .toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })

      // Fail-over: the member moves to s1, which has never seen it; the replayed subscription
      // must carry a new invocation addressed to s1, or s1 refuses it and nothing arrives.
      const old = c0.self.home!
      yield* c0.attach(s1)
      yield* old.close({ graceful: false })
      yield* run(500)
      ok(yield* drive(c0.routing.publish(chat, { after: true })))
      yield* run(300)
      expect(seen.map((e) => e.payload)).toContainEqual({ after: true })
      const stats = yield* c0.routing.stats
      expect(stats.session?.linkUps).toBe(2)
    }), 60_000)
})
