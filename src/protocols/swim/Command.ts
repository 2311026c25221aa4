/**
 * What the SWIM core asks its actor to do, in order, after each step, and the membership
 * changes it reports (PROTOCOL.md §11.6: verdicts act).
 *
 * The actor carries out each command: `Send` encodes the packet (signing the core's own
 * claims, relaying others verbatim) and writes it on the swim lane of that member's
 * connection, reporting a failure back as `SendFailed`; `SetTimer`/`CancelTimer` drive its
 * timer map; `PersistIncarnation` writes the own incarnation before any claim carrying it
 * is sent (§15.2); `Penalise` lowers the sender's peer score (§14); `Emit` publishes a
 * membership change, on which the node removes a dead or departed station from every DHT
 * bucket, closes its connections and drops its interest and provider entries, and
 * deprioritises a suspect as first hop.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Millis } from "../../core/Millis.ts"
import type { Incarnation, MemberId } from "./Claims.ts"
import type { Packet } from "./Packet.ts"
import type { TimerKey } from "./Timer.ts"

/**
 * A membership change, as observed by this station.
 *
 * @since 0.1.0
 * @category models
 */
export type Change = Data.TaggedEnum<{
  /** Joined, revived or refuted a suspicion; or changed its addresses. */
  MemberAlive: { readonly member: MemberId; readonly incarnation: Incarnation; readonly addrs: ReadonlyArray<string> }
  /** Suspected by `by`; deprioritise it until it refutes or dies. */
  MemberSuspect: { readonly member: MemberId; readonly incarnation: Incarnation; readonly by: MemberId }
  /** Declared dead by `by` (ourselves when our suspicion window ran out): act at once. */
  MemberDead: { readonly member: MemberId; readonly incarnation: Incarnation; readonly by: MemberId }
  /** Left on purpose (a dead claim signed by itself): act as for dead, without alarm. */
  MemberLeft: { readonly member: MemberId; readonly incarnation: Incarnation }
}>

/**
 * Constructors and matchers for `Change`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Change = Data.taggedEnum<Change>()

/**
 * A command for the actor.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Send `packet` to member `to` on its swim lane; a failure comes back as `SendFailed`. */
  Send: { readonly to: MemberId; readonly packet: Packet }
  /** Fire `TimerFired {timer, generation}` at `at`, replacing any pending timer of that key. */
  SetTimer: { readonly timer: TimerKey; readonly at: Millis; readonly generation: number }
  /** Forget the pending timer of that key. */
  CancelTimer: { readonly timer: TimerKey }
  /** Store the own incarnation durably; a restart resumes at stored + 1 (§15.2). */
  PersistIncarnation: { readonly incarnation: Incarnation }
  /** `peer` sent a malformed claim the actor should have caught: major penalty (§14 row 22). */
  Penalise: { readonly peer: MemberId; readonly reason: string }
  /** Publish a membership change. */
  Emit: { readonly change: Change }
}>

/**
 * Constructors and matchers for `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()
