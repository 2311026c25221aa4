/**
 * UCAN authority on content (PROTOCOL.md §13.0, §13.3): `/content/get` checked by a provider
 * with a members-only serving policy, `/content/put` checked by a station storing uploads whose
 * every served realm has a pinned authority ({@link checksUploads}). Both sides of both commands
 * live here:
 *
 * - **Checking** ({@link verifier}): the `au` of a content session's first frame (a `content.want`
 *   or `content.manifest_req`; for a push, the offer) is checked as a station checks a mesh
 *   frame's `au` (`Ucan.RealmCapabilities.check`): the chain is rooted at the realm's authority
 *   (subject = authority), the invocation is issued by the session's **requester**, addressed to
 *   this node, invokes exactly the command, has an expiry within `maxInvocationTtlMs`, an unseen
 *   nonce (its CID, kept until its expiry in the node's shared `SeenNonces` memory, which
 *   survives a restart with a data directory; else in the verifier's own of
 *   `maxSeenInvocations`), and no delegation of its chain is known revoked. `args.mcid` must be a
 *   valid MCID text (`b…`); for a put, it and `args.size` must be the offered content and size.
 * - **Presenting** ({@link invoker}): the node picks, among the delegations it holds, the first
 *   chain ending at itself whose commands cover the one invoked and whose policies hold on the
 *   arguments, and signs an invocation for the audience (issuer itself, subject the chain's root,
 *   a fresh nonce, expiry `invocationTtlMs` ahead). No covering chain: no `au` (an open provider or
 *   station needs none; a members-only one refuses).
 *
 * **What one `/content/get` covers.** A fetch opens one session per provider, and only the first
 * frame of it carries `au`; that frame may be a want of one chunk, which does not name the
 * content. So the invocation's `args.mcid` names the **root** being fetched, and a session admitted
 * by it is served that root and, when the root is a manifest, the chunks that manifest lists
 * (`Serve.scopeOf`, applied by the serving actor). Anything else asked on that session is answered as not held. The admission
 * lasts as long as the session, up to the earliest expiry of the chain's delegations (the
 * invocation's own, short `exp` bounds only when it may be presented, so a long download is not
 * cut at ten minutes).
 *
 * **Who the requester is.** On a session whose peer is the requester (a client fetching from its
 * station, a station from a station or from its attached client), the connection's peer. When a
 * station relays a session (§12.3), the requester's home station stamps `from` (the requester's
 * key) on the first frame, as it does on a relayed `content.have` (§12.6); `from` then names the
 * requester. A `from` is only a claim of who signed the invocation: the invocation must be signed
 * by that key, so it cannot lend anyone else's authority.
 *
 * Pure apart from the seen-nonce memory of a verifier (which may append to `NonceLog`'s file)
 * and the signature (and its random nonce) of an invoker; time comes in as an argument or
 * through `now`.
 *
 * @since 0.1.0
 */
import * as Mcid from "../content/Mcid.ts"
import * as Did from "../identity/Did.ts"
import * as Realm from "../identity/Realm.ts"
import * as Ucan from "../identity/ucan/index.ts"
import type * as Frame from "../wire/Frame.ts"
import * as ClientCapabilities from "./ClientCapabilities.ts"
import * as SeenNonces from "./SeenNonces.ts"

/**
 * The content commands (PROTOCOL.md §13.3).
 *
 * @since 0.1.0
 * @category models
 */
export type Command = "/content/get" | "/content/put"

/**
 * `contentServePolicy` as a user writes it: `"open"` (anyone may fetch what this node holds), or
 * members of one realm, `{ members: REALM }`, with the realm's authority DID given here or pinned
 * in `realmAuthorities`.
 *
 * @since 0.1.0
 * @category models
 */
export type ServePolicyInput = "open" | { readonly members: string; readonly authority?: string }

/**
 * `contentServePolicy` once checked.
 *
 * @since 0.1.0
 * @category models
 */
export type ServePolicy =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Members"; readonly realm: string; readonly authority: string }

/**
 * The default: anyone may fetch.
 *
 * @since 0.1.0
 * @category constants
 */
export const openPolicy: ServePolicy = { _tag: "Open" }

/**
 * Checks a `contentServePolicy` value (`undefined` is `"open"`): the policy, or the problems
 * found, each a sentence. The authority of `{members}` comes from the value or from
 * `realmAuthorities`; a value naming one that differs from the pinned one is refused.
 *
 * @since 0.1.0
 * @category validation
 */
