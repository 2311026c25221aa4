/**
 * The fetch core, event by event: start (nothing held, a resume, complete), the manifest
 * phase, windows and ordering, verification before storage, bad blocks, timeouts (one
 * penalty, then probation), blacklists, providers that lack the content, lost providers taken
 * back after a backoff, the store backlog, the end game, pause/resume/cancel, a write the
 * store refuses for good.
 */
import { describe, expect, it } from "vitest"
import * as Fetch from "../../../../src/protocols/content/Fetch.ts"
import { cancelledAt, config, contentOf, CS, hex, layout, sends, tags, wantedBy } from "./Fixtures.ts"

const { Event } = Fetch

const data = contentOf(20 * CS + 123, 1)
const { target, byHex, manifestBytes } = layout(data)
const chunkHex = (s: Fetch.State, i: number): string => hex(s.chunks[i]!)
const block = (s: Fetch.State, i: number): Uint8Array => byHex.get(chunkHex(s, i))!
const blockFrame = (s: Fetch.State, i: number, d = block(s, i)) => ({ t: "content.block" as const, m: s.chunks[i]!, d })

/** A fetch past its manifest, with `held` chunks already stored. */
const started = (cfg = config(), providers = ["a", "b"], held: ReadonlyArray<number> = []) => {
  const step = Fetch.make(cfg)
  let [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers, stored: { _tag: "Nothing" } }))
  const req = [...s.manifestRequests][0]!
  ;[s] = step(s, Event.FrameReceived({ now: 1, from: req[1], frame: { t: "content.manifest_res", id: req[0], m: target, man: manifestBytes! } }))
  const [after, out] = step(s, Event.ManifestStored({ now: 2, held }))
  return { step, s: after, out }
}

describe("Fetch: start", () => {
  it("asks the manifest of two providers in parallel when nothing is held", () => {
    const step = Fetch.make(config())
    const [s, out] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a", "b", "c"], stored: { _tag: "Nothing" } }))
    expect(s.phase).toBe("manifest")
    const reqs = sends(out).filter((c) => c.frame.t === "content.manifest_req")
    expect(reqs).toHaveLength(2)
    expect(tags(out).filter((t) => t === "SetTimer")).toHaveLength(2)
  })

  it("completes at once when the store already holds everything", () => {
    const [s, out] = Fetch.make(config())(Fetch.initial(target, 1), Event.Start({ now: 0, providers: [], stored: { _tag: "Complete" } }))
    expect(s.phase).toBe("done")
    expect(tags(out)).toEqual(["Completed"])
  })

  it("resumes from held chunks: only the missing ones are wanted", () => {
    const step = Fetch.make(config({ fetchWindowPerProvider: 30 }))
    const { hashes, size } = { hashes: layout(data).layout._tag === "chunked" ? (layout(data).layout as { manifest: { hashes: ReadonlyArray<Uint8Array> } }).manifest.hashes : [], size: data.length }
    const held = [0, 1, 2, 5, 19]
    const [s, out] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a"], stored: { _tag: "Manifest", manifest: { size, hashes }, held } }))
    expect(s.phase).toBe("blocks")
    const wanted = wantedBy(out, "a")
    expect(wanted).toHaveLength(21 - held.length)
    for (const i of held) expect(wanted).not.toContain(chunkHex(s, i))
    expect(s.storedChunks).toBe(held.length)
  })

  it("needs providers when it has none", () => {
    const [, out] = Fetch.make(config())(Fetch.initial(target, 1), Event.Start({ now: 0, providers: [], stored: { _tag: "Nothing" } }))
    expect(tags(out)).toContain("NeedProviders")
  })
})

