/**
 * Direct mode that finds the serving station by itself (PROTOCOL.md §9.2, §10.3), over real
 * QUIC on loopback with in-process nodes: two linked stations A and B, a provider attached to
 * B, a caller attached to A. Shown: B's own `station` record (its listen address) is in the
 * DHT, found by a value lookup run on A; a call with `direct: true` resolves the provider's
 * station through A's DHT proxy, dials B and is served there — B's RPC dispatcher counts the
 * calls (unary and streaming), A's counts none of them — while the caller's home stays A; a
 * procedure nobody serves fails `NoProvider`. A provider advertised with `requireInvocation`
 * (record `req: true`, §13.4) is served to a `direct: true` call, which signs an invocation for
 * it and pins it; a call routed through A, or sent to B's address, is refused for want of one
 * the first time, then sent once more pinned with an invocation and served, and pinned at once
 * afterwards; a forged `ucan` (signed by someone else than the caller) is refused `Unauthorized`
 * before the handler runs.
 *
 * Every step has a hard timeout; every node is stopped in afterAll.
 */
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import * as RpcDispatcherActor from "../../actors/RpcDispatcherActor.ts"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as Did from "../../src/identity/Did.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as ProviderInvocation from "../../src/node/ProviderInvocation.ts"
import * as StationRecord from "../../src/protocols/dht/StationRecord.ts"
import type * as Actor from "../../src/runtime/Actor.ts"
import type * as Supervisor from "../../src/runtime/Supervisor.ts"
import { nodeSet, eventually } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
const realm = "io.example"
const proc = (name: string) => `${realm}/acme/calc/direct/${name}_v1`

afterAll(async () => {
  await stopAll()
}, 60_000)


/** The RPC dispatcher's call counter of a station, found in its live supervision tree. */
const dispatcherCalls = async (root: Supervisor.SupervisorRef): Promise<number> => {
  const tree = await Effect.runPromise(root.whichChildren)
  let found: Actor.ActorRef<RpcDispatcherActor.Msg> | undefined
  const walk = (list: ReadonlyArray<Supervisor.ChildInfo>) => {
    for (const c of list) {
      if (c.kind === "worker" && c.id === "rpc-dispatcher" && c.process?.isAlive() === true) {
        found = c.process as unknown as Actor.ActorRef<RpcDispatcherActor.Msg>
      }
      if (c.children !== undefined) walk(c.children)
    }
  }
  walk(tree)
  const stats = await Effect.runPromise(RpcDispatcherActor.stats(found))
  if (stats === undefined) throw new Error("no rpc dispatcher")
  return stats.counters.calls
}

