/**
 * A client's side of realm authorisation (PROTOCOL.md §13.4): the inline invocation `au` a
 * client node attaches to its gated frames (`sub`, `pub`, `adv`, `call`), built from the
 * delegations it holds (`capabilities` of the node config, `--cap FILE` of the CLI).
 *
 * For a frame in realm R with scope S (`sub`: the pattern, `pub`: the topic, `adv` / `call`: the
 * procedure) it picks a proof chain — the delegations linked from one whose issuer is its own
 * subject (the realm authority) down to one addressed to this node — whose commands cover the
 * frame's command and whose policies hold on `{realm: R, topic|proc: S}`, signs an invocation
 * (issuer this node, audience the station of the connection, subject the chain's root, a fresh
 * nonce, expiry `invocationTtlMs` ahead) and checks it exactly as the station will
 * (`Ucan.RealmCapabilities.check`), so a chain the station would refuse is never sent. When no
 * chain covers the frame, the frame goes without `au` and the station answers `unauthorized`
 * (`UnavailableProof`), which the caller sees as the typed `Unauthorized`.
 *
 * What is presented is remembered per station connection ({@link Presenter}): the station caches
 * a grant per (peer, realm, command) for each accepted scope — the last
 * `Authorisation.grantsPerKey` of them, until the invocation or its chain expires — so later
 * frames the scope covers go without `au`. A new connection (a reconnect, a fail-over to another station)
 * gets a new presenter and presents again; so do replayed subscriptions and advertisements. A
 * presentation is renewed before its invocation expires, and forgotten when the station refuses
 * the frame that carried it, or later ends what that frame was admitted to (a revoked grant,
 * PROTOCOL.md §13.6, names the accepted frame in its `err`).
 *
 * Effectful in one way only: signing (and the random nonce); time comes in as an argument.
 *
 * @since 0.1.0
 */
import * as Realm from "../identity/Realm.ts"
import * as Ucan from "../identity/ucan/index.ts"
import type { DecodedDelegation } from "../identity/ucan/index.ts"
import * as Topic from "../topic/index.ts"
import type * as Frame from "../wire/Frame.ts"
import * as Authorisation from "./Authorisation.ts"

/**
 * The gated mesh commands (PROTOCOL.md §13.3).
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Authorisation.Request["command"]

/**
 * A proof chain a client can invoke: delegations root first, the last one addressed to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Chain {
  /** The envelopes, root first (what `au.prf` carries). */
  readonly proofs: ReadonlyArray<Uint8Array>
  /** The decoded delegations, same order. */
  readonly tokens: ReadonlyArray<DecodedDelegation>
  /** The root's subject: the realm authority the invocation is about. */
  readonly authority: string
  /** The earliest `exp` of the chain, unix s; `null` when nothing in it expires. */
  readonly expiresAt: number | null
}

/**
 * What the client capabilities are built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The node key: issues the invocations; delegations must be addressed to its DID. */
  readonly identity: Ucan.Signer
  /** The delegations held (any order; unrelated ones are ignored). */
  readonly delegations: ReadonlyArray<Uint8Array>
  /**
   * Lifetime of each invocation. Stations refuse one expiring beyond their `maxInvocationTtlMs`
   * (3 600 000 by default), so this stays well below it, leaving room for clock skew.
   * @default 600_000
   */
  readonly invocationTtlMs?: number
  /** Tolerance on time bounds in the local check, as the station's `clockSkewLeewayMs`. @default 60_000 */
  readonly clockSkewLeewayMs?: number
}

/**
 * One request for an invocation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  /** The station's DID: the invocation's audience. */
  readonly station: string
  readonly command: Command
  /** The realm name (`args.realm`). */
  readonly realm: string
  /** The topic or pattern (`args.topic`), or the procedure (`args.proc`). */
  readonly scope: string
}

/**
 * A signed invocation ready to attach, and when the grant it earns ends (unix s).
 *
 * @since 0.1.0
 * @category models
 */
export interface Presentation {
  readonly au: Frame.Authority
  /** The earliest expiry of the invocation and its chain, unix s. */
  readonly expiresAt: number
}

