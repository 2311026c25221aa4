/**
 * The client endpoint as a provider, for what its station may send it: a reused in-flight call
 * id (PROTOCOL.md §14 row 9) is refused as the station refuses one (`invalid_field` reset of the
 * stream it came on, a minor penalty) while the call in flight under that id goes on; and an
 * advertisement with `req` (§10.3, §13.4) serves only calls whose invocation the actor found
 * valid. Config: the `local` preset.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { EndpointEvent: E } = Rpc
const WALL = 5_000_000
const ucan: Frame.Authority = { inv: new Uint8Array([1, 2, 3]), prf: [] }

const provider = (req: boolean) => {
  const endpoint = B.endpointDriver(3)
  endpoint.run(E.LinkUp({ now: 0, wall: WALL, station: B.id(0xee) }))
  endpoint.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req }))
  return endpoint
}

const replies = (cs: ReadonlyArray<Rpc.EndpointCommand>) =>
  B.ofTag(cs, "Send").map((c) => c.frame).filter((f): f is Frame.Reply => f.t === "reply")

describe("Endpoint: a reused in-flight call id from the station", () => {
  it("resets the stream it came on with invalid_field and penalises the station; the first call goes on", () => {
    const p = provider(false)
    const first = p.run(E.CallReceived({ now: 0, frame: B.callFrame(5, { a: "first" }) }))
    expect(B.ofTag(first, "RunHandler")).toHaveLength(1)
    const again = p.run(E.CallReceived({ now: 1, frame: B.callFrame(5, { a: "second" }) }))
    expect(again).toEqual([
      { _tag: "RejectFrame", code: "invalid_field", reason: "call_id_reused" },
      { _tag: "Penalise", severity: "minor", reason: "call_id_reused" }
    ])
    // The handler of the first call still answers under its id.
    const done = p.run(E.HandlerReturned({ now: 2, id: 5, result: "ok" }))
    expect(replies(done)).toEqual([{ t: "reply", id: 5, r: "ok" }])
    // Once answered, the id is free again.
    expect(B.ofTag(p.run(E.CallReceived({ now: 3, frame: B.callFrame(5) })), "RunHandler")).toHaveLength(1)
  })

  it("property: any interleaving of calls with reused ids runs one handler per id in flight and rejects every reuse", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.integer({ min: 1, max: Rpc.local.maxHandlerConcurrency }), finish: fc.boolean() }), { maxLength: 60 }),
        (ops) => {
          const p = provider(false)
          const inFlight = new Set<number>()
          let now = 0
          for (const op of ops) {
            now++
            if (op.finish && inFlight.has(op.id)) {
              const out = p.run(E.HandlerReturned({ now, id: op.id, result: op.id }))
              expect(replies(out)).toEqual([{ t: "reply", id: op.id, r: op.id }])
              inFlight.delete(op.id)
              continue
            }
            const out = p.run(E.CallReceived({ now, frame: B.callFrame(op.id, { ttl: 100_000 }) }))
            if (inFlight.has(op.id)) {
              expect(B.ofTag(out, "RejectFrame")).toHaveLength(1)
              expect(B.ofTag(out, "Penalise")).toHaveLength(1)
              expect(B.ofTag(out, "RunHandler")).toHaveLength(0)
              expect(replies(out)).toEqual([])
            } else {
              expect(B.ofTag(out, "RunHandler").map((c) => c.id)).toEqual([op.id])
              expect(B.ofTag(out, "RejectFrame")).toHaveLength(0)
              inFlight.add(op.id)
            }
            expect(Rpc.endpointSizes(p.state).incoming).toBe(inFlight.size)
          }
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("Endpoint: a provider advertised with req", () => {
  it("puts req in its provider record", () => {
    const step = Rpc.makeEndpointStep(Rpc.local)
    const state = Rpc.initialEndpoint({ seed: 1 })
    step(state, E.LinkUp({ now: 0, wall: WALL, station: B.id(0xee) }))
    const [, out] = step(state, E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: true }))
    expect(B.ofTag(out, "SignAdvertisement")[0]?.draft).toMatchObject({ req: true, gone: false })
  })

  it.each<[string, Partial<Frame.Call>, Rpc.Verdict | undefined, string | undefined]>([
    ["no invocation", {}, undefined, "UnavailableProof"],
    ["an invocation nobody checked", { ucan }, undefined, "UnavailableProof"],
    ["an invocation found invalid", { ucan }, { _tag: "Denied", reason: "InvalidAudience" }, "InvalidAudience"],
    ["a valid invocation", { ucan }, { _tag: "Allowed" }, undefined]
  ])("with %s: %s", (_, extra, verdict, refusal) => {
    const p = provider(true)
    const frame = B.callFrame(7, { from: B.bytes32(1), ...extra })
    const out = p.run(E.CallReceived(verdict === undefined ? { now: 0, frame } : { now: 0, frame, verdict }))
    if (refusal === undefined) {
      expect(B.ofTag(out, "RunHandler").map((c) => c.id)).toEqual([7])
      expect(replies(out)).toEqual([])
    } else {
      expect(B.ofTag(out, "RunHandler")).toEqual([])
      expect(replies(out)).toEqual([{ t: "reply", id: 7, e: { c: "unauthorized", m: refusal } }])
    }
  })

  it("without req, a call needs no invocation", () => {
    const p = provider(false)
    expect(B.ofTag(p.run(E.CallReceived({ now: 0, frame: B.callFrame(7) })), "RunHandler")).toHaveLength(1)
  })
})
