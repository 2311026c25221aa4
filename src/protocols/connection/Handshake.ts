/**
 * The checks a `hello` must pass (PROTOCOL.md §3.4, §2.4), as pure functions: version
 * negotiation, the allowed role pairs and the station proof of work.
 *
 * Key invariant: both sides run the same checks on the same two hellos and so reach the same
 * verdict; the listener announces a refusal with `goodbye` and a close, and a dialer that
 * receives a hello it would refuse closes with the same code.
 *
 * The proof of work is computed outside (it needs SHA-256): events carry the peer's leading
 * zero bits, precomputed by the actor from the certificate key.
 *
 * @since 0.1.0
 */
import type { Hello, Role } from "../../wire/Frame.ts"

/**
 * Why a hello is refused: the §3.7 close name.
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal = "version_mismatch" | "role_refused" | "pow_insufficient"

/**
 * The highest version both lists contain, `undefined` if none.
 *
 * @since 0.1.0
 * @category negotiation
 */
export const negotiate = (ours: ReadonlyArray<number>, theirs: ReadonlyArray<number>): number | undefined => {
  let best: number | undefined
  for (const v of theirs) if (ours.includes(v) && (best === undefined || v > best)) best = v
  return best
}

/**
 * Whether a dialer of `dialer` role may talk to a listener of `listener` role: client→station
 * and station↔station only, so exactly when the listener is a station.
 *
 * @since 0.1.0
 * @category roles
 */
export const rolePairAllowed = (_dialer: Role, listener: Role): boolean => listener === "station"

/**
 * Whether a peer passes the station proof of work: clients are exempt, `requiredBits` ≤ 0
 * disables the check.
 *
 * @since 0.1.0
 * @category proof of work
 */
export const powSufficient = (peerRole: Role, peerPowBits: number, requiredBits: number): boolean =>
  peerRole !== "station" || requiredBits <= 0 || peerPowBits >= requiredBits

/**
 * The verdict on the peer's hello: the negotiated version, or the refusal. Checks in order:
 * version, roles, proof of work.
 *
 * @since 0.1.0
 * @category verdicts
 */
export const evaluate = (input: {
  readonly localRole: Role
  readonly localVersions: ReadonlyArray<number>
  readonly direction: "outbound" | "inbound"
  readonly peer: Hello
  readonly peerPowBits: number
  readonly stationPowBits: number
}): { readonly ok: true; readonly version: number } | { readonly ok: false; readonly refusal: Refusal } => {
  const version = negotiate(input.localVersions, input.peer.vers)
  if (version === undefined) return { ok: false, refusal: "version_mismatch" }
  const [dialer, listener] = input.direction === "outbound"
    ? [input.localRole, input.peer.role]
    : [input.peer.role, input.localRole]
  if (!rolePairAllowed(dialer, listener)) return { ok: false, refusal: "role_refused" }
  if (!powSufficient(input.peer.role, input.peerPowBits, input.stationPowBits)) {
    return { ok: false, refusal: "pow_insufficient" }
  }
  return { ok: true, version }
}
