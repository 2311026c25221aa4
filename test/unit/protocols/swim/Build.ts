/**
 * Builders for SWIM core tests: states with a given membership, claims, and a scratch turn.
 * States are built through the core's own operations, then the broadcast queue and emitted
 * commands are dropped, so a test sees only what its own event causes.
 */
import * as Claims from "../../../../src/protocols/swim/Claims.ts"
import type { Claim } from "../../../../src/protocols/swim/Claims.ts"
import * as Config from "../../../../src/protocols/swim/Config.ts"
import * as Dissemination from "../../../../src/protocols/swim/Dissemination.ts"
import * as Membership from "../../../../src/protocols/swim/Membership.ts"
import * as State from "../../../../src/protocols/swim/State.ts"

export type MemberSpec =
  | string
  | { readonly id: string; readonly status?: State.Status; readonly incarnation?: number; readonly addrs?: ReadonlyArray<string> }

export const turn = (config: Config.Config = Config.local, now = 0): State.Turn => ({ config, now, out: [] })

/** A state for `self` holding `members` (alive at incarnation 0 unless said otherwise). */
export const swimState = (opts: {
  readonly self: string
  readonly incarnation?: number
  readonly members?: ReadonlyArray<MemberSpec>
  readonly config?: Config.Config
  readonly seed?: number
  readonly now?: number
}): State.State => {
  const t = turn(opts.config ?? Config.local, opts.now ?? 0)
  let s = State.initial({ self: opts.self, incarnation: opts.incarnation ?? 0, addrs: [`quic://${opts.self}`], seed: opts.seed ?? 1 })
  for (const spec of opts.members ?? []) {
    const m = typeof spec === "string" ? { id: spec } : spec
    const inc = m.incarnation ?? 0
    s = Membership.apply(t, s, Claims.alive(m.id, inc, m.addrs ?? [`quic://${m.id}`]), undefined)
    if (m.status === "suspect") s = Membership.apply(t, s, Claims.suspect(m.id, inc, opts.self), undefined)
    if (m.status === "dead") s = Membership.apply(t, s, Claims.dead(m.id, inc, opts.self), undefined)
  }
  return { ...s, queue: Dissemination.empty }
}

export const alive = (id: string, incarnation: number, addrs: ReadonlyArray<string> = [`quic://${id}`]): Claim =>
  Claims.alive(id, incarnation, addrs)

export const suspect = (opts: { readonly about: string; readonly incarnation: number; readonly by?: string }): Claim =>
  Claims.suspect(opts.about, opts.incarnation, opts.by ?? "z")

export const dead = (opts: { readonly about: string; readonly incarnation: number; readonly by?: string }): Claim =>
  Claims.dead(opts.about, opts.incarnation, opts.by ?? "z")

/** The queued claims of a state, least-sent first as they would be taken. */
export const queued = (s: State.State): ReadonlyArray<Claim> =>
  [...s.queue.entries.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order).map((e) => e.claim)
