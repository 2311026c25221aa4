/**
 * Push upload (PROTOCOL.md §12.6) and upload to the station (§12.5 `uploadToStation`) in the
 * node: offering held content to a recipient and waiting for its answer (the sender), and
 * deciding on offers and pulling what was admitted (the recipient, around the pure core
 * `src/protocols/content/Push.ts`). `./Content.ts` describes the mechanism; where an offer goes
 * is `./ContentRoutes.ts`. Kept apart so that the state of pushes (sessions offered on,
 * connections dialled to push, offers still to answer) lives with the code that uses it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import * as Mcid from "../content/Mcid.ts"
import type { McidError } from "../content/McidError.ts"
import * as Did from "../identity/Did.ts"
import { DidError } from "../identity/DidError.ts"
import * as Push from "../protocols/content/Push.ts"
import type { ContentHave, Frame } from "../wire/Frame.ts"
import type { Options } from "./Content.ts"
import { sizeOf } from "./ContentDirectory.ts"
import type { OfferRoute } from "./ContentRoutes.ts"
import { ConfigError, ConnectionLost, ContentNotFound, NodeStopped, Unauthorized } from "./Errors.ts"

type Handle = ConnectionActor.Handle

/**
 * The home station did not take the upload (it refused the offer, or its fetch failed). The
 * content is stored locally and announced; only the copy on the station is missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class UploadFailed extends Data.TaggedError("UploadFailed")<{ readonly mcid: string; readonly reason: string }> {
  override get message(): string {
    return `${this.mcid}: upload to the home station failed: ${this.reason}`
  }
}

/**
 * A push (`pushContent`, §12.6) did not complete: the recipient declined it (`acceptPushFrom`
 * does not admit this node, it is busy, or its pull failed: it answered `y: false`), or it did
 * not answer within the push timeout (`timeout`). The content stays stored here.
 *
 * @since 0.1.0
 * @category errors
 */
