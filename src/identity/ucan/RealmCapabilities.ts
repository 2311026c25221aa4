/**
 * Realm membership as UCAN 1.0 capabilities (PROTOCOL.md §1, §13.3–§13.6).
 *
 * A realm's authority is an Ed25519 identity; its DID is the subject of every membership delegation
 * of the realm. This module issues a member's delegations for the mesh commands, with the policies
 * a station relies on (`.realm` fixed, `.topic` / `.proc` limited by `like` globs), and performs the
 * station-side check of an invocation chain rooted at the authority.
 *
 * Topic patterns become globs by turning each wildcard (`*` one segment, final `#`) into a glob `*`,
 * which crosses `/`: the glob then admits every topic the pattern matches and, literally, every
 * pattern it covers (the glob's `*` absorbs the pattern's wildcards). That is why a `like` on
 * `.topic` may not contain an escaped `\*`: it would let a literal wildcard through, so the station
 * check refuses it (`MatchError`).
 *
 * One delegation per command: a single policy over `/mesh` could not tell a publish's `.topic`
 * from a call's `.proc`.
 *
 * Not here: replay protection (seen invocation nonces), revocation storage, realm binding
 * (`realmAuthorities`, DHT descriptors); those are station state.
 *
 * @since 0.1.0
 */
import * as Topic from "../../topic/index.ts"
import type { IpldMap } from "./DagCbor.ts"
import * as Envelope from "./Envelope.ts"
import type { DecodedUcan, Signer } from "./Envelope.ts"
import * as Policy from "./Policy.ts"
import * as Ucan from "./Ucan.ts"
import { UcanError } from "./UcanError.ts"
import type { UcanErrorName } from "./UcanError.ts"

/**
 * The commands of PROTOCOL.md §13.3, by short name.
 *
 * | name | command | `args` |
 * |---|---|---|
 * | `publish` | `/mesh/publish` | `{realm, topic}` (topic or pattern) |
 * | `subscribe` | `/mesh/subscribe` | `{realm, topic}` (topic or pattern) |
 * | `advertise` | `/mesh/advertise` | `{realm, proc}` |
 * | `call` | `/mesh/call` | `{realm, proc}` |
 * | `contentPut` | `/content/put` | `{mcid, size}` |
 * | `contentGet` | `/content/get` | `{mcid}` |
 * | `realmAdmin` | `/realm/admin` | `{op, …}` |
 *
 * @since 0.1.0
 * @category constants
 */
export const commands = {
  publish: "/mesh/publish",
  subscribe: "/mesh/subscribe",
  advertise: "/mesh/advertise",
  call: "/mesh/call",
  contentPut: "/content/put",
  contentGet: "/content/get",
  realmAdmin: "/realm/admin"
} as const

/**
 * A command of {@link commands}.
 *
 * @since 0.1.0
 * @category models
 */
export type MeshCommand = (typeof commands)[keyof typeof commands]

/**
 * The commands a member gets when none are named: publish, subscribe, advertise and call.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMemberCommands: ReadonlyArray<MeshCommand> = [
  commands.publish,
  commands.subscribe,
  commands.advertise,
  commands.call
]

const topicCommands: ReadonlySet<string> = new Set([commands.publish, commands.subscribe])
const procCommands: ReadonlySet<string> = new Set([commands.advertise, commands.call])

const malformed = (message: string): UcanError => new UcanError("MalformedToken", message)

/**
 * The `like` glob of a topic pattern, procedure or topic: each `*` or final `#` segment becomes
 * `*`. Throws `UcanError("MalformedToken")` unless the input is a valid topic or pattern
 * (PROTOCOL.md §7) of `realm`.
 *
 * @example
 * ```ts
 * topicGlob("io.example", "io.example/acme/#")          // "io.example/acme/*"
 * topicGlob("io.example", "io.example/acme/app/d/n_v1")  // unchanged: a topic is its own glob
 * topicGlob("io.example", "io.example/#")               // "io.example/*" (the whole realm)
 * ```
 * @since 0.1.0
 * @category conversions
 */
