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
 * - **Station record.** A station (`station` option) publishes its own `station` record (§10.3:
 *   its addresses, realms, features) when the actor starts, renews it at the same point of its
 *   TTL as any own record but built afresh from what `content` says then (not re-signed as it
 *   was), and publishes it again at once when `content` says something else (checked at every
 *   check, and on `PublishStation`, which the node sends when it joins the network). A failed
 *   store is retried at the next check. On a graceful stop it is left to lapse: §10.3 gives
 *   station records no withdrawal, and a lookup that still finds one only gets an address that
 *   no longer answers.
 *
 * Checks run every `expireSweepIntervalMs` (a renewal is due at half a TTL of minutes to days,
 * so that granularity is ample). Renewals and replication run in forked fibers; a failed one
 * is retried at the next check for renewals, the next interval for replication.
 *
 * Restart: the tracked own records are lost with the actor; the node re-stores its own records
 * after a restart (§15.2), which tracks them again; the station record is published again by
 * the restarted actor itself.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Config } from "../src/protocols/dht/Config.ts"
import type { Contact } from "../src/protocols/dht/Contact.ts"
import type { RecordBody } from "../src/wire/SignedBody.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import * as StationRecord from "../src/protocols/dht/StationRecord.ts"
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
  /** Stations: their own `station` record, kept published (see the module's doc). */
  readonly station?: StationOptions
}

/**
 * What a station's own `station` record is made of.
 *
 * @since 0.1.0
 * @category models
 */
export interface StationOptions {
  /** The station's public key (the record's signer). */
  readonly publicKey: Uint8Array
  /** What the record should say now: addresses, realms served, features. */
  readonly content: Effect.Effect<StationRecord.Content>
  /** Signs a record body with the station's key; `undefined` if it does not encode. */
  readonly sign: (body: RecordBody) => Records.SignedRecord | undefined
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
  /** Publish the station record now (`force`), or only if it would say something else. */
  | { readonly _tag: "PublishStation"; readonly force: boolean }
  | { readonly _tag: "StationStored"; readonly record: Records.SignedRecord | undefined; readonly ok: boolean }

interface Owned {
  readonly record: Records.SignedRecord
  /** Unix ms when to renew; `undefined` while a renewal runs. */
  readonly dueAt: number | undefined
}

interface StationState {
  /** The last record stored with a quorum. */
  published: Records.SignedRecord | undefined
  /** The highest `seq` signed. */
  seq: number
  /** A publication runs. */
  busy: boolean
  /** Another was asked for meanwhile (forced if any ask was). */
  again: boolean | undefined
  /** The last one failed: the next check publishes regardless. */
  retry: boolean
}

interface State {
  readonly owned: Map<string, Owned>
  readonly scope: Scope.Scope
  readonly station: StationState
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

  const station = options.station
  const stationKey = station === undefined ? undefined : Xor.toHex(StationRecord.key(config, station.publicKey))

  /** Builds, signs and stores the station record unless it is unchanged and not `force`d. */
  const publishStation = (state: State, self: Actor.ActorRef<Msg>, force: boolean) =>
    Effect.gen(function*() {
      if (station === undefined) return
      if (state.station.busy) {
        state.station.again = state.station.again === true || force
        return
      }
      state.station.busy = true
      const published = state.station.published
      const lastSeq = state.station.seq
      yield* fork(state, Effect.gen(function*() {
        const outcome = yield* Effect.result(Effect.gen(function*() {
          const content = yield* station.content
          if (!force && published !== undefined && StationRecord.sameContent(published.body, content)) return "unchanged" as const
          const wallNow = yield* Clock.currentTimeMillis
          const record = station.sign(StationRecord.body(config, station.publicKey, content, StationRecord.nextSeq(lastSeq, wallNow), wallNow))
          if (record === undefined) return undefined
          return { record, ok: yield* Effect.orElseSucceed(options.store(record), () => false) }
        }))
        const message: Msg = outcome._tag === "Failure" || outcome.success === undefined
          ? { _tag: "StationStored", record: undefined, ok: false }
          : outcome.success === "unchanged"
          ? { _tag: "StationStored", record: published, ok: true }
          : { _tag: "StationStored", record: outcome.success.record, ok: outcome.success.ok }
        yield* Effect.ignore(self.cast(message))
      }))
    })

  return Actor.make<Msg, State>({
    label: "dht-republisher",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const state: State = {
          owned: new Map(),
          scope: yield* Effect.scope,
          station: { published: undefined, seq: 0, busy: false, again: undefined, retry: false }
        }
        // Own records are re-signed and re-stored at once after a (re)start (§15.2).
        if (station !== undefined) yield* Effect.ignore(ctx.self.cast({ _tag: "PublishStation", force: true }))
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
          case "Check": {
            let stationDue = state.station.retry
            for (const [key, owned] of state.owned) {
              if (owned.record.body.exp <= wallNow) {
                state.owned.delete(key) // lapsed: nothing left to renew
                // Ours lapsed unrenewed (the clock jumped, say): publish it afresh.
                if (key === stationKey) stationDue = true
                continue
              }
              if (owned.dueAt === undefined || owned.dueAt > wallNow) continue
              if (key === stationKey) {
                // Renewed from what the station says now, not re-signed as it was.
                stationDue = true
                state.owned.set(key, { record: owned.record, dueAt: undefined })
                continue
              }
              const body = owned.record.body
              const renewed = options.resign?.(owned.record, Math.max(body.seq + 1, wallNow), wallNow) ?? owned.record
              state.owned.set(key, { record: owned.record, dueAt: undefined })
              yield* fork(state, Effect.flatMap(
                Effect.orElseSucceed(options.store(renewed), () => false),
                (ok) => Effect.ignore(ctx.self.cast({ _tag: "Renewed", key, record: renewed, ok }))
              ))
            }
            // Also catches a change of address: the record is compared with what it would say now.
            yield* publishStation(state, ctx.self, stationDue)
            break
          }
          case "PublishStation":
            yield* publishStation(state, ctx.self, message.force)
            break
          case "StationStored": {
            const st = state.station
            st.busy = false
            if (message.record !== undefined) st.seq = Math.max(st.seq, message.record.body.seq)
            st.retry = !message.ok
            if (message.ok && message.record !== undefined && stationKey !== undefined) {
              st.published = message.record
              state.owned.set(stationKey, { record: message.record, dueAt: Records.republishAt(config, message.record.body) })
            }
            const again = st.again
            st.again = undefined
            if (again !== undefined) yield* publishStation(state, ctx.self, again)
            break
          }
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
