/**
 * Streaming RPC (PROTOCOL.md §9.5) over real QUIC on loopback, with in-process nodes: a
 * provider client and a caller client of one station (the station splices their call streams),
 * and across two linked stations (each station on the path splices). Shown: each streaming
 * kind (server, client, bidi) with its messages in order and its result; a slow consumer's
 * buffer held to exactly the credit window while the provider waits; cancel from the caller
 * (the handler is aborted) and endings from the provider's side (a failing handler, a provider
 * node that stops mid-stream) reaching the caller as typed errors; a deadline; more calls in a
 * row than a connection may hold streams at once (every stream is freed at both ends); and
 * direct mode.
 *
 * Every step has a hard timeout; every node is stopped in afterAll.
 */
import { afterAll, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/Identity.ts"
import { MaculaNode } from "../../src/node/index.ts"
import type { StreamCall } from "../../src/node/index.ts"
import { nodeSet } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
const realm = "io.example"
const proc = (name: string) => `${realm}/acme/calc/stream/${name}_v1`

afterAll(async () => {
  await stopAll()
}, 60_000)

const within = <A>(label: string, ms: number, promise: Promise<A>): Promise<A> =>
  Promise.race([promise, new Promise<A>((_, reject) => setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms))])

const until = async (label: string, ok: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const collect = async (call: StreamCall): Promise<Array<unknown>> => {
  const out: Array<unknown> = []
  for await (const m of call) out.push(m)
  return out
}

/** Calls until the provider's advertisement is routable (the station registered it). */
const callWhenReady = async (caller: MaculaNode, name: string, args: unknown, mode: "server" | "client" | "bidi", timeoutMs = 20_000) => {
  const deadline = Date.now() + 30_000
  while (true) {
    const call = await caller.callStream(name, args, { mode, timeoutMs })
    const first = await Promise.race([call.result.then(() => "done", (e) => e), sleep(300).then(() => "running")])
    if ((first as { _tag?: string })._tag !== "NoProvider") return call
    if (Date.now() > deadline) throw first
    await sleep(200)
  }
}

describe("streaming RPC across one station", () => {
  it("server, client and bidi streams, flow control, cancel and deadlines", async () => {
    const station = await start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${station.address}#${station.did}`
    const provider = await start({ role: "client", realm, seeds: [seed] })
    const caller = await start({ role: "client", realm, seeds: [seed] })

    // Server streaming: one request, many messages, then the result.
    await provider.advertiseStream(proc("count"), "server", async (args, stream) => {
      const { n } = args as { n: number }
      for (let i = 0; i < n; i++) await stream.send({ i })
      return { total: n }
    })
    const counted = await within("server stream", 30_000, (async () => {
      const call = await callWhenReady(caller, proc("count"), { n: 200 }, "server")
      const messages = await collect(call)
      return { messages, result: await call.result }
    })())
    expect(counted.messages).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })))
    expect(counted.result).toEqual({ total: 200 })

    // Client streaming: many messages, one result after the caller's end.
    await provider.advertiseStream(proc("sum"), "client", async (_args, stream) => {
      let sum = 0
      let count = 0
      for await (const m of stream) {
        sum += m as number
        count++
      }
      return { sum, count }
    })
    const summed = await within("client stream", 30_000, (async () => {
      const call = await callWhenReady(caller, proc("sum"), null, "client")
      for (let i = 1; i <= 150; i++) await call.send(i)
      await call.end()
      return call.result
    })())
    expect(summed).toEqual({ sum: (150 * 151) / 2, count: 150 })

    // Bidirectional: every message echoed doubled, in order, while the caller keeps sending.
    await provider.advertiseStream(proc("double"), "bidi", async (_args, stream) => {
      let n = 0
      for await (const m of stream) {
        await stream.send((m as number) * 2)
        n++
      }
      return n
    })
    const doubled = await within("bidi stream", 30_000, (async () => {
      const call = await callWhenReady(caller, proc("double"), null, "bidi")
      const reading = collect(call)
      for (let i = 0; i < 120; i++) await call.send(i)
      await call.end()
      return { echoed: await reading, result: await call.result }
    })())
    expect(doubled.echoed).toEqual(Array.from({ length: 120 }, (_, i) => i * 2))
    expect(doubled.result).toBe(120)

    // Flow control: a consumer that reads nothing holds the provider at the credit window.
    let produced = 0
    await provider.advertiseStream(proc("flood"), "server", async (_args, stream) => {
      for (let i = 0; i < 300; i++) {
        await stream.send(i)
        produced++
      }
      return "flooded"
    })
    const flood = await callWhenReady(caller, proc("flood"), null, "server", 60_000)
    await until("the window fills", () => produced >= 64, 20_000)
    await sleep(1_000)
    // 64 = streamInitialCredit: the station forwards nothing beyond it, nobody buffers more.
    expect(produced).toBe(64)
    const flooded = await within("flood drained", 30_000, collect(flood))
    expect(flooded).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(await flood.result).toBe("flooded")

    // Cancel from the caller: the handler is aborted, the result rejects `cancelled`.
    let aborted = false
    await provider.advertiseStream(proc("forever"), "server", async (_args, stream, ctx) => {
      ctx.signal.addEventListener("abort", () => void (aborted = true))
      for (let i = 0; !ctx.signal.aborted; i++) await stream.send(i)
      return "never"
    })
    const forever = await callWhenReady(caller, proc("forever"), null, "server")
    const firstFive: Array<unknown> = []
    for await (const m of forever) {
      firstFive.push(m)
      if (firstFive.length === 5) break
    }
    expect(firstFive).toEqual([0, 1, 2, 3, 4])
    await forever.cancel()
    await expect(forever.result).rejects.toMatchObject({ _tag: "RemoteError", code: "cancelled" })
    await until("the handler is aborted", () => aborted, 20_000)

    // The provider's side fails mid-stream: the caller gets what was sent, then the typed error.
    await provider.advertiseStream(proc("broken"), "server", async (_args, stream) => {
      for (let i = 0; i < 3; i++) await stream.send(i)
      throw new Error("disk on fire")
    })
    const broken = await callWhenReady(caller, proc("broken"), null, "server")
    const before: Array<unknown> = []
    const failure = await within("broken stream", 20_000, (async () => {
      try {
        for await (const m of broken) before.push(m)
        return undefined
      } catch (e) {
        return e
      }
    })())
    expect(before).toEqual([0, 1, 2])
    expect(failure).toMatchObject({ _tag: "RemoteError", code: "handler_error", message: "disk on fire" })
    await expect(broken.result).rejects.toMatchObject({ _tag: "RemoteError", code: "handler_error" })

    // A deadline: a handler that never answers; the caller's budget ends it and aborts the handler.
    let timedOutHandler = false
    await provider.advertiseStream(proc("stuck"), "server", (_args, _stream, ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener("abort", () => {
        timedOutHandler = true
        resolve("late")
      })))
    const stuck = await callWhenReady(caller, proc("stuck"), null, "server", 1_500)
    await expect(within("deadline", 20_000, stuck.result)).rejects.toMatchObject({ _tag: "CallTimeout" })
    await expect(collect(stuck)).rejects.toMatchObject({ _tag: "CallTimeout" })
    await until("the stuck handler is aborted", () => timedOutHandler, 20_000)

    // The provider's side goes away mid-stream (its node stops): the caller hears a typed
    // failure that says the handler may have run, after the messages that arrived.
    await provider.advertiseStream(proc("vanish"), "server", async (_args, stream, ctx) => {
      for (let i = 0; !ctx.signal.aborted; i++) await stream.send(i)
      return "never"
    })
    const vanish = await callWhenReady(caller, proc("vanish"), null, "server", 30_000)
    const vanishing = vanish[Symbol.asyncIterator]()
    expect((await vanishing.next()).value).toBe(0)
    await provider.stop()
    await expect(within("provider gone", 20_000, vanish.result)).rejects.toMatchObject({ _tag: "RemoteError", code: "relay_failed" })
  }, 180_000)
})