export const topicGlob = (realm: string, pattern: string): string => {
  if (!Topic.isValid(pattern) && !Topic.isValidPattern(pattern)) {
    throw malformed(`${JSON.stringify(pattern)} is not a valid topic or pattern`)
  }
  if (pattern.split("/")[0] !== realm) throw malformed(`${JSON.stringify(pattern)} is not in realm ${realm}`)
  return pattern
    .split("/")
    .map((segment) => (segment === "#" || segment === "*" ? "*" : segment))
    .join("/")
}

/**
 * The policy a member delegation for `command` carries: `.realm` fixed for the mesh commands, and
 * `.topic` (publish, subscribe) or `.proc` (advertise, call) limited to the given patterns, the
 * whole realm when none are given. Content and admin commands get `[]`: their arguments carry no
 * realm, whose authority the subject already names.
 *
 * @example
 * ```ts
 * memberPolicy("/mesh/publish", { realm: "io.example", topics: ["io.example/acme/#"] })
 * // [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]]
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const memberPolicy = (
  command: string,
  opts: { readonly realm: string; readonly topics?: ReadonlyArray<string>; readonly procedures?: ReadonlyArray<string> }
): Policy.Policy => {
  const field = topicCommands.has(command) ? ".topic" : procCommands.has(command) ? ".proc" : undefined
  if (field === undefined) return []
  const patterns = (field === ".topic" ? opts.topics : opts.procedures) ?? [`${opts.realm}/#`]
  if (patterns.length === 0) throw malformed(`no ${field === ".topic" ? "topics" : "procedures"} for ${command}`)
  const globs = [...new Set(patterns.map((p) => topicGlob(opts.realm, p)))]
  const likes: ReadonlyArray<Policy.Statement> = globs.map((g) => ["like", field, g] as const)
  return [["==", ".realm", opts.realm], likes.length === 1 ? likes[0]! : ["or", likes]]
}

/**
 * Options of {@link issueMember}.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssueMemberOptions {
  /** The signer: the realm authority, or a realm service holding a delegation from it. */
  readonly issuer: Signer
  /** The realm authority's DID (the subject). @default issuer.did */
  readonly authority?: string
  /** The member's DID (the audience). */
  readonly member: string
  /** The realm name. */
  readonly realm: string
  /** Commands granted, one delegation each. @default publish, subscribe, advertise, call */
  readonly commands?: ReadonlyArray<string>
  /** Topics or patterns for publish and subscribe, e.g. `io.example/acme/#`. @default the whole realm */
  readonly topics?: ReadonlyArray<string>
  /** Procedures or patterns for advertise and call. @default the whole realm */
  readonly procedures?: ReadonlyArray<string>
  /** Expiry, unix seconds, or `null` for none (prefer an expiry and re-issue). */
  readonly expiration: number | null
  /** Not valid before, unix seconds. */
  readonly notBefore?: number
  /** Signed metadata. */
  readonly meta?: object
}

/**
 * Issues a member's delegations, one per command, each with {@link memberPolicy}. The member
 * passes them as `capabilities` (and lists the one it uses as the last proof of an invocation).
 *
 * @example
 * ```ts
 * const caps = RealmCapabilities.issueMember({
 *   issuer: authority, member: alice.did, realm: "io.example",
 *   commands: ["/mesh/publish", "/mesh/subscribe"], topics: ["io.example/acme/#"],
 *   expiration: now + 30 * 86_400
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const issueMember = (opts: IssueMemberOptions): ReadonlyArray<Uint8Array> => {
  const granted = opts.commands ?? defaultMemberCommands
  if (granted.length === 0) throw malformed("no commands to grant")
  return [...new Set(granted)].map((command) =>
    Ucan.delegate({
      issuer: opts.issuer,
      audience: opts.member,
      subject: opts.authority ?? opts.issuer.did,
      command,
      policy: memberPolicy(command, {
        realm: opts.realm,
        ...(opts.topics !== undefined ? { topics: opts.topics } : {}),
        ...(opts.procedures !== undefined ? { procedures: opts.procedures } : {})
      }),
      expiration: opts.expiration,
      ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
      ...(opts.meta !== undefined ? { meta: opts.meta } : {})
    })
  )
}

/**
 * Options of {@link issueService}.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssueServiceOptions {
  /** The realm authority. */
  readonly authority: Signer
  /** The realm service's DID. */
  readonly service: string
  /** The command delegated, with everything below it. @default "/" (all, including /realm/admin) */
  readonly command?: string
  /** Expiry, unix seconds, or `null`. */
  readonly expiration: number | null
}

