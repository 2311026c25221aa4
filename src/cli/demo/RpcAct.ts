/**
 * Act: RPC across stations. carol, on station 3, advertises `add_v1`; alice, on station 1, calls
 * it: station 1 finds carol's provider record in the DHT and forwards each call to station 3.
 * Every answer is checked, the round trips are timed, and a procedure nobody serves fails with
 * the typed `NoProvider`. carol keeps serving for the later acts.
 */
import { type Act, ActFailed, describeError, expect, ms, retryUntil } from "./Act.ts"

const calls = 20

/** The procedure carol serves (also called in the station-kill act). */
export const addProcedure = (realm: string): string => `${realm}/acme/calc/math/add_v1`

/** The act. */
export const rpcAct: Act = {
  title: "RPC from station 1 to a provider on station 3",
  timeoutMs: 30_000,
  run: async ({ cast, out, signal }) => {
    const { alice, carol, realm } = cast
    const add = addProcedure(realm)
    await carol.node.advertise(add, (args) => {
      const { a, b } = args as { a: number; b: number }
      return { sum: a + b, by: "carol" }
    })
    out.live(`carol (station 3) advertises ${add}`)

    // The provider record reaches the DHT a moment after the advertisement; until then: NoProvider.
    let first: unknown
    const ready = await retryUntil(
      "the first call answered",
      () =>
        alice.node.call(add, { a: 20, b: 22 }, { timeoutMs: 3_000 }).then(
          (result) => void (first = result),
          (error: unknown) => {
            if ((error as { _tag?: unknown })._tag !== "NoProvider") throw new ActFailed({ message: `the first call failed: ${describeError(error)}` })
          }
        ),
      () => first !== undefined,
      15_000,
      signal,
      200
    )
    expect((first as { sum?: unknown }).sum === 42, `add(20, 22) answered ${JSON.stringify(first)}`)
    out.live(`alice (station 1) → add(20, 22) = 42 from carol (station 3), ${ms(ready.ms)} after the advertisement`)

    const rtts: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const began = performance.now()
      const result = (await alice.node.call(add, { a: i, b: 1_000 }, { timeoutMs: 5_000 })) as { sum?: unknown }
      rtts.push(performance.now() - began)
      expect(result.sum === i + 1_000, `add(${i}, 1000) answered ${JSON.stringify(result)}`)
    }
    rtts.sort((x, y) => x - y)
    out.live(`${calls} more calls, every answer right: round trip median ${ms(rtts[calls >> 1]!)}, slowest ${ms(rtts[calls - 1]!)}`)

    const missing = `${realm}/acme/calc/math/missing_v1`
    const none = await alice.node.call(missing, {}, { timeoutMs: 5_000 }).then(
      () => "an answer",
      (error: unknown) => (error as { _tag?: unknown })._tag
    )
    expect(none === "NoProvider", `a call nobody serves ended with ${String(none)}, not NoProvider`)
    out.live(`a call to ${missing.split("/").pop()} (nobody serves it) fails with NoProvider`)
    return `${calls + 1} calls answered across stations (median ${ms(rtts[calls >> 1]!)}); an unserved procedure fails NoProvider`
  }
}
