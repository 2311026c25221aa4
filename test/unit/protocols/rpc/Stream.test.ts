/**
 * Call-stream details of the endpoint core (PROTOCOL.md §9.5) over a whole path (caller,
 * station, provider): a half-close is sent once and reported once, nothing is sent after it,
 * the provider's first frame grants the caller's messages (none in `server` mode), and a
 * cancel reaches the handler. Also the application-side `Pipe` that backs `StreamCall`.
 */
import { describe, expect, it } from "vitest"
import { Pipe } from "../../../../src/node/RpcStream.ts"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import * as B from "./Build.ts"
import { initialPath, linkNames, type PathEvent, type PathState, pathStep, pathViolations } from "./StreamPath.ts"

const run = (s: PathState, ...events: ReadonlyArray<PathEvent>): void => {
  for (const e of events) {
    pathStep(s, e)
    expect(pathViolations(s)).toEqual([])
  }
}

/** Delivers every frame in flight, and what that causes. */
const flush = (s: PathState): void => {
  for (let link = linkNames.find((l) => s.links[l].length > 0); link !== undefined; link = linkNames.find((l) => s.links[l].length > 0)) {
    run(s, { _tag: "Deliver", link, now: 0 })
  }
}

describe("call streams end to end through the station", () => {
  it("opens with the provider's grant: none in server mode, the window otherwise", () => {
    for (const [mode, grant] of [["server", 0], ["client", Rpc.local.streamInitialCredit], ["bidi", Rpc.local.streamInitialCredit]] as const) {
      const s = initialPath(mode, 10_000)
      run(s, { _tag: "Start", now: 0 })
      flush(s)
      expect(s.handlerRuns).toBe(1)
      expect(s.apps.caller.granted).toBe(grant)
      expect(s.apps.provider.granted).toBe(Rpc.local.streamInitialCredit)
    }
  })

  it("sends one s.end however often the application closes, reports it once, and sends nothing after", () => {
    const s = initialPath("bidi", 10_000)
    run(s, { _tag: "Start", now: 0 })
    flush(s)
    run(s, { _tag: "Send", side: "caller", now: 0 }, { _tag: "Close", side: "caller", now: 0 }, { _tag: "Close", side: "caller", now: 0 })
    run(s, { _tag: "Send", side: "caller", now: 0 })
    expect(s.links["c>s"].map((f) => f.t)).toEqual(["s.data", "s.end"])
    flush(s)
    expect(s.apps.provider.received).toEqual([0])
    expect(s.apps.provider.ended).toBe(1)
    expect(s.apps.caller.sent).toEqual([0]) // the send after the close was not taken
  })

  it("ends the provider's iteration before its reply, and the reply completes the call", () => {
    const s = initialPath("server", 10_000)
    run(s, { _tag: "Start", now: 0 })
    flush(s)
    for (let i = 0; i < 3; i++) run(s, { _tag: "Send", side: "provider", now: 0 })
    run(s, { _tag: "Close", side: "provider", now: 0 }, { _tag: "Return", ok: true, now: 0 })
    expect(s.links["p>s"].map((f) => f.t)).toEqual(["s.data", "s.data", "s.data", "s.end", "reply"])
    flush(s)
    expect(s.apps.caller.received).toEqual([0, 1, 2])
    expect(s.apps.caller.ended).toBe(1)
    expect(s.completions.map((c) => c._tag)).toEqual(["Ok"])
    expect(Rpc.dispatcherSizes(s.station).calls).toBe(0)
  })

  it("carries the caller's cancel to the handler as an abort", () => {
    const s = initialPath("server", 10_000)
    run(s, { _tag: "Start", now: 0 })
    flush(s)
    run(s, { _tag: "Cancel", now: 5 })
    flush(s)
    expect(s.completions.map((c) => c._tag)).toEqual(["Cancelled"])
    expect(s.handlerAborts).toBe(1)
    expect(s.provider.incoming.size).toBe(0)
  })
})

