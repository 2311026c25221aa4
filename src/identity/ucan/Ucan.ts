/**
 * UCAN 1.0: issue delegations and invocations, decode them, name them by CID, and validate an
 * invocation against its proof chain.
 *
 * A **delegation** lets its audience act on a subject's resource with a command (and everything
 * below it), under a policy on the eventual arguments, within time bounds. An **invocation** asks an
 * executor to run one command with concrete `args`, listing its proof delegations by CID, root first.
 * `verifyInvocation` checks, in the order of PROTOCOL.md §13.2: sizes and decoding → proof
 * resolution → every signature → every time bound (with leeway) → principal alignment → the root
 * claim → subject alignment (powerline `sub: null` allowed below the root) → command attenuation →
 * every policy on `args` → revocation. The first failure is returned as data, never thrown.
 *
 * Pure: time arrives as `now` (unix seconds); the only randomness is a default nonce. Signing and
 * signature checks go through `Identity` (strict RFC 8032).
 *
 * Not here: replay protection (remembering seen invocation CIDs) and revocation storage, which are
 * state a station keeps; pass `isRevoked` to consult it.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { toHex } from "../../core/Bytes.ts"
import { Identity } from "../Identity.ts"
import { cidBytesOf, cidOf, Link, parseCid } from "./Cid.ts"
import * as Command from "./Command.ts"
import * as Config from "./Config.ts"
import * as DagCbor from "./DagCbor.ts"
import type { Ipld, IpldMap } from "./DagCbor.ts"
import * as Envelope from "./Envelope.ts"
import type { DecodedDelegation, DecodedInvocation, DecodedUcan, Signer } from "./Envelope.ts"
import * as Policy from "./Policy.ts"
import { UcanError } from "./UcanError.ts"
import type { UcanErrorName } from "./UcanError.ts"

/**
 * Length of the random nonce the builders draw when none is given, in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNonceBytes = 12

/**
 * Options of {@link delegate}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DelegateOptions {
  /** Who grants: signs the token and becomes its `iss`. */
  readonly issuer: Signer
  /** Who receives the authority (`aud`), a DID. */
  readonly audience: string
  /** Whose resource (`sub`), a DID; `null` makes a powerline delegation (never valid as a root). */
  readonly subject: string | null
  /** The command granted, with everything below it; `/` grants all. */
  readonly command: string
  /** Constraints on the eventual `args`. @default [] (none) */
  readonly policy?: Policy.Policy
  /** Expiry, unix seconds; `null` never expires. @default null */
  readonly expiration?: number | null
  /** Not valid before, unix seconds. @default absent */
  readonly notBefore?: number
  /** @default 12 random bytes */
  readonly nonce?: Uint8Array
  /** Signed metadata carrying no authority (an IPLD map). */
  readonly meta?: object
}

/**
 * Options of {@link invoke}.
 *
 * @since 0.1.0
 * @category models
 */
export interface InvokeOptions {
  /** The invoker: signs the token and becomes its `iss`. */
  readonly issuer: Signer
  /** Whose resource the command acts on (`sub`), a DID. */
  readonly subject: string
  /** The concrete command to run. */
  readonly command: string
  /** The command's arguments (an IPLD map); every proof's policy must hold on them. */
  readonly args: object
  /** Proof delegation CIDs (`bafy…`), root first, ending with the one whose audience is the issuer. */
  readonly proofs: ReadonlyArray<string>
  /** Intended executor, when it is not the subject. @default absent */
  readonly audience?: string
  /** Expiry, unix seconds; `null` never expires (stations refuse that). @default null */
  readonly expiration?: number | null
  /** @default 12 random bytes */
  readonly nonce?: Uint8Array
  /** Signed metadata (an IPLD map). */
  readonly meta?: object
  /** Claimed issuance time, unix seconds (informative). */
  readonly issuedAt?: number
}

