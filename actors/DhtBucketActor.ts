/**
 * One k-bucket of the routing table as an actor (PROTOCOL.md §10.1, §15): its members, its
 * replacement cache, its ping-before-evict probe and its refresh, driven through the pure
 * `Dht.Bucket` slice (the same rules as the whole-table `RoutingTable`).
 *
 * Started lazily by `DhtSupervisor` when the bucket first gets a contact, so a node runs as
 * many bucket actors as it has non-empty buckets (typically log2(n) + a few), never 256 idle
 * ones.
 *
 * - **Admission.** `Observe` is the only door: a station seen over an authenticated connection
 *   (its hello, a request it sent, an answer to ours). The table-wide diversity cap
 *   (`maxPerPrefixPerTable`) is checked against the other buckets' counts, read from the
 *   shared `Ledger` where each bucket actor publishes its own.
 * - **Ping-before-evict.** A newcomer for a full bucket waits in the cache and the least
 *   recently seen member is probed with `probe` (a DHT request through the connection layer,
 *   bounded by `dhtRpcTimeoutMs`), in a fiber of this actor; the verdict comes back as a
 *   message. Silence evicts and promotes the freshest admissible candidate.
 * - **Refresh.** Every `bucketRefreshIntervalMs` it checks whether a lookup or a new member
 *   touched it; if not, it asks for a lookup of a random id in its range (`refresh`). A
 *   restarted bucket refreshes at once (§15.2).
 *
 * Restart: the bucket restarts **empty** (its ledger counts cleared in `init`) and refills from
 * traffic (every authenticated station seen is observed again) and from its refresh lookup.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Prng from "../src/core/Prng.ts"
import * as Bucket from "../src/protocols/dht/Bucket.ts"
import type { Config } from "../src/protocols/dht/Config.ts"
import type { Contact } from "../src/protocols/dht/Contact.ts"
import type { EvictReason } from "../src/protocols/dht/Command.ts"
import type { RejectReason } from "../src/protocols/dht/RoutingTable.ts"
import * as Xor from "../src/protocols/dht/Xor.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * Where bucket actors publish their members per diversity class, so each can check the
 * table-wide cap. Each actor writes only its own slot.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ledger {
  /** The counts of every bucket but `index`. */
  readonly outside: (index: number) => Bucket.Counts
  /** Replaces bucket `index`'s counts. */
  readonly publish: (index: number, counts: Bucket.Counts) => void
}

/**
 * A ledger in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ledger = (): Ledger & { readonly clear: () => void } => {
  const slots = new Map<number, Bucket.Counts>()
  return {
    outside: (index) => {
      const out = new Map<string, number>()
      for (const [i, counts] of slots) {
        if (i === index) continue
        for (const [p, n] of counts) out.set(p, (out.get(p) ?? 0) + n)
      }
      return out
    },
    publish: (index, counts) => void (counts.size === 0 ? slots.delete(index) : slots.set(index, counts)),
    clear: () => slots.clear()
  }
}

/**
 * What a bucket reports (logs, metrics, tests).
 *
 * @since 0.1.0
 * @category models
 */
export type BucketEvent =
  | { readonly _tag: "ContactAdded"; readonly bucket: number; readonly contact: Contact; readonly promoted: boolean }
  | { readonly _tag: "ContactEvicted"; readonly bucket: number; readonly id: Xor.NodeId; readonly reason: EvictReason }
  | { readonly _tag: "ContactRejected"; readonly bucket: number; readonly id: Xor.NodeId; readonly reason: RejectReason }
  | { readonly _tag: "ContactCached"; readonly bucket: number; readonly id: Xor.NodeId }
  | { readonly _tag: "Refreshing"; readonly bucket: number; readonly target: Xor.NodeId }

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The bucket index: common prefix length of its ids with `self`. */
  readonly index: number
  /** This node's id. */
  readonly self: Xor.NodeId
  readonly config: Config
  readonly ledger: Ledger
  /** Asks a member whether it is alive (ping-before-evict); `true` when it answered in time. */
  readonly probe: (contact: Contact) => Effect.Effect<boolean>
  /** Runs a lookup of `target` (the refresh); its answers refill the table as traffic. */
  readonly refresh: (target: Xor.NodeId) => Effect.Effect<void>
  /** Refresh as soon as it starts (a restart, §15.2). @default false */
  readonly refreshOnStart?: boolean
  readonly onEvent?: (event: BucketEvent) => void
}

/**
 * A snapshot of the bucket.
 *
 * @since 0.1.0
 * @category models
 */
export interface View {
  readonly index: number
  readonly members: ReadonlyArray<Contact>
  readonly cached: ReadonlyArray<Contact>
  /** Hex id of the member being probed, if any. */
  readonly probing: string | undefined
  readonly violations: ReadonlyArray<string>
}

/**
 * The bucket's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Observe"; readonly contact: Contact; readonly ip: string }
  | { readonly _tag: "Alive"; readonly key: string }
  | { readonly _tag: "Failed"; readonly key: string }
  | { readonly _tag: "Remove"; readonly key: string }
  | { readonly _tag: "Touch" }
  | {
    readonly _tag: "Closest"
    readonly target: Xor.NodeId
    readonly count: number
    readonly exclude: string | undefined
    readonly reply: Actor.Reply<ReadonlyArray<Contact>>
  }
  | { readonly _tag: "Inspect"; readonly reply: Actor.Reply<View> }
  | { readonly _tag: "ProbeDone"; readonly key: string; readonly alive: boolean }
  | { readonly _tag: "RefreshDue"; readonly force: boolean }

/**
 * A bucket actor's ref.
 *
 * @since 0.1.0
 * @category models
 */
