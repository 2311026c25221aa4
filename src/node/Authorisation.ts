/**
 * A station's authorisation port (PROTOCOL.md §13.4–§13.6): the verdict on one gated frame
 * (`sub`, `pub`, `adv`, `call`), given to the routing subtree, and the revocations it knows.
 *
 * The rule:
 * 1. A realm without a pinned authority (`realmAuthorities`, the `--authority REALM=DID` of
 *    `macula station`) is **open**: every authenticated client is allowed (the station warns
 *    about it at start). Binding realms through DHT `realm` records is not done here yet, so
 *    `unboundRealmPolicy` is effectively `open`.
 * 2. In a pinned realm, a frame carrying `au` is checked with `RealmCapabilities.check`: the
 *    chain is rooted at the authority, the invocation is issued by the connection's peer, for
 *    this station, for exactly the frame's command and realm, with an expiry no further than
 *    `maxInvocationTtlMs`; its nonce (the invocation's CID) must not have been seen before.
 *    Its `args.topic` must cover the frame's topic or pattern (`args.proc` equal the procedure).
 *    No delegation of the chain may be revoked (§13.6): one known revoked is denied `Revoked`;
 *    the DHT `revocation` records of each delegation are consulted through `findRevocations`
 *    (in the background, see `port`; a negative answer is cached `revocationCacheMs`). Success is cached
 *    as a **grant** for (peer, connection, realm, command) until the chain's earliest expiry, so
 *    later frames it covers need no `au`.
 * 3. A frame without `au` in a pinned realm is allowed only by a live grant covering it; else
 *    it is denied `UnavailableProof`.
 *
 * Revocations arrive verified (`learn`: the `d` of a DHT record, checked by
 * `Ucan.Revocation.verifyRecord`) — from a DHT answer while granting, or after the
 * `{realm}/_realm/_realm/membership/revoked_v1` fact (`onFact`, which looks the record up). A new
 * one drops every grant whose chain contains the revoked CID and tells the listeners which
 * (peer, connection, realm, command) lost grants and which scopes it keeps, so the routing
 * subtree ends the subscriptions and advertisements no kept scope covers (`err unauthorized`,
 * reason `Revoked`). Listeners also hear when a realm gets its first grant: the station then
 * watches that realm's `revoked_v1` fact. Revocation is permanent but invalidates only that link:
 * another path to the same member keeps working.
 *
 * A station that missed a `revoked_v1` fact (not linked to the publisher when it went out) still
 * learns the revocation: held grants have their delegations asked again once their negative
 * answer is older than `revocationCacheMs` (`recheck`, a bounded sweep the station runs every
 * `recheckIntervalMs`), so what the revoked chain admitted ends within about that long.
 *
 * A DHT lookup that fails or times out revokes nothing (the realm stays usable while the DHT is
 * unreachable; local revocations still apply) and is not cached, so the next grant asks again.
 *
 * Denials carry the UCAN error name as `reason`; the station answers `err unauthorized` with
 * it, and the client raises `Unauthorized` with that `reason` (docs/errors.md).
 *
 * Bounded: grants and seen nonces are capped (`maxSeenInvocations`), local revocations and the
 * negative cache too (`maxRevocations`); expired entries are swept whenever a new one is stored.
 * Seen nonces live in a `SeenNonces` memory the node shares with its other checkers; with a data
 * directory it is `NonceLog`'s, and survives a restart.
 * A revocation is kept until the revoked delegation's `exp` plus `clockSkewLeewayMs`, at most
 * `maxRevocationTtlMs`. Grants are kept per connection (`connectionId`): they die with it, and a
 * reconnecting client presents again. A grant of a closed connection is unreachable and goes at
 * its expiry or when the cap is reached.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Realm from "../identity/Realm.ts"
import * as Ucan from "../identity/ucan/index.ts"
import * as Topic from "../topic/index.ts"
import type * as Frame from "../wire/Frame.ts"
import * as SeenNonces from "./SeenNonces.ts"

/**
 * One gated request (what the routing subtree asks).
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly peerDid: string
  /**
   * The connection the frame came on. Grants are kept per connection (§13.4: they die with
   * it), so a client presents again on a new one; absent, they are kept per peer.
   */
  readonly connectionId?: string
  readonly realm: Uint8Array
  readonly command: "/mesh/subscribe" | "/mesh/publish" | "/mesh/advertise" | "/mesh/call"
  /** The topic, pattern or procedure of the frame. */
  readonly topic: string
  readonly au: Frame.Authority | undefined
}