describe("Fetch: manifest", () => {
  it("penalises a provider whose manifest does not open and asks the next one", () => {
    const step = Fetch.make(config({ manifestParallelism: 1 }))
    let [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a", "b"], stored: { _tag: "Nothing" } }))
    const [id, who] = [...s.manifestRequests][0]!
    const bad = manifestBytes!.slice()
    bad[10] = bad[10]! ^ 1
    let out
    ;[s, out] = step(s, Event.FrameReceived({ now: 1, from: who, frame: { t: "content.manifest_res", id, m: target, man: bad } }))
    expect(s.counters.badManifests).toBe(1)
    expect(out).toContainEqual(Fetch.Command.Score({ provider: who, delta: -50, reason: "bad_manifest" }))
    expect(s.providers.has(who)).toBe(false)
    const next = sends(out).filter((c) => c.frame.t === "content.manifest_req")
    expect(next.map((c) => c.to)).toEqual([who === "a" ? "b" : "a"])
  })

  it("stores a good manifest, then starts on blocks once it is stored", () => {
    const step = Fetch.make(config())
    let [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a"], stored: { _tag: "Nothing" } }))
    const [id] = [...s.manifestRequests][0]!
    let out
    ;[s, out] = step(s, Event.FrameReceived({ now: 1, from: "a", frame: { t: "content.manifest_res", id, m: target, man: manifestBytes! } }))
    expect(s.phase).toBe("storing_manifest")
    expect(tags(out)).toContain("StoreManifest")
    ;[s, out] = step(s, Event.ManifestStored({ now: 2, held: [] }))
    expect(s.phase).toBe("blocks")
    expect(wantedBy(out, "a")).toHaveLength(8)
  })

  it("drops a provider that answers not found, without penalty", () => {
    const step = Fetch.make(config({ manifestParallelism: 1 }))
    let [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a", "b"], stored: { _tag: "Nothing" } }))
    const [id, who] = [...s.manifestRequests][0]!
    let out
    ;[s, out] = step(s, Event.FrameReceived({ now: 1, from: who, frame: { t: "content.manifest_res", id, m: target, nf: true } }))
    expect(tags(out)).not.toContain("Score")
    expect(s.dropped.has(who)).toBe(true)
  })

  it("ignores answers to requests it never made", () => {
    const step = Fetch.make(config())
    const [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a"], stored: { _tag: "Nothing" } }))
    const [after, out] = step(s, Event.FrameReceived({ now: 1, from: "a", frame: { t: "content.manifest_res", id: 999, m: target, man: manifestBytes! } }))
    expect(out).toEqual([])
    expect(after.phase).toBe("manifest")
  })
})

describe("Fetch: blocks", () => {
  it("keeps at most fetchWindowPerProvider wants per provider, assigning chunks in order", () => {
    const { s, out } = started(config({ fetchWindowPerProvider: 4 }))
    const all = [...wantedBy(out, "a"), ...wantedBy(out, "b")]
    expect(wantedBy(out, "a")).toHaveLength(4)
    expect(wantedBy(out, "b")).toHaveLength(4)
    expect(all.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => chunkHex(s, i)).sort())
  })

  it("verifies a block before asking to store it, rewards the provider and refills its window", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 2 }), ["a"])
    const [after, out] = step(s, Event.FrameReceived({ now: 10, from: "a", frame: blockFrame(s, 0) }))
    expect(tags(out)).toContain("StoreBlock")
    expect(out).toContainEqual(Fetch.Command.Score({ provider: "a", delta: 1, reason: "good_block" }))
    expect(wantedBy(out, "a")).toEqual([chunkHex(s, 2)])
    expect(after.status[0]).toBe(Fetch.chunkStatus.verified)
  })

  it("refuses a bad block: no store, a penalty, and the chunk asked again", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 1 }), ["a", "b"])
    const aChunk = [...s.providers.get("a")!.inFlight.keys()][0]!
    const liar = block(s, aChunk).slice()
    liar[0] = liar[0]! ^ 1
    const [after, out] = step(s, Event.FrameReceived({ now: 10, from: "a", frame: blockFrame(s, aChunk, liar) }))
    expect(tags(out)).not.toContain("StoreBlock")
    expect(out).toContainEqual(Fetch.Command.Score({ provider: "a", delta: -50, reason: "bad_block" }))
    expect(after.counters.badBlocks).toBe(1)
    expect(wantedBy(out, "a")).toEqual([chunkHex(s, aChunk)])
  })

  it("blacklists a provider that lies twice and re-assigns all it held", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 2 }), ["a", "b"])
    let state = s
    let out: ReadonlyArray<Fetch.Command> = []
    for (let n = 0; n < 2; n++) {
      const i = [...state.providers.get("a")!.inFlight.keys()][0]!
      ;[state, out] = step(state, Event.FrameReceived({ now: 10 + n, from: "a", frame: blockFrame(state, i, new Uint8Array(5)) }))
    }
    expect(state.providers.has("a")).toBe(false)
    expect(out).toContainEqual(Fetch.Command.Blacklist({ provider: "a", until: 11 + 30_000 }))
    expect(state.dropped.has("a")).toBe(true)
  })

  it("times a want out: a penalty, a lower throughput estimate, and the chunk asked elsewhere", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 1 }), ["a", "b"])
    const i = [...s.providers.get("a")!.inFlight.keys()][0]!
    const generation = s.timers.get(Fetch.timerKey({ _tag: "Want", provider: "a", index: i }))!
    const [after, out] = step(s, Event.TimerFired({ now: 1_002, timer: { _tag: "Want", provider: "a", index: i }, generation }))
    expect(out).toContainEqual(Fetch.Command.Score({ provider: "a", delta: -5, reason: "timeout" }))
    expect(after.counters.timeouts).toBe(1)
    expect(after.outstanding.get(i)).toEqual(["a"])
    // A stale generation changes nothing.
    const [same, none] = step(after, Event.TimerFired({ now: 1_003, timer: { _tag: "Want", provider: "a", index: i }, generation }))
    expect(none).toEqual([])
    expect(same).toBe(after)
  })

  it("on a timeout releases the provider's other wants at once (one penalty) and keeps it to one want until it delivers", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 4, endgameDuplicates: 0 }), ["a", "b"])
    const mine = [...s.providers.get("a")!.inFlight.keys()]
    expect(mine).toHaveLength(4)
    const first = mine[0]!
    const generation = s.timers.get(Fetch.timerKey({ _tag: "Want", provider: "a", index: first }))!
    let [after, out] = step(s, Event.TimerFired({ now: 1_002, timer: { _tag: "Want", provider: "a", index: first }, generation }))
    expect(out.filter((c) => c._tag === "Score")).toEqual([Fetch.Command.Score({ provider: "a", delta: -5, reason: "timeout" })])
    expect([...cancelledAt(out, "a")].sort()).toEqual(mine.slice(1).map((i) => chunkHex(s, i)).sort())
    // On probation: one want (a probe). The others are free for the next window with room,
    // not held for a timeout each.
    expect(after.providers.get("a")!.probation).toBe(true)
    expect(after.providers.get("a")!.inFlight.size).toBe(1)
    expect(after.timers.size).toBe(1 + after.providers.get("b")!.inFlight.size)
    const released = mine.filter((i) => !after.outstanding.has(i))
    expect(released).toHaveLength(3)
    const j = [...after.providers.get("b")!.inFlight.keys()][0]!
    ;[after, out] = step(after, Event.FrameReceived({ now: 1_005, from: "b", frame: blockFrame(after, j) }))
    expect(wantedBy(out, "b")).toEqual([chunkHex(after, Math.min(...released))])
    // It delivers: back to its full window.
    const probe = [...after.providers.get("a")!.inFlight.keys()][0]!
    ;[after, out] = step(after, Event.FrameReceived({ now: 1_010, from: "a", frame: blockFrame(after, probe) }))
    expect(after.providers.get("a")!.probation).toBe(false)
    expect(after.providers.get("a")!.inFlight.size).toBe(4)
  })

  it("drops a provider that says it lacks a wanted chunk, and one whose session is lost", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 2 }), ["a", "b", "c"])
    const i = [...s.providers.get("a")!.inFlight.keys()][0]!
    let [after, out] = step(s, Event.FrameReceived({ now: 5, from: "a", frame: { t: "content.have", h: [{ m: s.chunks[i]!, y: false }] } }))
    expect(after.providers.has("a")).toBe(false)
    expect(tags(out)).not.toContain("Score")
    ;[after, out] = step(after, Event.ProviderLost({ now: 6, provider: "b" }))
    expect(after.providers.has("b")).toBe(false)
    expect([...after.outstanding.values()].flat()).toEqual(["c", "c"])
    // c's window is full; its next block frees a slot, which goes to the lowest dropped chunk.
    const j = [...after.providers.get("c")!.inFlight.keys()][0]!
    ;[after, out] = step(after, Event.FrameReceived({ now: 7, from: "c", frame: blockFrame(after, j) }))
    expect(wantedBy(out, "c")).toEqual([chunkHex(after, 0)])
  })

  it("takes a provider whose session was lost back after a backoff, and completes from it alone", () => {
    const cfg = config({ fetchWindowPerProvider: 30, endgameDuplicates: 0 })
    const { step, s } = started(cfg, ["a"])
    let [state, out] = step(s, Event.ProviderLost({ now: 10, provider: "a" }))
    // Set aside, not dropped: nothing is asked of it, its retry is armed, and more are sought.
    expect(state.providers.size).toBe(0)
    expect(state.dropped.has("a")).toBe(false)
    expect(state.lost.get("a")).toBe(10 + cfg.lostProviderRetryMs)
    expect(out).toContainEqual(Fetch.Command.SetTimer({ timer: { _tag: "Retry", provider: "a" }, at: 10 + cfg.lostProviderRetryMs, generation: state.timers.get("retry:a")! }))
    expect(tags(out)).toContain("NeedProviders")
    // The DHT naming it again does not bring it back before its retry.
    ;[state, out] = step(state, Event.ProvidersFound({ now: 20, providers: ["a"] }))
    expect(state.providers.size).toBe(0)
    // A block still on its way from the old session is late, not unsolicited.
    ;[state, out] = step(state, Event.FrameReceived({ now: 30, from: "a", frame: blockFrame(state, 0) }))
    expect(tags(out)).not.toContain("Penalise")
    ;[state, out] = step(state, Event.TimerFired({ now: 1_010, timer: { _tag: "Retry", provider: "a" }, generation: state.timers.get("retry:a")! }))
    expect(state.providers.has("a")).toBe(true)
    expect(wantedBy(out, "a")).toHaveLength(21)
    for (let i = 0; i < state.chunks.length; i++) {
      ;[state] = step(state, Event.FrameReceived({ now: 1_100 + i, from: "a", frame: blockFrame(state, i) }))
      ;[state] = step(state, Event.Stored({ now: 1_100 + i, index: i }))
    }
    expect(state.phase).toBe("done")
  })

  it("backs off further on each loss in a row, gives up retrying after lostProviderRetries until the DHT names it again, and a verified block resets the count", () => {
    const cfg = config({ lostProviderRetries: 2, lostProviderRetryMs: 100 })
    const { step, s } = started(cfg, ["a", "b"])
    let state = s
    const loseAndRetry = (now: number) => {
      ;[state] = step(state, Event.ProviderLost({ now, provider: "a" }))
      const at = state.lost.get("a")
      if (at !== undefined) [state] = step(state, Event.TimerFired({ now: at, timer: { _tag: "Retry", provider: "a" }, generation: state.timers.get("retry:a")! }))
      return at === undefined ? undefined : at - now
    }
    expect(loseAndRetry(10)).toBe(100)
    expect(loseAndRetry(500)).toBe(200)
    // A verified block from it: its next loss counts as the first again.
    const i = [...state.providers.get("a")!.inFlight.keys()][0]!
    ;[state] = step(state, Event.FrameReceived({ now: 900, from: "a", frame: blockFrame(state, i) }))
    expect(loseAndRetry(1_000)).toBe(100)
    expect(loseAndRetry(2_000)).toBe(200)
    // The third loss in a row: gone, no retry of its own...
    expect(loseAndRetry(3_000)).toBeUndefined()
    expect(state.gone.has("a")).toBe(true)
    expect(state.providers.has("a")).toBe(false)
    expect(state.timers.has("retry:a")).toBe(false)
    expect(state.counters.lost).toBe(5)
    // ...until the DHT names it again: one more attempt each time.
    ;[state] = step(state, Event.ProvidersFound({ now: 4_000, providers: ["a"] }))
    expect(state.providers.has("a")).toBe(true)
    expect(loseAndRetry(4_100)).toBeUndefined()
    expect(state.gone.has("a")).toBe(true)
  })

  it("promotes waiting candidates beyond maxProvidersPerFetch when a provider is dropped", () => {
    const { step, s } = started(config({ maxProvidersPerFetch: 2 }), ["a", "b", "c"])
    expect([...s.providers.keys()].sort()).toEqual(["a", "b"])
    expect(s.candidates).toEqual(["c"])
    const [after] = step(s, Event.ProviderLost({ now: 3, provider: "a" }))
    expect([...after.providers.keys()].sort()).toEqual(["b", "c"])
  })

  it("drops unsolicited blocks with a minor penalty", () => {
    const { step, s } = started(config(), ["a"])
    const other = contentOf(100, 99)
    const [after, out] = step(s, Event.FrameReceived({ now: 3, from: "z", frame: { t: "content.block", m: new Uint8Array(34), d: other } }))
    expect(tags(out)).toEqual(["Penalise"])
    expect(after.counters.unsolicited).toBe(1)
  })

  it("duplicates stragglers in the end game and cancels the losers", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 30, endgameDuplicates: 1 }), ["a", "b"], [])
    // With a window of 30, the fastest-ranked provider took all 21 chunks; b has a free window
    // and nothing left to assign, so it is asked for duplicates.
    const first = s.providers.get("a")!.inFlight.size > 0 ? "a" : "b"
    const second = first === "a" ? "b" : "a"
    expect(s.providers.get(first)!.inFlight.size).toBe(21)
    expect(s.providers.get(second)!.inFlight.size).toBe(21)
    const [, out] = step(s, Event.FrameReceived({ now: 9, from: second, frame: blockFrame(s, 3) }))
    expect(cancelledAt(out, first)).toEqual([chunkHex(s, 3)])
  })

  it("duplicates no straggler of an equally fast provider until it is overdue, then on an Endgame timer", () => {
    const { step, s: start } = started(config({ fetchWindowPerProvider: 4, endgameDuplicates: 1 }), ["a", "b"])
    let s = start
    let now = 2
    // Every want is answered 10 ms after it went out, the oldest first: both providers measure
    // the same rate, and the chunks run out while both still hold wants.
    let out: ReadonlyArray<Fetch.Command> = []
    const endgameArmed = () => out.some((c) => c._tag === "SetTimer" && c.timer._tag === "Endgame")
    while (s.counters.duplicates === 0 && !endgameArmed()) {
      let next: { from: string; index: number; at: number } | undefined
      for (const p of s.providers.values()) {
        for (const [index, at] of p.inFlight) if (next === undefined || at < next.at) next = { from: p.id, index, at }
      }
      if (next === undefined) break
      now = Math.max(now, next.at + 10)
      ;[s, out] = step(s, Event.FrameReceived({ now, from: next.from, frame: blockFrame(s, next.index) }))
    }
    expect(s.hint).toBe(s.chunks.length)
    expect(s.counters.duplicates).toBe(0)
    // A window has room, every chunk is asked: the end game is on, but nothing is late yet.
    const armed = out.find((c) => c._tag === "SetTimer" && c.timer._tag === "Endgame")
    expect(armed).toBeDefined()
    const { at, generation } = armed as Extract<Fetch.Command, { _tag: "SetTimer" }>
    expect(at).toBeGreaterThan(now)
    // Past the due time the wants are overdue and go to the free provider too.
    ;[s, out] = step(s, Event.TimerFired({ now: at + 1, timer: { _tag: "Endgame" }, generation }))
    expect(s.counters.duplicates).toBeGreaterThan(0)
    expect(sends(out).some((c) => c.frame.t === "content.want")).toBe(true)
  })

  it("completes once every chunk is stored, with progress on the way", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 30, endgameDuplicates: 0 }), ["a"])
    let state = s
    let last: ReadonlyArray<Fetch.Command> = []
    for (let i = 0; i < state.chunks.length; i++) {
      ;[state] = step(state, Event.FrameReceived({ now: 10 + i, from: "a", frame: blockFrame(state, i) }))
      ;[state, last] = step(state, Event.Stored({ now: 10 + i, index: i }))
    }
    expect(state.phase).toBe("done")
    expect(tags(last)).toEqual(["Progress", "Completed"])
    expect(last[0]).toMatchObject({ storedChunks: 21, totalChunks: 21, storedBytes: data.length, totalBytes: data.length })
  })

  it("stops wanting while the store is behind by storeBacklog blocks, and resumes as writes confirm", () => {
    const cfg = config({ fetchWindowPerProvider: 2, maxProvidersPerFetch: 1, endgameDuplicates: 0 })
    expect(Fetch.storeBacklog(cfg)).toBe(2)
    const { step, s } = started(cfg, ["a"])
    let state = s
    let out: ReadonlyArray<Fetch.Command> = []
    // Blocks 0 and 1 arrive but their writes are not confirmed: the store is two behind.
    ;[state, out] = step(state, Event.FrameReceived({ now: 3, from: "a", frame: blockFrame(state, 0) }))
    expect(wantedBy(out, "a")).toEqual([chunkHex(state, 2)])
    ;[state, out] = step(state, Event.FrameReceived({ now: 4, from: "a", frame: blockFrame(state, 1) }))
    expect(state.storing).toBe(2)
    expect(wantedBy(out, "a")).toEqual([])
    expect(state.providers.get("a")!.inFlight.size).toBe(1)
    // One write confirmed: room again, and the free window slot is used.
    ;[state, out] = step(state, Event.Stored({ now: 5, index: 0 }))
    expect(state.storing).toBe(1)
    expect(wantedBy(out, "a")).toEqual([chunkHex(state, 3)])
    // A chunk marked held meanwhile (a resume) no longer awaits its write; its late
    // confirmation changes nothing.
    ;[state] = step(state, Event.Pause({ now: 6 }))
    ;[state] = step(state, Event.Resume({ now: 7, held: [1] }))
    expect(state.storing).toBe(0)
    ;[state] = step(state, Event.Stored({ now: 8, index: 1 }))
    expect(state.storing).toBe(0)
  })

  it("cannot stall on the store backlog: lost confirmations of writes the store holds, repeated ones", () => {
    const cfg = config({ fetchWindowPerProvider: 2, maxProvidersPerFetch: 1, endgameDuplicates: 0 })
    const { step, s } = started(cfg, ["a"])
    let state = s
    let out: ReadonlyArray<Fetch.Command> = []
    ;[state] = step(state, Event.FrameReceived({ now: 3, from: "a", frame: blockFrame(state, 0) }))
    ;[state] = step(state, Event.FrameReceived({ now: 4, from: "a", frame: blockFrame(state, 1) }))
    expect(state.storing).toBe(Fetch.storeBacklog(cfg))
    // Both writes landed but their confirmations never came (the actor was paused and resumed
    // with what the store holds): the backlog is free again and the wants go on.
    ;[state] = step(state, Event.Pause({ now: 5 }))
    ;[state, out] = step(state, Event.Resume({ now: 6, held: [0, 1] }))
    expect(state.storing).toBe(0)
    expect(wantedBy(out, "a")).toEqual([chunkHex(state, 2), chunkHex(state, 3)])
    // A confirmation repeated, or for a chunk that is not awaiting its write, moves nothing.
    ;[state] = step(state, Event.FrameReceived({ now: 7, from: "a", frame: blockFrame(state, 2) }))
    ;[state] = step(state, Event.Stored({ now: 8, index: 2 }))
    const [again] = step(state, Event.Stored({ now: 9, index: 2 }))
    expect(again).toBe(state)
    const [foreign] = step(state, Event.StoreFailed({ now: 9, index: 5 }))
    expect(foreign).toBe(state)
    ;[state] = step(state, Event.FrameReceived({ now: 10, from: "a", frame: blockFrame(state, 3) }))
    expect(state.storing).toBe(1)
  })

  it("fetches a chunk again when storing it failed", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 1, endgameDuplicates: 0 }), ["a"])
    let [state] = step(s, Event.FrameReceived({ now: 3, from: "a", frame: blockFrame(s, 0) }))
    let out
    ;[state, out] = step(state, Event.StoreFailed({ now: 4, index: 0 }))
    expect(state.status[0]).toBe(Fetch.chunkStatus.missing)
    expect(wantedBy(out, "a")).toEqual([])
    ;[state, out] = step(state, Event.FrameReceived({ now: 5, from: "a", frame: blockFrame(state, 1) }))
    expect(wantedBy(out, "a")).toEqual([chunkHex(state, 0)])
  })
})