describe("direct mode with direct: true", () => {
  it("finds the provider's station through the DHT and is served there, not at the home station", async () => {
    let aRoot: Supervisor.SupervisorRef | undefined
    let bRoot: Supervisor.SupervisorRef | undefined
    let aDht: DhtSupervisor.Dht | undefined
    const a = await start({ role: "station", listen: "127.0.0.1:0" }, { onRoot: (r) => (aRoot = r), onDht: (d) => (aDht = d) })
    const aSeed = `${a.address}#${a.did}`
    const b = await start({ role: "station", listen: "127.0.0.1:0", seeds: [aSeed] }, { onRoot: (r) => (bRoot = r) })
    const provider = await start({ role: "client", realm, seeds: [`${b.address}#${b.did}`] })
    const caller = await start({ role: "client", realm, seeds: [aSeed] })
    await provider.advertise(proc("whoami"), (_args, ctx) => ({ caller: ctx.caller }))
    await provider.advertiseStream(proc("ticks"), "server", async (args, stream) => {
      for (let i = 0; i < (args as number); i++) await stream.send(i)
      return "ticked"
    })

    // B's station record, looked up from A: signed by B, naming B's listen address.
    const bKey = Did.toPublicKey(b.did)
    const config = { sha256: DhtRpc.sha256, clockSkewLeewayMs: 60_000 }
    const addresses = await eventually("B's station record found from A", 60_000, async () => {
      const found = await Effect.runPromise(aDht!.findValue(StationRecord.key(config, bKey), "station"))
      const list = StationRecord.stationAddresses(config, found.records.map((r) => r.body), bKey, Date.now())
      if (list.length === 0) throw new Error(`no station record of B (${found.records.length} records)`)
      return list
    })
    expect(addresses).toEqual([`${b.address}#${b.did}`])

    expect(caller.home()?.did).toBe(a.did)
    expect((await caller.connections()).map((c) => c.did)).not.toContain(b.did)
    const aBefore = await dispatcherCalls(aRoot!)
    const bBefore = await dispatcherCalls(bRoot!)

    // The provider record reaches the DHT a moment after the advertisement: retry NoProvider.
    const first = await eventually("first direct call", 60_000, () => caller.call(proc("whoami"), null, { direct: true, timeoutMs: 15_000 }))
    expect(first).toEqual({ caller: caller.did })
    for (let i = 0; i < 5; i++) {
      expect(await caller.call(proc("whoami"), null, { direct: true, timeoutMs: 15_000 })).toEqual({ caller: caller.did })
    }
    // A streaming call finds the same station.
    const ticks = await eventually("direct stream", 60_000, async () => {
      const call = await caller.callStream(proc("ticks"), 5, { mode: "server", direct: true, timeoutMs: 15_000 })
      const got: Array<unknown> = []
      for await (const m of call) got.push(m)
      return { got, result: await call.result }
    })
    expect(ticks).toEqual({ got: [0, 1, 2, 3, 4], result: "ticked" })

    // The calls went on a connection of the caller's own to B, which served them; A saw none.
    const toB = (await caller.connections()).filter((c) => c.did === b.did)
    expect(toB.map((c) => c.direction)).toEqual(["outbound"])
    expect(caller.home()?.did).toBe(a.did)
    expect(await dispatcherCalls(aRoot!)).toBe(aBefore)
    expect(await dispatcherCalls(bRoot!)).toBeGreaterThanOrEqual(bBefore + 7)

    // Nobody serves it: no provider record, a typed error saying so.
    await expect(caller.call(proc("nobody"), null, { direct: true, timeoutMs: 15_000 }))
      .rejects.toMatchObject({ _tag: "NoProvider", procedure: proc("nobody") })

    // A provider that requires an invocation (`req: true`): direct mode signs one for it.
    let guardedRuns = 0
    await provider.advertise(proc("guarded"), (_args, ctx) => {
      guardedRuns++
      return { caller: ctx.caller }
    }, { requireInvocation: true })
    const guarded = await eventually("direct call to a req provider", 60_000, () =>
      caller.call(proc("guarded"), null, { direct: true, timeoutMs: 15_000 }))
    expect(guarded).toEqual({ caller: caller.did })
    expect(await caller.call(proc("guarded"), 1, { direct: true, timeoutMs: 15_000 })).toEqual({ caller: caller.did })
    expect(guardedRuns).toBe(2)
    // Routed through A, or straight to B's address: pinned with an invocation too (a fresh caller,
    // which learns that the provider requires one from the first refusal).
    const other = await start({ role: "client", realm, seeds: [aSeed] })
    expect(await other.call(proc("guarded"), null, { timeoutMs: 15_000 })).toEqual({ caller: other.did })
    expect(await other.call(proc("guarded"), null, { timeoutMs: 15_000 })).toEqual({ caller: other.did })
    const third = await start({ role: "client", realm, seeds: [aSeed] })
    expect(await third.call(proc("guarded"), null, { direct: `${b.address}#${b.did}`, timeoutMs: 15_000 })).toEqual({ caller: third.did })
    expect(guardedRuns).toBe(5)
    // An invocation signed by someone else than the caller its station names: refused, not run.
    const forger = Identity.generate()
    const forged = ProviderInvocation.invoker({ identity: forger, delegations: [] })(provider.did, realm, proc("guarded"), Date.now())
    const refused = await Effect.runPromise(Effect.flip(third.mesh.call(proc("guarded"), null, {
      timeoutMs: 15_000, pin: { to: Did.toPublicKey(provider.did), ucan: forged }
    } as Parameters<typeof third.mesh.call>[2])))
    expect(refused).toMatchObject({ _tag: "Unauthorized", reason: "InvalidClaim" })
    expect(guardedRuns).toBe(5)
  }, 240_000)
})
