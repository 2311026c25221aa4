/**
 * The UCAN 1.0 envelope and the two payloads this project uses, delegation and invocation.
 *
 * An envelope is the DAG-CBOR array `[signature, {h: varsig header, "ucan/<dlg|inv>@<version>": payload}]`.
 * The only accepted varsig header is Ed25519 over DAG-CBOR (`34 01 ed 01 ed 01 13 71`); the signature
 * covers the exact received bytes of the second element. Decoders accept the `@1.0.0` tags and the
 * older `@1.0.0-rc.1` ones; encoders write `@1.0.0` (PROTOCOL.md §13.1).
 *
 * Decoding checks structure only (canonical DAG-CBOR, required fields and their types, a valid command
 * and policy); it does not verify signatures, times or chains — `Ucan.verifyInvocation` does. Anything
 * that is not a well-formed token throws `UcanError("MalformedToken")`; the signature field may have
 * any length here, so a truncated signature is reported later as `InvalidSignature`, as the fixtures
 * expect.
 *
 * @since 0.1.0
 */
import * as Bytes from "../../core/Bytes.ts"
import { cidOf, Link, parseCid } from "./Cid.ts"
import * as Command from "./Command.ts"
import * as DagCbor from "./DagCbor.ts"
import type { Ipld, IpldMap } from "./DagCbor.ts"
import * as Policy from "./Policy.ts"
import { UcanError } from "./UcanError.ts"

/**
 * The varsig header of an Ed25519 signature over DAG-CBOR: the only one accepted.
 *
 * @since 0.1.0
 * @category constants
 */
export const ed25519DagCborHeader: Uint8Array = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71)

/**
 * Specification versions a decoder accepts; encoders write the first.
 *
 * @since 0.1.0
 * @category constants
 */
export const versions = ["1.0.0", "1.0.0-rc.1"] as const

/**
 * A specification version of {@link versions}.
 *
 * @since 0.1.0
 * @category models
 */
export type Version = (typeof versions)[number]

/**
 * Fields shared by both payloads, plus the envelope facts every decoded token carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedCommon {
  /** The envelope exactly as received. */
  readonly bytes: Uint8Array
  /** CIDv1 (dag-cbor, sha2-256) of `bytes`, `bafy…`. */
  readonly cid: string
  /** The signature bytes, of whatever length the token carried. */
  readonly signature: Uint8Array
  /** The exact bytes the signature covers (the second element of the envelope). */
  readonly signedBytes: Uint8Array
  /** The specification version of the payload tag. */
  readonly version: Version
  /** Issuer DID: the signer. */
  readonly iss: string
  /** The command, e.g. `/mesh/publish`. */
  readonly cmd: string
  /** The nonce bytes. */
  readonly nonce: Uint8Array
  /** Expiry, unix seconds, or `null` for a token that never expires. */
  readonly exp: number | null
  /** Signed metadata that carries no authority. */
  readonly meta?: IpldMap
}

/**
 * A decoded delegation (`ucan/dlg@…`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedDelegation extends DecodedCommon {
  readonly kind: "delegation"
  /** Audience DID: the delegate. */
  readonly aud: string
  /** Subject DID, or `null` for a powerline delegation. */
  readonly sub: string | null
  /** Constraints on the `args` of invocations this delegation proves. */
  readonly pol: Policy.Policy
  /** Not valid before, unix seconds. */
  readonly nbf?: number
}

/**
 * A decoded invocation (`ucan/inv@…`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedInvocation extends DecodedCommon {
  readonly kind: "invocation"
  /** Subject DID: whose resource the command acts on. */
  readonly sub: string
  /** Intended executor, when it is not the subject. */
  readonly aud?: string
  /** The command's arguments. */
  readonly args: IpldMap
  /** Proof CIDs (`bafy…`), root delegation first. */
  readonly prf: ReadonlyArray<string>
  /** Claimed issuance time, unix seconds (informative only). */
  readonly iat?: number
  /** CID of the receipt that caused this invocation. */
  readonly cause?: string
}

/**
 * A decoded token of either kind.
 *
 * @since 0.1.0
 * @category models
 */
