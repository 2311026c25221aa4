/**
 * `servedRealms` in the station dispatcher (PROTOCOL.md §1, §9.4 code 5): a station serving some
 * realms refuses advertisements and calls in any other with `realm_refused`, nothing registered
 * and nothing forwarded, exactly as the pub/sub router refuses `sub` and `pub`; with the list
 * empty every realm is served.
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { DispatcherEvent: E } = Rpc
const self = B.id(0xee)
const caller = B.id(1)
const prov = B.id(2)
const allowed: Rpc.Verdict = { _tag: "Allowed" }
const other = B.id(0xbb)

const setup = (servedRealms: ReadonlyArray<string>) => {
  const step = Rpc.makeDispatcherStep({ ...Rpc.local, servedRealms })
  let state = Rpc.initialDispatcher({ self, seed: 3 })
  const run = (event: Rpc.DispatcherEvent) => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  run(E.ClientAttached({ now: 0, client: prov }))
  run(E.ClientAttached({ now: 0, client: caller }))
  return {
    run,
    get state() {
      return state
    },
    advertise: () =>
      run(E.AdvReceived({
        now: 0,
        client: prov,
        verdict: allowed,
        record: B.record(2, 0xee),
        frame: { t: "adv", id: 7, realm: B.realm, proc: B.proc, modes: ["unary"], rec: B.signed }
      })),
    call: (from: string, role: "client" | "station", extra: Partial<Frame.Call> = {}) =>
      run(E.CallReceived({ now: 0, from, role, frame: B.callFrame(1, extra), verdict: allowed }))
  }
}

describe("Dispatcher: servedRealms", () => {
  it("refuses an advertisement in a realm it does not serve, registering nothing", () => {
    const s = setup([other])
    const out = s.advertise()
    expect(B.sends(out, prov, "err").map((c) => c.frame)).toEqual([{ t: "err", id: 7, c: "realm_refused" }])
    expect(B.ofTag(out, "StoreRecord")).toEqual([])
    expect(Rpc.dispatcherSizes(s.state).providers).toBe(0)
  })

  it("refuses a call in a realm it does not serve, from a client or a station, resolving nothing", () => {
    for (const [from, role, extra] of [[caller, "client", {}], [B.id(0x52), "station", { to: B.bytes32(2), hop: 1 }]] as const) {
      const s = setup([other])
      const out = s.call(from, role, extra)
      expect(B.sends(out, from, "reply").map((c) => (c.frame as Frame.Reply).e)).toEqual([{ c: "realm_refused" }])
      expect(B.ofTag(out, "ResolveProviders")).toEqual([])
      expect(Rpc.dispatcherSizes(s.state).calls).toBe(0)
    }
  })

  it("serves a listed realm, and every realm when the list is empty", () => {
    for (const served of [[other, B.id(0xaa)], []]) {
      const s = setup(served)
      const store = B.ofTag(s.advertise(), "StoreRecord")
      expect(store).toHaveLength(1)
      const out = s.call(caller, "client")
      expect(B.sends(out, prov, "call")).toHaveLength(1)
    }
  })

  it("rejects a served realm that is not a hex realm id", () => {
    expect(Rpc.problems({ ...Rpc.defaults, servedRealms: ["io.example"] }))
      .toEqual(["servedRealms entry io.example is not 64 lowercase hex digits"])
    expect(Rpc.problems({ ...Rpc.defaults, servedRealms: [other] })).toEqual([])
  })
})
