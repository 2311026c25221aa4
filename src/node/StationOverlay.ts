/**
 * The overlay of a station: the Kademlia DHT (PROTOCOL.md §10), with the station's own `station`
 * record, and SWIM membership with the links between stations (§11). Built only for stations;
 * a SWIM death removes the DHT contact at once (§11.6), and the alive members with addresses are
 * what the station offers its clients in `hello` for fail-over (§3.4 `peers`). Kept apart from
 * `./MaculaNode.ts` so that the maps these two keep (contact DIDs, alive peers) live with the
 * code that fills them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as SwimProberActor from "../../actors/SwimProberActor.ts"
import * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as MembershipSupervisor from "../../supervisors/MembershipSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import * as Did from "../identity/Did.ts"
import type { Identity } from "../identity/Identity.ts"
import * as NodeId from "../identity/NodeId.ts"
import * as Config from "./Config.ts"
import type { Resolved } from "./Config.ts"
import * as DhtFile from "./DhtFile.ts"
import type { NodeEvent } from "./MaculaNode.ts"
import type { OfferedPeer } from "./NodeTransport.ts"
import { dialVia, listenAddresses } from "./NodeTransport.ts"
import * as SignedRecord from "./SignedRecord.ts"

/**
 * What the overlay is made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** The live pieces of the node's tree (the transport subtree of the moment). */
  readonly live: NodeSupervisor.Live
  readonly host: string
  readonly unspecified: boolean
  /** The realms served, as ids (`[]` = all). */
  readonly servedRealmIds: ReadonlyArray<Uint8Array>
  readonly emit: (event: NodeEvent) => void
  /** Called once with the DHT handle, before membership is made. */
  readonly onDht: (dht: DhtSupervisor.Dht) => void
}

/**
 * A station's overlay: its DHT, its membership, and the peers it offers in `hello`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overlay {
  readonly dht: ReturnType<typeof DhtSupervisor.make>
  readonly membership: MembershipSupervisor.Membership
  readonly offeredPeers: () => ReadonlyArray<OfferedPeer>
}

/**
 * Makes a station's overlay; the membership subscription ends with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context): Effect.Effect<Overlay, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { resolved, identity, live, host, unspecified, servedRealmIds, emit } = context
    const knobs = resolved.knobs

    // Stations: alive SWIM members with addresses, newest last, offered to clients in `hello`
    // (at most helloPeersMax = 8; suspect, dead and departed members leave at once).
    const alivePeers = new Map<string, OfferedPeer>()
    const offeredPeers = () => Array.from(alivePeers.values()).slice(-8)

    // Stations: the Kademlia DHT (PROTOCOL.md §10). Contacts come from ready station connections;
    // a SWIM death removes one at once (§11.6).
    const contactDids = new Map<string, string>()
    const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
    const dht = DhtSupervisor.make({
      publicKey: identity.publicKey,
      sign: (message) => identity.sign(message),
      transport: {
        lookup: (did) => Effect.suspend(() => live.transportTree?.registry.lookup(did) ?? Effect.succeed(undefined)),
        dial: dialVia(live)
      },
      workerShutdownMs: knobs.workerShutdownMs,
      // With a data directory the records held and the routing contacts survive a restart (§15.2).
      ...(resolved.dataDir === undefined
        ? {}
        : { persistence: DhtFile.store(resolved.dataDir, (message) => emit({ _tag: "Warning", message })) }),
      // Our own `station` record (§10.3): where we listen (nothing for a wildcard host), the
      // realms served (empty = all).
      station: {
        content: Effect.map(listenAddresses(live, unspecified), (a) => ({ a, realms: servedRealmIds, feat: [] })),
        sign: SignedRecord.signer((message) => identity.sign(message))
      },
      // acceptPrivateAddrs `auto` (§3.2): private peers count as diverse only when we are private too.
      config: {
        stationPowBits: knobs.stationPowBits,
        acceptPrivateAddrs: Config.isPrivateHost(host),
        maxRevocationTtlMs: knobs.maxRevocationTtlMs
      },
      onEvent: (event) => {
        if (event._tag === "ContactAdded") {
          const did = Did.fromPublicKeyUnsafe(event.contact.pk)
          contactDids.set(hexOf(event.contact.id), did)
          emit({ _tag: "Dht", change: "added", peer: did })
        } else if (event._tag === "ContactEvicted") {
          const key = hexOf(event.id)
          emit({ _tag: "Dht", change: "removed", peer: contactDids.get(key) ?? key, reason: event.reason })
          contactDids.delete(key)
        }
      }
    })
    context.onDht(dht.dht)

    // Stations: SWIM membership and the links between stations (PROTOCOL.md §11).
    const membership = MembershipSupervisor.make({
      identity,
      transport: () => live.transportTree,
      store: resolved.dataDir === undefined ? SwimProberActor.memoryStore() : SwimProberActor.fileStore(resolved.dataDir),
      addresses: listenAddresses(live, unspecified),
      onVerdict: (verdict: SwimProberActor.MemberChange) =>
        Effect.suspend(() => {
          const key = Did.parsePublicKey(verdict.did)
          return key instanceof Uint8Array ? dht.dht.removeContact(NodeId.ofPublicKey(key)) : Effect.void
        }),
      config: {
        seeds: resolved.seeds.map((s) => s.url),
        stationPowBits: knobs.stationPowBits,
        stationDialBackoffMinMs: knobs.stationDialBackoffMinMs,
        stationDialBackoffMaxMs: knobs.stationDialBackoffMaxMs,
        workerShutdownMs: knobs.workerShutdownMs,
        swim: {
          ...SwimProberActor.Swim.lan,
          probeIntervalMs: knobs.probeIntervalMs,
          probeTimeoutMs: knobs.probeTimeoutMs,
          indirectProbes: knobs.indirectProbes,
          suspicionMult: knobs.suspicionMult,
          suspicionMaxTimeoutMult: knobs.suspicionMaxTimeoutMult,
          pushPullIntervalMs: knobs.pushPullIntervalMs,
          deadRetentionMs: knobs.deadRetentionMs
        }
      }
    })
    const unsubscribe = membership.subscribe((change) => {
      const key = change._tag === "MemberAlive" ? Did.parsePublicKey(change.did) : undefined
      if (change._tag === "MemberAlive" && key instanceof Uint8Array && change.addrs.length > 0) {
        alivePeers.set(change.did, { pk: key, a: change.addrs.slice(0, 8) })
      } else alivePeers.delete(change.did)
      emit({
        _tag: "Membership",
        change: change._tag === "MemberAlive"
          ? "alive"
          : change._tag === "MemberSuspect"
          ? "suspect"
          : change._tag === "MemberDead"
          ? "dead"
          : "left",
        did: change.did,
        incarnation: change.incarnation
      })
    })
    yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))

    return { dht, membership, offeredPeers }
  })