/**
 * Options of {@link verifyInvocation}: the time, optional checks, and any {@link Config.Config} knob.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions extends Partial<Config.Config> {
  /** The current time, unix seconds (the caller reads the clock). */
  readonly now: number
  /** Clock-skew tolerance in seconds. @default 60 */
  readonly leewaySec?: number
  /** Revocation lookup by token CID; a `true` for any token of the chain is `Revoked`. */
  readonly isRevoked?: (cid: string) => boolean
  /**
   * The executor's DID. When given, the invocation must be addressed to it: its `aud`, or its
   * `sub` when `aud` is absent, must equal this DID, else `InvalidAudience`.
   */
  readonly executor?: string
}

/**
 * The outcome of {@link verifyInvocation}. `chain` lists the proofs root first, then the invocation.
 *
 * @since 0.1.0
 * @category models
 */
export type VerifyResult =
  | { readonly ok: true; readonly chain: DecodedUcan[] }
  | { readonly ok: false; readonly error: { readonly name: UcanErrorName; readonly message: string } }

const malformed = (message: string): UcanError => new UcanError("MalformedToken", message)

const checkDid = (what: string, did: unknown): string => {
  if (typeof did !== "string" || !did.startsWith("did:")) throw malformed(`${what} must be a DID`)
  return did
}

const checkTime = (what: string, t: unknown): number => {
  if (typeof t !== "number" || !Number.isSafeInteger(t)) throw malformed(`${what} must be an integer number of unix seconds`)
  return t
}

const checkCommand = (command: unknown): string => {
  if (typeof command !== "string") throw malformed("command must be a string")
  const problem = Command.problem(command)
  if (problem !== undefined) throw malformed(`${JSON.stringify(command)}: ${problem}`)
  return command
}

const toMap = (what: string, value: unknown): IpldMap => {
  let ipld: Ipld
  try {
    ipld = DagCbor.fromJs(value, what)
  } catch (cause) {
    throw malformed(cause instanceof Error ? cause.message : String(cause))
  }
  if (ipld === null || typeof ipld !== "object" || Array.isArray(ipld) || ipld instanceof Uint8Array || ipld instanceof Link) {
    throw malformed(`${what} must be a map`)
  }
  return ipld as IpldMap
}

const nonceOf = (nonce: Uint8Array | undefined): Uint8Array => {
  if (nonce === undefined) return new Uint8Array(randomBytes(defaultNonceBytes))
  if (!(nonce instanceof Uint8Array)) throw malformed("nonce must be bytes")
  return nonce
}

