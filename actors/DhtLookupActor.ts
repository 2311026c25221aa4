/**
 * One iterative S/Kademlia lookup as a temporary actor (PROTOCOL.md §10.2, §10.4, §15): a
 * `FIND_NODE`, a `FIND_VALUE`, or the lookup-then-fan-out of a store. It drives the pure
 * `Dht.LookupJob` (the `Lookup` machine plus contact filtering, record merging and the store
 * set), sends its requests through `request` (a `dht.*` frame on the peer's connection lane,
 * bounded by `dhtRpcTimeoutMs`), hands its result to the caller through `result`, and exits.
 *
 * It runs under the `lookups` `simple_one_for_one` supervisor as a **temporary** child: never
 * restarted. A crash fails only its own lookup: `terminate` fails `result` with
 * `LookupFailed`, and the other lookups, the buckets and the store carry on.
 *
 * Ordering: `init` seeds the job and arms the `lookupTimeoutMs` timer, then a `Pump` message
 * sends the first requests; each answer or failure comes back as a message and pumps again, so
 * the job is touched by the actor's fiber only. Requests still in flight when the lookup ends
 * are abandoned (their fibers die with the actor's scope).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Config } from "../src/protocols/dht/Config.ts"
import type { Contact } from "../src/protocols/dht/Contact.ts"
import * as LookupJob from "../src/protocols/dht/LookupJob.ts"
import { Request } from "../src/protocols/dht/Message.ts"
import type { Response } from "../src/protocols/dht/Message.ts"
import type { SignedRecord } from "../src/protocols/dht/Records.ts"
import * as Xor from "../src/protocols/dht/Xor.ts"
import type { RecordType } from "../src/wire/SignedBody.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as ExitReason from "../src/runtime/ExitReason.ts"

/**
 * A lookup ended without a result: its worker crashed or was stopped, or no worker could be
 * started (`busy`: `maxConcurrentLookups` reached; `unavailable`: the DHT is restarting).
 *
 * @since 0.1.0
 * @category errors
 */
export class LookupFailed extends Data.TaggedError("LookupFailed")<{
  readonly reason: "crashed" | "stopped" | "busy" | "unavailable"
  readonly detail: string
}> {}

/**
 * What a lookup found.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly kind: "node" | "value" | "store"
  readonly target: Xor.NodeId
  /** The `dhtK` closest responders, nearest first. */
  readonly closest: ReadonlyArray<Contact>
  /** Value lookups: the valid records found, one per signer. */
  readonly records: ReadonlyArray<SignedRecord>
  /** Hop of the closest responder (value lookups: of the first record holder). */
  readonly hops: number
  /** Requests sent by the lookup phase. */
  readonly queried: number
  /** Ended by `lookupTimeoutMs`. */
  readonly timedOut: boolean
  /** Stores: acks (this node's own copy included), candidates, and acks ≥ min(quorum, candidates). */
  readonly store?: { readonly acks: number; readonly candidates: number; readonly ok: boolean }
}

/**
 * The answer to one request, as `request` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly response: Response
  readonly ip: string | undefined
}

/**
 * What one worker is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly config: Config
  /** This node's id. */
  readonly self: Xor.NodeId
  readonly kind: "node" | "value" | "store"
  /** The id or record key looked up (a store's record key). */
  readonly target: Xor.NodeId
  /** Value lookups: only records of this type. */
  readonly ty?: RecordType
  /** Stores: the record. */
  readonly record?: SignedRecord
  /** Our closest contacts to `target` (`dhtK × dhtDisjointPaths`). */
  readonly seeds: ReadonlyArray<Contact>
  /** Value lookups: the records our own store holds under the key (hop 0). */
  readonly local?: ReadonlyArray<SignedRecord>
  /** Sends one request and waits for its answer (fails on timeout, error, refusal). */
  readonly request: (to: Contact, message: Request) => Effect.Effect<Answer, unknown>
  /** Stores: keeps the record in this node's store when it belongs to the store set. */
  readonly storeLocally?: (record: SignedRecord) => Effect.Effect<boolean>
  /** Lowers the score of a responder that sent bad data (§14 rows 19–20). */
  readonly penalise?: (to: Contact, reason: string) => Effect.Effect<void>
  /** Where the result goes; failed with `LookupFailed` if the worker exits without one. */
  readonly result: Deferred.Deferred<Result, LookupFailed>
}