/**
 * The verdict.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = { readonly _tag: "Allowed" } | { readonly _tag: "Denied"; readonly reason: string }

/**
 * What the port is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Realm name → authority DID (`realmAuthorities`). */
  readonly authorities: Readonly<Record<string, string>>
  /** This station's DID: the audience every invocation must name. */
  readonly station: string
  /** Wall clock, unix ms. */
  readonly now: () => number
  /** Leeway on every time bound. @default 60_000 (clockSkewLeewayMs) */
  readonly clockSkewLeewayMs?: number
  /** Longest remaining lifetime of an invocation. @default 3_600_000 (maxInvocationTtlMs) */
  readonly maxInvocationTtlMs?: number
  /** Seen nonces and grants kept, each. @default 100_000 (maxSeenInvocations) */
  readonly maxSeenInvocations?: number
  /**
   * The node's seen-nonce memory, shared with its other checkers (`NonceLog.open` with a data
   * directory). Absent: one of the port's own, in memory, of `maxSeenInvocations` + 1 entries
   * (the port always held one more than its cap).
   */
  readonly seenNonces?: SeenNonces.SeenNonces
  /**
   * The DHT `revocation` records of a delegation (its text CID): their `d`, unverified (the port
   * verifies). Absent: only revocations learned otherwise count.
   */
  readonly findRevocations?: (cid: string) => Effect.Effect<ReadonlyArray<Ucan.Revocation.RecordData>, unknown>
  /** How long "no revocation in the DHT" is believed, per delegation. @default 60_000 (revocationCacheMs) */
  readonly revocationCacheMs?: number
  /** Longest time a revocation is kept. @default 7_776_000_000 (maxRevocationTtlMs) */
  readonly maxRevocationTtlMs?: number
  /** Revocations kept, and negative answers cached, each. @default 100_000 */
  readonly maxRevocations?: number
  /** Longest wait for one DHT lookup of revocations. @default 5_000 */
  readonly revocationLookupTimeoutMs?: number
  /** Most delegations one re-check sweep (`recheck`) asks the DHT about. @default 256 */
  readonly recheckBatch?: number
}

/**
 * Grants a revocation took from one (peer, connection, realm, command): the routing subtree
 * ends what that connection holds there and no `keep` scope covers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dropped {
  readonly _tag: "Dropped"
  readonly peerDid: string
  readonly connectionId: string | undefined
  readonly realm: Uint8Array
  readonly command: Request["command"]
  /** Scopes (`args.topic` / `args.proc`) of the grants this key still holds. */
  readonly keep: ReadonlyArray<string>
  /** The UCAN error name to report: `Revoked`. */
  readonly reason: "Revoked"
}

/**
 * What the port tells its listeners: grants dropped by a revocation, or a realm that got its
 * first grant (whose `revoked_v1` fact the station should now watch).
 *
 * @since 0.1.0
 * @category models
 */
export type Notice = Dropped | { readonly _tag: "Granted"; readonly realm: string }

/**
 * The outcome of `learn`.
 *
 * @since 0.1.0
 * @category models
 */
export type Learned =
  | { readonly _tag: "Revoked"; readonly cid: string; readonly dropped: ReadonlyArray<Dropped> }
  | { readonly _tag: "Known"; readonly cid: string }
  | { readonly _tag: "Refused"; readonly error: Ucan.UcanError }