/**
 * Issues a delegation: returns its envelope bytes. Throws `UcanError("MalformedToken")` for an
 * invalid command, DID, time, policy or metadata.
 *
 * @example
 * ```ts
 * const token = Ucan.delegate({
 *   issuer: authority, audience: member.did, subject: authority.did, command: "/mesh/publish",
 *   policy: [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]],
 *   expiration: now + 86_400
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const delegate = (opts: DelegateOptions): Uint8Array => {
  const policy = opts.policy ?? []
  let policyIpld: Ipld
  try {
    policyIpld = DagCbor.fromJs(policy, "policy")
  } catch (cause) {
    throw malformed(cause instanceof Error ? cause.message : String(cause))
  }
  const compiled = Policy.compile(policyIpld)
  if (typeof compiled === "string") throw malformed(`invalid policy: ${compiled}`)
  const payload: Record<string, Ipld> = {
    iss: checkDid("issuer", opts.issuer.did),
    aud: checkDid("audience", opts.audience),
    sub: opts.subject === null ? null : checkDid("subject", opts.subject),
    cmd: checkCommand(opts.command),
    pol: policyIpld,
    nonce: nonceOf(opts.nonce),
    exp: opts.expiration === undefined || opts.expiration === null ? null : checkTime("expiration", opts.expiration)
  }
  if (opts.notBefore !== undefined) payload["nbf"] = checkTime("notBefore", opts.notBefore)
  if (opts.meta !== undefined) payload["meta"] = toMap("meta", opts.meta)
  return Envelope.seal("dlg", payload, opts.issuer)
}

/**
 * Issues an invocation: returns its envelope bytes. Throws `UcanError("MalformedToken")` for an
 * invalid command, DID, CID, time, or arguments that are not an IPLD map.
 *
 * @example
 * ```ts
 * const inv = Ucan.invoke({
 *   issuer: member, subject: authority.did, audience: station.did, command: "/mesh/publish",
 *   args: { realm: "io.example", topic: "io.example/acme/app/orders/placed_v1" },
 *   proofs: [Ucan.cid(token)], expiration: now + 300
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const invoke = (opts: InvokeOptions): Uint8Array => {
  const proofs = opts.proofs.map((text) => {
    const link = typeof text === "string" ? parseCid(text) : undefined
    if (link === undefined) throw malformed(`proof ${JSON.stringify(text)} is not a base32 CIDv1`)
    return link
  })
  const payload: Record<string, Ipld> = {
    iss: checkDid("issuer", opts.issuer.did),
    sub: checkDid("subject", opts.subject),
    cmd: checkCommand(opts.command),
    args: toMap("args", opts.args),
    prf: proofs,
    nonce: nonceOf(opts.nonce),
    exp: opts.expiration === undefined || opts.expiration === null ? null : checkTime("expiration", opts.expiration)
  }
  if (opts.audience !== undefined) payload["aud"] = checkDid("audience", opts.audience)
  if (opts.issuedAt !== undefined) payload["iat"] = checkTime("issuedAt", opts.issuedAt)
  if (opts.meta !== undefined) payload["meta"] = toMap("meta", opts.meta)
  return Envelope.seal("inv", payload, opts.issuer)
}

/**
 * Decodes a token (delegation or invocation) and checks its structure; signatures, times and
 * chains are not checked. Throws `UcanError("MalformedToken")` for anything else.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (envelope: Uint8Array): DecodedUcan => Envelope.decode(envelope)

/**
 * The CID of a token's bytes: CIDv1, dag-cbor, sha2-256, base32 (`bafy…`). It hashes the bytes as
 * given and does not validate them.
 *
 * @since 0.1.0
 * @category getters
 */
export const cid = (envelope: Uint8Array): string => cidOf(envelope)

/** A DID without its `#fragment`: principal alignment ignores fragments (delegation spec). */
const principal = (did: string): string => {
  const hash = did.indexOf("#")
  return hash < 0 ? did : did.slice(0, hash)
}

const describe = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `0x${toHex(v)}` : v
  ) ?? String(value)

const fail = (name: UcanErrorName, message: string): never => {
  throw new UcanError(name, message)
}

const resolveProofs = (
  invocation: DecodedInvocation,
  supplied: ReadonlyArray<Uint8Array>,
  config: Config.Config
): ReadonlyArray<DecodedDelegation> => {
  const byCid = new Map<string, Uint8Array>()
  for (const bytes of supplied) {
    if (!(bytes instanceof Uint8Array)) continue
    byCid.set(toHex(cidBytesOf(bytes)), bytes)
  }
  const links: ReadonlyArray<Link> = Envelope.proofLinksOf(invocation)
  const found: Array<Uint8Array> = []
  for (const link of links) {
    const bytes = byCid.get(toHex(link.bytes))
    if (bytes === undefined) return fail("UnavailableProof", `proof ${link.toString()} was not supplied`)
    found.push(bytes)
  }
  return found.map((bytes, i) => {
    if (bytes.length > config.maxUcanBytes) {
      return fail("MalformedToken", `proof ${i} is ${bytes.length} bytes, over maxUcanBytes ${config.maxUcanBytes}`)
    }
    const decoded = Envelope.decode(bytes)
    if (decoded.kind !== "delegation") return fail("MalformedToken", `proof ${i} is not a delegation`)
    return decoded
  })
}

const checkSignature = (token: DecodedUcan, what: string): void => {
  if (!Identity.verify(token.iss, token.signedBytes, token.signature)) {
    fail("InvalidSignature", `the signature of ${what} does not verify against ${token.iss}`)
  }
}

const checkTimes = (token: DecodedUcan, what: string, now: number, leeway: number): void => {
  if (token.exp !== null && now > token.exp + leeway) fail("Expired", `${what} expired at ${token.exp}`)
  if (token.kind === "delegation" && token.nbf !== undefined && now < token.nbf - leeway) {
    fail("TooEarly", `${what} is not valid before ${token.nbf}`)
  }
}

