/**
 * Act: a station is killed and the mesh survives. Station 2's process gets SIGKILL (no goodbye).
 * Its clients, bob and dave, were given station 2 as their only seed; they notice the silence
 * (liveness pings) and fail over to a station that station 2 offered in its `hello`. Then the
 * traffic goes on: bob's events reach alice's subscription again, dave's tick-logger (its
 * subscription replayed on the new station) gets alice's ticks again, and bob's call reaches
 * carol's procedure. Stations 1 and 3 report station 2 through SWIM.
 */
import type { SubscriptionEvent } from "../../node/Mesh.ts"
import { type Act, expect, ms, retryUntil, until } from "./Act.ts"
import { type TickLog, ticker, tickTopic } from "./ApplicationActorAct.ts"
import { addProcedure } from "./RpcAct.ts"

/** The act, reading `log` of the application-actor act (whose tick-logger still runs). */
export const stationKillAct = (log: TickLog): Act => ({
  title: "Station 2 is killed; its clients fail over and traffic goes on",
  timeoutMs: 45_000,
  run: async ({ cast, out, signal }) => {
    const { alice, bob, dave, realm, stations } = cast
    const [first, victim, third] = stations
    const orders = `${realm}/acme/shop/orders/placed_v1`
    const got: Array<SubscriptionEvent> = []
    const sub = await alice.node.subscribe(`${realm}/acme/shop/orders/#`, (event) => void got.push(event))
    // What the survivors' SWIM says about the victim, printed as it happens.
    const verdicts = new Set<string>()
    const stopWatching = [first, third].map((s) =>
      s.onLine((line) => {
        const m = /^membership: (\S+) (suspect|dead)/.exec(line)
        if (m === null || m[1] !== victim.did || verdicts.has(`${s.name} ${m[2]}`)) return
        verdicts.add(`${s.name} ${m[2]}`)
        out.live(`SWIM: ${s.name} marks station 2 ${m[2]}`)
      })
    )
    const ticks = ticker(alice, tickTopic(realm))
    try {
      victim.child.kill("SIGKILL")
      const killedAt = Date.now()
      out.live(`station 2 (pid ${victim.pid}) killed with SIGKILL; bob and dave lose their station`)
      await victim.exited

      const moved = await Promise.all([bob, dave].map(async (member) => {
        await until(`${member.name} failing over`, () => {
          const home = member.node.home()
          return home !== undefined && home.did !== victim.did
        }, 30_000, signal)
        const took = Date.now() - killedAt
        const to = cast.stationOf(member.node.home()?.did)
        out.live(`${member.name} failed over to ${to} ${ms(took)} after the kill (station 2 was his only seed; ${to} was offered in station 2's hello)`)
        return took
      }))

      const afterMove = Date.now()
      const fromBob = (e: SubscriptionEvent) => e.publisher === bob.node.did
      const resumed = await retryUntil(
        "bob's events reaching alice after the fail-over",
        (n) => bob.node.publish(orders, { afterKill: n }).catch(() => undefined),
        () => got.some(fromBob),
        15_000,
        signal
      )
      out.live(`bob's event reached alice again ${ms(resumed.ms)} after he failed over`)

      const ticksBefore = log.received.length
      await until("a tick at tick-logger after the fail-over", () => log.received.length > ticksBefore, 15_000, signal)
      const tick = log.received[log.received.length - 1]!
      out.live(`tick-logger on dave got tick #${tick.n} again (${ms(tick.at - afterMove)} after the fail-over): its subscription was replayed on ${cast.stationOf(dave.node.home()?.did)}`)

      const answer = (await bob.node.call(addProcedure(realm), { a: 2, b: 3 }, { timeoutMs: 5_000 })) as { sum?: unknown }
      expect(answer.sum === 5, `bob's call answered ${JSON.stringify(answer)}`)
      out.live(`bob → add(2, 3) = 5 from carol (station 3) via ${cast.stationOf(bob.node.home()?.did)}`)

      expect(first.running() && third.running(), "a surviving station exited")
      expect(bob.node.home()?.failovers === 1 && dave.node.home()?.failovers === 1, "a client failed over more than once")
      return `station 2 SIGKILLed; bob and dave failed over in ${ms(Math.max(...moved))}; pub/sub, the actor's subscription and RPC all work again`
    } finally {
      for (const stop of stopWatching) stop()
      await ticks.stop()
      await sub.unsubscribe().catch(() => undefined)
    }
  }
})