/**
 * The port: verdicts, revocations, and notices for the routing subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Port {
  /** The verdict on one gated frame. */
  readonly authorise: (request: Request) => Effect.Effect<Verdict>
  /** Verifies a revocation record's `d` and, if new, applies it (drops grants, notifies). */
  readonly learn: (d: Ucan.Revocation.RecordData) => Effect.Effect<Learned>
  /**
   * A `revoked_v1` fact named `cid` (any text; it is only a hint): looks its DHT record up and
   * `learn`s what verifies. Never fails.
   */
  readonly onFact: (cid: string) => Effect.Effect<ReadonlyArray<Learned>>
  /** Whether a CID is known revoked now. */
  readonly isRevoked: (cid: string) => boolean
  /** Listens to notices; returns the unsubscribe. */
  readonly subscribe: (listener: (notice: Notice) => void) => () => void
  /** Realms (names) that have had a grant: those whose `revoked_v1` fact the station watches. */
  readonly granted: () => ReadonlyArray<string>
  /**
   * One re-check sweep: the delegations of held grants whose negative DHT answer is older than
   * `revocationCacheMs` (or that were never answered) are asked again, oldest answer first, at
   * most `recheckBatch`; what the DHT holds is learned (grants dropped, notices sent). Succeeds
   * with the number of delegations asked once their lookups are done. Never fails.
   */
  readonly recheck: Effect.Effect<number>
  /** `recheck` every `recheckIntervalMs(revocationCacheMs)`, forever (the station runs it). */
  readonly run: Effect.Effect<never>
}

/**
 * How often held grants are re-checked: a quarter of `revocationCacheMs` (at least 250 ms), so
 * a negative answer is asked again at most a quarter after it runs out, and a revocation whose
 * fact was missed is caught within about 1.25 × `revocationCacheMs` plus one lookup. Pure.
 *
 * @since 0.1.0
 * @category constants
 */
export const recheckIntervalMs = (revocationCacheMs: number): number => Math.max(250, Math.floor(revocationCacheMs / 4))

interface Grant {
  /** `args.topic` or `args.proc` of the invocation. */
  readonly scope: string
  /** Unix seconds; `null` = no expiry in the chain (stations demand one on the invocation, so never). */
  readonly expiresAt: number | null
  /** CIDs of the chain's delegations, root first (what a revocation may name). */
  readonly cids: ReadonlyArray<string>
}

interface GrantKey {
  readonly peerDid: string
  readonly connectionId: string | undefined
  readonly realm: Uint8Array
  readonly command: Request["command"]
}

/**
 * Grants kept per (peer, connection, realm, command): the newest scopes; an older one must be
 * presented again.
 *
 * @since 0.1.0
 * @category constants
 */
export const grantsPerKey = 16

/** DHT lookups of revocations in flight at once, across grants and re-check sweeps. */
const maxLookups = 1_024

const allowed: Verdict = { _tag: "Allowed" }
const denied = (reason: string): Verdict => ({ _tag: "Denied", reason })

/**
 * Whether a grant for `scope` admits the frame's `topic` under `command`. Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const admits = (command: Request["command"], scope: string, topic: string): boolean =>
  command === "/mesh/advertise" || command === "/mesh/call" ? scope === topic : Topic.covers(scope, topic)

/** A verdict, and the delegations (CIDs) of the grant it stored: empty when it stored none. */
interface Judged {
  readonly verdict: Verdict
  readonly granted: ReadonlyArray<string>
}

const final = (verdict: Verdict): Judged => ({ verdict, granted: [] })

/**
 * The port's synchronous state: grants, seen nonces, local revocations and the negative cache.
 * Time comes in as an argument; nothing here does I/O.
 */
class State {
  private readonly byRealm = new Map<string, { readonly name: string; readonly authority: string }>()
  readonly leewaySec: number
  private readonly ttlSec: number
  private readonly cap: number
  private readonly revocationCap: number
  /** Nonces (invocation CIDs) of the invocations accepted. */
  private readonly seen: SeenNonces.SeenNonces
  /** `peer|connection|realm|command` → grants. */
  private readonly grants = new Map<string, { readonly key: GrantKey; list: Array<Grant> }>()
  /** Revoked delegation CID → kept until, unix ms. */
  private readonly revoked = new Map<string, number>()
  /** Delegation CID → when the DHT last said "no revocation", unix ms. */
  private readonly absent = new Map<string, number>()
  /** Realms (names) that have had a grant. */
  private readonly granted = new Set<string>()
  private readonly listeners = new Set<(notice: Notice) => void>()