export type Ref = Actor.ActorRef<Msg>

interface State {
  slice: Bucket.Slice
  prng: Prng.Prng
  readonly self: Actor.ActorRef<Msg>
  readonly scope: Scope.Scope
}

/**
 * The bucket actor's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> => {
  const { config, index, ledger: book } = options
  const emit = (event: BucketEvent) => options.onEvent?.(event)
  const publish = (state: State) => book.publish(index, Bucket.counts(state.slice))
  const removed = (state: State, removal: { readonly evicted: { readonly contact: Contact } | undefined; readonly promoted: { readonly contact: Contact } | undefined }, reason: EvictReason) => {
    if (removal.evicted !== undefined) emit({ _tag: "ContactEvicted", bucket: index, id: removal.evicted.contact.id, reason })
    if (removal.promoted !== undefined) emit({ _tag: "ContactAdded", bucket: index, contact: removal.promoted.contact, promoted: true })
    publish(state)
  }
  const fork = (state: State, effect: Effect.Effect<void>) => Effect.asVoid(Effect.forkIn(effect, state.scope, { startImmediately: true }))

  return Actor.make<Msg, State>({
    label: `dht-bucket(${index})`,
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const state: State = {
          slice: Bucket.empty(options.self, index, now),
          prng: Prng.fromSeed(index * 7_919 + now),
          self: ctx.self,
          scope: yield* Effect.scope
        }
        // A restarted bucket starts empty: forget the counts its previous life published.
        publish(state)
        yield* fork(state, Effect.forever(Effect.andThen(
          Effect.sleep(config.bucketRefreshIntervalMs),
          Effect.ignore(ctx.self.cast({ _tag: "RefreshDue", force: false }))
        )))
        if (options.refreshOnStart === true) ctx.self.tell({ _tag: "RefreshDue", force: true })
        return state
      }),
    receive: (message, state) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Observe": {
            const [slice, observed] = Bucket.observe(config, state.slice, message.contact, message.ip, now, book.outside(index))
            state.slice = slice
            switch (observed._tag) {
              case "Added":
                publish(state)
                emit({ _tag: "ContactAdded", bucket: index, contact: message.contact, promoted: false })
                break
              case "Refreshed":
                publish(state)
                break
              case "Cached": {
                emit({ _tag: "ContactCached", bucket: index, id: message.contact.id })
                const probe = observed.probe
                if (probe !== undefined) {
                  // Kademlia §2.2: the least recently seen member stays if it answers.
                  const key = Xor.toHex(probe.id)
                  yield* fork(state, Effect.flatMap(
                    Effect.orElseSucceed(options.probe(probe), () => false),
                    (alive) => Effect.ignore(state.self.cast({ _tag: "ProbeDone", key, alive }))
                  ))
                }
                break
              }
              case "Rejected":
                emit({ _tag: "ContactRejected", bucket: index, id: message.contact.id, reason: observed.reason })
                break
            }
            break
          }
          case "Alive":
            state.slice = Bucket.markAlive(state.slice, message.key, now)
            break
          case "Failed": {
            const [slice, removal] = Bucket.recordFailure(config, state.slice, message.key, book.outside(index))
            state.slice = slice
            removed(state, removal, "stale")
            break
          }
          case "Remove": {
            const [slice, removal] = Bucket.remove(config, state.slice, message.key, book.outside(index))
            state.slice = slice
            removed(state, removal, "dead")
            break
          }
          case "Touch":
            state.slice = Bucket.touch(state.slice, now)
            break
          case "Closest":
            message.reply.succeed(Bucket.closest(state.slice, message.target, message.count, message.exclude))
            break
          case "Inspect": {
            const b = Bucket.bucket(state.slice)
            message.reply.succeed({
              index,
              members: b.members.map((e) => e.contact),
              cached: b.cache.map((e) => e.contact),
              probing: b.probe,
              violations: Bucket.violations(config, state.slice)
            })
            break
          }
          case "ProbeDone":
            if (message.alive) {
              state.slice = Bucket.probeSucceeded(state.slice, message.key, now)
            } else {
              const [slice, removal] = Bucket.probeFailed(config, state.slice, message.key, book.outside(index))
              state.slice = slice
              removed(state, removal, "unresponsive")
            }
            break
          case "RefreshDue": {
            if (!message.force && !Bucket.isDueForRefresh(state.slice, now, config.bucketRefreshIntervalMs)) break
            const [target, prng] = Xor.randomInBucket(options.self, index, state.prng)
            state.prng = prng
            state.slice = Bucket.touch(state.slice, now)
            emit({ _tag: "Refreshing", bucket: index, target })
            yield* fork(state, Effect.ignore(options.refresh(target)))
            break
          }
        }
        return state
      }),
    terminate: () => Effect.sync(() => book.publish(index, new Map()))
  })
}

/**
 * The bucket an id belongs to: its common prefix length with `self` (256 for self).
 *
 * @since 0.1.0
 * @category getters
 */
export const indexOf = (self: Xor.NodeId, id: Xor.NodeId): number => Xor.commonPrefixLength(self, id)

/**
 * Merges the answers of several buckets into the `count` contacts nearest `target`.
 *
 * @since 0.1.0
 * @category getters
 */
export const mergeClosest = Bucket.mergeClosest

/**
 * Hex of an id (the key buckets use).
 *
 * @since 0.1.0
 * @category getters
 */
export const keyOf = (id: Xor.NodeId): string => Xor.toHex(id)
