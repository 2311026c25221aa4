/**
 * Families and stream kinds of PROTOCOL.md §3.5, as data: which stream each frame type opens
 * and which streams may carry it.
 */
import { describe, expect, it } from "vitest"
import type { Frame, FrameType } from "../../../src/wire/Frame.ts"
import { frameTypes } from "../../../src/wire/Frame.ts"
import * as Streams from "../../../src/wire/Streams.ts"

const lane = (family: Streams.Family): Streams.Stream => ({ kind: "lane", family })
const control: Streams.Stream = { kind: "control" }
const call: Streams.Stream = { kind: "call" }
const content: Streams.Stream = { kind: "content" }

describe("Streams", () => {
  it("places every frame type", () => {
    for (const t of frameTypes) expect(Streams.kindsOf(t).length).toBeGreaterThan(0)
  })

  it.each([
    ["swim", ["swim.ping", "swim.ping_req", "swim.ack", "swim.nack", "swim.sync"]],
    ["dht", ["dht.find_node", "dht.nodes", "dht.find_value", "dht.value", "dht.store", "dht.store_ack", "dht.get", "dht.put"]],
    ["pubsub", ["sub", "unsub", "pub", "event", "ack", "gap", "fwd", "interest.sync", "interest.add", "interest.del"]],
    ["rpc", ["adv", "unadv", "call", "reply", "cancel"]]
  ] as const)("puts the %s family's frames on its lane only", (family, types) => {
    for (const t of types) {
      expect(Streams.familyOf(t)).toBe(family)
      expect(Streams.allows(lane(family), t)).toBe(true)
      for (const other of ["swim", "dht", "pubsub", "rpc"] as const) {
        if (other !== family) expect(Streams.allows(lane(other), t)).toBe(false)
      }
      expect(Streams.allows(control, t)).toBe(false)
      expect(Streams.allows(content, t)).toBe(false)
    }
  })

  it("lets ok and err travel on any lane, err also in content sessions", () => {
    for (const family of ["swim", "dht", "pubsub", "rpc"] as const) {
      expect(Streams.allows(lane(family), "ok")).toBe(true)
      expect(Streams.allows(lane(family), "err")).toBe(true)
    }
    expect(Streams.allows(content, "err")).toBe(true)
    expect(Streams.allows(content, "ok")).toBe(false)
    expect(Streams.allows(control, "ok")).toBe(false)
  })

  it("keeps the control stream to hello, ping, pong, goodbye and resync", () => {
    const allowed = frameTypes.filter((t) => Streams.allows(control, t))
    expect(allowed).toEqual(["hello", "ping", "pong", "goodbye", "resync"])
  })

  it("keeps call streams to call, reply, cancel and s.*", () => {
    expect(frameTypes.filter((t) => Streams.allows(call, t))).toEqual(["call", "reply", "cancel", "s.data", "s.end", "s.credit"])
  })

  it("keeps content sessions to content.* and err", () => {
    expect(frameTypes.filter((t) => Streams.allows(content, t))).toEqual([
      "err",
      "content.want",
      "content.have",
      "content.block",
      "content.manifest_req",
      "content.manifest_res",
      "content.cancel"
    ])
  })

  it("fixes a stream's kind by its first frame", () => {
    const callFrame = (mode?: "unary" | "server" | "client" | "bidi"): Frame => ({
      t: "call",
      id: 1,
      cid: new Uint8Array(16),
      realm: new Uint8Array(32),
      proc: "p",
      a: null,
      ttl: 1,
      idem: false,
      hop: 0,
      ...(mode === undefined ? {} : { mode })
    })
    expect(Streams.opens({ t: "hello", role: "client", vers: [1], feat: [], realms: [], addrs: [], lim: { f: 1 }, ts: 0 })).toEqual(control)
    expect(Streams.opens(callFrame())).toEqual(lane("rpc"))
    expect(Streams.opens(callFrame("unary"))).toEqual(lane("rpc"))
    for (const mode of ["server", "client", "bidi"] as const) expect(Streams.opens(callFrame(mode))).toEqual(call)
    expect(Streams.opens({ t: "swim.nack", id: 1 })).toEqual(lane("swim"))
    expect(Streams.opens({ t: "event", sid: [], b: new Uint8Array(0), s: new Uint8Array(64) })).toEqual(lane("pubsub"))
    expect(Streams.opens({ t: "content.cancel", c: [] })).toEqual(content)
  })

  it("lets no reply-only or control frame other than hello open a stream", () => {
    const cannot: ReadonlyArray<FrameType> = ["ping", "pong", "goodbye", "resync", "ok", "err", "s.data", "s.end", "s.credit"]
    for (const t of frameTypes) expect(Streams.placements[t].opens).toBe(!cannot.includes(t))
  })

  it("names the stream in a wrong_stream error", () => {
    expect(Streams.check(lane("dht"), { t: "ping", n: 1 })?.detail).toBe("ping on a dht lane")
    expect(Streams.check(control, { t: "ping", n: 1 })).toBeUndefined()
  })
})
