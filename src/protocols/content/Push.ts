/**
 * Push upload (PROTOCOL.md §12.6): a sans-IO core for the recipient, the `acceptPushFrom`
 * policy, and the pure pieces of the sender.
 *
 * A sender offers content X to a recipient R with an unsolicited `content.have {h: [{m: X, y:
 * true, sz}]}` on a content session to R (relayed by stations when R is a client). R decides
 * with `acceptPushFrom` whether it takes the offer:
 * - admitted: R pulls X with its normal fetch (`content.manifest_req`, `content.want`, every
 *   block verified) and, once X is whole in its store, answers `content.have {m: X, y: true}` on
 *   the offer's session, which tells the sender the push is done;
 * - refused (not admitted, too many pushes at once) or the pull failed: R answers
 *   `content.have {m: X, y: false}` ("I do not have it"), so the sender fails at once instead
 *   of waiting out its timeout. A recipient that answers nothing (an older node, a lost relay)
 *   leaves the sender to its timeout.
 *
 * The six content messages suffice; the one addition is who the sender is when a station
 * relays the offer: the sender's home station stamps `from` (the sender's key) on a relayed
 * `content.have`, as it stamps `from` on a relayed `call` (§9.2), and the stations after it keep
 * it (stations are trusted to route, §13.4). On a session whose peer is a client, the peer is
 * the sender, whatever `from` names; a client that is not attached here (it dialled a station
 * other than its home one to push to it) stamps `from` with its own key, so that a station's
 * default (its attached clients) does not admit it. Claiming to be attached gains a client
 * nothing: it could attach to the station instead.
 *
 * The recipient core keeps one pull per MCID: a repeated offer (the sender repeats its offer
 * while it waits, which keeps relays from closing the session as idle) or an offer of the same
 * content from another admitted sender joins the running pull and is answered with it. A
 * session's sender is fixed by its first offer while the session is remembered; the sender's
 * home station stamps `from` on every offer of a relayed session (`Relay.stampRelayed`), so a
 * later offer cannot name anyone else either.
 *
 * Pure: no I/O, no clock (`now` comes in events).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis } from "../../core/Millis.ts"
import type { ContentHave, Frame } from "../../wire/Frame.ts"
import * as Ids from "./Ids.ts"

/**
 * `acceptPushFrom` as a user writes it: `"none"`, `"attached"` (a station's attached clients),
 * `"any"`, or a list whose entries are DIDs or the word `"attached"`.
 *
 * @since 0.1.0
 * @category models
 */
export type AcceptPushFromInput = "none" | "attached" | "any" | ReadonlyArray<string>

/**
 * `acceptPushFrom` once checked: whom a node takes pushes from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Anybody. */
  readonly any: boolean
  /** Clients attached to this node (only a station has any). */
  readonly attached: boolean
  /** These DIDs, wherever they are. */
  readonly dids: ReadonlyArray<string>
}

/**
 * Nobody: a client's default (§16).
 *
 * @since 0.1.0
 * @category constants
 */
export const nobody: Policy = { any: false, attached: false, dids: [] }

/**
 * The §16 default of a role: a station accepts its attached clients, a client nobody.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy = (role: "station" | "client"): Policy => (role === "station" ? { any: false, attached: true, dids: [] } : nobody)

/**
 * Checks an `acceptPushFrom` value (`undefined` gives the role's default): the `Policy`, or the
 * problems found, each a sentence. `isDid` says whether a string is a valid DID.
 *
 * @since 0.1.0
 * @category validation
 */
export const parsePolicy = (
  input: unknown,
  role: "station" | "client",
  isDid: (text: string) => boolean
): Policy | { readonly problems: ReadonlyArray<string> } => {
  if (input === undefined) return defaultPolicy(role)
  if (input === "none") return nobody
  if (input === "any") return { any: true, attached: false, dids: [] }
  if (input === "attached") return { any: false, attached: true, dids: [] }
  if (!Array.isArray(input)) {
    return { problems: [`acceptPushFrom must be "none", "attached", "any" or a list of DIDs (got ${JSON.stringify(input)})`] }
  }
  const problems: Array<string> = []
  const dids: Array<string> = []
  let attached = false
  for (const entry of input as ReadonlyArray<unknown>) {
    if (entry === "attached") attached = true
    else if (typeof entry === "string" && isDid(entry)) {
      if (!dids.includes(entry)) dids.push(entry)
    } else problems.push(`acceptPushFrom entry ${JSON.stringify(entry)} is neither a valid did:key nor "attached"`)
  }
  return problems.length > 0 ? { problems } : { any: false, attached, dids }
}