/** The effective knobs of a call; a bad value or a non-finite `now` is a programming error. */
const configOf = (opts: VerifyOptions): Config.Config => {
  const config: Config.Config = {
    maxUcanBytes: opts.maxUcanBytes ?? Config.defaults.maxUcanBytes,
    maxProofChainLength: opts.maxProofChainLength ?? Config.defaults.maxProofChainLength,
    leewaySec: opts.leewaySec ?? Config.defaults.leewaySec
  }
  const problems = Config.problems(config)
  if (problems.length > 0) throw new RangeError(`invalid UCAN config: ${problems.join("; ")}`)
  if (typeof opts.now !== "number" || !Number.isFinite(opts.now)) throw new RangeError("now must be a finite number of unix seconds")
  return config
}

const run = (invocationBytes: Uint8Array, proofBytes: ReadonlyArray<Uint8Array>, opts: VerifyOptions): DecodedUcan[] => {
  const config = configOf(opts)
  const { now } = opts
  const leeway = config.leewaySec

  // Sizes and decoding.
  if (!(invocationBytes instanceof Uint8Array)) fail("MalformedToken", "the invocation is not bytes")
  if (invocationBytes.length > config.maxUcanBytes) {
    fail("MalformedToken", `the invocation is ${invocationBytes.length} bytes, over maxUcanBytes ${config.maxUcanBytes}`)
  }
  const invocation = Envelope.decode(invocationBytes)
  if (invocation.kind !== "invocation") return fail("MalformedToken", "the token is a delegation, not an invocation")
  if (invocation.prf.length > config.maxProofChainLength) {
    fail("MalformedToken", `${invocation.prf.length} proofs, over maxProofChainLength ${config.maxProofChainLength}`)
  }

  // Proof resolution, root first.
  const proofs = resolveProofs(invocation, proofBytes, config)

  // Signatures of every link.
  proofs.forEach((p, i) => checkSignature(p, `proof ${i} (${p.cid})`))
  checkSignature(invocation, "the invocation")

  // Time bounds of every token.
  proofs.forEach((p, i) => checkTimes(p, `proof ${i} (${p.cid})`, now, leeway))
  checkTimes(invocation, "the invocation", now, leeway)

  // Principal alignment: each proof's audience issues the next token; the last one names the invoker.
  for (let i = 0; i < proofs.length; i++) {
    const next = i + 1 < proofs.length ? proofs[i + 1]! : invocation
    if (principal(proofs[i]!.aud) !== principal(next.iss)) {
      fail("InvalidAudience", `proof ${i} is addressed to ${proofs[i]!.aud}, but ${next.iss} issued the next token`)
    }
  }
  if (opts.executor !== undefined) {
    const addressee = invocation.aud ?? invocation.sub
    if (principal(addressee) !== principal(opts.executor)) {
      fail("InvalidAudience", `the invocation is addressed to ${addressee}, not to ${opts.executor}`)
    }
  }

  // The root claim: the root proof is issued by its own subject; without proofs the invoker acts on itself.
  const root = proofs[0]
  let subject: string
  if (root === undefined) {
    if (principal(invocation.iss) !== principal(invocation.sub)) {
      fail("InvalidClaim", `without proofs only ${invocation.sub} may invoke on itself, not ${invocation.iss}`)
    }
    subject = invocation.sub
  } else {
    if (root.sub === null) return fail("InvalidClaim", "the root proof has a null subject (a powerline cannot be a root)")
    if (principal(root.iss) !== principal(root.sub)) {
      fail("InvalidClaim", `the root proof is issued by ${root.iss}, not by its subject ${root.sub}`)
    }
    subject = root.sub
  }

  // Subject alignment; a powerline (null) below the root inherits the subject above it.
  proofs.forEach((p, i) => {
    if (p.sub !== null && principal(p.sub) !== principal(subject)) {
      fail("InvalidSubject", `proof ${i} is about ${p.sub}, the chain about ${subject}`)
    }
  })
  if (principal(invocation.sub) !== principal(subject)) {
    fail("InvalidSubject", `the invocation is about ${invocation.sub}, the chain about ${subject}`)
  }

  // Command attenuation: every proof's command covers the invoked one.
  proofs.forEach((p, i) => {
    if (!Command.covers(p.cmd, invocation.cmd)) {
      fail("InvalidClaim", `proof ${i} grants ${p.cmd}, which does not cover ${invocation.cmd}`)
    }
  })

  // Policies on the arguments.
  proofs.forEach((p, i) => {
    const failed = Policy.firstFailure(Envelope.compiledPolicyOf(p), invocation.args)
    if (failed !== undefined) fail("MatchError", `the arguments fail ${describe(failed)} of proof ${i}`)
  })

  // Revocation of any token of the chain.
  const chain: DecodedUcan[] = [...proofs, invocation]
  if (opts.isRevoked !== undefined) {
    for (const token of chain) if (opts.isRevoked(token.cid)) fail("Revoked", `${token.cid} has been revoked`)
  }
  return chain
}

