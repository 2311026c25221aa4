/**
 * Everything that can happen to the SWIM core: packets and send failures from the network,
 * fired timers, and the actor's local requests. Every event carries `now`, the monotonic time
 * stamped where it was produced (packets at ingress, timers when they fire).
 *
 * Call order: `Start` once, then `Join` with the seeds the actor could dial, then anything.
 * Packets may arrive before `Start` (they are answered); timers cannot, as none is set yet.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Millis } from "../../core/Millis.ts"
import type { MemberId } from "./Claims.ts"
import type { Packet } from "./Packet.ts"
import type { TimerKey } from "./Timer.ts"

/**
 * An input of the SWIM core.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** Begin: queue our alive claim, persist our incarnation, arm the probe and push-pull timers. */
  Start: { readonly now: Millis }
  /** Exchange full state with these members (the seeds, once dialled and identified). */
  Join: { readonly now: Millis; readonly peers: ReadonlyArray<MemberId> }
  /** A packet from member `from` (identified by its TLS certificate), claims verified. */
  PacketReceived: { readonly now: Millis; readonly from: MemberId; readonly packet: Packet }
  /** A `Send` could not be carried out (dial failed, connection gone). */
  SendFailed: { readonly now: Millis; readonly to: MemberId; readonly packet: Packet }
  /** A timer set by `SetTimer` fired. */
  TimerFired: { readonly now: Millis; readonly timer: TimerKey; readonly generation: number }
  /** Our addresses changed: a new alive claim with a higher incarnation. */
  UpdateAddresses: { readonly now: Millis; readonly addrs: ReadonlyArray<string> }
  /** Graceful leave: gossip our own dead claim; refute nothing from now on. */
  Leave: { readonly now: Millis }
}>

/**
 * Constructors and matchers for `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()