export const parseServePolicy = (
  input: unknown,
  realmAuthorities: Readonly<Record<string, string>>,
  isRealmName: (name: string) => boolean
): ServePolicy | { readonly problems: ReadonlyArray<string> } => {
  if (input === undefined || input === "open") return openPolicy
  const shape = `contentServePolicy must be "open" or { members: REALM, authority?: DID }`
  if (typeof input !== "object" || input === null || Array.isArray(input)) return { problems: [`${shape} (got ${JSON.stringify(input)})`] }
  const { members, authority, ...rest } = input as { readonly members?: unknown; readonly authority?: unknown }
  const problems: Array<string> = []
  const extra = Object.keys(rest)
  if (extra.length > 0) problems.push(`${shape}: unknown field ${extra.map((k) => JSON.stringify(k)).join(", ")}`)
  if (typeof members !== "string" || !isRealmName(members)) {
    problems.push(`contentServePolicy.members: ${JSON.stringify(members)} is not a valid realm name`)
    return { problems }
  }
  if (authority !== undefined && (typeof authority !== "string" || !Did.isValid(authority))) {
    problems.push(`contentServePolicy.authority: ${JSON.stringify(authority)} is not a valid did:key`)
    return { problems }
  }
  const pinned = realmAuthorities[members]
  if (authority !== undefined && pinned !== undefined && authority !== pinned) {
    problems.push(`contentServePolicy.authority ${authority} differs from the authority pinned for ${members} (${pinned})`)
  }
  const resolved = (authority as string | undefined) ?? pinned
  if (resolved === undefined) problems.push(`contentServePolicy: no authority for ${members} (give authority, or pin one in realmAuthorities)`)
  return problems.length > 0 || resolved === undefined ? { problems } : { _tag: "Members", realm: members, authority: resolved }
}

/**
 * What a verifier is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifierOptions {
  /** This node's DID: the audience every invocation must name. */
  readonly self: string
  /** Wall clock, unix ms. */
  readonly now: () => number
  /** Leeway on every time bound. @default 60_000 (clockSkewLeewayMs) */
  readonly clockSkewLeewayMs?: number
  /** Longest remaining lifetime of an invocation. @default 3_600_000 (maxInvocationTtlMs) */
  readonly maxInvocationTtlMs?: number
  /** Seen nonces kept. @default 100_000 (maxSeenInvocations) */
  readonly maxSeenInvocations?: number
  /** Whether a delegation (its text CID) is known revoked (a station's authorisation port). */
  readonly isRevoked?: (cid: string) => boolean
  /**
   * The node's seen-nonce memory, shared with its other checkers (`NonceLog.open` with a data
   * directory). Absent: the verifier's own, in memory, of `maxSeenInvocations` entries.
   */
  readonly seenNonces?: SeenNonces.SeenNonces
}

/**
 * One check: the `au` a requester presented for a command in a realm.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly command: Command
  /** The realm whose authority must root the chain. */
  readonly realm: string
  readonly authority: string
  /** The session's requester (its peer, or the `from` a station stamped). */
  readonly requester: string
  readonly au: Frame.Authority | undefined
  /** `/content/put`: the offered content, which `args.mcid` must name. */
  readonly mcid?: string
  /** `/content/put`: the offered size, which `args.size` must equal (when the offer says it). */
  readonly size?: number
}