describe("Fetch: pause, resume, cancel", () => {
  it("pause cancels every outstanding want, resume asks again for what is missing", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 2 }), ["a"])
    let [state, out] = step(s, Event.Pause({ now: 5 }))
    expect(state.phase).toBe("paused")
    expect(cancelledAt(out, "a")).toHaveLength(2)
    expect(state.outstanding.size).toBe(0)
    // A block arriving while paused is not asked for any more: dropped.
    ;[state, out] = step(state, Event.Resume({ now: 6, held: [0, 1] }))
    expect(state.phase).toBe("blocks")
    expect(wantedBy(out, "a")).toEqual([chunkHex(state, 2), chunkHex(state, 3)])
  })

  it("cancel stops for good: later events change nothing", () => {
    const { step, s } = started(config(), ["a"])
    const [state, out] = step(s, Event.Cancel({ now: 5 }))
    expect(state.phase).toBe("cancelled")
    expect(tags(out)).toContain("Cancelled")
    const [same, none] = step(state, Event.FrameReceived({ now: 6, from: "a", frame: blockFrame(state, 0) }))
    expect(same).toBe(state)
    expect(none).toEqual([])
  })
})

describe("Fetch: a write the store refuses for good", () => {
  it("ends the fetch Failed, cancelling every outstanding want at every provider, and ignores what follows", () => {
    const { step, s } = started(config({ fetchWindowPerProvider: 3 }), ["a", "b"])
    const asked = (state: Fetch.State, who: string) => [...state.providers.get(who)!.inFlight.keys()]
    // a delivers its first chunk: verified and handed to the store.
    const first = asked(s, "a")[0]!
    let [state, out] = step(s, Event.FrameReceived({ now: 5, from: "a", frame: blockFrame(s, first) }))
    expect(tags(out)).toContain("StoreBlock")
    const outstanding = { a: asked(state, "a").map((i) => chunkHex(state, i)), b: asked(state, "b").map((i) => chunkHex(state, i)) }
    expect(outstanding.a.length + outstanding.b.length).toBeGreaterThan(0)
    ;[state, out] = step(state, Event.StoreRefused({ now: 6, reason: "quota", index: first }))
    expect(state.phase).toBe("failed")
    expect(Fetch.isOver(state)).toBe(true)
    expect(out.filter((c) => c._tag === "Failed")).toEqual([Fetch.Command.Failed({ reason: "quota", detail: `chunk ${first}: the store's quota is full` })])
    expect([...cancelledAt(out, "a")].sort()).toEqual([...outstanding.a].sort())
    expect([...cancelledAt(out, "b")].sort()).toEqual([...outstanding.b].sort())
    expect(wantedBy(out, "a")).toEqual([])
    expect(wantedBy(out, "b")).toEqual([])
    // Every want timer is disarmed with its want; nothing of this fetch stays armed.
    expect(state.timers.size).toBe(0)
    expect(state.outstanding.size).toBe(0)
    expect(state.storing).toBe(0)
    for (const later of [
      Event.Stored({ now: 7, index: first }),
      Event.FrameReceived({ now: 7, from: "b", frame: blockFrame(state, asked(s, "b")[0]!) }),
      Event.StoreRefused({ now: 8, reason: "quota" }),
      Event.Resume({ now: 9 })
    ]) {
      const [same, none] = step(state, later)
      expect(same).toBe(state)
      expect(none).toEqual([])
    }
  })

  it("ends a fetch whose manifest the store refused", () => {
    const step = Fetch.make(config())
    let [s] = step(Fetch.initial(target, 1), Event.Start({ now: 0, providers: ["a", "b"], stored: { _tag: "Nothing" } }))
    const [id, who] = [...s.manifestRequests][0]!
    let out
    ;[s, out] = step(s, Event.FrameReceived({ now: 1, from: who, frame: { t: "content.manifest_res", id, m: target, man: manifestBytes! } }))
    expect(s.phase).toBe("storing_manifest")
    ;[s, out] = step(s, Event.StoreRefused({ now: 2, reason: "manifest", detail: "manifest: ContentStoreError" }))
    expect(s.phase).toBe("failed")
    expect(out).toContainEqual(Fetch.Command.Failed({ reason: "manifest", detail: "manifest: ContentStoreError" }))
    expect(s.timers.size).toBe(0)
  })
})