/**
 * Who offered content, as the recipient sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sender {
  readonly did: string
  /** A client attached to this node (its connection's peer, with the client role). */
  readonly attached: boolean
  /**
   * The sender is the offer session's peer, so the pull can ask it over that connection; a
   * sender named by `from` is found like any provider (its `content-provider` record).
   */
  readonly direct: boolean
}

/**
 * Whether `policy` admits a push from `sender`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const admits = (policy: Policy, sender: Sender): boolean =>
  policy.any || (policy.attached && sender.attached) || policy.dids.includes(sender.did)

/**
 * Who sent an offer that arrived on a session whose peer is `peer` (a DID, with its role):
 * a client peer is the sender itself, attached here unless it stamped `from` (a client of
 * another station that dialled this one to push declares itself a visitor that way; whatever
 * key it names, the sender is the peer); through a station, the `from` the stations stamped (the
 * station itself when there is none: it offers its own content).
 *
 * @since 0.1.0
 * @category getters
 */
export const senderOf = (
  frame: ContentHave,
  peer: { readonly did: string; readonly role: "client" | "station" },
  didOf: (key: Uint8Array) => string | undefined
): Sender => {
  if (peer.role === "client") return { did: peer.did, attached: frame.from === undefined, direct: true }
  const origin = frame.from === undefined ? undefined : didOf(frame.from)
  return origin === undefined || origin === peer.did ? { did: peer.did, attached: false, direct: true } : { did: origin, attached: false, direct: false }
}

/**
 * The recipient's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly policy: Policy
  /** Pushes pulled at once; an offer beyond is answered `y: false`. @default 16 */
  readonly maxPulls: number
}

/**
 * One admitted push being pulled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pull {
  readonly m: Ids.McidBytes
  /** The first admitted sender. */
  readonly sender: string
  readonly size: number | undefined
  /** Offer sessions waiting for the answer, in arrival order. */
  readonly sessions: ReadonlyArray<string>
  readonly since: Millis
}

/**
 * What the recipient counted (logs, tests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  readonly offers: number
  readonly refused: number
  readonly busy: number
  readonly completed: number
  readonly failed: number
}

/**
 * The recipient's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** Running pulls by MCID key. */
  readonly pulls: ReadonlyMap<string, Pull>
  /** The sender of each offer session still waiting for an answer (fixed by its first offer). */
  readonly sessions: ReadonlyMap<string, Sender>
  readonly counters: Counters
}

/**
 * No push under way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: State = { pulls: new Map(), sessions: new Map(), counters: { offers: 0, refused: 0, busy: 0, completed: 0, failed: 0 } }

/**
 * Inputs of the recipient core.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** An offer of `m` arrived on `session` (the driver's connection/stream) from `sender`. */
  Offered: { readonly now: Millis; readonly session: string; readonly sender: Sender; readonly m: Ids.McidBytes; readonly size?: number }
  /**
   * The pull of `m` ended: `ok` once it is whole in the store; `fresh` when it was not whole
   * before the pull (a repeated offer of content already taken is answered, not reported again).
   */
  Pulled: { readonly now: Millis; readonly m: Ids.McidBytes; readonly ok: boolean; readonly fresh: boolean }
}>

/**
 * Constructors of `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

/**
 * What the driver must do, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /**
   * Fetch `m` (the normal fetch); answer `Pulled`. `direct`: the sender is the offer session's
   * peer, so try it first; else the fetch finds it through its provider record.
   */
  Pull: { readonly m: Ids.McidBytes; readonly sender: string; readonly direct: boolean }
  /** Send `content.have {m, y}` on `session`. */
  Answer: { readonly session: string; readonly m: Ids.McidBytes; readonly y: boolean }
  /** `m` arrived by push from `sender` (tell the application). */
  Arrived: { readonly m: Ids.McidBytes; readonly sender: string; readonly size: number | undefined }
}>