/**
 * The verdict: allowed for `mcid` (the invocation's `args.mcid`) until `until` (unix s, the
 * earliest expiry of the chain's delegations; `null` when none expires), or denied with the UCAN
 * error name.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Allowed"; readonly mcid: string; readonly until: number | null }
  | { readonly _tag: "Denied"; readonly reason: string }

const denied = (reason: string): Verdict => ({ _tag: "Denied", reason })

/**
 * A verifier: the verdict on one presented `au`. Keeps the nonces it accepted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verifier = (options: VerifierOptions): ((request: Request) => Verdict) => {
  const leewaySec = Math.round((options.clockSkewLeewayMs ?? 60_000) / 1_000)
  const ttlSec = Math.max(1, Math.floor((options.maxInvocationTtlMs ?? 3_600_000) / 1_000))
  const seen = options.seenNonces ?? SeenNonces.make({ leewaySec, cap: options.maxSeenInvocations ?? 100_000 })
  return (request) => {
    const au = request.au
    if (au === undefined) return denied("UnavailableProof")
    const nowSec = Math.floor(options.now() / 1_000)
    let nonce: string
    try {
      nonce = Ucan.cid(au.inv)
    } catch {
      return denied("MalformedToken")
    }
    if (seen.has(nonce)) return denied("InvalidClaim")
    const checked = Ucan.RealmCapabilities.check({
      invocation: au.inv,
      proofs: au.prf,
      authority: request.authority,
      realm: request.realm,
      station: options.self,
      peer: request.requester,
      command: request.command,
      now: nowSec,
      leewaySec,
      maxInvocationTtlSec: ttlSec,
      ...(options.isRevoked === undefined ? {} : { isRevoked: options.isRevoked })
    })
    if (!checked.ok) return denied(checked.error.name)
    const mcid = checked.grant.args["mcid"]
    if (typeof mcid !== "string" || !Mcid.isValid(mcid)) return denied("InvalidClaim")
    if (request.mcid !== undefined && mcid !== request.mcid) return denied("InvalidClaim")
    if (request.command === "/content/put") {
      const size = checked.grant.args["size"]
      if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return denied("InvalidClaim")
      if (request.size !== undefined && size !== request.size) return denied("InvalidClaim")
    }
    const invocation = checked.chain[checked.chain.length - 1]!
    // Expired nonces go from the oldest up to the first live one, then the oldest beyond the cap.
    if (!seen.record(nonce, invocation.exp ?? nowSec + ttlSec, nowSec)) return denied("InvalidClaim")
    const expiries = checked.chain.filter((t) => t.kind === "delegation").map((t) => t.exp).filter((e): e is number => e !== null)
    return { _tag: "Allowed", mcid, until: expiries.length === 0 ? null : Math.min(...expiries) }
  }
}

/**
 * What an invoker is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface InvokerOptions {
  /** The node key: issues the invocations; delegations must be addressed to its DID. */
  readonly identity: Ucan.Signer
  /** The delegations held (any order; unrelated ones are ignored). */
  readonly delegations: ReadonlyArray<Uint8Array>
  /** Lifetime of each invocation (well below the checker's `maxInvocationTtlMs`). @default 600_000 */
  readonly invocationTtlMs?: number
  /** Tolerance on time bounds in the local check. @default 60_000 */
  readonly clockSkewLeewayMs?: number
}

/**
 * Arguments of a content invocation: `{mcid}` for a get, `{mcid, size}` for a put.
 *
 * @since 0.1.0
 * @category models
 */
export interface Args {
  readonly mcid: string
  readonly size?: number
}

/**
 * An invoker: `(audience DID, command, args, now ms)` → the `au` to attach, or `undefined` when
 * no chain held covers it. `undefined` itself when the node holds no chain at all. The
 * invocation is checked locally as the audience will check it, so a chain it would refuse is
 * never sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invoker = (
  options: InvokerOptions
): ((audience: string, command: Command, args: Args, nowMs: number) => Frame.Authority | undefined) | undefined => {
  const chains = ClientCapabilities.chainsOf(options.delegations, options.identity.did)
  if (chains.length === 0) return undefined
  return (audience, command, args, nowMs) => {
    // Content commands name no realm: the chain's authority is the audience's to judge.
    const ipld = args.size === undefined ? { mcid: args.mcid } : { mcid: args.mcid, size: args.size }
    return ClientCapabilities.invokeFirst(options, chains, { audience, realm: "", command, args: ipld }, nowMs)?.au
  }
}

/**
 * The requester of a content session: the DID a station stamped in `from`, else the session's
 * peer. Pure.
 *
 * @since 0.1.0
 * @category getters
 */
export const requesterOf = (peerDid: string, from: Uint8Array | undefined): string =>
  from === undefined || from.length !== 32 ? peerDid : Did.fromPublicKeyUnsafe(from)

/**
 * What a node's content authority is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeOptions {
  readonly role: "station" | "client"
  /** The node key: the audience of what it checks, the issuer of what it presents. */
  readonly identity: Ucan.Signer
  /** The delegations the node holds (`capabilities`). */
  readonly delegations: ReadonlyArray<Uint8Array>
  /** Who may fetch what this node holds (`contentServePolicy`). */
  readonly servePolicy: ServePolicy
  /** Pinned realm authorities (`realmAuthorities`). */
  readonly realmAuthorities: Readonly<Record<string, string>>
  /**
   * Stations: ids (hex) of the realms served (`servedRealms`); empty = every realm. Uploads are
   * checked (`/content/put`) only when it is not empty and every realm in it is pinned.
   */
  readonly servedRealms?: ReadonlyArray<string>
  /** Wall clock, unix ms. @default Date.now */
  readonly now?: () => number
  /** Whether a delegation is known revoked (a station's authorisation port). */
  readonly isRevoked?: (cid: string) => boolean
  /** The node's seen-nonce memory, shared with its other checkers. Absent: the verifier's own. */
  readonly seenNonces?: SeenNonces.SeenNonces
}

