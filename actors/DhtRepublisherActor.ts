/**
 * Keeps records alive on the network (PROTOCOL.md §10.4): renews the records this node signed
 * and re-stores the records it holds for others.
 *
 * - **Republish.** Every own record stored through the DHT is tracked (at most
 *   `maxOwnedRecords`). At `iat + republishFraction × (exp − iat)` it is re-signed with a
 *   higher `seq` and fresh `iat`/`exp` (`resign`) and stored again on the current closest set.
 *   Without a signer the same bytes are re-stored, which keeps the record on the closest set
 *   until its `exp` but cannot extend it.
 * - **Replicate.** Every `replicateIntervalMs`, records we hold but do not own and that nobody
 *   stored here during the last interval are re-stored to our `dhtK` closest contacts for their
 *   key (`replicate`, bounded by `maxReplicationStoresPerTick` messages per tick).
 *
 * - **Hand-off.** A station newly added to the routing table that is closer to a held
 *   record's key than we are receives that record (`handOff`, at most
 *   `maxHandoffRecordsPerContact`), so records follow the k closest as the network changes.
 * - **Self-lookup.** Every `selfLookupIntervalMs` it looks up our own id (`selfLookup`), which
 *   keeps the buckets nearest us full (the first one runs when the first contact arrives).
 *
 * Checks run every `expireSweepIntervalMs` (a renewal is due at half a TTL of minutes to days,
 * so that granularity is ample). Renewals and replication run in forked fibers; a failed one
 * is retried at the next check for renewals, the next interval for replication.
 *
 * Restart: the tracked own records are lost with the actor; the node re-stores its own records
 * after a restart (§15.2), which tracks them again.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Config } from "../src/protocols/dht/Config.ts"
import type { Contact } from "../src/protocols/dht/Contact.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import * as Xor from "../src/protocols/dht/Xor.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly config: Config
  /** Stores a record on the closest set (a store lookup); `true` when the quorum acked. */
  readonly store: (record: Records.SignedRecord) => Effect.Effect<boolean, unknown>
  /** Re-signs an own record with `seq`, `iat` = `wallNow` and the same lifetime; `undefined` without a key. */
  readonly resign?: (record: Records.SignedRecord, seq: number, wallNow: number) => Records.SignedRecord | undefined
  /** Records held for others that are due for replication. */
  readonly dueForReplication: Effect.Effect<ReadonlyArray<Records.SignedRecord>>
  /** Re-stores one held record to the closest contacts; returns the messages sent. */
  readonly replicate: (record: Records.SignedRecord) => Effect.Effect<number>
  /** Hands the held records closer to a new contact than to us over to it; returns the messages sent. */
  readonly handOff?: (contact: Contact) => Effect.Effect<number>
  /** The periodic self-lookup (§10.1, every `selfLookupIntervalMs`), which keeps the buckets near our own id full. */
  readonly selfLookup?: Effect.Effect<void, unknown>
}

/**
 * The republisher's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Own"; readonly record: Records.SignedRecord }
  | { readonly _tag: "Unpublish"; readonly key: Xor.NodeId }
  | { readonly _tag: "Check" }
  | { readonly _tag: "Replicate" }
  | { readonly _tag: "Renewed"; readonly key: string; readonly record: Records.SignedRecord; readonly ok: boolean }
  | { readonly _tag: "Owned"; readonly reply: Actor.Reply<ReadonlyArray<Records.SignedRecord>> }
  | { readonly _tag: "ContactAdded"; readonly contact: Contact }

interface Owned {
  readonly record: Records.SignedRecord
  /** Unix ms when to renew; `undefined` while a renewal runs. */
  readonly dueAt: number | undefined
}

interface State {
  readonly owned: Map<string, Owned>
  readonly scope: Scope.Scope
}

/**
 * The republisher's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> => {
  const { config } = options
  const fork = (state: State, effect: Effect.Effect<void, unknown>) =>
    Effect.asVoid(Effect.forkIn(Effect.ignore(effect), state.scope, { startImmediately: true }))
  const every = (ms: number, self: Actor.ActorRef<Msg>, message: Msg) =>
    Effect.forever(Effect.andThen(Effect.sleep(ms), Effect.ignore(self.cast(message))))

  return Actor.make<Msg, State>({
    label: "dht-republisher",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const state: State = { owned: new Map(), scope: yield* Effect.scope }
        yield* fork(state, every(config.expireSweepIntervalMs, ctx.self, { _tag: "Check" }))
        yield* fork(state, every(config.replicateIntervalMs, ctx.self, { _tag: "Replicate" }))
        const selfLookup = options.selfLookup
        if (selfLookup !== undefined) {
          yield* fork(state, Effect.forever(Effect.andThen(Effect.sleep(config.selfLookupIntervalMs), Effect.ignore(selfLookup))))
        }
        return state
      }),
    receive: (message, state, ctx) =>
      Effect.gen(function*() {
        const wallNow = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Own": {
            const key = Xor.toHex(message.record.body.key)
            if (!state.owned.has(key) && state.owned.size >= config.maxOwnedRecords) break
            state.owned.set(key, { record: message.record, dueAt: Records.republishAt(config, message.record.body) })
            break
          }
          case "Unpublish":
            state.owned.delete(Xor.toHex(message.key))
            break
          case "Check":
            for (const [key, owned] of state.owned) {
              if (owned.record.body.exp <= wallNow) {
                state.owned.delete(key) // lapsed: nothing left to renew
                continue
              }
              if (owned.dueAt === undefined || owned.dueAt > wallNow) continue
              const body = owned.record.body
              const renewed = options.resign?.(owned.record, Math.max(body.seq + 1, wallNow), wallNow) ?? owned.record
              state.owned.set(key, { record: owned.record, dueAt: undefined })
              yield* fork(state, Effect.flatMap(
                Effect.orElseSucceed(options.store(renewed), () => false),
                (ok) => Effect.ignore(ctx.self.cast({ _tag: "Renewed", key, record: renewed, ok }))
              ))
            }
            break
          case "Renewed": {
            const current = state.owned.get(message.key)
            if (current === undefined) break
            // A renewal that reached no quorum is tried again at the next check.
            const record = message.ok ? message.record : current.record
            state.owned.set(message.key, {
              record,
              dueAt: !message.ok
                ? wallNow
                : record !== current.record
                ? Records.republishAt(config, record.body)
                : wallNow + config.replicateIntervalMs // same bytes: keep them on the closest set
            })
            break
          }
          case "Replicate":
            yield* fork(state, Effect.gen(function*() {
              let budget = config.maxReplicationStoresPerTick
              for (const record of yield* options.dueForReplication) {
                if (budget <= 0) break
                budget -= yield* options.replicate(record)
              }
            }))
            break
          case "ContactAdded": {
            const handOff = options.handOff
            if (handOff !== undefined) yield* fork(state, handOff(message.contact))
            break
          }
          case "Owned":
            message.reply.succeed([...state.owned.values()].map((o) => o.record))
            break
        }
        return state
      })
  })
}
