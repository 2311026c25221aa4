/**
 * The client endpoint when the station ends an advertisement it accepted (PROTOCOL.md §13.6:
 * `err {id: <adv id>, c: unauthorized, r: Revoked}`): the advertisement is dropped (no renewal,
 * no replay on the next link) and the application hears `AdvertiseFailed` after `Advertised`.
 * An `err` naming an unknown or superseded id changes nothing; a `realm_refused` replay keeps the
 * advertisement for the next station.
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { EndpointEvent: E, EndpointNotice: Notice } = Rpc
const WALL = 5_000_000
const key = `${B.id(0xaa)}|${B.proc}`

/** An endpoint linked to a station, advertising `B.proc` as ref 1. */
const advertised = () => {
  const endpoint = B.endpointDriver(7)
  const run = endpoint.run
  run(E.LinkUp({ now: 0, wall: WALL, station: B.id(0xee) }))
  const [sign] = B.ofTag(run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false })), "SignAdvertisement")
  const answer = (frame: Frame.Ok | Frame.Err, now = 0) => run(E.AnswerReceived({ now, frame }))
  return { run, answer, advId: sign!.id, get state() {
    return endpoint.state
  } }
}

const notices = (cs: ReadonlyArray<Rpc.EndpointCommand>) => B.ofTag(cs, "Notify").map((c) => c.notice)

describe("Endpoint: an accepted advertisement ended by the station", () => {
  it("drops it and tells the application when the err names the accepted adv", () => {
    const e = advertised()
    expect(notices(e.answer({ t: "ok", id: e.advId, n: 6 }))).toEqual([Notice.Advertised({ ref: 1, acks: 6 })])
    expect(e.state.timers.armed.has(`republish/${key}`)).toBe(true)

    const out = e.answer({ t: "err", id: e.advId, c: "unauthorized", r: "Revoked" }, 10)
    expect(notices(out)).toEqual([Notice.AdvertiseFailed({ ref: 1, code: "unauthorized", reason: "Revoked" })])
    expect(B.ofTag(out, "CancelTimer")).toEqual([{ _tag: "CancelTimer", timer: `republish/${key}` }])
    expect(Rpc.endpointSizes(e.state)).toMatchObject({ ads: 0, timers: 0 })
    expect(e.state.accepted.size).toBe(0)
    // Not replayed on the next link; a second err about it is just counted.
    e.run(E.LinkDown({ now: 20 }))
    expect(B.ofTag(e.run(E.LinkUp({ now: 30, wall: WALL + 30, station: B.id(0xef) })), "SignAdvertisement")).toEqual([])
    const unknown = e.state.counters.unknownReplies
    expect(notices(e.answer({ t: "err", id: e.advId, c: "unauthorized", r: "Revoked" }, 40))).toEqual([])
    expect(e.state.counters.unknownReplies).toBe(unknown + 1)
  })

  it("ends it too when the err names a renewal in flight (the station holds the newest adv id)", () => {
    const e = advertised()
    e.answer({ t: "ok", id: e.advId, n: 1 })
    const [renewal] = B.ofTag(e.run(E.TimerFired({ now: Rpc.local.republishRetryMs, timer: `republish/${key}`, generation: e.state.timers.armed.get(`republish/${key}`)! })), "SignAdvertisement")
    expect(renewal).toBeDefined()
    const out = e.answer({ t: "err", id: renewal!.id, c: "unauthorized", r: "Revoked" }, Rpc.local.republishRetryMs + 1)
    expect(notices(out)).toEqual([Notice.AdvertiseFailed({ ref: 1, code: "unauthorized", reason: "Revoked" })])
    expect(Rpc.endpointSizes(e.state).ads).toBe(0)
  })

  it("ignores an err naming a superseded adv id (the station answers only the newest)", () => {
    const e = advertised()
    e.answer({ t: "ok", id: e.advId, n: 6 })
    const [renewal] = B.ofTag(e.run(E.ResyncReceived({ now: 5, wall: WALL + 5, what: ["adv"] })), "SignAdvertisement")
    e.answer({ t: "ok", id: renewal!.id, n: 6 }, 6)
    expect(notices(e.answer({ t: "err", id: e.advId, c: "unauthorized", r: "Revoked" }, 7))).toEqual([])
    expect(Rpc.endpointSizes(e.state).ads).toBe(1)
    expect(notices(e.answer({ t: "err", id: renewal!.id, c: "unauthorized", r: "Revoked" }, 8)))
      .toEqual([Notice.AdvertiseFailed({ ref: 1, code: "unauthorized", reason: "Revoked" })])
  })

  it("forgets accepted ids with the link: the lost station cannot end what the next one holds", () => {
    const e = advertised()
    e.answer({ t: "ok", id: e.advId, n: 6 })
    e.run(E.LinkDown({ now: 10 }))
    expect(e.state.accepted.size).toBe(0)
    expect(notices(e.answer({ t: "err", id: e.advId, c: "unauthorized", r: "Revoked" }, 11))).toEqual([])
    expect(B.ofTag(e.run(E.LinkUp({ now: 20, wall: WALL + 20, station: B.id(0xef) })), "SignAdvertisement")).toHaveLength(1)
  })

  it("keeps an accepted advertisement whose replay a station refuses realm_refused, for the next station", () => {
    const e = advertised()
    e.answer({ t: "ok", id: e.advId, n: 6 })
    e.run(E.LinkDown({ now: 10 }))
    const [replay] = B.ofTag(e.run(E.LinkUp({ now: 20, wall: WALL + 20, station: B.id(0xef) })), "SignAdvertisement")
    expect(notices(e.answer({ t: "err", id: replay!.id, c: "realm_refused" }, 21))).toEqual([])
    expect(Rpc.endpointSizes(e.state)).toMatchObject({ ads: 1, timers: 0 })
    e.run(E.LinkDown({ now: 30 }))
    expect(B.ofTag(e.run(E.LinkUp({ now: 40, wall: WALL + 40, station: B.id(0xee) })), "SignAdvertisement")).toHaveLength(1)
  })

  it("still fails a fresh advertisement refused at once (never accepted)", () => {
    const e = advertised()
    expect(notices(e.answer({ t: "err", id: e.advId, c: "realm_refused" })))
      .toEqual([Notice.AdvertiseFailed({ ref: 1, code: "realm_refused" })])
    expect(Rpc.endpointSizes(e.state).ads).toBe(0)
  })
})