/**
 * Validates an invocation against the supplied proof delegations (any order, extras ignored; the
 * invocation's `prf` says which are used, root first). Never throws for bad tokens: the first failed
 * check comes back as `{ ok: false, error: { name, message } }`.
 *
 * Throws `RangeError` only for a programming error in `opts` (a non-finite `now`, negative limits).
 *
 * @example
 * ```ts
 * const result = Ucan.verifyInvocation(inv, [token], { now: Math.floor(Date.now() / 1000) })
 * if (!result.ok) console.error(result.error.name, result.error.message)
 * ```
 * @since 0.1.0
 * @category validation
 */
export const verifyInvocation = (
  invocation: Uint8Array,
  proofs: ReadonlyArray<Uint8Array>,
  opts: VerifyOptions
): VerifyResult => {
  try {
    return { ok: true, chain: run(invocation, proofs, opts) }
  } catch (error) {
    if (error instanceof UcanError) return { ok: false, error: { name: error.name, message: error.message } }
    throw error
  }
}

/**
 * The command of a revocation (reserved `/ucan` namespace).
 *
 * @since 0.1.0
 * @category constants
 */
export const revokeCommand = "/ucan/revoke"

/**
 * Options of {@link revoke}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RevokeOptions {
  /** The revoker: the issuer of the revoked delegation or of a delegation above it. */
  readonly issuer: Signer
  /** The CID (`bafy…`) of the delegation to revoke. */
  readonly delegation: string
  /**
   * The proof path from the root delegation down to the revoked one (root first, revoked last),
   * as CIDs. The revoker must have issued one of them.
   */
  readonly path: ReadonlyArray<string>
  /** The chain's subject (the root delegation's `sub`). */
  readonly subject: string
  /** Intended executor (e.g. the realm service). @default absent */
  readonly audience?: string
  /** @default null */
  readonly expiration?: number | null
  /** @default 12 random bytes */
  readonly nonce?: Uint8Array
}

/**
 * Issues a revocation: an invocation of `/ucan/revoke` whose `args.ucan` links the revoked
 * delegation and whose proofs are the path from the root to it (PROTOCOL.md §13.6). A revocation
 * is permanent and invalidates only that delegation; other paths keep working.
 *
 * @since 0.1.0
 * @category constructors
 */
export const revoke = (opts: RevokeOptions): Uint8Array => {
  const target = parseCid(opts.delegation)
  if (target === undefined) throw malformed(`${JSON.stringify(opts.delegation)} is not a base32 CIDv1`)
  return invoke({
    issuer: opts.issuer,
    subject: opts.subject,
    command: revokeCommand,
    args: { ucan: target },
    proofs: opts.path,
    ...(opts.audience !== undefined ? { audience: opts.audience } : {}),
    ...(opts.expiration !== undefined ? { expiration: opts.expiration } : {}),
    ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {})
  })
}

