/**
 * Sending `resync` (PROTOCOL.md §6, §15.2): who may send it and what it may ask for.
 *
 * `resync` travels on the control stream, which the dialer opened (§3.4) but both sides write
 * (`hello`, `ping`, `goodbye` go both ways). Its direction is S→any: only a station sends it, to
 * a client or a peer station, whichever side dialled, and only once both hellos are exchanged.
 * `what` names soft state to replay: `sub` (a client's subscriptions), `adv` (a client's
 * advertisements), `interest` (a peer station's interest).
 *
 * @since 0.1.0
 */
import type { ResyncWhat } from "../../wire/Frame.ts"
import type { Config } from "./Config.ts"
import type { State } from "./State.ts"

/**
 * Why a `resync` cannot go out now.
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal =
  | { readonly reason: "not_station"; readonly detail: string }
  | { readonly reason: "not_ready"; readonly detail: string }
  | { readonly reason: "invalid_what"; readonly detail: string }

const kinds: ReadonlyArray<ResyncWhat> = ["sub", "adv", "interest"]

/**
 * `what` without duplicates, in the catalogue's order (`sub`, `adv`, `interest`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const normalise = (what: ReadonlyArray<ResyncWhat>): ReadonlyArray<ResyncWhat> => kinds.filter((k) => what.includes(k))

/**
 * Whether this side may send `resync {what}` on the connection in `state`: `undefined` if it
 * may, else why not. Pure; the step applies it, and the actor uses it to answer the caller with a
 * typed failure.
 *
 * @since 0.1.0
 * @category guards
 */
export const refusal = (config: Config, state: State, what: ReadonlyArray<ResyncWhat>): Refusal | undefined => {
  if (config.role !== "station") return { reason: "not_station", detail: "only a station sends resync (S→any)" }
  if (what.length === 0 || what.some((w) => !kinds.includes(w))) {
    return { reason: "invalid_what", detail: `what must be a non-empty subset of ${kinds.join(", ")}` }
  }
  if (state.phase !== "ready" || state.control === undefined) {
    return { reason: "not_ready", detail: `connection ${state.phase}` }
  }
  return undefined
}
