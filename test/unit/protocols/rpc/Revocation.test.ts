/**
 * Revocation in the dispatcher core (PROTOCOL.md §13.6): a client's advertisements whose grant
 * was revoked leave the registry (answered `withdrawn` afterwards) and end with `err
 * unauthorized` naming their `adv`; a kept procedure, another realm and other providers stay.
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { DispatcherEvent: E } = Rpc
const self = B.id(0xee)
const S2 = B.id(0x52)
const allowed: Rpc.Verdict = { _tag: "Allowed" }

const station = () => {
  const step = Rpc.makeDispatcherStep(Rpc.local)
  let state = Rpc.initialDispatcher({ self, seed: 7 })
  const run = (event: Rpc.DispatcherEvent) => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  return {
    get state() {
      return state
    },
    run,
    advertise: (client: number) => {
      run(E.ClientAttached({ now: 0, client: B.id(client) }))
      return run(E.AdvReceived({
        now: 0,
        client: B.id(client),
        verdict: allowed,
        record: B.record(client, 0xee),
        frame: { t: "adv", id: 50 + client, realm: B.realm, proc: B.proc, modes: ["unary"], rec: B.signed }
      }))
    },
    revoke: (client: number, keep: ReadonlyArray<string>, realm = B.realm) =>
      run(E.GrantsRevoked({ now: 1, client: B.id(client), realm, keep, reason: "Revoked" }))
  }
}

const errs = (cs: ReadonlyArray<Rpc.DispatcherCommand>, to: string) => B.sends(cs, to, "err").map((c) => c.frame as Frame.Err)

describe("Dispatcher: GrantsRevoked", () => {
  it("ends the client's advertisement with err unauthorized naming its adv, and tombstones it", () => {
    const s = station()
    s.advertise(2)
    s.advertise(3)
    expect(errs(s.revoke(2, []), B.id(2))).toEqual([{ t: "err", id: 52, c: "unauthorized", r: "Revoked" }])
    expect(Rpc.dispatcherSizes(s.state).providers).toBe(1)
    // A call pinned to the revoked provider is answered withdrawn; the other provider stays.
    const pinned = s.run(E.CallReceived({ now: 2, from: S2, role: "station", verdict: allowed, frame: B.callFrame(1, { to: B.bytes32(2), hop: 1 }) }))
    expect(B.sends(pinned, S2, "reply").map((c) => (c.frame as Frame.Reply).e?.c)).toEqual(["withdrawn"])
    expect(s.state.providers.get(`${B.id(0xaa)}|${B.proc}`)?.has(B.id(3))).toBe(true)
  })

  it("keeps a procedure another grant still names, and ignores other realms and unknown clients", () => {
    const s = station()
    s.advertise(2)
    expect(s.revoke(2, [B.proc])).toEqual([])
    expect(s.revoke(2, [], B.bytes32(0xbb))).toEqual([])
    expect(s.revoke(9, [])).toEqual([])
    expect(Rpc.dispatcherSizes(s.state).providers).toBe(1)
  })
})