export class PushFailed extends Data.TaggedError("PushFailed")<{
  readonly mcid: string
  /** The recipient's DID. */
  readonly to: string
  readonly reason: "declined" | "timeout"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.mcid}: push to ${this.to} failed (${this.reason}): ${this.detail}`
  }
}

/**
 * Options of `pushContent`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushContentOptions {
  /** The recipient's DID. */
  readonly to: string
  /** How long to wait for the recipient to hold the content. Unit: ms. @default the node's `pushTimeoutMs` */
  readonly timeoutMs?: number
}

/**
 * Errors of `pushContent`.
 *
 * @since 0.1.0
 * @category errors
 */
export type PushContentError = McidError | DidError | ConfigError | ContentNotFound | PushFailed | Unauthorized | ConnectionLost | NodeStopped

/**
 * Content that arrived by push (§12.6), given to `onPushed`: it is whole in the store, pinned,
 * and `getContent` reads it locally.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushedContent {
  readonly mcid: string
  /** The sender's DID. */
  readonly from: string
  /** Its size as the sender offered it, in bytes. */
  readonly size: number | undefined
}

/**
 * What pushes need from the node's content options. Functions are read at each use.
 *
 * @since 0.1.0
 * @category models
 */
export type PushOptions = Pick<
  Options,
  | "role"
  | "identity"
  | "home"
  | "acceptPushFrom"
  | "maxPushPulls"
  | "pushTimeoutMs"
  | "pushRepeatMs"
  | "uploadTimeoutMs"
  | "onPushed"
  | "authority"
>

/**
 * What pushes need from the rest of the content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushPorts {
  /** The subtree's API: its store, and the fetch that pulls an admitted offer. */
  readonly api: ContentSupervisor.Api
  /** Announces held content as provided here (the DHT port, `./ContentDirectory.ts`). */
  readonly announce: ContentSupervisor.DhtPort["announce"]
  /** A ready connection to `did` (`./ContentRoutes.ts`): tells a client sender from a station. */
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  /** Where an offer goes (`./ContentRoutes.ts`). */
  readonly routeTo: (to: string, dialledForPush: (connectionId: string) => boolean) => Effect.Effect<OfferRoute, ConnectionLost>
  /** The scope of the running subtree: pulls and answers are forked in it. */
  readonly scope: () => Scope.Scope | undefined
}

/**
 * The push side of a node's content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pushes {
  /** Sender: the handler of a session this node opened to offer content, by `connectionId/stream`. */
  readonly offered: (session: string) => ((frame: Frame) => void) | undefined
  /** Recipient: takes an unsolicited `content.have {y: true}`; `false` when the frame is no offer. */
  readonly offerReceived: (inbound: ConnectionActor.Inbound) => Effect.Effect<boolean>
  /** Client side of `uploadToStation`: a push to the home station. */
  readonly upload: (mcid: Mcid.Mcid) => Effect.Effect<void, UploadFailed | ConnectionLost>
  /** `pushContent`: checks its input, then offers held content to the recipient. */
  readonly push: (input: Mcid.Mcid | string, pushOptions: PushContentOptions) => Effect.Effect<void, PushContentError>
  /**
   * `acceptPushFrom` admits someone: a client then keeps an endpoint record (home station)
   * published, so that other stations can relay offers to it.
   */
  readonly acceptsAnyone: boolean
}

/**
 * Builds the push side of a node's content part. Nothing runs until its effects do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: PushOptions, ports: PushPorts): Pushes => {
  const uploadTimeoutMs = options.uploadTimeoutMs ?? 300_000
  const self = options.identity.did
  const registryHandle = ports.handle

  const haveFrame = (m: Uint8Array, y: boolean): Frame => ({ t: "content.have", h: [{ m, y }] })
  const didOf = (key: Uint8Array): string | undefined => (key.length === 32 ? Did.fromPublicKeyUnsafe(key) : undefined)

  // Recipient: the pure core, and the reply of every offer session it still has to answer.
  const policy = options.acceptPushFrom ?? Push.defaultPolicy(options.role)
  const pushStep = Push.make({ policy, maxPulls: options.maxPushPulls ?? 16 })
  let pushState = Push.initial
  const offerReplies = new Map<string, (frame: Frame) => Effect.Effect<void, unknown>>()

  const feedPush = (event: Push.Event): Effect.Effect<void> =>
    Effect.suspend(() => {
      const [next, commands] = pushStep(pushState, event)
      pushState = next
      return Effect.forEach(commands, interpretPush, { discard: true })
    })

  /** A session the core still waits on keeps its reply; any other is answered and done. */
  const stillWaiting = (session: string): boolean => pushState.sessions.has(session)

  const interpretPush = (command: Push.Command): Effect.Effect<void> =>
    Effect.suspend(() => {
      switch (command._tag) {
        case "Pull": {
          const s = ports.scope()
          if (s === undefined) return feedPush(Push.Event.Pulled({ now: Date.now(), m: command.m, ok: false, fresh: false }))
          return Effect.asVoid(Effect.forkIn(Effect.gen(function*() {
            const mcid = Mcid.fromBinary(command.m)
            let ok = false
            let fresh = true
            if (mcid !== undefined) {
              // Content already whole here (a repeated offer arriving after the pull) is answered
              // again but not reported again.
              const store = ports.api.store()
              if (store !== undefined) fresh = !(yield* Effect.orElseSucceed(Effect.map(store.progress(mcid), (p) => p.complete), () => false))
              // A sender behind stations (named by `from`) is found through its provider record,
              // which says how to reach it (a station's address, a client's station).
              // Fetch only: the content is checked whole in the store, never read into memory.
              const got = yield* Effect.result(ports.api.fetch(mcid, command.direct ? { hints: [{ did: command.sender }] } : {}))
              // A station also serves what it took to others: it answers once it is announced.
              ok = got._tag === "Success" && (options.role !== "station" || (yield* Effect.result(ports.announce(mcid)))._tag === "Success")
            }
            yield* feedPush(Push.Event.Pulled({ now: Date.now(), m: command.m, ok, fresh }))
          }), s))
        }
        case "Answer": {
          const reply = offerReplies.get(command.session)
          if (!stillWaiting(command.session)) offerReplies.delete(command.session)
          if (reply === undefined) return Effect.void
          const frame = haveFrame(command.m, command.y)
          const scope = ports.scope()
          return scope === undefined ? Effect.ignore(reply(frame)) : Effect.asVoid(Effect.forkIn(Effect.ignore(reply(frame)), scope))
        }
        case "Arrived": {
          const mcid = Mcid.fromBinary(command.m)
          if (mcid !== undefined) options.onPushed?.({ mcid: Mcid.toString(mcid), from: command.sender, size: command.size })
          return Effect.void
        }
      }
    })

  /** Recipient: an unsolicited `content.have {y: true}` on a session a peer opened is an offer. */
  const offerReceived = (inbound: ConnectionActor.Inbound): Effect.Effect<boolean> =>
    Effect.gen(function*() {
      if (inbound.opener !== "peer" || inbound.frame.t !== "content.have" || ports.scope() === undefined) return false
      const frame = inbound.frame as ContentHave
      const offered = frame.h.filter((e) => e.y)
      if (offered.length === 0) return false
      const handle = yield* registryHandle(inbound.peerDid)
      const role = handle?.status().peerRole === "client" ? "client" : "station"
      const sender = Push.senderOf(frame, { did: inbound.peerDid, role }, didOf)
      const session = `${inbound.connectionId}/${inbound.stream}`
      const now = Date.now()
      const admitOffer = options.authority?.admitOffer
      if (admitOffer !== undefined && !stillWaiting(session)) {
        // A station with pinned realm authorities takes uploads only with `/content/put` (§13.3),
        // judged on a session's first offer; refused, the session is answered `err unauthorized`.
        for (const entry of offered) {
          const mcid = Mcid.fromBinary(entry.m)
          const verdict = mcid === undefined
            ? { _tag: "Denied" as const, reason: "InvalidClaim" }
            : admitOffer({ peerDid: inbound.peerDid, from: frame.from, au: frame.au, mcid: Mcid.toString(mcid), size: entry.sz })
          if (verdict._tag === "Denied") {
            yield* Effect.ignore(inbound.reply({ t: "err", c: "unauthorized", r: verdict.reason, m: verdict.reason }))
            return true
          }
        }
      }
      for (const entry of offered) {
        // Set again for each entry: an answer to the one before may have dropped it.
        offerReplies.set(session, inbound.reply)
        yield* feedPush(Push.Event.Offered({ now, session, sender, m: entry.m, ...(entry.sz === undefined ? {} : { size: entry.sz }) }))
      }
      if (!stillWaiting(session)) offerReplies.delete(session)
      return true
    })

  /** Frames on the sessions this node opened to offer content, by connection and stream. */
  const offers = new Map<string, (frame: Frame) => void>()
  /** Connections dialled to push (a station other than the home one): pushes using each. */
  const pushDialled = new Map<string, number>()

  /**
   * Sender: offers `mcid` to `to` and waits for its answer (§12.6), repeating the offer every
   * `pushRepeatMs`. `None` when nothing settled it within `timeoutMs`.
   */
  const offer = (mcid: Mcid.Mcid, to: string, timeoutMs: number): Effect.Effect<Option.Option<Push.Outcome>, ConnectionLost> =>
    Effect.gen(function*() {
      const route = yield* ports.routeTo(to, (connectionId) => pushDialled.has(connectionId))
      if (route.dialled) pushDialled.set(route.handle.connectionId, (pushDialled.get(route.handle.connectionId) ?? 0) + 1)
      return yield* Effect.ensuring(offerOn(route, mcid, to, timeoutMs), route.dialled ? letGo(route.handle) : Effect.void)
    })

  /**
   * Ends this push's use of a connection dialled to push: the last one closes it, gracefully,
   * instead of keeping a link to a station this node has no other business with. An answered
   * push has nothing left on it; after a timeout the recipient's pull from this node stops too.
   */
  const letGo = (handle: Handle): Effect.Effect<void> =>
    Effect.suspend(() => {
      const left = (pushDialled.get(handle.connectionId) ?? 1) - 1
      if (left > 0) {
        pushDialled.set(handle.connectionId, left)
        return Effect.void
      }
      pushDialled.delete(handle.connectionId)
      return handle.close()
    })

  /** `offer` on a route found. */
  const offerOn = (route: OfferRoute, mcid: Mcid.Mcid, to: string, timeoutMs: number): Effect.Effect<Option.Option<Push.Outcome>, ConnectionLost> =>
    Effect.gen(function*() {
      const open = route.handle.openSession
      if (open === undefined) return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no content sessions on that connection", peer: to }))
      const store = ports.api.store()
      const size = store === undefined ? undefined : yield* Effect.orElseSucceed(Effect.map(sizeOf(store, mcid), (s) => s.size), () => undefined)
      const lost = (e: { readonly reason: string }) => new ConnectionLost({ code: "unreachable", reason: `content session: ${e.reason}`, peer: to })
      const session = yield* Effect.mapError(open(), lost)
      const key = `${route.handle.connectionId}/${session.stream}`
      const done = Deferred.makeUnsafe<Push.Outcome>()
      const m = Mcid.bytes(mcid)
      offers.set(key, (frame) => {
        const outcome = Push.outcomeOf(frame, m)
        if (outcome !== undefined) Deferred.doneUnsafe(done, Effect.succeed(outcome))
      })
      // A station that starts a relayed offer names itself: the relays keep a station's `from`.
      // A client visiting a station other than its home one names itself too: it is not one of
      // that station's attached clients, whom its default admits (`Push.senderOf`).
      const frame: Frame = (route.relayed && options.role === "station") || route.visiting
        ? { ...Push.offerFrame(m, size), from: options.identity.publicKey }
        : Push.offerFrame(m, size)
      const repeatMs = Math.max(1, options.pushRepeatMs ?? 15_000)
      // The first offer carries the `/content/put` invocation (§13.3), if this node holds one;
      // repeats go without (the session is judged once, and a nonce is used once).
      const au = options.authority?.offer?.(to, mcid, size)
      return yield* Effect.gen(function*() {
        yield* Effect.mapError(session.send(au === undefined ? frame : { ...(frame as ContentHave), au }), lost)
        const repeat = Effect.forever(Effect.andThen(Effect.sleep(repeatMs), Effect.ignore(session.send(frame))))
        return yield* Effect.timeoutOption(Effect.raceFirst(Deferred.await(done), Effect.andThen(repeat, Effect.never)), timeoutMs)
      }).pipe(Effect.ensuring(Effect.andThen(Effect.sync(() => offers.delete(key)), Effect.ignore(session.end))))
    })

  /** Client side of `uploadToStation`: a push to the home station. */
  const upload = (mcid: Mcid.Mcid): Effect.Effect<void, UploadFailed | ConnectionLost> =>
    Effect.gen(function*() {
      const text = Mcid.toString(mcid)
      const home = options.home?.()
      if (home === undefined || home.handle.openSession === undefined) {
        return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no home station to upload to" }))
      }
      const answer = yield* offer(mcid, home.did, uploadTimeoutMs)
      if (Option.isNone(answer)) return yield* Effect.fail(new UploadFailed({ mcid: text, reason: `no answer within ${uploadTimeoutMs} ms` }))
      const outcome = answer.value
      if (outcome._tag === "Declined") return yield* Effect.fail(new UploadFailed({ mcid: text, reason: "the station did not take it" }))
      if (outcome._tag === "Unreachable") return yield* Effect.fail(new UploadFailed({ mcid: text, reason: `${outcome.code}: ${outcome.reason}` }))
    })

  /** `pushContent`: checks its input, then offers held content to the recipient. */
  const push = (input: Mcid.Mcid | string, pushOptions: PushContentOptions): Effect.Effect<void, PushContentError> =>
    Effect.gen(function*() {
      const mcid = typeof input === "string" ? Mcid.decode(input) : input
      if (mcid._tag === "McidError") return yield* Effect.fail(mcid)
      const to = (pushOptions as PushContentOptions | undefined)?.to as string
      const pk = typeof to === "string" ? Did.parsePublicKey(to) : new DidError({ code: "invalidDid", message: "pushContent needs { to: DID }" })
      if (!(pk instanceof Uint8Array)) return yield* Effect.fail(pk)
      const asked = pushOptions.timeoutMs
      if (asked !== undefined && !(typeof asked === "number" && asked > 0 && Number.isFinite(asked))) {
        return yield* Effect.fail(new ConfigError({ problems: [`pushContent: timeoutMs must be a positive number of ms (got ${String(asked)})`] }))
      }
      const text = Mcid.toString(mcid)
      const store = ports.api.store()
      if (store === undefined) return yield* Effect.fail(new NodeStopped({ operation: "pushContent" }))
      // Only what is whole here can be pulled from here.
      if (!(yield* Effect.orElseSucceed(Effect.map(store.progress(mcid), (p) => p.complete), () => false))) {
        return yield* Effect.fail(new ContentNotFound({ mcid: text }))
      }
      if (to === self) return
      const timeoutMs = asked ?? options.pushTimeoutMs ?? 300_000
      const answer = yield* offer(mcid, to, timeoutMs)
      if (Option.isNone(answer)) {
        return yield* Effect.fail(new PushFailed({ mcid: text, to, reason: "timeout", detail: `no answer within ${timeoutMs} ms` }))
      }
      const outcome = answer.value
      if (outcome._tag === "Declined") {
        return yield* Effect.fail(new PushFailed({ mcid: text, to, reason: "declined", detail: "the recipient did not take it (not admitted by its acceptPushFrom, busy, or its pull failed)" }))
      }
      if (outcome._tag === "Unreachable" && outcome.code === "unauthorized") {
        return yield* Effect.fail(new Unauthorized({ operation: "pushContent", reason: outcome.reason, detail: `${to} requires a /content/put invocation for ${text}` }))
      }
      if (outcome._tag === "Unreachable") {
        return yield* Effect.fail(new ConnectionLost({ code: outcome.code, reason: outcome.reason, peer: to }))
      }
    })

  return { offered: (session) => offers.get(session), offerReceived, upload, push, acceptsAnyone: policy.any || policy.dids.length > 0 }
}
