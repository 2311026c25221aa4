/**
 * The relay core of content sessions (PROTOCOL.md §12.3, `to`), one event at a time: what is
 * relayed and what is served locally, the `to` field on each hop, frames held while the route is
 * found, the two-station limit, the session and want limits, failures and idle sessions.
 */
import { describe, expect, it } from "vitest"
import * as Relay from "../../../../src/protocols/content/Relay.ts"
import type { Frame } from "../../../../src/wire/Frame.ts"
import { mcidN } from "./Fixtures.ts"

const self = "did:key:station-a"
const target = "did:key:client-b"
const peer = "did:key:client-a"
const to = new Uint8Array(32).fill(7)
const mcid = mcidN
const want = (ns: ReadonlyArray<number>, withTo = false): Frame =>
  ({ t: "content.want", w: ns.map((n) => ({ m: mcid(n), k: "block" as const })), ...(withTo ? { to } : {}) }) as Frame
const block = (n: number): Frame => ({ t: "content.block", m: mcid(n), d: new Uint8Array(4) }) as Frame

const setup = (overrides: Partial<Omit<Relay.Config, "self">> = {}) => {
  const step = Relay.make(Relay.config(self, overrides))
  const state = Relay.initial()
  const feed = (event: Relay.Event) => step(state, event)[1]
  const up = (key: string, frame: Frame, options: { readonly to?: string; readonly peer?: string; readonly role?: "client" | "station"; readonly now?: number } = {}) =>
    feed(Relay.Event.UpFrame({ now: options.now ?? 0, key, peer: options.peer ?? peer, peerRole: options.role ?? "client", frame, to: options.to }))
  /** Opens a relayed session `key` to the attached target; returns the commands of the open. */
  const open = (key: string, first: Frame = want([1], true)) => {
    up(key, first, { to: target })
    feed(Relay.Event.Resolved({ now: 0, key, reach: { attached: true, stations: [] } }))
    return feed(Relay.Event.DownOpened({ now: 0, key }))
  }
  return { state, feed, up, open }
}