/**
 * One push offer to judge (§12.6): its session's peer, the `from` a station stamped, its `au`,
 * and what it offers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Offer {
  readonly peerDid: string
  readonly from: Uint8Array | undefined
  readonly au: Frame.Authority | undefined
  readonly mcid: string
  readonly size: number | undefined
}

/**
 * A node's content authority: each part `undefined` when it does not apply.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeAuthority {
  /** Members-only serving: the judge of each session's first frame (`contentServePolicy`). */
  readonly serve: ((first: { readonly peerDid: string; readonly from: Uint8Array | undefined; readonly au: Frame.Authority | undefined }) => Verdict) | undefined
  /** The `/content/get` `au` of a fetch's session to `provider`, when this node holds a chain. */
  readonly fetch: ((provider: string, mcid: Mcid.Mcid) => Frame.Authority | undefined) | undefined
  /** The `/content/put` `au` of an offer to `to`, when this node holds a chain. */
  readonly offer: ((to: string, mcid: Mcid.Mcid, size: number | undefined) => Frame.Authority | undefined) | undefined
  /** Stations whose every served realm is pinned: the verdict on a push offer. */
  readonly admitOffer: ((offer: Offer) => Verdict) | undefined
}

/**
 * Whether a station checks uploads (`/content/put`): it has pinned authorities and no realm runs
 * open on it, i.e. it serves a list of realms (`servedRealms`) and each is pinned. A push offer
 * names no realm, so where any realm is open an uploader could always claim it: a check there
 * would protect nothing. Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const checksUploads = (
  role: "station" | "client",
  realmAuthorities: Readonly<Record<string, string>>,
  servedRealms: ReadonlyArray<string>
): boolean => {
  if (role !== "station" || servedRealms.length === 0) return false
  const pinned = new Set(Object.keys(realmAuthorities).map(Realm.idHex))
  return servedRealms.every((id) => pinned.has(id))
}

/**
 * Builds a node's content authority: a members-only policy judges sessions with `/content/get`;
 * a station whose every served realm is pinned ({@link checksUploads}) judges offers with
 * `/content/put`, rooted at the authority of one of those realms (the invocation's subject picks
 * it); the node's own chains present both.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forNode = (options: NodeOptions): NodeAuthority => {
  const now = options.now ?? Date.now
  const check = verifier({
    self: options.identity.did,
    now,
    ...(options.isRevoked === undefined ? {} : { isRevoked: options.isRevoked }),
    ...(options.seenNonces === undefined ? {} : { seenNonces: options.seenNonces })
  })
  const invoke = invoker({ identity: options.identity, delegations: options.delegations })
  const policy = options.servePolicy
  const served = new Set(options.servedRealms ?? [])
  const realmOf = new Map(
    Object.entries(options.realmAuthorities).filter(([realm]) => served.has(Realm.idHex(realm))).map(([realm, authority]) => [authority, realm])
  )
  return {
    serve: policy._tag === "Open" ? undefined : (first) =>
      check({
        command: "/content/get",
        realm: policy.realm,
        authority: policy.authority,
        requester: requesterOf(first.peerDid, first.from),
        au: first.au
      }),
    fetch: invoke === undefined ? undefined : (provider, mcid) => invoke(provider, "/content/get", { mcid: Mcid.toString(mcid) }, now()),
    offer: invoke === undefined ? undefined : (to, mcid, size) =>
      invoke(to, "/content/put", size === undefined ? { mcid: Mcid.toString(mcid) } : { mcid: Mcid.toString(mcid), size }, now()),
    admitOffer: !checksUploads(options.role, options.realmAuthorities, options.servedRealms ?? []) ? undefined : (offer) => {
      if (offer.au === undefined) return denied("UnavailableProof")
      let subject: string | null
      try {
        subject = Ucan.decode(offer.au.inv).sub
      } catch {
        return denied("MalformedToken")
      }
      const realm = subject === null ? undefined : realmOf.get(subject)
      if (realm === undefined || subject === null) return denied("InvalidSubject")
      return check({
        command: "/content/put",
        realm,
        authority: subject,
        requester: requesterOf(offer.peerDid, offer.from),
        au: offer.au,
        mcid: offer.mcid,
        ...(offer.size === undefined ? {} : { size: offer.size })
      })
    }
  }
}