describe("call streams are freed", () => {
  it("runs more streaming calls in a row than a connection may hold streams at once", async () => {
    const station = await start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${station.address}#${station.did}`
    const provider = await start({ role: "client", realm, seeds: [seed] })
    const caller = await start({ role: "client", realm, seeds: [seed] })
    await provider.advertiseStream(proc("one"), "server", async (_args, stream) => {
      await stream.send("only")
      return "done"
    })
    // 140 > maxStreamsPerConnection (128): a stream left open by either end would stall this.
    await callWhenReady(caller, proc("one"), null, "server")
    for (let i = 0; i < 140; i++) {
      const call = await caller.callStream(proc("one"), null, { mode: "server", timeoutMs: 10_000 })
      expect(await within(`call ${i}`, 15_000, collect(call))).toEqual(["only"])
      expect(await call.result).toBe("done")
    }
  }, 180_000)
})

describe("streaming RPC across two stations", () => {
  it("splices call streams at both stations: server and bidi streams, flow control and cancel", async () => {
    const a = await start({ role: "station", listen: "127.0.0.1:0" })
    const b = await start({ role: "station", listen: "127.0.0.1:0", seeds: [`${a.address}#${a.did}`] })
    const provider = await start({ role: "client", realm, seeds: [`${a.address}#${a.did}`] })
    const caller = await start({ role: "client", realm, seeds: [`${b.address}#${b.did}`] })
    // The stations are linked once each sees the other alive (a duplicate link between them is
    // settled by then, so no call is caught by its close).
    const alive = async (node: MaculaNode, peer: string) =>
      (await node.membership())?.members.some((m) => m.did === peer && m.status === "alive") === true
    const linked = async () => (await alive(a, b.did)) && (await alive(b, a.did))
    await within("stations linked", 30_000, (async () => {
      while (!(await linked())) await sleep(100)
    })())

    let produced = 0
    await provider.advertiseStream(proc("far_count"), "server", async (args, stream) => {
      const { n } = args as { n: number }
      for (let i = 0; i < n; i++) {
        await stream.send({ i })
        produced++
      }
      return { total: n }
    })
    // The record reaches B through the DHT; until then B answers no_provider.
    const call = await within("far call routable", 60_000, callWhenReady(caller, proc("far_count"), { n: 250 }, "server", 60_000))
    let failed: unknown
    call.result.catch((e: unknown) => void (failed = e))
    await until("the window fills across two hops", () => produced >= 64 || failed !== undefined, 30_000)
    expect(failed).toBeUndefined()
    await sleep(1_000)
    expect(produced).toBe(64) // neither station buffers beyond the end-to-end credit
    const messages = await within("far stream drained", 30_000, collect(call))
    expect(messages).toEqual(Array.from({ length: 250 }, (_, i) => ({ i })))
    expect(await call.result).toEqual({ total: 250 })

    await provider.advertiseStream(proc("far_echo"), "bidi", async (_args, stream, ctx) => {
      let n = 0
      for await (const m of stream) {
        if (ctx.signal.aborted) break
        await stream.send(`${m as string}!`)
        n++
      }
      return n
    })
    const echo = await within("far bidi routable", 60_000, callWhenReady(caller, proc("far_echo"), null, "bidi", 60_000))
    const reading = collect(echo)
    for (let i = 0; i < 80; i++) await echo.send(`m${i}`)
    await echo.end()
    expect(await within("far bidi", 30_000, reading)).toEqual(Array.from({ length: 80 }, (_, i) => `m${i}!`))
    expect(await echo.result).toBe(80)

    let aborted = false
    await provider.advertiseStream(proc("far_forever"), "server", async (_args, stream, ctx) => {
      ctx.signal.addEventListener("abort", () => void (aborted = true))
      for (let i = 0; !ctx.signal.aborted; i++) await stream.send(i)
      return "never"
    })
    const forever = await within("far forever routable", 60_000, callWhenReady(caller, proc("far_forever"), null, "server", 60_000))
    const iterator = forever[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toBe(0)
    await forever.cancel()
    await expect(forever.result).rejects.toMatchObject({ _tag: "RemoteError", code: "cancelled" })
    await until("the far handler is aborted", () => aborted, 20_000)
  }, 180_000)
})

describe("direct mode", () => {
  it("sends the call to the provider's station, which acts as home, even with the home station gone", async () => {
    const a = await start({ role: "station", listen: "127.0.0.1:0" })
    const b = await start({ role: "station", listen: "127.0.0.1:0", seeds: [`${a.address}#${a.did}`] })
    const aSeed = `${a.address}#${a.did}`
    const provider = await start({ role: "client", realm, seeds: [aSeed] })
    const caller = await start({ role: "client", realm, seeds: [`${b.address}#${b.did}`] })
    await provider.advertise(proc("whoami"), (_args, ctx) => ({ caller: ctx.caller }))
    await provider.advertiseStream(proc("ticks"), "server", async (args, stream) => {
      for (let i = 0; i < (args as number); i++) await stream.send(i)
      return "ticked"
    })

    expect(caller.home()?.did).toBe(b.did)
    expect((await caller.connections()).map((c) => c.did)).not.toContain(a.did)
    expect(await within("direct unary", 20_000, caller.call(proc("whoami"), null, { direct: aSeed, timeoutMs: 10_000 })))
      .toEqual({ caller: caller.did })
    // The call went on a connection of its own to A; the home station is still B.
    expect((await caller.connections()).map((c) => c.did)).toContain(a.did)
    expect(caller.home()?.did).toBe(b.did)

    // A streaming call in direct mode, and one after the home station went away.
    const first = await caller.callStream(proc("ticks"), 10, { mode: "server", direct: aSeed, timeoutMs: 20_000 })
    expect(await within("direct stream", 20_000, collect(first))).toEqual(Array.from({ length: 10 }, (_, i) => i))
    await b.stop()
    const ticks = await caller.callStream(proc("ticks"), 100, { mode: "server", direct: aSeed, timeoutMs: 20_000 })
    expect(await within("direct stream", 20_000, collect(ticks))).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(await ticks.result).toBe("ticked")

    // An address nobody answers at: the dial spends the call's budget, which ends it typed.
    const nobody = Identity.generate().did
    await expect(caller.call(proc("whoami"), null, { direct: `quic://127.0.0.1:9#${nobody}`, timeoutMs: 2_000 }))
      .rejects.toMatchObject({ _tag: "CallTimeout" })
  }, 180_000)
})