describe("the station with a peer that is caller and provider at once", () => {
  it("tells its two streams apart when their call ids are equal", () => {
    const x = B.id(9)
    const step = Rpc.makeDispatcherStep(Rpc.local)
    const station = Rpc.initialDispatcher({ self: B.id(0xee), seed: 1 })
    const run = (e: Rpc.DispatcherEvent) => step(station, e)[1]
    run(Rpc.DispatcherEvent.ClientAttached({ now: 0, client: x }))
    run(Rpc.DispatcherEvent.AdvReceived({
      now: 0, client: x, verdict: { _tag: "Allowed" }, record: B.record(9, 0xee, { modes: ["server"] }),
      frame: { t: "adv", id: 1, realm: B.realm, proc: B.proc, modes: ["server"], rec: B.signed }
    }))
    // X calls its own procedure with the very id the station will give the leg back to X.
    const id = station.nextId
    const out = run(Rpc.DispatcherEvent.CallReceived({
      now: 0, from: x, role: "client", verdict: { _tag: "Allowed" }, frame: B.callFrame(id, { mode: "server", cr: 2 })
    }))
    const leg = B.sends(out, x, "call")[0]!
    expect([leg.stream, leg.on]).toEqual([id, "leg"])
    // The provider side's grant (on the leg) goes up to the caller side, not back down.
    const credit = run(Rpc.DispatcherEvent.StreamFrameReceived({ now: 0, from: x, id, frame: { t: "s.credit", n: 0 }, on: "leg" }))
    expect(B.sends(credit, x).map((c) => [c.frame.t, c.on])).toEqual([["s.credit", "up"]])
    // The provider's messages (on the leg) reach the caller side, within the caller's credit.
    const data = run(Rpc.DispatcherEvent.StreamFrameReceived({ now: 0, from: x, id, frame: { t: "s.data", q: 0, d: 1 }, on: "leg" }))
    expect(B.sends(data, x).map((c) => [c.frame.t, c.on])).toEqual([["s.data", "up"]])
    expect(station.counters.flowViolations).toBe(0)
  })
})

describe("Pipe", () => {
  const io = () => {
    const log: Array<string> = []
    return { log, io: { send: (d: unknown) => void log.push(`send ${String(d)}`), close: () => void log.push("close"), consumed: (n: number) => void log.push(`consumed ${n}`) } }
  }
  const closed = () => new Error("closed")

  it("resolves a send only once the endpoint reports it left, in order", async () => {
    const { io: port, log } = io()
    const pipe = new Pipe(port, 4, () => undefined)
    const done: Array<number> = []
    const a = pipe.send(1, closed).then(() => void done.push(1))
    const b = pipe.send(2, closed).then(() => void done.push(2))
    await Promise.resolve()
    expect(log).toEqual(["send 1", "send 2"])
    expect(done).toEqual([])
    pipe.sent()
    await a
    expect(done).toEqual([1])
    pipe.sent()
    await b
    expect(done).toEqual([1, 2])
  })

  it("holds a producer back once queueMax messages wait for credit", async () => {
    const { io: port, log } = io()
    const pipe = new Pipe(port, 2, () => undefined)
    void pipe.send(1, closed)
    void pipe.send(2, closed)
    const third = pipe.send(3, closed)
    await new Promise((r) => setTimeout(r, 5))
    expect(log).toEqual(["send 1", "send 2"]) // the third waits for room
    pipe.sent()
    await new Promise((r) => setTimeout(r, 5))
    expect(log).toEqual(["send 1", "send 2", "send 3"])
    pipe.sent()
    pipe.sent()
    await third
  })

  it("refuses a value the check rejects, before anything is sent", async () => {
    const { io: port, log } = io()
    const pipe = new Pipe(port, 2, (m) => (m === "bad" ? new Error("bad value") : undefined))
    await expect(pipe.send("bad", closed)).rejects.toThrow("bad value")
    expect(log).toEqual([])
  })

  it("hands messages over in order, reporting each one consumed, then the end", async () => {
    const { io: port, log } = io()
    const pipe = new Pipe(port, 2, () => undefined)
    pipe.push("a")
    pipe.push("b")
    const it = pipe.iterator()
    expect(await it.next()).toEqual({ value: "a", done: false })
    expect(await it.next()).toEqual({ value: "b", done: false })
    const waiting = it.next() // nothing buffered: waits for the next message
    pipe.push("c")
    expect(await waiting).toEqual({ value: "c", done: false })
    pipe.end()
    expect(await it.next()).toEqual({ value: undefined, done: true })
    expect(log).toEqual(["consumed 1", "consumed 1", "consumed 1"])
    expect(pipe.maxBuffered).toBe(2)
  })

  it("gives a failure after what was buffered, and fails waiting senders at once", async () => {
    const { io: port } = io()
    const pipe = new Pipe(port, 2, () => undefined)
    pipe.push(1)
    const sending = pipe.send("x", closed)
    pipe.fail(new Error("gone"))
    await expect(sending).rejects.toThrow("gone")
    const it = pipe.iterator()
    expect(await it.next()).toEqual({ value: 1, done: false })
    await expect(it.next()).rejects.toThrow("gone")
    await expect(pipe.send("y", closed)).rejects.toThrow("closed")
  })
})