/**
 * The outcome of {@link verifyRevocation}: the revoked delegation's CID, or why the revocation is
 * not valid.
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationResult =
  | { readonly ok: true; readonly revoked: string; readonly revoker: string; readonly chain: DecodedUcan[] }
  | { readonly ok: false; readonly error: { readonly name: UcanErrorName; readonly message: string } }

const runRevocation = (
  revocationBytes: Uint8Array,
  proofBytes: ReadonlyArray<Uint8Array>,
  opts: VerifyOptions
): { revoked: string; revoker: string; chain: DecodedUcan[] } => {
  const config = configOf(opts)
  if (!(revocationBytes instanceof Uint8Array)) fail("MalformedToken", "the revocation is not bytes")
  if (revocationBytes.length > config.maxUcanBytes) fail("MalformedToken", "the revocation is over maxUcanBytes")
  const revocation = Envelope.decode(revocationBytes)
  if (revocation.kind !== "invocation") return fail("MalformedToken", "a revocation is an invocation")
  if (revocation.cmd !== revokeCommand) return fail("InvalidClaim", `a revocation invokes ${revokeCommand}, not ${revocation.cmd}`)
  const target = revocation.args["ucan"]
  if (!(target instanceof Link)) return fail("MalformedToken", "a revocation's args.ucan is the revoked delegation's CID")
  if (revocation.prf.length === 0) return fail("InvalidClaim", "a revocation lists the path to the revoked delegation")
  if (revocation.prf.length > config.maxProofChainLength) fail("MalformedToken", "too many proofs")
  const path = resolveProofs(revocation, proofBytes, config)
  const last = path[path.length - 1]!
  if (last.cid !== target.toString()) return fail("InvalidClaim", "the proof path does not end at the revoked delegation")
  path.forEach((p, i) => checkSignature(p, `proof ${i} (${p.cid})`))
  checkSignature(revocation, "the revocation")
  checkTimes(revocation, "the revocation", opts.now, config.leewaySec)
  for (let i = 0; i + 1 < path.length; i++) {
    if (principal(path[i]!.aud) !== principal(path[i + 1]!.iss)) {
      fail("InvalidAudience", `proof ${i} is addressed to ${path[i]!.aud}, but ${path[i + 1]!.iss} issued the next one`)
    }
  }
  const root = path[0]!
  if (root.sub === null) return fail("InvalidClaim", "the root proof has a null subject")
  if (principal(root.iss) !== principal(root.sub)) return fail("InvalidClaim", "the root proof is not issued by its subject")
  const subject = root.sub
  path.forEach((p, i) => {
    if (p.sub !== null && principal(p.sub) !== principal(subject)) fail("InvalidSubject", `proof ${i} is about ${p.sub}`)
  })
  if (principal(revocation.sub) !== principal(subject)) fail("InvalidSubject", `the revocation is about ${revocation.sub}`)
  if (!path.some((p) => principal(p.iss) === principal(revocation.iss))) {
    fail("InvalidClaim", `${revocation.iss} issued no delegation on the path, so it cannot revoke`)
  }
  if (opts.executor !== undefined && principal(revocation.aud ?? revocation.sub) !== principal(opts.executor)) {
    fail("InvalidAudience", `the revocation is not addressed to ${opts.executor}`)
  }
  return { revoked: last.cid, revoker: revocation.iss, chain: [...path, revocation] }
}

/**
 * Validates a revocation (see {@link revoke}): a well-formed `/ucan/revoke` invocation, signed by
 * the issuer of the revoked delegation or of one above it, whose proofs form a valid path (signatures,
 * alignment, subject) from the root to the revoked delegation. The delegations' own time bounds are
 * not checked: revoking an expired delegation is harmless. Never throws for bad tokens.
 *
 * @since 0.1.0
 * @category validation
 */
export const verifyRevocation = (
  revocation: Uint8Array,
  proofs: ReadonlyArray<Uint8Array>,
  opts: VerifyOptions
): RevocationResult => {
  try {
    return { ok: true, ...runRevocation(revocation, proofs, opts) }
  } catch (error) {
    if (error instanceof UcanError) return { ok: false, error: { name: error.name, message: error.message } }
    throw error
  }
}
