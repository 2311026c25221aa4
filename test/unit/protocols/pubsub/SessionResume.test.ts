/**
 * The client session resuming an `alo` subscription from a cursor a previous process recorded
 * (`Subscribe.resume`, PROTOCOL.md §8.5). Config: the `local` preset.
 */
import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { SessionEvent: E, Notice } = PubSub
const station = B.id(0xee)

const resumed = (resume: number | undefined) => {
  const step = PubSub.makeSessionStep(PubSub.local)
  let state = PubSub.initialSession(PubSub.local, { pk: B.bytes32(1), sess: B.sess(9) })
  const run = (event: PubSub.SessionEvent): ReadonlyArray<PubSub.SessionCommand> => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  run(E.LinkUp({ now: 0, station }))
  const subCommands = run(E.Subscribe({ now: 0, sid: 7, realm: B.realm, pattern: B.topic(), mode: "alo", ...(resume === undefined ? {} : { resume }) }))
  return { run, subCommands, get state() { return state } }
}
const sent = (cs: ReadonlyArray<PubSub.SessionCommand>) => B.ofTag(cs, "Send").map((c) => c.frame)
const event = (seq: number, cur: number) => {
  const env = B.envelope({ pub: 2, seq })
  return E.EventReceived({ now: 0, envelope: env, frame: { t: "event", sid: [7], ...B.signedOf(env), cur } })
}

describe("Session: Subscribe with a recorded cursor", () => {
  it("sends sub with that cursor, before the station ever answered", () => {
    const c = resumed(41)
    expect(sent(c.subCommands)).toEqual([expect.objectContaining({ t: "sub", sid: 7, mode: "alo", cur: 41 })])
  })
  it("without one, sends sub without a cursor (the station starts it or resumes from its own)", () => {
    const c = resumed(undefined)
    expect(sent(c.subCommands)[0]).not.toHaveProperty("cur")
  })
  it("drops replayed cursors up to the recorded one and delivers the rest once, acknowledging past them", () => {
    const c = resumed(3)
    const [sub] = sent(c.subCommands) as Array<Frame.Sub>
    c.run(E.ReplyReceived({ now: 0, frame: { t: "ok", id: sub!.id, cur: 3 } }))
    // A station holding an older acknowledged cursor replays 2 and 3: already handled.
    expect(B.ofTag(c.run(event(2, 2)), "Deliver")).toEqual([])
    expect(B.ofTag(c.run(event(3, 3)), "Deliver")).toEqual([])
    expect(B.ofTag(c.run(event(4, 4)), "Deliver").map((d) => d.cur)).toEqual([4])
    expect(sent(c.run(E.Handled({ now: 100, sid: 7 })))).toEqual([{ t: "ack", sid: 7, cur: 4 }])
  })
  it("keeps its cursor when the station's ok names a lower one", () => {
    const c = resumed(10)
    const [sub] = sent(c.subCommands) as Array<Frame.Sub>
    c.run(E.ReplyReceived({ now: 0, frame: { t: "ok", id: sub!.id, cur: 4 } }))
    expect(c.state.subs.get(7)!.alo!.processed).toBe(10)
  })
  it("refuses a cursor that is not a non-negative integer, locally", () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      const c = resumed(bad)
      expect(B.ofTag(c.subCommands, "Notify").map((n) => n.notice)).toEqual([
        Notice.SubscribeFailed({ sid: 7, code: "bad_request", reason: "bad_resume_cursor" })
      ])
      expect(c.state.subs.size).toBe(0)
    }
  })
})
