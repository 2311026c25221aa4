/**
 * The records this node holds, and the server side of the DHT (PROTOCOL.md §10.3–§10.5, §14
 * row 19): one actor around the pure `Records.Store`.
 *
 * - **Store.** Records enter through `Put` (our own stores, a store set we belong to) or a
 *   peer's `dht.store`; `Records.put` applies the size limit (`maxRecordBytes`), the time
 *   window, the TTL per type, key derivation, `seq` precedence and the caps. Signatures were
 *   verified before (`open`), so a bad one never gets here.
 * - **Expiry.** Reads never serve an expired record (`Records.get` checks each time); every
 *   `expireSweepIntervalMs` a sweep drops them.
 * - **Serving.** Requests arriving on the `dht` channel of any connection are handed here as
 *   `Serve`: `dht.find_node` (the closest contacts, from the buckets), `dht.find_value`
 *   (records + contacts), `dht.store` (stations only), and the client proxy `dht.get` /
 *   `dht.put` (§10.5, answered by running a lookup or a store). Answers that need other actors
 *   (contacts, proxied lookups) run in forked fibers, so a slow bucket never stalls the store.
 *
 * - **Persistence** (§15.2, optional `persist`). At start the records saved by an earlier life
 *   are loaded through `Persisted.admit`: opened and checked exactly like a peer's `dht.store`,
 *   so expired, forged or damaged ones are dropped. A change to the store (a record stored, a
 *   sweep that removed some) schedules a save `persist.delayMs` later, at most one pending; the
 *   actor saves once more when it stops. The store writes atomically, so a crash loses at most
 *   the changes of the last `delayMs`, never the file.
 *
 * Restart: without `persist` the store restarts empty; with it, it restarts with what it saved
 * last, minus what expired since. Replication from the other holders and republishing by the
 * owners refill the rest.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Config } from "../src/protocols/dht/Config.ts"
import type { Contact } from "../src/protocols/dht/Contact.ts"
import * as Frames from "../src/protocols/dht/Frames.ts"
import { Response } from "../src/protocols/dht/Message.ts"
import * as Persisted from "../src/protocols/dht/Persisted.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import * as Xor from "../src/protocols/dht/Xor.ts"
import type { Frame, Signed } from "../src/wire/Frame.ts"
import type { RecordType } from "../src/wire/SignedBody.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * An inbound DHT request, as the store serves it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Incoming {
  readonly frame: Frame
  /** The sender's node id (SHA-256 of its connection key). */
  readonly from: Xor.NodeId
  readonly role: "station" | "client"
  /** Answers on the lane the request came on. */
  readonly reply: (frame: Frame) => Effect.Effect<void, unknown>
  /** Lowers the sender's score (bad record signatures, §14 row 17). */
  readonly penalise: (severity: "minor" | "major", reason: string) => Effect.Effect<void>
}

/**
 * What the store reports (logs, metrics, tests).
 *
 * @since 0.1.0
 * @category models
 */
export type StoreEvent =
  | { readonly _tag: "RecordStored"; readonly key: Xor.NodeId; readonly signer: Xor.NodeId; readonly seq: number }
  | { readonly _tag: "RecordRefused"; readonly key: Xor.NodeId; readonly why: Records.Refusal }
  | { readonly _tag: "RecordExpired"; readonly key: Xor.NodeId; readonly signer: Xor.NodeId }
  /** The saved records were read at start: `loaded` admitted, `dropped` expired or refused. */
  | { readonly _tag: "RecordsLoaded"; readonly loaded: number; readonly dropped: number }

/**
 * Where the held records survive a restart (§15.2). `load` gives what was saved last (nothing
 * when nothing was); `save` replaces it, atomically. Neither fails: a damaged file or a failed
 * write is the implementation's to report.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordPersistence {
  readonly load: Effect.Effect<ReadonlyArray<Signed>>
  readonly save: (records: ReadonlyArray<Signed>) => Effect.Effect<void>
  /** How long after a change the store saves. */
  readonly delayMs: number
}

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly config: Config
  /** The contacts nearest `target`, leaving out `exclude` (a hex id). */
  readonly closest: (target: Xor.NodeId, count: number, exclude: string | undefined) => Effect.Effect<ReadonlyArray<Contact>>
  /** Opens (decodes and verifies) a signed record. */
  readonly open: Frames.Open
  /** The client proxy (§10.5); without it `dht.get` / `dht.put` are refused `busy`. */
  readonly proxy?: {
    readonly get: (key: Xor.NodeId, ty: RecordType | undefined) => Effect.Effect<{ readonly records: ReadonlyArray<Records.SignedRecord>; readonly contacts: ReadonlyArray<Contact> }, unknown>
    readonly put: (record: Records.SignedRecord) => Effect.Effect<{ readonly ok: boolean; readonly acks: number }, unknown>
  }
  /** A station sent us something: it is alive (fed to its bucket as traffic). */
  readonly onTraffic?: (from: Xor.NodeId) => void
  readonly onEvent?: (event: StoreEvent) => void
  /** Stations: keep the records across restarts; without it the store starts empty. */
  readonly persist?: RecordPersistence
}