/**
 * The worker's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Pump" }
  | { readonly _tag: "Answered"; readonly to: Contact; readonly key: string; readonly answer: Answer }
  | { readonly _tag: "Failed"; readonly key: string }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "StoreAnswered"; readonly ok: boolean }

interface State {
  job: LookupJob.Job
  timedOut: boolean
  storing: { acks: number; candidates: number; outstanding: number } | undefined
  readonly self: Actor.ActorRef<Msg>
  readonly scope: Scope.Scope
}

/**
 * The worker's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> => {
  const { config } = options
  const selfKey = Xor.toHex(options.self)
  const fork = (state: State, effect: Effect.Effect<void>) => Effect.asVoid(Effect.forkIn(effect, state.scope, { startImmediately: true }))
  const tell = (state: State, message: Msg) => Effect.ignore(state.self.cast(message))

  const finish = (state: State, store?: Result["store"]) => {
    const outcome = LookupJob.outcome(config, state.job)
    Deferred.doneUnsafe(options.result, Effect.succeed({
      kind: options.kind,
      target: options.target,
      closest: outcome.closest,
      records: outcome.records,
      hops: outcome.hops,
      queried: outcome.queried,
      timedOut: state.timedOut,
      ...(store === undefined ? {} : { store })
    }))
    return Actor.stop(ExitReason.normal)
  }

  /** The lookup converged (or timed out): report, or move a store to its fan-out. */
  const lookupDone = (state: State): Effect.Effect<State | Actor.Stop> =>
    Effect.gen(function*() {
      const record = options.record
      if (options.kind !== "store" || record === undefined) return finish(state)
      const { remote, selfIn } = LookupJob.storeSet(config, options.self, state.job)
      let acks = 0
      if (selfIn && options.storeLocally !== undefined && (yield* options.storeLocally(record))) acks++
      state.storing = { acks, candidates: remote.length + (selfIn ? 1 : 0), outstanding: remote.length }
      for (const to of remote) {
        yield* fork(state, Effect.matchEffect(options.request(to, Request.Store({ record })), {
          onFailure: () => tell(state, { _tag: "StoreAnswered", ok: false }),
          onSuccess: (a) => tell(state, { _tag: "StoreAnswered", ok: a.response._tag === "StoreAck" && a.response.ok })
        }))
      }
      return remote.length === 0 ? storeDone(state) : state
    })

  const storeDone = (state: State) => {
    const s = state.storing!
    return finish(state, { acks: s.acks, candidates: s.candidates, ok: LookupJob.storeSucceeded(config, s.acks, s.candidates) })
  }

  const pump = (state: State): Effect.Effect<State | Actor.Stop> =>
    Effect.gen(function*() {
      if (LookupJob.isDone(config, state.job)) return yield* lookupDone(state)
      const [job, picks] = LookupJob.next(state.job)
      state.job = job
      const message = options.kind === "value"
        ? Request.FindValue(options.ty === undefined ? { key: options.target } : { key: options.target, ty: options.ty })
        : Request.FindNode({ key: options.target })
      for (const peer of picks) {
        yield* fork(state, Effect.matchEffect(options.request(peer.contact, message), {
          onFailure: () => tell(state, { _tag: "Failed", key: peer.key }),
          onSuccess: (answer) => tell(state, { _tag: "Answered", to: peer.contact, key: peer.key, answer })
        }))
      }
      return state
    })

  return Actor.make<Msg, State>({
    label: `dht-lookup(${options.kind})`,
    mailbox: { capacity: 1_024, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const wallNow = yield* Clock.currentTimeMillis
        const state: State = {
          job: LookupJob.start(
            config,
            selfKey,
            options.kind === "value" ? "value" : "node",
            options.target,
            options.ty,
            options.seeds,
            options.local ?? [],
            wallNow
          ),
          timedOut: false,
          storing: undefined,
          self: ctx.self,
          scope: yield* Effect.scope
        }
        yield* fork(state, Effect.andThen(Effect.sleep(config.lookupTimeoutMs), tell(state, { _tag: "TimedOut" })))
        ctx.self.tell({ _tag: "Pump" })
        return state
      }),
    receive: (message, state) =>
      Effect.gen(function*() {
        switch (message._tag) {
          case "Pump":
            return state.storing === undefined ? yield* pump(state) : state
          case "Answered": {
            if (state.storing !== undefined) return state
            const wallNow = yield* Clock.currentTimeMillis
            const [job, penalties] = LookupJob.answered(
              config,
              options.self,
              state.job,
              message.key,
              message.answer.response,
              message.answer.ip,
              wallNow
            )
            state.job = job
            if (penalties.length > 0 && options.penalise !== undefined) {
              yield* fork(state, options.penalise(message.to, penalties.join("; ")))
            }
            return yield* pump(state)
          }
          case "Failed":
            if (state.storing !== undefined) return state
            state.job = LookupJob.failed(state.job, message.key)
            return yield* pump(state)
          case "TimedOut":
            if (state.storing !== undefined) return state
            state.timedOut = true
            return yield* lookupDone(state)
          case "StoreAnswered": {
            const s = state.storing
            if (s === undefined) return state
            if (message.ok) s.acks++
            s.outstanding--
            return s.outstanding <= 0 ? storeDone(state) : state
          }
        }
      }),
    terminate: (reason) =>
      Effect.sync(() => {
        // Already done when it finished normally; otherwise the caller learns it crashed.
        Deferred.doneUnsafe(options.result, Effect.fail(new LookupFailed({
          reason: ExitReason.isAbnormal(reason) ? "crashed" : "stopped",
          detail: ExitReason.describe(reason)
        })))
      })
  })
}

/**
 * Spawns a worker in the current scope (the `lookups` supervisor's template).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options)))
