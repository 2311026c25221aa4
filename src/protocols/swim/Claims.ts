/**
 * SWIM claims (PROTOCOL.md §11.1) as the core sees them, and the precedence rules of §11.2 as
 * pure functions.
 *
 * The signature split: the actor opens every received signed claim (`Signed.openClaim`),
 * verifies it over the exact received bytes, checks that an `alive` is self-signed, that
 * `inc` ≤ 2^53 − 1 and that the subject has the station proof of work (§2.4), and penalises
 * the sender otherwise (§14 rows 17 and 22). Only then does it hand the core a `Claim`, with
 * the signed object attached in `signed` so the core can relay it byte for byte (§5: never
 * re-encoded). The core re-checks the cheap structural rules (`problem`) so that it is safe
 * even when driven by a careless harness, but it never sees keys or signatures.
 *
 * Claims the core makes itself (its own `alive`, a refutation, a `suspect` or `dead` it
 * accuses someone of, its graceful leave) have no `signed`: they are the *signer-free
 * representation*. The actor signs them when it encodes a packet (setting `ts` from its wall
 * clock) and may memoise the signature by `(kind, subject, incarnation, addrs)`. The core
 * guarantees that every unsigned claim it emits has `by` = its own id, so the actor never
 * signs on anyone's behalf.
 *
 * Precedence: a member's state is ordered by `(incarnation, rank)` with alive < suspect <
 * dead at equal incarnation, and a claim wins exactly when its key is strictly greater. This
 * is §11.2 read as a join-semilattice: alive(j) beats alive/suspect/dead(i) iff j > i;
 * suspect(j) beats alive(i) iff j ≥ i; dead(j) beats alive/suspect(i) iff j ≥ i. Where §11.2
 * is silent (suspect(j) against dead(i), j > i) the lattice decides, so the outcome never
 * depends on the order claims arrive in.
 *
 * @see PROTOCOL.md §5, §11.1, §11.2, §14 row 22.
 * @since 0.1.0
 */
import type { Signed } from "../../wire/Frame.ts"

/**
 * How the core names a station: a stable string per public key. The actor uses the
 * lower-case hex of the 32-byte key; tests use short names.
 *
 * @since 0.1.0
 * @category models
 */
export type MemberId = string

/**
 * An incarnation number, 0..2^53 − 1. Only the subject raises its own.
 *
 * @since 0.1.0
 * @category models
 */
export type Incarnation = number

/**
 * What a claim asserts about its subject.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "alive" | "suspect" | "dead"

/**
 * A verified claim (or one the core made itself, with no `signed` yet).
 *
 * @since 0.1.0
 * @category models
 */
export interface Claim {
  readonly kind: Kind
  /** The member the claim is about. */
  readonly subject: MemberId
  readonly incarnation: Incarnation
  /** The signer: the subject for `alive` and a graceful `dead`, else the accuser. */
  readonly by: MemberId
  /** The subject's addresses; `alive` claims only. */
  readonly addrs?: ReadonlyArray<string>
  /** The verified signed object, relayed verbatim; absent on the core's own claims. */
  readonly signed?: Signed
}

/**
 * The largest incarnation the wire can carry (§4.3 protocol integers).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxIncarnation: Incarnation = Number.MAX_SAFE_INTEGER

/**
 * An unsigned `alive` claim by its subject.
 *
 * @since 0.1.0
 * @category constructors
 */
export const alive = (subject: MemberId, incarnation: Incarnation, addrs: ReadonlyArray<string> = []): Claim => ({
  kind: "alive",
  subject,
  incarnation,
  by: subject,
  addrs
})

/**
 * An unsigned `suspect` claim by `by`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const suspect = (subject: MemberId, incarnation: Incarnation, by: MemberId): Claim => ({
  kind: "suspect",
  subject,
  incarnation,
  by
})

/**
 * An unsigned `dead` claim by `by` (`by` = `subject` is a graceful leave).
 *
 * @since 0.1.0
 * @category constructors
 */
export const dead = (subject: MemberId, incarnation: Incarnation, by: MemberId): Claim => ({
  kind: "dead",
  subject,
  incarnation,
  by
})

/**
 * Whether a `dead` claim is its subject leaving on purpose.
 *
 * @since 0.1.0
 * @category guards
 */
export const isLeave = (claim: Claim): boolean => claim.kind === "dead" && claim.by === claim.subject

/**
 * The rank of a kind at equal incarnation: alive < suspect < dead.
 *
 * @since 0.1.0
 * @category precedence
 */
export const rank = (kind: Kind): number => kind === "alive" ? 0 : kind === "suspect" ? 1 : 2