  constructor(readonly options: Options) {
    for (const [name, authority] of Object.entries(options.authorities)) this.byRealm.set(Realm.idHex(name), { name, authority })
    this.leewaySec = Math.round((options.clockSkewLeewayMs ?? 60_000) / 1_000)
    this.ttlSec = Math.round((options.maxInvocationTtlMs ?? 3_600_000) / 1_000)
    this.cap = options.maxSeenInvocations ?? 100_000
    this.revocationCap = options.maxRevocations ?? 100_000
    this.seen = options.seenNonces ?? SeenNonces.make({ leewaySec: this.leewaySec, cap: this.cap + 1 })
  }

  grantedRealms(): ReadonlyArray<string> {
    return Array.from(this.granted)
  }

  subscribe(listener: (notice: Notice) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  private notify(notice: Notice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice)
      } catch {
        // A listener's fault is its own; the port's state is already consistent.
      }
    }
  }

  private sweep(nowSec: number): void {
    for (const [key, entry] of this.grants) {
      entry.list = entry.list.filter((g) => g.expiresAt === null || g.expiresAt + this.leewaySec >= nowSec)
      if (entry.list.length === 0) this.grants.delete(key)
    }
    // Still over the cap: drop the oldest (Map keeps insertion order).
    for (const key of this.grants.keys()) {
      if (this.grants.size <= this.cap) break
      this.grants.delete(key)
    }
  }

  isRevoked(cid: string, nowMs: number): boolean {
    const until = this.revoked.get(cid)
    if (until === undefined) return false
    if (until > nowMs) return true
    this.revoked.delete(cid)
    return false
  }

  /** Delegation CIDs whose DHT answer is not cached (the ones to look up). */
  unknown(cids: ReadonlyArray<string>, nowMs: number): ReadonlyArray<string> {
    const ttl = this.options.revocationCacheMs ?? 60_000
    return cids.filter((cid) => {
      const at = this.absent.get(cid)
      if (at !== undefined && nowMs - at < ttl) return false
      if (at !== undefined) this.absent.delete(cid)
      return true
    })
  }

  /**
   * Delegations of live grants whose DHT answer has run out (or never came), skipping `busy`
   * ones: at most `limit`, the oldest answer first (never answered before any). The work is one
   * pass over the held grants (capped by `maxSeenInvocations`).
   */
  due(nowMs: number, limit: number, busy: ReadonlySet<string>): ReadonlyArray<string> {
    if (limit <= 0) return []
    const ttl = this.options.revocationCacheMs ?? 60_000
    const nowSec = Math.floor(nowMs / 1_000)
    const found = new Map<string, number>()
    for (const entry of this.grants.values()) {
      for (const g of entry.list) {
        if (g.expiresAt !== null && g.expiresAt + this.leewaySec < nowSec) continue
        for (const cid of g.cids) {
          if (found.has(cid) || busy.has(cid) || this.isRevoked(cid, nowMs)) continue
          const at = this.absent.get(cid)
          if (at !== undefined && nowMs - at < ttl) continue
          found.set(cid, at ?? Number.NEGATIVE_INFINITY)
        }
      }
    }
    return Array.from(found).sort((a, b) => a[1] - b[1]).slice(0, limit).map(([cid]) => cid)
  }

  noteAbsent(cid: string, nowMs: number): void {
    this.absent.delete(cid)
    this.absent.set(cid, nowMs)
    for (const key of this.absent.keys()) {
      if (this.absent.size <= this.revocationCap) break
      this.absent.delete(key)
    }
  }

  /** The verdict on one request; an invocation that passes is stored as a grant. */
  judge(request: Request, nowMs: number): Judged {
    const realmHex = Realm.toHex(request.realm)
    const pinned = this.byRealm.get(realmHex)
    if (pinned === undefined) return final(allowed)
    const nowSec = Math.floor(nowMs / 1_000)
    const key = `${request.peerDid}|${request.connectionId ?? ""}|${realmHex}|${request.command}`
    if (request.au === undefined) {
      const live = (this.grants.get(key)?.list ?? []).find((g) =>
        (g.expiresAt === null || g.expiresAt + this.leewaySec >= nowSec) && admits(request.command, g.scope, request.topic)
      )
      return final(live === undefined ? denied("UnavailableProof") : allowed)
    }
    let nonce: string
    try {
      nonce = Ucan.cid(request.au.inv)
    } catch {
      return final(denied("MalformedToken"))
    }
    if (this.seen.has(nonce)) return final(denied("InvalidClaim"))
    const checked = Ucan.RealmCapabilities.check({
      invocation: request.au.inv,
      proofs: request.au.prf,
      authority: pinned.authority,
      realm: pinned.name,
      station: this.options.station,
      peer: request.peerDid,
      command: request.command,
      now: nowSec,
      leewaySec: this.leewaySec,
      maxInvocationTtlSec: this.ttlSec,
      isRevoked: (cid) => this.isRevoked(cid, nowMs)
    })
    if (!checked.ok) return final(denied(checked.error.name))
    const field = request.command === "/mesh/advertise" || request.command === "/mesh/call" ? "proc" : "topic"
    const scope = checked.grant.args[field]
    if (typeof scope !== "string" || !admits(request.command, scope, request.topic)) return final(denied("InvalidClaim"))
    if (!this.seen.record(nonce, checked.grant.expiresAt ?? nowSec + this.ttlSec, nowSec)) {
      return final(denied("InvalidClaim"))
    }
    this.sweep(nowSec)
    // The invocation's own CID is fresh (its nonce): only the delegations can have been revoked.
    const cids = checked.chain.filter((t) => t.kind === "delegation").map((t) => t.cid)
    const { peerDid, connectionId, realm, command } = request
    const entry = this.grants.get(key) ?? { key: { peerDid, connectionId, realm, command }, list: [] }
    entry.list.push({ scope, expiresAt: checked.grant.expiresAt, cids })
    entry.list = entry.list.slice(-grantsPerKey)
    this.grants.set(key, entry)
    if (!this.granted.has(pinned.name)) {
      this.granted.add(pinned.name)
      this.notify({ _tag: "Granted", realm: pinned.name })
    }
    return { verdict: allowed, granted: cids }
  }

  /** Applies a verified revocation: remembers it, drops the grants it breaks, notifies. */
  revoke(verified: Ucan.Revocation.Verified, nowMs: number): Learned {
    const cid = verified.revoked
    if (this.isRevoked(cid, nowMs)) return { _tag: "Known", cid }
    const until = Ucan.Revocation.keepUntil(verified.revokedExp, nowMs, {
      leewayMs: this.leewaySec * 1_000,
      maxTtlMs: this.options.maxRevocationTtlMs ?? 7_776_000_000
    })
    // Revoking a delegation already dead changes nothing: there is nothing to keep.
    if (until <= nowMs) return { _tag: "Known", cid }
    this.absent.delete(cid)
    for (const [c, at] of this.revoked) if (at <= nowMs) this.revoked.delete(c)
    this.revoked.set(cid, until)
    for (const key of this.revoked.keys()) {
      if (this.revoked.size <= this.revocationCap) break
      this.revoked.delete(key)
    }
    const dropped: Array<Dropped> = []
    for (const [key, entry] of this.grants) {
      const keep = entry.list.filter((g) => !g.cids.includes(cid))
      if (keep.length === entry.list.length) continue
      if (keep.length === 0) this.grants.delete(key)
      else entry.list = keep
      dropped.push({ _tag: "Dropped", ...entry.key, keep: keep.map((g) => g.scope), reason: "Revoked" })
    }
    for (const notice of dropped) this.notify(notice)
    return { _tag: "Revoked", cid, dropped }
  }
}