/** Chains longer than this are refused by stations (`maxProofChainLength`). */
const maxChainLength = Ucan.Config.defaults.maxProofChainLength
/** Enough alternatives for any sensible set of capability files; bounds the search. */
const maxChains = 64

const isTopicCommand = (command: Command): boolean => command === "/mesh/subscribe" || command === "/mesh/publish"

/**
 * The invocation arguments of a gated frame: `{realm, topic}` for publish and subscribe,
 * `{realm, proc}` for advertise and call (PROTOCOL.md §13.3). Pure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const argsOf = (command: Command, realm: string, scope: string): { readonly realm: string } & Record<string, string> =>
  isTopicCommand(command) ? { realm, topic: scope } : { realm, proc: scope }

/**
 * Every proof chain the delegations form that ends at `holder`, best first (latest expiry first,
 * then shortest). A delegation that does not decode is skipped. Pure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const chainsOf = (delegations: ReadonlyArray<Uint8Array>, holder: string): ReadonlyArray<Chain> => {
  const tokens: Array<{ readonly bytes: Uint8Array; readonly token: DecodedDelegation }> = []
  for (const bytes of delegations) {
    try {
      const token = Ucan.decode(bytes)
      if (token.kind === "delegation") tokens.push({ bytes, token })
    } catch {
      // Config validation already refused undecodable capabilities; nothing to build from here.
    }
  }
  const byAudience = new Map<string, Array<(typeof tokens)[number]>>()
  for (const t of tokens) {
    const list = byAudience.get(t.token.aud) ?? []
    list.push(t)
    byAudience.set(t.token.aud, list)
  }
  const chains: Array<Chain> = []
  // Walks up from a delegation addressed to `holder`: each step finds one addressed to the
  // current issuer, until a root (issuer = subject, the authority itself).
  const climb = (path: ReadonlyArray<(typeof tokens)[number]>): void => {
    if (chains.length >= maxChains) return
    const top = path[0]!.token
    if (top.sub !== null && top.iss === top.sub) {
      const expiries = path.map((t) => t.token.exp).filter((e): e is number => e !== null)
      chains.push({
        proofs: path.map((t) => t.bytes),
        tokens: path.map((t) => t.token),
        authority: top.sub,
        expiresAt: expiries.length === 0 ? null : Math.min(...expiries)
      })
      return
    }
    if (path.length >= maxChainLength) return
    for (const parent of byAudience.get(top.iss) ?? []) {
      if (path.some((t) => t.token.cid === parent.token.cid)) continue
      climb([parent, ...path])
    }
  }
  for (const leaf of byAudience.get(holder) ?? []) climb([leaf])
  return chains.sort((a, b) =>
    (b.expiresAt ?? Number.MAX_SAFE_INTEGER) - (a.expiresAt ?? Number.MAX_SAFE_INTEGER) || a.tokens.length - b.tokens.length
  )
}

/**
 * Whether `chain` may prove `command` with `args` at `nowSec`: every delegation's command covers
 * it, every policy holds on the arguments, and every time bound is met (± `leewaySec`). The
 * cheap part of the station's check, done before anything is signed. Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const covers = (chain: Chain, command: string, args: object, nowSec: number, leewaySec: number): boolean =>
  chain.tokens.every((t) =>
    Ucan.commandCovers(t.cmd, command) &&
    Ucan.matchesPolicy(t.pol, args as Ucan.Ipld) &&
    (t.exp === null || t.exp + leewaySec >= nowSec) &&
    (t.nbf === undefined || t.nbf - leewaySec <= nowSec)
  )

/**
 * Builds the presentation of one request: the first chain that covers it, invoked for the
 * station and checked as the station will check it; `undefined` when no chain does (or the
 * scope is not in `request.realm`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const present = (
  options: Options,
  chains: ReadonlyArray<Chain>,
  request: Request,
  nowMs: number
): Presentation | undefined =>
  request.scope.split("/")[0] !== request.realm ? undefined : invokeFirst(options, chains, {
    audience: request.station,
    realm: request.realm,
    command: request.command,
    args: argsOf(request.command, request.realm, request.scope)
  }, nowMs)

/**
 * What {@link invokeFirst} invokes: `command` with `args` for `audience` (a station, a
 * provider), in `realm` (`""` where the command names none, as content commands do).
 *
 * @since 0.1.0
 * @category models
 */