/**
 * Constructors of `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

/**
 * The recipient's step for a config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Config) => (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
  const c = state.counters
  switch (event._tag) {
    case "Offered": {
      const offers = c.offers + 1
      if (!Ids.isMcid(event.m)) return [{ ...state, counters: { ...c, offers, refused: c.refused + 1 } }, []]
      const k = Ids.key(event.m)
      const sender = state.sessions.get(event.session) ?? event.sender
      const refuse = (counters: Counters): readonly [State, ReadonlyArray<Command>] => [
        { ...state, counters },
        [Command.Answer({ session: event.session, m: event.m, y: false })]
      ]
      if (!admits(config.policy, sender)) return refuse({ ...c, offers, refused: c.refused + 1 })
      const sessions = new Map(state.sessions).set(event.session, sender)
      const running = state.pulls.get(k)
      if (running !== undefined) {
        // A repeated offer, or the same content from another admitted sender: answered with the pull.
        if (running.sessions.includes(event.session)) return [{ ...state, counters: { ...c, offers } }, []]
        const pulls = new Map(state.pulls).set(k, { ...running, sessions: [...running.sessions, event.session] })
        return [{ pulls, sessions, counters: { ...c, offers } }, []]
      }
      if (state.pulls.size >= config.maxPulls) return refuse({ ...c, offers, busy: c.busy + 1 })
      const pull: Pull = { m: event.m, sender: sender.did, size: event.size, sessions: [event.session], since: event.now }
      return [
        { pulls: new Map(state.pulls).set(k, pull), sessions, counters: { ...c, offers } },
        [Command.Pull({ m: event.m, sender: pull.sender, direct: sender.direct })]
      ]
    }
    case "Pulled": {
      const k = Ids.key(event.m)
      const pull = state.pulls.get(k)
      if (pull === undefined) return [state, []]
      const pulls = new Map(state.pulls)
      pulls.delete(k)
      // A session forgets its sender once no pull it offered is left to answer.
      const sessions = new Map(state.sessions)
      for (const session of pull.sessions) {
        if (![...pulls.values()].some((p) => p.sessions.includes(session))) sessions.delete(session)
      }
      const out: Array<Command> = pull.sessions.map((session) => Command.Answer({ session, m: pull.m, y: event.ok }))
      if (event.ok && event.fresh) out.push(Command.Arrived({ m: pull.m, sender: pull.sender, size: pull.size }))
      const counters = event.ok ? { ...c, completed: c.completed + 1 } : { ...c, failed: c.failed + 1 }
      return [{ pulls, sessions, counters }, out]
    }
  }
}

/**
 * The offer of `m` (§12.6): an unsolicited `content.have {y: true, sz}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const offerFrame = (m: Ids.McidBytes, size: number | undefined): ContentHave => ({
  t: "content.have",
  h: [size === undefined ? { m, y: true } : { m, y: true, sz: size }]
})

/**
 * What a frame on an offer's session means for the sender of `m`.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Data.TaggedEnum<{
  /** `content.have {m, y: true}`: the recipient holds it. */
  Done: {}
  /** `content.have {m, y: false}`: refused, or the recipient's pull failed. */
  Declined: {}
  /** `err` on the session (e.g. `relay_refused`: no route to the recipient). */
  Unreachable: { readonly code: string; readonly reason: string }
}>

/**
 * Constructors of `Outcome`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Outcome = Data.taggedEnum<Outcome>()

/**
 * The sender's reading of a frame on its offer session: an outcome, or `undefined` for a frame
 * that does not settle the push (about other content, or another type).
 *
 * @since 0.1.0
 * @category getters
 */
export const outcomeOf = (frame: Frame, m: Ids.McidBytes): Outcome | undefined => {
  if (frame.t === "err") return Outcome.Unreachable({ code: frame.c, reason: frame.m ?? frame.c })
  if (frame.t !== "content.have") return undefined
  const k = Ids.key(m)
  const entry = frame.h.find((e) => Ids.key(e.m) === k)
  if (entry === undefined) return undefined
  return entry.y ? Outcome.Done() : Outcome.Declined()
}