export type DecodedUcan = DecodedDelegation | DecodedInvocation

/** Compiled policies and binary proof links, kept beside the public (plain-data) view. */
const compiledPolicies = new WeakMap<DecodedDelegation, Policy.Compiled>()
const proofLinks = new WeakMap<DecodedInvocation, ReadonlyArray<Link>>()

/**
 * The compiled policy of a decoded delegation.
 *
 * @since 0.1.0
 * @category getters
 */
export const compiledPolicyOf = (delegation: DecodedDelegation): Policy.Compiled => {
  const known = compiledPolicies.get(delegation)
  if (known !== undefined) return known
  const compiled = Policy.compile(delegation.pol as unknown as Ipld)
  if (typeof compiled === "string") throw new UcanError("MalformedToken", compiled)
  compiledPolicies.set(delegation, compiled)
  return compiled
}

/**
 * The proof links of a decoded invocation, as binary CIDs.
 *
 * @since 0.1.0
 * @category getters
 */
export const proofLinksOf = (invocation: DecodedInvocation): ReadonlyArray<Link> =>
  proofLinks.get(invocation) ??
    invocation.prf.map((text) => {
      const link = parseCid(text)
      if (link === undefined) throw malformed(`invalid proof CID ${JSON.stringify(text)}`)
      return link
    })

const malformed = (message: string): UcanError => new UcanError("MalformedToken", message)

const isMap = (v: Ipld | undefined): v is IpldMap =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Link)

/** Field accessors that throw `MalformedToken` naming the field. */
class Fields {
  constructor(private readonly map: IpldMap, private readonly decoded: DagCbor.Decoded, private readonly what: string) {}

  has(key: string): boolean {
    return Object.hasOwn(this.map, key)
  }

  private get(key: string): Ipld {
    if (!this.has(key)) throw malformed(`${this.what} lacks the required field ${key}`)
    return this.map[key]!
  }

  string(key: string): string {
    const v = this.get(key)
    if (typeof v !== "string") throw malformed(`${this.what}.${key} is not a string`)
    return v
  }

  did(key: string): string {
    const v = this.string(key)
    if (!v.startsWith("did:")) throw malformed(`${this.what}.${key} is not a DID`)
    return v
  }

  bytes(key: string): Uint8Array {
    const v = this.get(key)
    if (!(v instanceof Uint8Array)) throw malformed(`${this.what}.${key} is not bytes`)
    return v
  }

  map_(key: string): IpldMap {
    const v = this.get(key)
    if (!isMap(v)) throw malformed(`${this.what}.${key} is not a map`)
    return v
  }

  /** A timestamp: an integer (not a float) within ±(2^53 − 1), as the specification requires. */
  time(key: string): number {
    const v = this.get(key)
    if (typeof v !== "number" || this.decoded.isFloatEntry(this.map, key) || !Number.isSafeInteger(v)) {
      throw malformed(`${this.what}.${key} is not an integer timestamp within 2^53`)
    }
    return v
  }

  timeOrNull(key: string): number | null {
    return this.get(key) === null ? null : this.time(key)
  }
}

const optional = <K extends string, V>(key: K, present: boolean, read: () => V): { readonly [P in K]?: V } =>
  (present ? { [key]: read() } : {}) as { readonly [P in K]?: V }