/**
 * Counts for `macula status`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly records: number
  readonly served: number
  readonly refused: number
  readonly expired: number
}

/**
 * The store's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Serve"; readonly incoming: Incoming }
  | { readonly _tag: "Put"; readonly record: Records.SignedRecord; readonly reply: Actor.Reply<true | Records.Refusal> }
  | { readonly _tag: "Get"; readonly key: Xor.NodeId; readonly ty: RecordType | undefined; readonly reply: Actor.Reply<ReadonlyArray<Records.SignedRecord>> }
  | { readonly _tag: "DueForReplication"; readonly selfSigner: string; readonly reply: Actor.Reply<ReadonlyArray<Records.SignedRecord>> }
  | {
    readonly _tag: "CloserTo"
    readonly contact: Xor.NodeId
    readonly self: Xor.NodeId
    readonly max: number
    readonly reply: Actor.Reply<ReadonlyArray<Records.SignedRecord>>
  }
  | { readonly _tag: "Sweep" }
  | { readonly _tag: "Save" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

interface State {
  store: Records.Store
  served: number
  refused: number
  expired: number
  /** Changed since the last save. */
  dirty: boolean
  /** A `Save` is on its way. */
  saveScheduled: boolean
  readonly scope: Scope.Scope
  readonly self: Actor.ActorRef<Msg>
}

