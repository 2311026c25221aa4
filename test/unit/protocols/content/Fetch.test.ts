/**
 * The fetch core, event by event: start (nothing held, a resume, complete), the manifest
 * phase, windows and ordering, verification before storage, bad blocks, timeouts, blacklists,
 * providers that lack the content or vanish, the end game, pause/resume/cancel.
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
