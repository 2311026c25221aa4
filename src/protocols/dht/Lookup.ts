/**
 * The iterative Kademlia lookup with S/Kademlia disjoint paths (PROTOCOL.md §10.2), as a pure
 * machine in the style of rust-libp2p's `ClosestPeersIter`: `onSuccess` / `onFailure` go in,
 * `next` says whom to query now, `isFinished` and `closest` read the outcome.
 *
 * How it works. The `dhtK × dhtDisjointPaths` closest known contacts are dealt round-robin by
 * distance onto the paths. Each path keeps its own distance-ordered candidates and at most
 * `dhtAlpha` requests in flight, always to its closest uncontacted candidates among its `dhtK`
 * closest live ones. A contact returned by a responder joins the responder's path unless some
 * path already claimed it: a node is used by one path only, so an adversary on one path cannot
 * steer the others. A path is done when its `dhtK` closest non-failed candidates have all
 * answered (or it has nothing left); the lookup is done when every path is.
 *
 * It does not time anything, send anything or judge contacts: the step sets a timer per
 * request and reports a timeout as `onFailure`, and filters contacts (size, proof of work)
 * before `onSuccess`. Value lookups use the same machine; the step counts record responders.
 *
 * @see Kademlia §2.3 (node lookup), rust-libp2p `kad/src/query/peers/closest.rs` (the shape)
 * @see S/Kademlia §4.4 (lookups over d disjoint paths)
 * @since 0.1.0
 */
import * as PersistentMap from "../../core/PersistentMap.ts"
import type { Contact } from "./Contact.ts"
import * as Xor from "./Xor.ts"

/**
 * Where a candidate stands.
 *
 * @since 0.1.0
 * @category models
 */
export type PeerState = "pending" | "waiting" | "succeeded" | "failed"

/**
 * A candidate of one path.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  readonly contact: Contact
  readonly key: string
  /** The path that claimed it. */
  readonly path: number
  /** 1 for a seed from our own table, parent's hop + 1 for a contact learnt from a reply. */
  readonly hop: number
  readonly state: PeerState
  /** Observed remote IP of its answer (for store-set diversity). */
  readonly ip: string | undefined
}

/**
 * The lookup's parameters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Params {
  /** `dhtK`: the result size and the per-path convergence window. */
  readonly k: number
  /** `dhtAlpha`: requests in flight per path. */
  readonly alpha: number
  /** `dhtDisjointPaths`. */
  readonly paths: number
  /** `maxLookupPeers`: candidates remembered over all paths. */
  readonly maxPeers: number
}

/**
 * A running lookup.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lookup {
  readonly target: Xor.NodeId
  readonly params: Params
  /** Never a candidate (our own key). */
  readonly exclude: string
  /**
   * Every candidate by key. Past `start` a persistent map: a new version shares the old one's
   * rows rather than copying them, and iterates in the order a copied `Map` would.
   */
  readonly peers: ReadonlyMap<string, Peer>
  /** Per path, the keys of its candidates, nearest the target first. */
  readonly order: ReadonlyArray<ReadonlyArray<string>>
  /** Requests issued so far. */
  readonly queried: number
}

/** Inserts `key` into `order` (an array no other version sees) by distance. */
const insertSorted = (lookup: Lookup, order: Array<string>, peers: ReadonlyMap<string, Peer>, key: string, id: Xor.NodeId): void => {
  let lo = 0
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const other = peers.get(order[mid]!)!.contact.id
    if (Xor.compareDistance(other, id, lookup.target) < 0) lo = mid + 1
    else hi = mid
  }
  order.splice(lo, 0, key)
}

/** Removes every `key` from `order` (an array no other version sees). */
const removeAll = (order: Array<string>, key: string): void => {
  let w = 0
  for (const k of order) if (k !== key) order[w++] = k
  order.length = w
}

/**
 * A lookup of `target` seeded from `seeds` (our own closest contacts); `exclude` is our key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (params: Params, target: Xor.NodeId, exclude: string, seeds: ReadonlyArray<Contact>): Lookup => {
  const unique = new Map<string, Contact>()
  for (const c of seeds) {
    const key = Xor.toHex(c.id)
    if (key !== exclude && !unique.has(key)) unique.set(key, c)
  }
  const sorted = [...unique.entries()].sort(([, a], [, b]) => Xor.compareDistance(a.id, b.id, target))
    .slice(0, params.k * params.paths)
  const peers = new Map<string, Peer>()
  const order: Array<Array<string>> = Array.from({ length: params.paths }, () => [])
  // Round-robin by distance: each path starts with a fair share of the closest contacts.
  sorted.forEach(([key, contact], i) => {
    const path = i % params.paths
    peers.set(key, { contact, key, path, hop: 1, state: "pending", ip: undefined })
    order[path]!.push(key)
  })
  return { target, params, exclude, peers, order, queried: 0 }
}

/** The first `k` non-failed candidates of a path, nearest first. */
const window = (lookup: Lookup, path: number): ReadonlyArray<Peer> => {
  const out: Array<Peer> = []
  for (const key of lookup.order[path] ?? []) {
    const peer = lookup.peers.get(key)!
    if (peer.state === "failed") continue
    out.push(peer)
    if (out.length >= lookup.params.k) break
  }
  return out
}