/**
 * Delegates re-delegable authority to a realm service (PROTOCOL.md §1): it may then issue member
 * delegations with `issueMember({ issuer: service, authority: authority.did, … })`, and members
 * invoke with both proofs, authority's first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueService = (opts: IssueServiceOptions): Uint8Array =>
  Ucan.delegate({
    issuer: opts.authority,
    audience: opts.service,
    subject: opts.authority.did,
    command: opts.command ?? "/",
    expiration: opts.expiration
  })

/**
 * Options of {@link check}: the frame's invocation and proofs, who must be involved, and the knobs
 * of `Ucan.verifyInvocation`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions extends Omit<Ucan.VerifyOptions, "executor"> {
  /** The invocation the frame carries (`au.inv`). */
  readonly invocation: Uint8Array
  /** The proofs the frame carries (`au.prf`). */
  readonly proofs: ReadonlyArray<Uint8Array>
  /** The realm authority's DID: the chain's subject. */
  readonly authority: string
  /** The realm the frame targets; mesh commands must carry it in `args.realm`. */
  readonly realm: string
  /** The checking station's DID: the invocation's `aud` must be it (no replay at another station). */
  readonly station?: string
  /** The connection peer's DID: the invocation's issuer must be it. */
  readonly peer?: string
  /** The command the frame needs, e.g. `/mesh/publish`: the invocation must invoke exactly it. */
  readonly command?: string
  /**
   * Longest accepted remaining lifetime of the invocation, seconds: its `exp` must be set and at
   * most `now + maxInvocationTtlSec` (PROTOCOL.md `maxInvocationTtlMs`). @default 3_600
   */
  readonly maxInvocationTtlSec?: number
}

/**
 * What a successful {@link check} grants, for caching on the connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Grant {
  /** The invoked command. */
  readonly command: string
  /** The invocation's arguments (e.g. `{realm, topic}`). */
  readonly args: IpldMap
  /** The invoker's DID. */
  readonly invoker: string
  /** The earliest `exp` of the chain: the grant dies then. `null` only if nothing expires. */
  readonly expiresAt: number | null
  /** CIDs of every token of the chain, root first, for revocation. */
  readonly cids: ReadonlyArray<string>
}

/**
 * The outcome of {@link check}.
 *
 * @since 0.1.0
 * @category models
 */
export type CheckResult =
  | { readonly ok: true; readonly grant: Grant; readonly chain: DecodedUcan[] }
  | { readonly ok: false; readonly error: { readonly name: UcanErrorName; readonly message: string } }