export interface Invocation {
  readonly audience: string
  readonly realm: string
  /** A mesh command, or another realm command such as `/content/get`. */
  readonly command: string
  readonly args: object
}

/**
 * Signs `invocation` with the first chain that covers it, and checks the result exactly as the
 * audience will (signatures, time bounds, alignment), so a chain it would refuse is never sent;
 * `undefined` when no chain passes. Effectful only in the signature and its random nonce.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invokeFirst = (
  options: Pick<Options, "identity" | "clockSkewLeewayMs" | "invocationTtlMs">,
  chains: ReadonlyArray<Chain>,
  invocation: Invocation,
  nowMs: number
): Presentation | undefined => {
  const nowSec = Math.floor(nowMs / 1_000)
  const leewaySec = Math.round((options.clockSkewLeewayMs ?? 60_000) / 1_000)
  const ttlSec = Math.max(1, Math.floor((options.invocationTtlMs ?? 600_000) / 1_000))
  const { audience, realm, command, args } = invocation
  for (const chain of chains) {
    if (!covers(chain, command, args, nowSec, leewaySec)) continue
    const expiration = nowSec + ttlSec
    let inv: Uint8Array
    try {
      inv = Ucan.RealmCapabilities.invokeMember({
        issuer: options.identity,
        authority: chain.authority,
        station: audience,
        realm,
        command,
        args,
        proofs: chain.proofs,
        expiration
      })
    } catch {
      continue
    }
    const checked = Ucan.RealmCapabilities.check({
      invocation: inv,
      proofs: chain.proofs,
      authority: chain.authority,
      realm,
      station: audience,
      peer: options.identity.did,
      command,
      now: nowSec,
      leewaySec,
      maxInvocationTtlSec: ttlSec
    })
    if (!checked.ok) continue
    return {
      au: { inv, prf: chain.proofs },
      expiresAt: checked.grant.expiresAt === null ? expiration : Math.min(expiration, checked.grant.expiresAt)
    }
  }
  return undefined
}

/** The station's cached grants this presenter believes in, per `realm|command`. */
interface Presented {
  readonly scope: string
  /** Past this (unix ms) the scope is presented again. */
  readonly renewAt: number
}

