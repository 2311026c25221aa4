/**
 * UCAN 1.0 capabilities for the Macula mesh (PROTOCOL.md §13): the members of the public `Ucan`
 * namespace and the `UcanError` class.
 *
 * - Tokens: `delegate`, `invoke`, `revoke` build signed DAG-CBOR envelopes (Ed25519 varsig);
 *   `decode` checks structure and throws `UcanError("MalformedToken")`; `cid` names a token
 *   (`bafy…`).
 * - Validation: `verifyInvocation(invocation, proofs, { now })` walks the chain — signatures, time
 *   bounds with leeway, principal and subject alignment (powerlines), command attenuation, policies,
 *   revocation — and returns `{ ok, chain }` or `{ ok: false, error: { name, message } }`;
 *   `verifyRevocation` validates a `/ucan/revoke`.
 * - Policies: the `Policy` type, `matchesPolicy`, `globMatches`; commands: `commandCovers`.
 * - Realms: `RealmCapabilities` issues member delegations for the mesh commands and runs the
 *   station-side check.
 *
 * Key invariant: a token is accepted only in its one canonical encoding, and the signature covers
 * exactly the received bytes, so CIDs and verdicts agree on every node.
 *
 * Not here: key management (`Identity`), replay and revocation state (stations keep it).
 *
 * @example
 * ```ts
 * import * as Ucan from "./identity/ucan/index.ts"
 *
 * const dlg = Ucan.delegate({ issuer: authority, audience: alice.did, subject: authority.did,
 *   command: "/mesh", expiration: now + 3_600 })
 * const inv = Ucan.invoke({ issuer: alice, subject: authority.did, command: "/mesh/call",
 *   args: { realm: "io.example", proc: "io.example/acme/app/orders/place_v1" },
 *   proofs: [Ucan.cid(dlg)], expiration: now + 60 })
 * Ucan.verifyInvocation(inv, [dlg], { now }).ok // true
 * ```
 *
 * @since 0.1.0
 */

export {
  /**
   * Issues a delegation.
   *
   * @since 0.1.0
   * @category constructors
   */
  delegate,
  /**
   * Issues an invocation.
   *
   * @since 0.1.0
   * @category constructors
   */
  invoke,
  /**
   * Issues a `/ucan/revoke` invocation.
   *
   * @since 0.1.0
   * @category constructors
   */
  revoke,
  /**
   * Decodes a token, or throws a `UcanError` named `MalformedToken`.
   *
   * @since 0.1.0
   * @category decoding
   */
  decode,
  /**
   * The CID (`bafy…`) of the bytes of a token.
   *
   * @since 0.1.0
   * @category getters
   */
  cid,
  /**
   * Validates an invocation against its proofs, and never throws for bad tokens.
   *
   * @since 0.1.0
   * @category validation
   */
  verifyInvocation,
  /**
   * Validates a revocation.
   *
   * @since 0.1.0
   * @category validation
   */
  verifyRevocation,
  /**
   * The revocation command, `/ucan/revoke`.
   *
   * @since 0.1.0
   * @category constants
   */
  revokeCommand,
  /**
   * Bytes in a default nonce.
   *
   * @since 0.1.0
   * @category constants
   */
  defaultNonceBytes
} from "./Ucan.ts"

export type {
  /**
   * Options of `delegate`.
   *
   * @since 0.1.0
   * @category models
   */
  DelegateOptions,
  /**
   * Options of `invoke`.
   *
   * @since 0.1.0
   * @category models
   */
  InvokeOptions,
  /**
   * Options of `revoke`.
   *
   * @since 0.1.0
   * @category models
   */
  RevokeOptions,
  /**
   * The outcome of `verifyRevocation`.
   *
   * @since 0.1.0
   * @category models
   */
  RevocationResult,
  /**
   * Options of `verifyInvocation`: `now`, `leewaySec`, `isRevoked`, `executor` and the `Config` knobs.
   *
   * @since 0.1.0
   * @category models
   */
  VerifyOptions,
  /**
   * The outcome of `verifyInvocation`.
   *
   * @since 0.1.0
   * @category models
   */
  VerifyResult
} from "./Ucan.ts"