/**
 * The record store's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> => {
  const { config } = options
  const emit = (event: StoreEvent) => options.onEvent?.(event)
  const fork = (state: State, effect: Effect.Effect<void, unknown>) =>
    Effect.asVoid(Effect.forkIn(Effect.ignore(effect), state.scope, { startImmediately: true }))

  /** Notes a change; the first since the last save schedules the next one. */
  const changed = (state: State): Effect.Effect<void> => {
    const persist = options.persist
    state.dirty = true
    if (persist === undefined || state.saveScheduled) return Effect.void
    state.saveScheduled = true
    return fork(state, Effect.andThen(Effect.sleep(persist.delayMs), state.self.cast({ _tag: "Save" })))
  }

  /** Writes the live records, when anything changed since the last write. */
  const save = (state: State, now: number): Effect.Effect<void> => {
    const persist = options.persist
    if (persist === undefined || !state.dirty) return Effect.void
    state.dirty = false
    const live = Records.all(state.store).filter((h) => Records.isLive(config, h.record, now)).map((h) => h.record.signed)
    return persist.save(live)
  }

  const put = (state: State, record: Records.SignedRecord, now: number): true | Records.Refusal => {
    const [store, outcome] = Records.put(config, state.store, record, now, now)
    state.store = store
    switch (outcome._tag) {
      case "Stored":
        state.dirty = true
        emit({ _tag: "RecordStored", key: record.body.key, signer: record.body.pk, seq: record.body.seq })
        return true
      case "Kept":
        return true
      case "Refused":
        state.refused++
        emit({ _tag: "RecordRefused", key: record.body.key, why: outcome.why })
        return outcome.why
    }
  }

  const serve = (state: State, incoming: Incoming, now: number): Effect.Effect<void> =>
    Effect.gen(function*() {
      const id = Frames.idOf(incoming.frame)
      if (id === undefined) return
      const answer = (response: Response) => incoming.reply(Frames.responseFrame(id, response))
      const read = Frames.readRequest(incoming.frame, options.open)
      if (read.badRecords > 0) {
        // §14 row 17: a record with a bad signature is dropped; the sender pays.
        yield* incoming.penalise("major", "record with a bad signature")
        yield* fork(state, answer(Response.StoreAck({ ok: false, why: "invalid" })))
        return
      }
      const request = read.message
      if (request === undefined) return
      state.served++
      const station = incoming.role === "station"
      if (station) options.onTraffic?.(incoming.from)
      const fromKey = Xor.toHex(incoming.from)
      switch (request._tag) {
        case "FindNode":
        case "FindValue": {
          if (!station) return yield* fork(state, answer(Response.Refused({ code: "stations_only" })))
          const records = request._tag === "FindValue" ? Records.get(config, state.store, request.key, now, request.ty) : undefined
          return yield* fork(state, Effect.flatMap(
            options.closest(request.key, config.dhtK, fromKey),
            (contacts) => answer(records === undefined ? Response.Nodes({ contacts }) : Response.Value({ records, contacts }))
          ))
        }
        case "Store": {
          if (!station) return yield* fork(state, answer(Response.Refused({ code: "stations_only" })))
          const verdict = put(state, request.record, now)
          return yield* fork(state, answer(verdict === true ? Response.StoreAck({ ok: true }) : Response.StoreAck({ ok: false, why: verdict })))
        }
        case "Get": {
          const proxy = options.proxy
          if (proxy === undefined) return yield* fork(state, answer(Response.Refused({ code: "busy" })))
          return yield* fork(state, Effect.matchEffect(proxy.get(request.key, request.ty), {
            onFailure: () => answer(Response.Refused({ code: "busy" })),
            onSuccess: (found) => answer(Response.Value(found))
          }))
        }
        case "Put": {
          const proxy = options.proxy
          const why = Records.validate(config, request.record, now)
          if (why !== undefined) {
            state.refused++
            return yield* fork(state, answer(Response.StoreAck({ ok: false, why })))
          }
          if (proxy === undefined) return yield* fork(state, answer(Response.Refused({ code: "busy" })))
          return yield* fork(state, Effect.matchEffect(proxy.put(request.record), {
            onFailure: () => answer(Response.Refused({ code: "busy" })),
            onSuccess: (r) => answer(Response.StoreAck({ ok: r.ok, acks: r.acks }))
          }))
        }
      }
    })

  return Actor.make<Msg, State>({
    label: "dht-record-store",
    mailbox: { capacity: 8_192, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const state: State = {
          store: Records.emptyStore(),
          served: 0,
          refused: 0,
          expired: 0,
          dirty: false,
          saveScheduled: false,
          scope: yield* Effect.scope,
          self: ctx.self
        }
        const persist = options.persist
        if (persist !== undefined) {
          const saved = yield* persist.load
          const [store, counts] = Persisted.admit(config, options.open, state.store, saved, yield* Clock.currentTimeMillis)
          state.store = store
          emit({ _tag: "RecordsLoaded", ...counts })
          // What was dropped on load must leave the file too.
          if (counts.dropped > 0) yield* changed(state)
        }
        yield* fork(state, Effect.forever(Effect.andThen(
          Effect.sleep(config.expireSweepIntervalMs),
          Effect.ignore(ctx.self.cast({ _tag: "Sweep" }))
        )))
        return state
      }),
    receive: (message, state) =>
      Effect.gen(function*() {
        // Records carry unix-ms instants; the node's Clock is the wall clock (TestClock in tests).
        const now = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Serve":
            yield* serve(state, message.incoming, now)
            break
          case "Put":
            message.reply.succeed(put(state, message.record, now))
            break
          case "Save":
            state.saveScheduled = false
            yield* save(state, now)
            break
          case "Get":
            message.reply.succeed(Records.get(config, state.store, message.key, now, message.ty))
            break
          case "DueForReplication":
            message.reply.succeed(
              Records.all(state.store)
                .filter((h) => Records.dueForReplication(config, h, message.selfSigner, now) && Records.isLive(config, h.record, now))
                .map((h) => h.record)
            )
            break
          case "CloserTo": {
            // Hand-off (§10.4): live records whose key is closer to the newcomer than to us.
            const out: Array<Records.SignedRecord> = []
            for (const h of Records.all(state.store)) {
              if (out.length >= message.max) break
              if (!Records.isLive(config, h.record, now)) continue
              if (Xor.compareDistance(message.contact, message.self, h.record.body.key) < 0) out.push(h.record)
            }
            message.reply.succeed(out)
            break
          }
          case "Sweep": {
            const [store, expired] = Records.sweep(state.store, now)
            state.store = store
            state.expired += expired.length
            if (expired.length > 0) state.dirty = true
            for (const r of expired) emit({ _tag: "RecordExpired", key: r.body.key, signer: r.body.pk })
            break
          }
          case "Stats":
            message.reply.succeed({ records: state.store.size, served: state.served, refused: state.refused, expired: state.expired })
            break
        }
        if (options.persist !== undefined && state.dirty && !state.saveScheduled) yield* changed(state)
        return state
      }),
    // A clean stop loses nothing: the changes since the last save are written now.
    terminate: (_reason, state) => Effect.flatMap(Clock.currentTimeMillis, (now) => save(state, now))
  })
}