/**
 * The capabilities of one station connection: adds `au` to the gated frames this connection has
 * not yet presented a covering capability for. Created per connection by {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export class Presenter {
  /** `realmHex|command` → presented scopes, oldest first (the station keeps the last `grantsPerKey`). */
  private readonly presented = new Map<string, Array<Presented>>()
  /** Frame id → what its `au` presented, until the station answers it. */
  private readonly pending = new Map<number, { readonly key: string; readonly entry: Presented }>()
  /**
   * Frame id → what its accepted `au` presented, the newest 1 024: a station that later ends
   * what it admitted (a revoked grant, PROTOCOL.md §13.6) names that frame in its `err`.
   */
  private readonly accepted = new Map<number, { readonly key: string; readonly entry: Presented }>()
  /** Realm name → realm id (hex): hashed once, not per frame. */
  private readonly realmIds = new Map<string, string>()
  /** Invocations signed on this connection (for tests and status). */
  signed = 0

  constructor(
    private readonly options: Options,
    private readonly chains: ReadonlyArray<Chain>,
    /** The DID of the station this connection leads to. */
    readonly station: string
  ) {}

  /**
   * The `au` for one gated request on this connection, or `undefined` when a presented scope
   * still covers it (the station's grant) or no chain covers it.
   *
   * @since 0.1.0
   */
  authorityFor(command: Command, realm: Uint8Array, scope: string, nowMs: number, id?: number): Frame.Authority | undefined {
    if (this.chains.length === 0 || Topic.isSystem(scope)) return undefined
    const name = scope.slice(0, scope.indexOf("/"))
    let nameHex = this.realmIds.get(name)
    if (nameHex === undefined) {
      nameHex = Realm.idHex(name)
      if (this.realmIds.size < 64) this.realmIds.set(name, nameHex)
    }
    const realmHex = Realm.toHex(realm)
    if (nameHex !== realmHex) return undefined
    const key = `${realmHex}|${command}`
    const list = this.presented.get(key) ?? []
    // The exact scope first (the common case: the same topic again), then what covers it.
    const live = list.filter((p) => p.renewAt > nowMs)
    if (live.some((p) => p.scope === scope) || live.some((p) => Authorisation.admits(command, p.scope, scope))) return undefined
    const made = present(this.options, this.chains, { station: this.station, command, realm: name, scope }, nowMs)
    if (made === undefined) return undefined
    this.signed++
    const ttlMs = this.options.invocationTtlMs ?? 600_000
    // Renew a quarter of the lifetime early: the station's clock may run ahead of ours.
    const entry: Presented = { scope, renewAt: made.expiresAt * 1_000 - Math.floor(ttlMs / 4) }
    list.push(entry)
    // Mirror the station's bound: it keeps the last `grantsPerKey` grants per key, so an older
    // scope must be presented again.
    this.presented.set(key, list.slice(-Authorisation.grantsPerKey))
    if (id !== undefined) {
      // Bounded: answered frames leave at once; unanswered ones die with the connection.
      if (this.pending.size >= 1_024) this.pending.delete(this.pending.keys().next().value!)
      this.pending.set(id, { key, entry })
    }
    return made.au
  }

  /**
   * `frame` with `au` added when it is a gated frame this connection must still present for
   * (a `pub` names its realm and topic in `pub`, as its frame carries them only signed).
   * Anything else, or a frame already carrying `au`, is returned as is.
   *
   * @since 0.1.0
   */
  attach(frame: Frame.Frame, nowMs: number, pub?: { readonly realm: Frame.Bin32; readonly topic: string }): Frame.Frame {
    switch (frame.t) {
      case "sub": {
        if (frame.au !== undefined) return frame
        const au = this.authorityFor("/mesh/subscribe", frame.realm, frame.pat, nowMs, frame.id)
        return au === undefined ? frame : { ...frame, au }
      }
      case "pub": {
        if (frame.au !== undefined || pub === undefined) return frame
        const au = this.authorityFor("/mesh/publish", pub.realm, pub.topic, nowMs, frame.id)
        return au === undefined ? frame : { ...frame, au }
      }
      case "adv": {
        if (frame.au !== undefined) return frame
        const au = this.authorityFor("/mesh/advertise", frame.realm, frame.proc, nowMs, frame.id)
        return au === undefined ? frame : { ...frame, au }
      }
      case "call": {
        if (frame.au !== undefined) return frame
        const au = this.authorityFor("/mesh/call", frame.realm, frame.proc, nowMs, frame.id)
        return au === undefined ? frame : { ...frame, au }
      }
      default:
        return frame
    }
  }

  /**
   * The station answered frame `id`. A refusal forgets what its `au` presented (the station
   * kept no grant for it), so the next frame of that scope presents again; so does a later
   * refusal naming an accepted frame (the station ended what a revoked grant admitted).
   *
   * @since 0.1.0
   */
  answered(id: number, refused: boolean): void {
    const sent = this.pending.get(id) ?? (refused ? this.accepted.get(id) : undefined)
    if (sent === undefined) return
    this.pending.delete(id)
    this.accepted.delete(id)
    if (!refused) {
      if (this.accepted.size >= 1_024) this.accepted.delete(this.accepted.keys().next().value!)
      this.accepted.set(id, sent)
      return
    }
    const list = this.presented.get(sent.key)
    if (list === undefined) return
    const rest = list.filter((p) => p !== sent.entry)
    if (rest.length === 0) this.presented.delete(sent.key)
    else this.presented.set(sent.key, rest)
  }
}

/**
 * The node's capability port: given the station DID of a new connection, its {@link Presenter}.
 * `undefined` when the node holds no chain ending at its own DID (nothing to present).
 *
 * @example
 * ```ts
 * const forStation = ClientCapabilities.make({ identity, delegations: config.capabilities })
 * const presenter = forStation?.(handle.peerDid)
 * const frame = presenter?.attach({ t: "sub", id: 1, sid: 1, realm, pat: "io.example/acme/#" }, Date.now())
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): ((station: string) => Presenter) | undefined => {
  const chains = chainsOf(options.delegations, options.identity.did)
  return chains.length === 0 ? undefined : (station) => new Presenter(options, chains, station)
}