export type {
  /**
   * Fields every decoded token has.
   *
   * @since 0.1.0
   * @category models
   */
  DecodedCommon,
  /**
   * A decoded delegation.
   *
   * @since 0.1.0
   * @category models
   */
  DecodedDelegation,
  /**
   * A decoded invocation.
   *
   * @since 0.1.0
   * @category models
   */
  DecodedInvocation,
  /**
   * A decoded token of either kind.
   *
   * @since 0.1.0
   * @category models
   */
  DecodedUcan,
  /**
   * What signs a token: `did` and `sign` (an `Identity` is one).
   *
   * @since 0.1.0
   * @category models
   */
  Signer,
  /**
   * An accepted specification version.
   *
   * @since 0.1.0
   * @category models
   */
  Version
} from "./Envelope.ts"

export {
  /**
   * The only accepted varsig header: Ed25519 over DAG-CBOR.
   *
   * @since 0.1.0
   * @category constants
   */
  ed25519DagCborHeader,
  /**
   * Accepted specification versions (`1.0.0`, `1.0.0-rc.1`).
   *
   * @since 0.1.0
   * @category constants
   */
  versions
} from "./Envelope.ts"

export type {
  /**
   * A policy: statements that must all hold on the `args` of an invocation.
   *
   * @since 0.1.0
   * @category models
   */
  Policy,
  /**
   * One policy statement.
   *
   * @since 0.1.0
   * @category models
   */
  Statement
} from "./Policy.ts"

export {
  /**
   * Whether a policy holds on some arguments.
   *
   * @since 0.1.0
   * @category policies
   */
  matches as matchesPolicy,
  /**
   * Whether a string matches a `like` glob.
   *
   * @since 0.1.0
   * @category policies
   */
  globMatches
} from "./Policy.ts"

export {
  /**
   * Whether a delegated command proves an invoked one (segment prefix, and `/` proves all).
   *
   * @since 0.1.0
   * @category commands
   */
  covers as commandCovers,
  /**
   * Whether a string is a valid command.
   *
   * @since 0.1.0
   * @category commands
   */
  isValid as isValidCommand
} from "./Command.ts"

export type {
  /**
   * An IPLD value (arguments, metadata, policy literals).
   *
   * @since 0.1.0
   * @category models
   */
  Ipld,
  /**
   * An IPLD list.
   *
   * @since 0.1.0
   * @category models
   */
  IpldList,
  /**
   * An IPLD map.
   *
   * @since 0.1.0
   * @category models
   */
  IpldMap
} from "./DagCbor.ts"

export {
  /**
   * A CID inside IPLD data (DAG-CBOR tag 42).
   *
   * @since 0.1.0
   * @category models
   */
  Link,
  /**
   * Parses a base32 CIDv1 text.
   *
   * @since 0.1.0
   * @category parsing
   */
  parseCid
} from "./Cid.ts"

/**
 * Validation knobs (`maxUcanBytes`, `maxProofChainLength`, `leewaySec`) and their defaults.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Config from "./Config.ts"

/**
 * Realm membership: member delegations for the mesh commands and the station-side check.
 *
 * @since 0.1.0
 * @category modules
 */
export * as RealmCapabilities from "./RealmCapabilities.ts"

/**
 * Revocations as stations receive them: verification of a `/ucan/revoke` and of a DHT
 * `revocation` record, its key, and how long it is kept.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Revocation from "./Revocation.ts"

export {
  /**
   * The error of this module, whose `name` is a `UcanErrorName`.
   *
   * @since 0.1.0
   * @category errors
   */
  UcanError,
  /**
   * Whether a value is a `UcanError`.
   *
   * @since 0.1.0
   * @category guards
   */
  isUcanError,
  /**
   * Every `UcanErrorName`.
   *
   * @since 0.1.0
   * @category constants
   */
  ucanErrorNames
} from "./UcanError.ts"

export type {
  /**
   * Why a token or chain was refused.
   *
   * @since 0.1.0
   * @category models
   */
  UcanErrorName
} from "./UcanError.ts"
