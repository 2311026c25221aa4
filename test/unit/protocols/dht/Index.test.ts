import { describe, expect, it } from "vitest"
import { Dht } from "../../../../src/protocols/dht/index.ts"
import * as Arb from "../../../../src/testkit/arbitraries/Dht.ts"

describe("the Dht namespace", () => {
  it("exposes the config, state, events, commands and step", () => {
    const config = Dht.Config.withHash(Dht.Config.defaults, Arb.hash)
    expect(Dht.Config.problems(config)).toEqual([])
    const step = Dht.makeStep(config)
    const state = Dht.initial(config, { publicKey: Arb.keyOf(1), seed: 42 })
    const [next, commands] = step(state, Dht.Event.Started({ now: 0, wallNow: 1_700_000_000_000 }))
    expect(next.started).toBe(true)
    expect(commands.every((c) => Dht.Command.$is("SetTimer")(c))).toBe(true)
    expect(Dht.Xor.toHex(state.self.id)).toBe(state.self.key)
  })

  it("is deterministic: the same seed and events give the same state and commands", () => {
    const config = Dht.Config.withHash(Dht.Config.local, Arb.hash)
    const step = Dht.makeStep(config)
    const events = [
      Dht.Event.Started({ now: 0, wallNow: 1 }),
      Dht.Event.PeerConnected({ now: 1, wallNow: 2, contact: Arb.infoOf(Arb.keyOf(2)), ip: "45.1.0.1" }),
      Dht.Event.FindNode({ now: 2, wallNow: 3, query: 1, target: Arb.keyOf(9) })
    ]
    const run = () => events.reduce<readonly [Dht.State.State, ReadonlyArray<Dht.Command>]>(
      ([s, out], e) => {
        const [n, c] = step(s, e)
        return [n, [...out, ...c]]
      },
      [Dht.initial(config, { publicKey: Arb.keyOf(1), seed: 5 }), []]
    )
    expect(run()).toEqual(run())
  })
})