/**
 * Whether a path has converged: its `k` closest non-failed candidates all answered.
 *
 * @since 0.1.0
 * @category getters
 */
export const isPathDone = (lookup: Lookup, path: number): boolean => window(lookup, path).every((p) => p.state === "succeeded")

/**
 * Whether every path has converged.
 *
 * @since 0.1.0
 * @category getters
 */
export const isFinished = (lookup: Lookup): boolean => {
  for (let p = 0; p < lookup.params.paths; p++) if (!isPathDone(lookup, p)) return false
  return true
}

/**
 * The candidates to query now (each path up to `alpha` in flight, nearest uncontacted first
 * within its window), marked as waiting in the returned lookup.
 *
 * @since 0.1.0
 * @category combinators
 */
export const next = (lookup: Lookup): readonly [Lookup, ReadonlyArray<Peer>] => {
  const picks: Array<Peer> = []
  for (let p = 0; p < lookup.params.paths; p++) {
    // One pass reads both the requests in flight (over the whole path) and the window.
    let inFlight = 0
    let open = true
    const win: Array<Peer> = []
    for (const key of lookup.order[p] ?? []) {
      const peer = lookup.peers.get(key)!
      if (peer.state === "waiting") inFlight++
      if (open && peer.state !== "failed") {
        win.push(peer)
        open = win.length < lookup.params.k
      }
    }
    let free = lookup.params.alpha - inFlight
    for (const peer of win) {
      if (free <= 0) break
      if (peer.state !== "pending") continue
      picks.push(peer)
      free--
    }
  }
  if (picks.length === 0) return [lookup, []]
  let peers = PersistentMap.Table.from(lookup.peers)
  const marked = picks.map((peer) => {
    const waiting: Peer = { ...peer, state: "waiting" }
    peers = peers.set(peer.key, waiting)
    return waiting
  })
  return [{ ...lookup, peers, queried: lookup.queried + picks.length }, marked]
}

/** The farthest pending candidate over all paths, if it is farther than `id`. */
const displaceable = (lookup: Lookup, peers: ReadonlyMap<string, Peer>, id: Xor.NodeId): Peer | undefined => {
  let worst: Peer | undefined
  for (const peer of peers.values()) {
    if (peer.state !== "pending") continue
    if (worst === undefined || Xor.compareDistance(peer.contact.id, worst.contact.id, lookup.target) > 0) worst = peer
  }
  return worst !== undefined && Xor.compareDistance(worst.contact.id, id, lookup.target) > 0 ? worst : undefined
}

/**
 * `key` answered with `closer` contacts (already filtered by the step). New contacts join the
 * responder's path; contacts any path already claimed are ignored. An answer from a peer that
 * is not waiting (late, or never asked) changes nothing.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onSuccess = (lookup: Lookup, key: string, closer: ReadonlyArray<Contact>, ip?: string): Lookup => {
  const from = lookup.peers.get(key)
  if (from === undefined || from.state !== "waiting") return lookup
  let peers = PersistentMap.set<string, Peer>(lookup.peers, key, { ...from, state: "succeeded", ip })
  const order = lookup.order.slice()
  // A path's order is copied once per answer, on its first change, and then edited in place.
  const fresh: Array<Array<string> | undefined> = []
  const own = (path: number): Array<string> => {
    let o = fresh[path]
    if (o === undefined) {
      o = order[path]!.slice()
      fresh[path] = o
      order[path] = o
    }
    return o
  }
  for (const contact of closer) {
    const ckey = Xor.toHex(contact.id)
    if (ckey === lookup.exclude || peers.has(ckey)) continue
    if (peers.size >= lookup.params.maxPeers) {
      // Full: a closer newcomer displaces the farthest uncontacted candidate; else it is dropped.
      const victim = displaceable(lookup, peers, contact.id)
      if (victim === undefined) continue
      peers = peers.delete(victim.key)
      removeAll(own(victim.path), victim.key)
    }
    peers = peers.set(ckey, { contact, key: ckey, path: from.path, hop: from.hop + 1, state: "pending", ip: undefined })
    insertSorted(lookup, own(from.path), peers, ckey, contact.id)
  }
  return { ...lookup, peers, order }
}

/**
 * `key` failed (timeout, error, unreachable): it leaves its path's window.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onFailure = (lookup: Lookup, key: string): Lookup => {
  const peer = lookup.peers.get(key)
  if (peer === undefined || peer.state === "failed" || peer.state === "succeeded") return lookup
  return { ...lookup, peers: PersistentMap.set(lookup.peers, key, { ...peer, state: "failed" }) }
}

/**
 * The `count` closest responders over all paths, nearest first: the lookup's result.
 *
 * @since 0.1.0
 * @category getters
 */
export const closest = (lookup: Lookup, count: number): ReadonlyArray<Peer> =>
  [...lookup.peers.values()]
    .filter((p) => p.state === "succeeded")
    .sort((a, b) => Xor.compareDistance(a.contact.id, b.contact.id, lookup.target))
    .slice(0, count)

/**
 * Keys of the candidates still waiting for an answer.
 *
 * @since 0.1.0
 * @category getters
 */
export const waiting = (lookup: Lookup): ReadonlyArray<string> =>
  [...lookup.peers.values()].filter((p) => p.state === "waiting").map((p) => p.key)