describe("Fetch: raw target", () => {
  it("fetches a single raw block without a manifest", () => {
    const small = contentOf(1000, 5)
    const l = layout(small)
    const step = Fetch.make(config())
    let [s, out] = step(Fetch.initial(l.target, 1), Event.Start({ now: 0, providers: ["a"], stored: { _tag: "Nothing" } }))
    expect(wantedBy(out, "a")).toEqual([hex(l.target)])
    ;[s, out] = step(s, Event.FrameReceived({ now: 1, from: "a", frame: { t: "content.block", m: l.target, d: small } }))
    ;[s, out] = step(s, Event.Stored({ now: 2, index: 0 }))
    expect(s.phase).toBe("done")
    expect(tags(out)).toContain("Completed")
  })
})

describe("Fetch: equal chunks", () => {
  // Chunks 0, 1 and 3 are equal (zeros), chunk 2 differs: one block stands for three indices.
  const zeros = new Uint8Array(3 * CS)
  const equalData = new Uint8Array(4 * CS + 10)
  equalData.set(zeros, 0)
  equalData.set(contentOf(CS, 7), 2 * CS)
  const equal = layout(equalData)

  const run = (held: ReadonlyArray<number>) => {
    const step = Fetch.make(config({ fetchWindowPerProvider: 30 }))
    let [s, out] = step(Fetch.initial(equal.target, 1), Event.Start({ now: 0, providers: ["a"], stored: { _tag: "Nothing" } }))
    const req = [...s.manifestRequests][0]!
    ;[s] = step(s, Event.FrameReceived({ now: 1, from: req[1], frame: { t: "content.manifest_res", id: req[0], m: equal.target, man: equal.manifestBytes! } }))
    ;[s, out] = step(s, Event.ManifestStored({ now: 2, held }))
    const wanted = wantedBy(out, "a")
    const stores: Array<number> = []
    let now = 3
    for (const h of wanted) {
      const index = s.chunkIndex.get(h) ?? s.chunks.findIndex((m) => hex(m) === h)
      ;[s, out] = step(s, Event.FrameReceived({ now: now++, from: "a", frame: { t: "content.block", m: s.chunks[index]!, d: equal.byHex.get(h)! } }))
      for (const c of out) if (c._tag === "StoreBlock") {
        stores.push(c.index)
        ;[s, out] = step(s, Event.Stored({ now: now++, index: c.index }))
      }
    }
    return { s, wanted, stores }
  }

  it("asks for an equal chunk once, stores it once and completes", () => {
    const { s, wanted, stores } = run([])
    expect(new Set(wanted).size).toBe(wanted.length)
    expect(wanted).toHaveLength(3) // zeros, the distinct chunk, the 10-byte tail
    expect(stores).toHaveLength(3)
    expect(s.phase).toBe("done")
    expect(s.storedChunks).toBe(5)
    expect(s.storedBytes).toBe(equalData.length)
  })

  it("counts every copy of a held block as held on resume", () => {
    const { s, wanted } = run([1]) // index 1 is a copy of index 0
    expect(wanted).toHaveLength(2)
    expect(s.phase).toBe("done")
    expect(s.storedChunks).toBe(5)
  })
})
