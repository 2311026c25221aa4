/**
 * Property of the fetch core (PROTOCOL.md §12.4, §12.5): a write the store refuses for good
 * (`StoreRefused`, its quota full of content it may not evict) ends the fetch wherever it
 * stands. From any state reached by arbitrary events (blocks good and bad, confirmations,
 * failed writes, timers, lost and new providers, pauses), one `StoreRefused` leaves the core
 * `failed` with exactly one `Failed` command, a `content.cancel` at every provider for each of
 * its outstanding wants, no new want, and no timer armed; every later event changes nothing.
 *
 * Regression cases: counterexamples found by this property are pinned as `examples`. None so far.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Fetch from "../src/protocols/content/Fetch.ts"
import { config, contentOf, CS, hex, layout } from "../test/unit/protocols/content/Fixtures.ts"

const data = contentOf(7 * CS + 9, 5)
const { target, byHex, manifestBytes } = layout(data)
const providers = ["a", "b", "c", "d"]
const step = Fetch.make(config({ fetchWindowPerProvider: 3, endgameDuplicates: 1, maxProvidersPerFetch: 3 }))

type Op =
  | { readonly op: "block"; readonly from: number; readonly pick: number; readonly bad: boolean }
  | { readonly op: "stored"; readonly pick: number; readonly fail: boolean }
  | { readonly op: "timer"; readonly pick: number }
  | { readonly op: "lost"; readonly from: number }
  | { readonly op: "found"; readonly from: number }
  | { readonly op: "pause" | "resume" }

const from = fc.nat(providers.length - 1)
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("block" as const), from, pick: fc.nat(), bad: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("stored" as const), pick: fc.nat(), fail: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("timer" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("lost" as const), from }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("found" as const), from }) },
  { weight: 1, arbitrary: fc.constantFrom({ op: "pause" as const }, { op: "resume" as const }) }
)

type Armed = Map<string, { readonly timer: Fetch.Timer; readonly generation: number }>

const absorb = (armed: Armed, commands: ReadonlyArray<Fetch.Command>): void => {
  for (const c of commands) {
    if (c._tag === "SetTimer") armed.set(Fetch.timerKey(c.timer), { timer: c.timer, generation: c.generation })
    if (c._tag === "CancelTimer") armed.delete(Fetch.timerKey(c.timer))
  }
}

const toEvent = (s: Fetch.State, o: Op, now: number, armed: Armed): Fetch.Event | undefined => {
  switch (o.op) {
    case "block": {
      if (s.chunks.length === 0) return undefined
      const m = s.chunks[o.pick % s.chunks.length]!
      const good = byHex.get(hex(m))!
      const d = o.bad ? good.map((x, i) => (i === 0 ? x ^ 1 : x)) : good
      return Fetch.Event.FrameReceived({ now, from: providers[o.from]!, frame: { t: "content.block", m, d } })
    }
    case "stored": {
      const verified = [...s.status.keys()].filter((i) => s.status[i] === Fetch.chunkStatus.verified)
      if (verified.length === 0) return undefined
      const index = verified[o.pick % verified.length]!
      return o.fail ? Fetch.Event.StoreFailed({ now, index }) : Fetch.Event.Stored({ now, index })
    }
    case "timer": {
      const all = [...armed.values()]
      if (all.length === 0) return undefined
      const t = all[o.pick % all.length]!
      armed.delete(Fetch.timerKey(t.timer))
      return Fetch.Event.TimerFired({ now, timer: t.timer, generation: t.generation })
    }
    case "lost":
      return Fetch.Event.ProviderLost({ now, provider: providers[o.from]! })
    case "found":
      return Fetch.Event.ProvidersFound({ now, providers: [providers[o.from]!] })
    case "pause":
      return Fetch.Event.Pause({ now })
    case "resume":
      return Fetch.Event.Resume({ now })
  }
}

describe("fetch core: a write the store refuses for good", () => {
  it("ends the fetch from any state: one Failed, every outstanding want cancelled, nothing armed, later events ignored", () => {
    let refusedMidway = 0
    fc.assert(fc.property(
      fc.integer(),
      fc.array(arbOp, { maxLength: 120 }),
      fc.boolean(),
      fc.array(arbOp, { maxLength: 20 }),
      (seed, before, withManifest, after) => {
        const armed: Armed = new Map()
        let [s, out] = step(Fetch.initial(target, seed), Fetch.Event.Start({ now: 0, providers: providers.slice(0, 2), stored: { _tag: "Nothing" } }))
        absorb(armed, out)
        let now = 1
        if (withManifest) {
          const [id, owner] = [...s.manifestRequests][0]!
          ;[s, out] = step(s, Fetch.Event.FrameReceived({ now, from: owner, frame: { t: "content.manifest_res", id, m: target, man: manifestBytes! } }))
          absorb(armed, out)
          ;[s, out] = step(s, Fetch.Event.ManifestStored({ now, held: [] }))
          absorb(armed, out)
        }
        for (const o of before) {
          now += 5
          const e = toEvent(s, o, now, armed)
          if (e === undefined) continue
          ;[s, out] = step(s, e)
          absorb(armed, out)
        }
        if (Fetch.isOver(s)) return
        refusedMidway++
        // What each provider has outstanding just before the refusal.
        const pending = new Map([...s.providers].map(([id, p]) => [id, [...p.inFlight.keys()].map((i) => hex(s.chunks[i]!)).sort()]))
        const verified = [...s.status.keys()].filter((i) => s.status[i] === Fetch.chunkStatus.verified)
        const index = verified.length === 0 ? undefined : verified[0]
        ;[s, out] = step(s, Fetch.Event.StoreRefused({ now: now + 1, reason: "quota", ...(index === undefined ? {} : { index }) }))
        absorb(armed, out)
        expect(s.phase).toBe("failed")
        expect(out.filter((c) => c._tag === "Failed")).toHaveLength(1)
        for (const c of out) if (c._tag === "Send") expect(c.frame.t).toBe("content.cancel")
        for (const [id, chunks] of pending) {
          const cancelled = out.flatMap((c) => (c._tag === "Send" && c.to === id && c.frame.t === "content.cancel" ? c.frame.c.map(hex) : []))
          expect(cancelled.sort()).toEqual(chunks)
        }
        expect(s.timers.size).toBe(0)
        expect(armed.size).toBe(0)
        expect(s.outstanding.size).toBe(0)
        const frozen = s
        for (const o of after) {
          now += 5
          const e = toEvent(frozen, o, now, new Map(armed)) ?? Fetch.Event.Stored({ now, index: 0 })
          const [next, more] = step(frozen, e)
          expect(next).toBe(frozen)
          expect(more).toEqual([])
        }
      }
    ), { numRuns: 200 })
    // Most runs reach the refusal with the fetch still going (not already done or cancelled).
    expect(refusedMidway).toBeGreaterThan(100)
  })
})
