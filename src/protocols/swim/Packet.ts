/**
 * The SWIM messages as the core sees them, one per `swim.*` frame of PROTOCOL.md §6, with
 * verified claims in place of signed objects.
 *
 * The actor maps frames to packets one for one: `swim.ping` ↔ `Ping`, `swim.ping_req` ↔
 * `PingReq` (`pk` ↔ `target`), `swim.ack` ↔ `Ack`, `swim.nack` ↔ `Nack`, `swim.sync` ↔
 * `Sync`; `id` ↔ `seq`, `g`/`m` ↔ `claims`. On the way in, each signed claim is opened and
 * verified first (see `Claims`); one that fails is dropped from the list and the sender
 * penalised, and the rest of the packet still counts. On the way out, a claim with `signed`
 * goes out verbatim and one without is signed by the actor.
 *
 * A `swim.sync` reply carries the request's `id`; the core tells a reply from a request by
 * that id (see `State.pendingSyncs`), as the wire has no flag for it.
 *
 * @see PROTOCOL.md §6 (the `swim.*` rows), §11.3, §11.5.
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Claim, MemberId } from "./Claims.ts"

/**
 * A SWIM message. `seq` is the frame's `id`: unique per sender among its requests in flight.
 *
 * @since 0.1.0
 * @category models
 */
export type Packet = Data.TaggedEnum<{
  /** Direct probe; `claims` piggybacked, the buddy claim first when the target is suspect. */
  Ping: { readonly seq: number; readonly claims: ReadonlyArray<Claim> }
  /** Ask the receiver to probe `target` for us and pass the ack back with our `seq`. */
  PingReq: { readonly seq: number; readonly target: MemberId; readonly claims: ReadonlyArray<Claim> }
  /** Answer to a ping (or a relayed answer to a ping-req). */
  Ack: { readonly seq: number; readonly claims: ReadonlyArray<Claim> }
  /** A helper heard nothing from the target in time (Lifeguard). */
  Nack: { readonly seq: number }
  /** Push-pull: the sender's full membership; a request and its reply share `seq`. */
  Sync: { readonly seq: number; readonly claims: ReadonlyArray<Claim> }
}>

/**
 * Constructors and matchers for `Packet`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Packet = Data.taggedEnum<Packet>()

/**
 * The claims a packet carries (none for `Nack`).
 *
 * @since 0.1.0
 * @category getters
 */
export const claimsOf = (p: Packet): ReadonlyArray<Claim> => p._tag === "Nack" ? [] : p.claims