describe("Relay", () => {
  it("serves locally what names no other node, and relays what does", () => {
    const r = setup()
    expect(r.up("c/1", want([1]))).toEqual([Relay.Command.Local({ frame: want([1]) })])
    expect(r.up("c/2", want([1], true), { to: self })[0]?._tag).toBe("Local")
    expect(r.up("c/3", want([1], true), { to: target })).toEqual([Relay.Command.Resolve({ key: "c/3", target, stationsAllowed: true })])
  })

  it("holds frames until the far session is open, then sends them in order, `to` stripped on the last hop", () => {
    const r = setup()
    r.up("c/1", want([1], true), { to: target })
    expect(r.up("c/1", want([2]))).toEqual([])
    expect(r.feed(Relay.Event.Resolved({ now: 0, key: "c/1", reach: { attached: true, stations: [] } }))).toEqual([
      Relay.Command.Open({ key: "c/1", via: target })
    ])
    const sent = r.feed(Relay.Event.DownOpened({ now: 0, key: "c/1" }))
    expect(sent).toEqual([Relay.Command.ToDown({ key: "c/1", frame: want([1]) }), Relay.Command.ToDown({ key: "c/1", frame: want([2]) })])
    expect(r.feed(Relay.Event.DownFrame({ now: 0, key: "c/1", frame: block(1) }))).toEqual([Relay.Command.ToUp({ key: "c/1", frame: block(1) })])
  })

  it("keeps `to` toward the target's station, and sends a station's session only to an attached client", () => {
    const r = setup()
    r.up("c/1", want([1], true), { to: target })
    expect(r.feed(Relay.Event.Resolved({ now: 0, key: "c/1", reach: { attached: false, stations: ["did:key:station-b"] } }))).toEqual([
      Relay.Command.Open({ key: "c/1", via: "did:key:station-b" })
    ])
    expect(r.feed(Relay.Event.DownOpened({ now: 0, key: "c/1" }))).toEqual([Relay.Command.ToDown({ key: "c/1", frame: want([1], true) })])

    expect(r.up("s/1", want([1], true), { to: target, peer: "did:key:station-b", role: "station" })).toEqual([
      Relay.Command.Resolve({ key: "s/1", target, stationsAllowed: false })
    ])
    const refused = r.feed(Relay.Event.Resolved({ now: 0, key: "s/1", reach: { attached: false, stations: ["did:key:station-c"] } }))
    expect(refused).toMatchObject([{ _tag: "ToUp", key: "s/1", frame: { t: "err", c: "relay_refused" } }])
    expect(r.state.sessions.has("s/1")).toBe(false)
  })

  it("refuses sessions past the per-peer limit and a session that sends too much before it is open", () => {
    const r = setup({ maxSessionsPerPeer: 1, maxPendingFrames: 2 })
    r.up("c/1", want([1], true), { to: target })
    expect(r.up("c/2", want([1], true), { to: target })).toMatchObject([{ _tag: "ToUp", frame: { c: "relay_refused" } }])
    expect(r.up("c/1", want([2]))).toEqual([])
    expect(r.up("c/1", want([3]))).toMatchObject([{ _tag: "ToUp", key: "c/1", frame: { c: "relay_refused" } }])
    expect(r.state.sessions.size).toBe(0)
    expect(r.state.perPeer.size).toBe(0)
    expect(r.state.counters.refused).toBe(2)
  })

  it("declines block wants past the session's credit here, and frees credit as blocks come back", () => {
    const r = setup({ maxWantsPerSession: 2 })
    const opened = r.open("c/1", want([1, 2, 3], true))
    expect(opened).toEqual([
      Relay.Command.ToUp({ key: "c/1", frame: { t: "content.have", h: [{ m: mcid(3), y: false }] } as Frame }),
      Relay.Command.ToDown({ key: "c/1", frame: want([1, 2]) })
    ])
    expect(r.up("c/1", want([4]))).toMatchObject([{ _tag: "ToUp", frame: { t: "content.have" } }])
    r.feed(Relay.Event.DownFrame({ now: 0, key: "c/1", frame: block(1) }))
    expect(r.up("c/1", want([4]))).toEqual([Relay.Command.ToDown({ key: "c/1", frame: want([4]) })])
    r.up("c/1", { t: "content.cancel", c: [mcid(2)] } as Frame)
    expect(r.up("c/1", want([5]))).toEqual([Relay.Command.ToDown({ key: "c/1", frame: want([5]) })])
    expect(r.state.counters.wantsDeclined).toBe(2)
  })

  it("tells the near end `relay_failed` when the far end fails, and ends idle and orphaned sessions", () => {
    const r = setup({ idleMs: 1_000 })
    r.open("c/1")
    expect(r.feed(Relay.Event.DownFailed({ now: 0, key: "c/1", reason: "gone" }))).toMatchObject([
      { _tag: "ToUp", key: "c/1", frame: { t: "err", c: "relay_failed" } },
      { _tag: "EndDown", key: "c/1" }
    ])
    r.open("c/2")
    r.up("c/2", want([9]), { now: 500 })
    expect(r.feed(Relay.Event.Tick({ now: 1_200 }))).toEqual([])
    expect(r.feed(Relay.Event.Tick({ now: 1_600 }))).toMatchObject([
      { _tag: "ToUp", key: "c/2", frame: { t: "err", c: "relay_failed", m: "idle" } },
      { _tag: "EndDown", key: "c/2" }
    ])
    r.open("c/3")
    expect(Relay.keysOf(r.state, "c")).toEqual(["c/3"])
    expect(r.feed(Relay.Event.UpLost({ now: 0, keys: ["c/3"] }))).toEqual([Relay.Command.EndDown({ key: "c/3" })])
    expect(r.state.sessions.size).toBe(0)
  })
})