/**
 * The port's decision function, synchronous and without revocations (it has no `learn`; tests
 * and tools that need none).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decide = (options: Options): ((request: Request) => Verdict) => {
  const state = new State(options)
  return (request) => {
    return state.judge(request, options.now()).verdict
  }
}

/**
 * The full port: verdicts, revocations (local and from the DHT), notices.
 *
 * The verdict itself never waits for the DHT (the router and the dispatcher judge frames in
 * order, so a slow lookup would stall every client): a chain is judged on local revocations and
 * cached DHT answers, and each delegation the DHT has not been asked about recently is looked up
 * in the background (one lookup per CID at a time). A revocation found there is learned like any
 * other: the grant just made is dropped and what it admitted ends with `err unauthorized`
 * (`Revoked`), and every later presentation of the chain is refused at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const port = (options: Options): Port => {
  const state = new State(options)
  const leewaySec = state.leewaySec
  const timeout = Duration.millis(options.revocationLookupTimeoutMs ?? 5_000)
  /** CIDs being looked up now, at most `maxLookups`. */
  const inFlight = new Set<string>()

  const learnNow = (d: Ucan.Revocation.RecordData): Learned => {
    const nowMs = options.now()
    const verified = Ucan.Revocation.verifyRecord(d, { now: Math.floor(nowMs / 1_000), leewaySec })
    return verified.ok ? state.revoke(verified.revocation, nowMs) : { _tag: "Refused", error: verified.error }
  }

  /** Asks the DHT about `cid` and learns what verifies; an unreachable DHT caches nothing. */
  const consult = (find: NonNullable<Options["findRevocations"]>, cid: string): Effect.Effect<void> =>
    find(cid).pipe(
      Effect.timeout(timeout),
      Effect.map((records) => {
        for (const d of records) learnNow(d)
        const nowMs = options.now()
        if (!state.isRevoked(cid, nowMs)) state.noteAbsent(cid, nowMs)
      }),
      Effect.catch(() => Effect.void),
      Effect.ensuring(Effect.sync(() => void inFlight.delete(cid)))
    )

  const authorise = (request: Request): Effect.Effect<Verdict> =>
    Effect.sync(() => {
      const nowMs = options.now()
      const { verdict, granted } = state.judge(request, nowMs)
      const find = options.findRevocations
      if (granted.length > 0 && find !== undefined) {
        for (const cid of state.unknown(granted, nowMs)) {
          if (inFlight.has(cid) || inFlight.size >= maxLookups) continue
          inFlight.add(cid)
          Effect.runFork(consult(find, cid))
        }
      }
      return verdict
    })

  /** Facts being looked up now: a burst of the same fact costs one lookup. */
  const factsInFlight = new Set<string>()
  const onFact = (cid: string): Effect.Effect<ReadonlyArray<Learned>> => {
    const find = options.findRevocations
    if (find === undefined || Ucan.Revocation.recordKey(cid) === undefined || factsInFlight.has(cid)) return Effect.succeed([])
    if (state.isRevoked(cid, options.now())) return Effect.succeed([{ _tag: "Known", cid }])
    factsInFlight.add(cid)
    return find(cid).pipe(
      Effect.timeout(timeout),
      Effect.map((records) => records.map(learnNow)),
      Effect.catch(() => Effect.succeed([])),
      Effect.ensuring(Effect.sync(() => void factsInFlight.delete(cid)))
    )
  }

  const batch = Math.max(1, options.recheckBatch ?? 256)
  const recheck: Effect.Effect<number> = Effect.suspend(() => {
    const find = options.findRevocations
    if (find === undefined) return Effect.succeed(0)
    const cids = state.due(options.now(), Math.min(batch, maxLookups - inFlight.size), inFlight)
    for (const cid of cids) inFlight.add(cid)
    // A few lookups at a time: a sweep must not flood the DHT.
    return Effect.as(Effect.forEach(cids, (cid) => consult(find, cid), { concurrency: 8, discard: true }), cids.length)
  })
  const interval = Duration.millis(recheckIntervalMs(options.revocationCacheMs ?? 60_000))
  const run: Effect.Effect<never> = Effect.forever(Effect.andThen(Effect.sleep(interval), recheck))

  return {
    authorise,
    recheck,
    run,
    learn: (d) => Effect.sync(() => learnNow(d)),
    onFact,
    isRevoked: (cid) => state.isRevoked(cid, options.now()),
    subscribe: (listener) => state.subscribe(listener),
    granted: () => state.grantedRealms()
  }
}

/**
 * The payload of a `revoked_v1` fact (`{cid}`): the CID it names, or `undefined`.
 *
 * @since 0.1.0
 * @category getters
 */
export const factCid = (payload: unknown): string | undefined => {
  if (typeof payload !== "object" || payload === null) return undefined
  const cid = (payload as { readonly cid?: unknown }).cid
  return typeof cid === "string" && cid.length <= 128 ? cid : undefined
}

/**
 * The port's verdicts as the routing subtree takes them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): (request: Request) => Effect.Effect<Verdict> => port(options).authorise
