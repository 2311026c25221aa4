/**
 * End-to-end invocations for providers that require one (PROTOCOL.md §9.2, §10.3 `req: true`,
 * §13.4): both sides of the `ucan` field of a `call`.
 *
 * - **Caller** (`invoker`): for a provider record with `req: true` the caller signs a
 *   `/mesh/call` invocation whose audience is the *provider* (not a station), `args = {realm,
 *   proc}`, exactly as it presents one to its station (`ClientCapabilities.present`, which picks
 *   the first delegation chain that covers the call). A caller holding no chain that covers it (an
 *   open realm) signs one rooted at itself (no proofs, subject = itself): it still proves, end to
 *   end, who calls and what, which a station on the path cannot forge.
 * - **Provider** (`verifier`): checks a call's `ucan` before its handler runs, as a station
 *   checks `au` (`RealmCapabilities.check`): signatures, time bounds and chain alignment; the
 *   audience is this provider (no replay at another one); the issuer is the caller the station
 *   named (`from`); `exp` set and within `maxInvocationTtlMs`; the command `/mesh/call`;
 *   `args.realm` and `args.proc` the call's; the nonce (the invocation's CID) unseen. The chain
 *   must be rooted at the realm authority the provider itself holds a delegation from (the root
 *   subject of a chain of its own covering `/mesh/advertise` of the procedure); a provider with
 *   no such chain (an open realm) accepts any valid root, the invocation then proving the caller.
 *
 * Verdicts carry the UCAN error name as `reason`; the provider answers `unauthorized` with it.
 * Seen nonces are kept until their expiry in the node's shared `SeenNonces` memory (with a data
 * directory, `NonceLog`'s: they survive a restart), or in the provider's own of
 * `maxSeenInvocations` when none is given.
 *
 * @since 0.1.0
 */
import * as Did from "../identity/Did.ts"
import * as Realm from "../identity/Realm.ts"
import * as Ucan from "../identity/ucan/index.ts"
import type { Verdict } from "../protocols/rpc/DispatcherEvent.ts"
import type * as Frame from "../wire/Frame.ts"
import * as ClientCapabilities from "./ClientCapabilities.ts"
import * as SeenNonces from "./SeenNonces.ts"

/**
 * What both sides are built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The node key: signs the caller's invocations; the provider's audience. */
  readonly identity: Ucan.Signer
  /** The delegations the node holds (any order; unrelated ones are ignored). */
  readonly delegations: ReadonlyArray<Uint8Array>
  /** Tolerance on time bounds. @default 60_000 (clockSkewLeewayMs) */
  readonly clockSkewLeewayMs?: number
  /** Lifetime of a caller's invocation. @default 600_000 */
  readonly invocationTtlMs?: number
  /** Longest remaining lifetime a provider accepts. @default 3_600_000 (maxInvocationTtlMs) */
  readonly maxInvocationTtlMs?: number
  /** Seen nonces a provider keeps. @default 100_000 (maxSeenInvocations) */
  readonly maxSeenInvocations?: number
  /**
   * The node's seen-nonce memory, shared with its other checkers (`NonceLog.open` with a data
   * directory). Absent: the provider's own, in memory, of `maxSeenInvocations` entries.
   */
  readonly seenNonces?: SeenNonces.SeenNonces
}

const command = "/mesh/call"

/**
 * The caller's side: `(provider DID, realm name, procedure, now ms)` → the `ucan` to attach.
 * Throws `UcanError` only for a DID that cannot be an audience (a provider record's key always
 * can).
 *
 * @since 0.1.0
 * @category constructors
 */
export const invoker = (options: Options): ((provider: string, realm: string, proc: string, nowMs: number) => Frame.Authority) => {
  const chains = ClientCapabilities.chainsOf(options.delegations, options.identity.did)
  const ttlSec = Math.max(1, Math.floor((options.invocationTtlMs ?? 600_000) / 1_000))
  return (provider, realm, proc, nowMs) => {
    const presented = ClientCapabilities.present(options, chains, { station: provider, command, realm, scope: proc }, nowMs)
    if (presented !== undefined) return presented.au
    const inv = Ucan.invoke({
      issuer: options.identity,
      subject: options.identity.did,
      audience: provider,
      command,
      args: ClientCapabilities.argsOf(command, realm, proc),
      proofs: [],
      expiration: Math.floor(nowMs / 1_000) + ttlSec
    })
    return { inv, prf: [] }
  }
}

const denied = (reason: string): Verdict => ({ _tag: "Denied", reason })
const allowed: Verdict = { _tag: "Allowed" }

/**
 * The provider's side: the verdict on a call's `ucan` at `nowMs` (the endpoint actor's
 * `checkInvocation`). Keeps the seen nonces.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verifier = (options: Options, now: () => number = Date.now): ((frame: Frame.Call) => Verdict) => {
  const own = ClientCapabilities.chainsOf(options.delegations, options.identity.did)
  const leewaySec = Math.round((options.clockSkewLeewayMs ?? 60_000) / 1_000)
  const ttlSec = Math.max(1, Math.floor((options.maxInvocationTtlMs ?? 3_600_000) / 1_000))
  const seen = options.seenNonces ?? SeenNonces.make({ leewaySec, cap: options.maxSeenInvocations ?? 100_000 })

  /** The authority this provider's own delegations for `proc` are rooted at, if any. */
  const authorityOf = (realm: string, proc: string, nowSec: number): string | undefined =>
    own.find((c) => ClientCapabilities.covers(c, "/mesh/advertise", { realm, proc }, nowSec, leewaySec))?.authority

  return (frame) => {
    const au = frame.ucan
    if (au === undefined) return denied("UnavailableProof")
    if (frame.from === undefined) return denied("InvalidClaim")
    const realm = frame.proc.split("/")[0] ?? ""
    if (Realm.toHex(Realm.id(realm)) !== Realm.toHex(frame.realm)) return denied("InvalidClaim")
    const nowMs = now()
    const nowSec = Math.floor(nowMs / 1_000)
    let nonce: string
    let subject: string | null
    try {
      nonce = Ucan.cid(au.inv)
      subject = Ucan.decode(au.inv).sub
    } catch {
      return denied("MalformedToken")
    }
    if (seen.has(nonce)) return denied("InvalidClaim")
    const authority = authorityOf(realm, frame.proc, nowSec) ?? subject
    if (authority === null) return denied("InvalidSubject")
    const checked = Ucan.RealmCapabilities.check({
      invocation: au.inv,
      proofs: au.prf,
      authority,
      realm,
      station: options.identity.did,
      peer: Did.fromPublicKeyUnsafe(frame.from),
      command,
      now: nowSec,
      leewaySec,
      maxInvocationTtlSec: ttlSec
    })
    if (!checked.ok) return denied(checked.error.name)
    if (checked.grant.args["proc"] !== frame.proc) return denied("InvalidClaim")
    // Oldest first (insertion order): expired ones go until the first live one, then the cap.
    return seen.record(nonce, checked.grant.expiresAt ?? nowSec + ttlSec, nowSec) ? allowed : denied("InvalidClaim")
  }
}