/**
 * Orders two `(kind, incarnation)` pairs by precedence: negative, zero or positive.
 *
 * @since 0.1.0
 * @category precedence
 */
export const compare = (
  a: { readonly kind: Kind; readonly incarnation: Incarnation },
  b: { readonly kind: Kind; readonly incarnation: Incarnation }
): number => a.incarnation !== b.incarnation ? a.incarnation - b.incarnation : rank(a.kind) - rank(b.kind)

/**
 * Whether `incoming` overrides a member currently at `current` (§11.2): strictly greater.
 * Equal keys never override, so a replayed claim is a no-op (idempotence).
 *
 * @since 0.1.0
 * @category precedence
 */
export const supersedes = (
  incoming: { readonly kind: Kind; readonly incarnation: Incarnation },
  current: { readonly kind: Kind; readonly incarnation: Incarnation }
): boolean => compare(incoming, current) > 0

/**
 * The join of two claims about one subject: the one that takes precedence, the left one on a
 * tie. Commutative and associative on `(kind, incarnation)`, idempotent outright.
 *
 * @since 0.1.0
 * @category precedence
 */
export const join = (a: Claim, b: Claim): Claim => supersedes(b, a) ? b : a

/**
 * Why a claim is malformed, or `undefined` if it is acceptable. The actor has already
 * checked signatures; this catches structure only (§11.1, §14 row 22).
 *
 * @since 0.1.0
 * @category validation
 */
export const problem = (claim: Claim): string | undefined => {
  if (!Number.isSafeInteger(claim.incarnation) || claim.incarnation < 0) return "incarnation out of range"
  if (claim.subject.length === 0 || claim.by.length === 0) return "empty member id"
  if (claim.kind === "alive" && claim.by !== claim.subject) return "alive claim not signed by its subject"
  if (claim.kind === "suspect" && claim.by === claim.subject) return "suspect claim signed by its subject"
  return undefined
}

/**
 * What a claim about another member does to a table entry at `current` (§11.2):
 * - `join`: an unknown subject announces itself (alive only);
 * - `override`: the claim takes precedence and replaces the entry;
 * - `confirm`: a suspect claim at the current suspicion from an accuser not yet counted;
 * - `stale`: older or equal, nothing changes;
 * - `unknown`: a suspect or dead claim about a subject we do not hold.
 *
 * @since 0.1.0
 * @category precedence
 */
export type Decision = "join" | "override" | "confirm" | "stale" | "unknown"

/**
 * Decides a claim about another member against its current entry (see `Decision`).
 * `accusers` lists who already accused a suspect member, so repeats are not confirmations.
 *
 * @since 0.1.0
 * @category precedence
 */
export const decide = (
  current: { readonly kind: Kind; readonly incarnation: Incarnation } | undefined,
  claim: Claim,
  accusers: ReadonlyArray<MemberId> = []
): Decision => {
  if (current === undefined) return claim.kind === "alive" ? "join" : "unknown"
  if (supersedes(claim, current)) return "override"
  // Lifeguard: independent suspicions of the same incarnation shorten the window (§11.4).
  if (
    claim.kind === "suspect" && current.kind === "suspect" && claim.incarnation === current.incarnation &&
    !accusers.includes(claim.by)
  ) return "confirm"
  return "stale"
}

/**
 * What a claim about ourselves asks of us (§11.2): `refute` when it is a suspect or dead
 * claim at or above our incarnation, or an alive claim above it (a predecessor's, from
 * before a restart that lost the persisted incarnation); `ignore` otherwise, including the
 * echo of our own current alive claim. A station that is leaving refutes nothing.
 *
 * @since 0.1.0
 * @category precedence
 */
export const aboutSelf = (own: Incarnation, claim: Claim, leaving: boolean): "refute" | "ignore" => {
  if (leaving) return "ignore"
  if (claim.kind === "alive") return claim.incarnation > own ? "refute" : "ignore"
  return claim.incarnation >= own ? "refute" : "ignore"
}

/**
 * Two claims say the same thing (kind, subject, incarnation, signer and addresses); the
 * signature bytes are not compared.
 *
 * @since 0.1.0
 * @category guards
 */
export const sameContent = (a: Claim, b: Claim): boolean =>
  a.kind === b.kind && a.subject === b.subject && a.incarnation === b.incarnation && a.by === b.by &&
  sameAddrs(a.addrs ?? [], b.addrs ?? [])

/**
 * Two address lists are equal, element by element.
 *
 * @since 0.1.0
 * @category guards
 */
export const sameAddrs = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])
