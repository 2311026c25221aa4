/**
 * A station's authorisation port (PROTOCOL.md §13.4, §13.5): the verdict on one gated frame
 * (`sub`, `pub`, `adv`, `call`), given to the routing subtree.
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
 *    Success is cached as a **grant** for (peer, realm, command) until the chain's earliest
 *    expiry, so later frames it covers need no `au`.
 * 3. A frame without `au` in a pinned realm is allowed only by a live grant covering it; else
 *    it is denied `UnavailableProof`.
 *
 * Denials carry the UCAN error name as `reason`; the station answers `err unauthorized` with
 * it, and the client raises `Unauthorized` with that `reason` (docs/errors.md).
 *
 * Bounded: grants and seen nonces are capped (`maxSeenInvocations`); expired entries are swept
 * whenever a new one is stored. Grants are kept per connection (`connectionId`): they die with
 * it, and a reconnecting client presents again. A grant of a closed connection is unreachable
 * and goes at its expiry or when the cap is reached.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Realm from "../identity/Realm.ts"
import * as Ucan from "../identity/ucan/index.ts"
import * as Topic from "../topic/index.ts"
import type * as Frame from "../wire/Frame.ts"

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
}

interface Grant {
  /** `args.topic` or `args.proc` of the invocation. */
  readonly scope: string
  /** Unix seconds; `null` = no expiry in the chain (stations demand one on the invocation, so never). */
  readonly expiresAt: number | null
}

/**
 * Grants kept per (peer, realm, command): the newest scopes; an older one must be presented again.
 *
 * @since 0.1.0
 * @category constants
 */
export const grantsPerKey = 16

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

/**
 * The port's decision function, synchronous (the routing subtree wraps it in an `Effect`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decide = (options: Options): ((request: Request) => Verdict) => {
  const byRealm = new Map<string, { readonly name: string; readonly authority: string }>()
  for (const [name, authority] of Object.entries(options.authorities)) byRealm.set(Realm.idHex(name), { name, authority })
  const leewaySec = Math.round((options.clockSkewLeewayMs ?? 60_000) / 1_000)
  const ttlSec = Math.round((options.maxInvocationTtlMs ?? 3_600_000) / 1_000)
  const cap = options.maxSeenInvocations ?? 100_000
  /** Nonce (invocation CID) → expiry, unix s. */
  const seen = new Map<string, number>()
  /** `peer|connection|realm|command` → grants. */
  const grants = new Map<string, Array<Grant>>()

  const sweep = (nowSec: number) => {
    for (const [cid, exp] of seen) if (exp + leewaySec < nowSec) seen.delete(cid)
    for (const [key, list] of grants) {
      const live = list.filter((g) => g.expiresAt === null || g.expiresAt + leewaySec >= nowSec)
      if (live.length === 0) grants.delete(key)
      else grants.set(key, live)
    }
    // Still over the cap: drop the oldest (Map keeps insertion order).
    for (const key of seen.keys()) {
      if (seen.size <= cap) break
      seen.delete(key)
    }
    for (const key of grants.keys()) {
      if (grants.size <= cap) break
      grants.delete(key)
    }
  }

  return (request) => {
    const pinned = byRealm.get(Realm.toHex(request.realm))
    if (pinned === undefined) return allowed
    const nowSec = Math.floor(options.now() / 1_000)
    const key = `${request.peerDid}|${request.connectionId ?? ""}|${Realm.toHex(request.realm)}|${request.command}`
    if (request.au === undefined) {
      const live = (grants.get(key) ?? []).find((g) =>
        (g.expiresAt === null || g.expiresAt + leewaySec >= nowSec) && admits(request.command, g.scope, request.topic)
      )
      return live === undefined ? denied("UnavailableProof") : allowed
    }
    let nonce: string
    try {
      nonce = Ucan.cid(request.au.inv)
    } catch {
      return denied("MalformedToken")
    }
    if (seen.has(nonce)) return denied("InvalidClaim")
    const checked = Ucan.RealmCapabilities.check({
      invocation: request.au.inv,
      proofs: request.au.prf,
      authority: pinned.authority,
      realm: pinned.name,
      station: options.station,
      peer: request.peerDid,
      command: request.command,
      now: nowSec,
      leewaySec,
      maxInvocationTtlSec: ttlSec
    })
    if (!checked.ok) return denied(checked.error.name)
    const field = request.command === "/mesh/advertise" || request.command === "/mesh/call" ? "proc" : "topic"
    const scope = checked.grant.args[field]
    if (typeof scope !== "string" || !admits(request.command, scope, request.topic)) return denied("InvalidClaim")
    sweep(nowSec)
    seen.set(nonce, checked.grant.expiresAt ?? nowSec + ttlSec)
    const list = grants.get(key) ?? []
    list.push({ scope, expiresAt: checked.grant.expiresAt })
    grants.set(key, list.slice(-grantsPerKey))
    return allowed
  }
}

/**
 * The port as the routing subtree takes it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): (request: Request) => Effect.Effect<Verdict> => {
  const verdict = decide(options)
  return (request) => Effect.sync(() => verdict(request))
}
