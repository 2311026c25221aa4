/**
 * Act: wildcard pub/sub across stations. alice, on station 1, subscribes to a pattern; bob
 * (station 2) and carol (station 3) publish numbered events on two topics it matches, and one on a
 * topic it does not. alice must get every matching event exactly once, in each publisher's order,
 * and not the other one.
 */
import type { SubscriptionEvent } from "../../node/Mesh.ts"
import { type Act, expect, ms, retryUntil, until } from "./Act.ts"
import type { Member } from "./Cast.ts"

const perPublisher = 10

/** The act. */
export const pubSubAct: Act = {
  title: "Wildcard pub/sub across three stations",
  timeoutMs: 40_000,
  run: async ({ cast, out, signal }) => {
    const { alice, bob, carol, realm } = cast
    const pattern = `${realm}/acme/*/orders/#`
    const got: Array<SubscriptionEvent> = []
    const sub = await alice.node.subscribe(pattern, (event) => void got.push(event))
    out.live(`alice (station 1) subscribes to ${pattern}`)
    try {
      const publishers: ReadonlyArray<readonly [Member, string]> = [
        [bob, `${realm}/acme/shop/orders/placed_v1`],
        [carol, `${realm}/acme/kiosk/orders/placed_v1`]
      ]
      // alice's interest travels from station 1 to the others; until it has, their events stop there.
      await Promise.all(publishers.map(async ([member, topic]) => {
        const from = (e: SubscriptionEvent) => e.publisher === member.node.did
        const warm = await retryUntil(
          `alice's interest reaching ${cast.stationOf(member.node.home()?.did)}`,
          () => member.node.publish(topic, { warmUp: true }),
          () => got.some(from),
          20_000,
          signal
        )
        out.live(`${member.name}'s first event reached alice ${ms(warm.ms)} after ${member.name} began publishing (interest spread to ${cast.stationOf(member.node.home()?.did)})`)
      }))

      const began = Date.now()
      await Promise.all(publishers.map(async ([member, topic]) => {
        for (let n = 1; n <= perPublisher; n++) await member.node.publish(topic, { n, from: member.name })
      }))
      await bob.node.publish(`${realm}/acme/shop/stock/changed_v1`, { n: 0, from: "bob" })
      const numbered = () => got.filter((e) => typeof (e.payload as { n?: unknown }).n === "number")
      await until(`${2 * perPublisher} numbered events at alice`, () => numbered().length >= 2 * perPublisher, 15_000, signal)
      const tookMs = Date.now() - began
      // Anything late (a duplicate, the unmatched topic) would arrive within moments.
      await new Promise((r) => setTimeout(r, 300))

      for (const [member, topic] of publishers) {
        const mine = numbered().filter((e) => e.publisher === member.node.did)
        const ns = mine.map((e) => (e.payload as { n: number }).n)
        expect(
          ns.join(",") === Array.from({ length: perPublisher }, (_, i) => i + 1).join(","),
          `alice got ${member.name}'s events as [${ns.join(", ")}], not 1..${perPublisher} once each in order`
        )
        const seqs = mine.map((e) => e.seq)
        expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `${member.name}'s sequence numbers are not increasing: ${seqs.join(", ")}`)
        expect(mine.every((e) => e.topic === topic), `an event of ${member.name} arrived on another topic`)
      }
      expect(!got.some((e) => e.topic.includes("/stock/")), "alice received an event its pattern does not match")
      out.live(`alice got ${perPublisher}/${perPublisher} from bob and ${perPublisher}/${perPublisher} from carol in ${ms(tookMs)}, each in publish order; the stock event was not delivered`)
      return `${2 * perPublisher} events from stations 2 and 3 reached a wildcard subscriber on station 1, once each, in order`
    } finally {
      await sub.unsubscribe().catch(() => undefined)
    }
  }
}