/**
 * Default `maxInvocationTtlSec`: one hour (PROTOCOL.md §16 `maxInvocationTtlMs` 3 600 000).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxInvocationTtlSec = 3_600

const refuse = (name: UcanErrorName, message: string): CheckResult => ({ ok: false, error: { name, message } })

/**
 * The station-side check of PROTOCOL.md §13.4: `Ucan.verifyInvocation` with the station as
 * executor, then — the invocation's subject is the realm authority (`InvalidSubject`), its issuer the
 * connection peer (`InvalidClaim`), its `exp` set and within `maxInvocationTtlSec` (`InvalidClaim`),
 * its command the one the frame needs (`InvalidClaim`), `args.realm` the frame's realm for mesh
 * commands (`InvalidClaim`), and no proof globs `.topic` with an escaped `\*` (`MatchError`).
 * Replay protection (unseen nonce) is the caller's state.
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (opts: CheckOptions): CheckResult => {
  const { invocation: bytes, proofs, authority, realm, station, peer, command, maxInvocationTtlSec, ...verifyOpts } = opts
  const verified = Ucan.verifyInvocation(bytes, proofs, {
    ...verifyOpts,
    ...(station !== undefined ? { executor: station } : {})
  })
  if (!verified.ok) return verified
  const chain = verified.chain
  const invocation = chain[chain.length - 1]!
  if (invocation.kind !== "invocation") return refuse("MalformedToken", "the chain does not end with an invocation")
  if (invocation.sub !== authority) {
    return refuse("InvalidSubject", `the invocation is about ${invocation.sub}, not the realm authority ${authority}`)
  }
  if (peer !== undefined && invocation.iss !== peer) {
    return refuse("InvalidClaim", `the invocation is issued by ${invocation.iss}, not by the connection peer ${peer}`)
  }
  const ttl = maxInvocationTtlSec ?? defaultMaxInvocationTtlSec
  if (invocation.exp === null) return refuse("InvalidClaim", "stations require an invocation with an expiry")
  if (invocation.exp > opts.now + ttl) {
    return refuse("InvalidClaim", `the invocation expires at ${invocation.exp}, beyond now + ${ttl} s`)
  }
  if (command !== undefined && invocation.cmd !== command) {
    return refuse("InvalidClaim", `the invocation invokes ${invocation.cmd}, the frame needs ${command}`)
  }
  if (invocation.cmd.startsWith("/mesh/") && invocation.args["realm"] !== realm) {
    return refuse("InvalidClaim", `the invocation's args.realm is not ${realm}`)
  }
  for (const token of chain) {
    if (token.kind !== "delegation") continue
    const escaped = Policy.likePatternsOn(Envelope.compiledPolicyOf(token), ".topic").find((g) => g.includes("\\*"))
    if (escaped !== undefined) {
      return refuse("MatchError", `proof ${token.cid} globs .topic with an escaped \\* (${escaped}), which stations refuse`)
    }
  }
  const expiries = chain.map((t) => t.exp).filter((e): e is number => e !== null)
  return {
    ok: true,
    chain,
    grant: {
      command: invocation.cmd,
      args: invocation.args,
      invoker: invocation.iss,
      expiresAt: expiries.length === 0 ? null : Math.min(...expiries),
      cids: chain.map((t) => t.cid)
    }
  }
}

/**
 * Options of {@link invokeMember}.
 *
 * @since 0.1.0
 * @category models
 */
export interface InvokeMemberOptions {
  /** The member. */
  readonly issuer: Signer
  /** The realm authority's DID. */
  readonly authority: string
  /** The station the invocation is for (its `aud`). */
  readonly station: string
  /** The realm name. */
  readonly realm: string
  /** The mesh command. */
  readonly command: string
  /** The other arguments, e.g. `{ topic }` or `{ proc }`; `realm` is added for mesh commands. */
  readonly args: object
  /** Proof delegations, root first (the member's own delegation last). */
  readonly proofs: ReadonlyArray<Uint8Array>
  /** Expiry, unix seconds (stations require one within `maxInvocationTtlSec`). */
  readonly expiration: number
}

/**
 * Builds the invocation a member sends with a gated frame: subject the authority, audience the
 * station, `args.realm` filled in for mesh commands, proofs referenced by CID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invokeMember = (opts: InvokeMemberOptions): Uint8Array =>
  Ucan.invoke({
    issuer: opts.issuer,
    subject: opts.authority,
    audience: opts.station,
    command: opts.command,
    args: opts.command.startsWith("/mesh/") ? { ...opts.args, realm: opts.realm } : opts.args,
    proofs: opts.proofs.map((p) => Ucan.cid(p)),
    expiration: opts.expiration
  })