/**
 * Decodes and structurally checks a token. Throws `UcanError("MalformedToken")` for anything that
 * is not one; never any other error.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array): DecodedUcan => {
  if (!(bytes instanceof Uint8Array)) throw malformed("a token is a Uint8Array")
  let decoded: DagCbor.Decoded
  try {
    decoded = DagCbor.decode(bytes)
  } catch (cause) {
    throw malformed(`not canonical DAG-CBOR: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  const top = decoded.value
  if (!Array.isArray(top) || top.length !== 2) throw malformed("an envelope is a list of two elements")
  const [signature, sigPayload] = top as ReadonlyArray<Ipld>
  if (!(signature instanceof Uint8Array)) throw malformed("the envelope's first element is not a signature")
  if (!isMap(sigPayload)) throw malformed("the envelope's second element is not a map")
  const keys = Object.keys(sigPayload)
  if (keys.length !== 2 || !keys.includes("h")) throw malformed("the signed payload holds exactly h and one payload tag")
  const header = sigPayload["h"]
  if (!(header instanceof Uint8Array) || !Bytes.equals(header, ed25519DagCborHeader)) {
    throw malformed("unsupported varsig header (only Ed25519 over DAG-CBOR is accepted)")
  }
  const tag = keys.find((k) => k !== "h")!
  const match = /^ucan\/(dlg|inv)@(.+)$/.exec(tag)
  const version = versions.find((v) => v === match?.[2])
  if (match === null || version === undefined) throw malformed(`unknown payload tag ${JSON.stringify(tag)}`)
  const payload = sigPayload[tag]
  if (!isMap(payload)) throw malformed(`${tag} is not a map`)
  const [start, end] = decoded.elementSpans[1]!
  const f = new Fields(payload, decoded, match[1] === "dlg" ? "delegation" : "invocation")
  const cmd = f.string("cmd")
  const commandProblem = Command.problem(cmd)
  if (commandProblem !== undefined) throw malformed(`${JSON.stringify(cmd)}: ${commandProblem}`)
  const common = {
    bytes,
    cid: cidOf(bytes),
    signature,
    signedBytes: bytes.subarray(start, end),
    version,
    iss: f.did("iss"),
    cmd,
    nonce: f.bytes("nonce"),
    exp: f.timeOrNull("exp"),
    ...optional("meta", f.has("meta"), () => f.map_("meta"))
  }
  if (match[1] === "dlg") {
    const sub = payload["sub"] === null ? null : f.did("sub")
    if (!f.has("pol")) throw malformed("delegation lacks the required field pol")
    const compiled = Policy.compile(payload["pol"]!)
    if (typeof compiled === "string") throw malformed(`invalid policy: ${compiled}`)
    const delegation: DecodedDelegation = {
      kind: "delegation",
      ...common,
      aud: f.did("aud"),
      sub,
      pol: compiled.policy,
      ...optional("nbf", f.has("nbf"), () => f.time("nbf"))
    }
    compiledPolicies.set(delegation, compiled)
    return delegation
  }
  const prf = payload["prf"]
  if (!Array.isArray(prf)) throw malformed(f.has("prf") ? "invocation.prf is not a list" : "invocation lacks the required field prf")
  const links = (prf as ReadonlyArray<Ipld>).map((l) => {
    if (!(l instanceof Link)) throw malformed("invocation.prf holds something other than a CID")
    return l
  })
  const cause = payload["cause"]
  if (f.has("cause") && !(cause instanceof Link)) throw malformed("invocation.cause is not a CID")
  const invocation: DecodedInvocation = {
    kind: "invocation",
    ...common,
    sub: f.did("sub"),
    ...optional("aud", f.has("aud"), () => f.did("aud")),
    args: f.map_("args"),
    prf: links.map((l) => l.toString()),
    ...optional("iat", f.has("iat"), () => f.time("iat")),
    ...optional("cause", cause instanceof Link, () => (cause as Link).toString())
  }
  proofLinks.set(invocation, links)
  return invocation
}

/**
 * Something that signs: the project's `Identity` satisfies it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signer {
  readonly did: string
  readonly sign: (message: Uint8Array) => Uint8Array
}

/**
 * Encodes and signs a payload under the `@1.0.0` tag of `kind`; returns the envelope bytes.
 * The payload must be valid IPLD (DAG-CBOR encoding errors become `MalformedToken`).
 *
 * @since 0.1.0
 * @category encoding
 */
export const seal = (kind: "dlg" | "inv", payload: IpldMap, signer: Signer): Uint8Array => {
  let signed: Uint8Array
  try {
    signed = DagCbor.encode({ h: ed25519DagCborHeader, [`ucan/${kind}@${versions[0]}`]: payload })
  } catch (cause) {
    throw malformed(`payload is not encodable as DAG-CBOR: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  const signature = signer.sign(signed)
  // [signature, signed]: the signed element is spliced in verbatim, so the signature covers its exact bytes.
  return Bytes.concat(Uint8Array.of(0x82), DagCbor.encode(signature), signed)
}
