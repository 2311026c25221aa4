import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { Outboxes, thenFlush } from "../../../src/runtime/Outboxes.ts"

const peer = (name: string) => ({ name, draining: false, outbox: [] as Array<number> })

/** Runs a flush and returns the peers whose writer it started. */
const started = <P extends { name: string; draining: boolean; outbox: Array<number> }>(o: Outboxes<P>, backlog: number, force = false) => {
  const names: Array<string> = []
  Effect.runSync(o.flush(backlog, (p) => Effect.sync(() => void names.push(p.name)), force))
  return names
}

describe("Outboxes", () => {
  it("starts one writer per peer once nothing waits, however many frames were queued", () => {
    const o = new Outboxes<ReturnType<typeof peer>>(64)
    const a = peer("a")
    const b = peer("b")
    for (let i = 0; i < 3; i++) {
      a.outbox.push(i)
      o.queued(a)
    }
    b.outbox.push(0)
    o.queued(b)
    expect(started(o, 2)).toEqual([])
    expect(started(o, 0)).toEqual(["a", "b"])
    expect(a.draining && b.draining).toBe(true)
    expect(started(o, 0)).toEqual([])
  })

  it("starts writers during a backlog once `every` frames piled up, or when forced", () => {
    const o = new Outboxes<ReturnType<typeof peer>>(4)
    const a = peer("a")
    for (let i = 0; i < 3; i++) {
      a.outbox.push(i)
      o.queued(a)
    }
    expect(started(o, 10)).toEqual([])
    expect(started(o, 10, true)).toEqual(["a"])
    const b = peer("b")
    for (let i = 0; i < 4; i++) {
      b.outbox.push(i)
      o.queued(b)
    }
    expect(started(o, 10)).toEqual(["b"])
  })

  it("leaves a peer whose writer runs, or whose outbox emptied meanwhile, alone", () => {
    const o = new Outboxes<ReturnType<typeof peer>>()
    const busy = { ...peer("busy"), draining: true }
    busy.outbox.push(1)
    o.queued(busy)
    const emptied = peer("emptied")
    o.queued(emptied)
    expect(started(o, 0)).toEqual([])
  })

  it("thenFlush flushes after the handling and answers the state, with no effect built when there is nothing to do", () => {
    const log: Array<string> = []
    const state = { n: 1 }
    const handled = Effect.sync(() => void log.push("handled"))
    expect(Effect.runSync(thenFlush(handled, () => Effect.sync(() => void log.push("flush")), state))).toBe(state)
    expect(log).toEqual(["handled", "flush"])
    const idle = thenFlush(Effect.void, () => Effect.void, state)
    expect(Effect.runSync(idle)).toBe(state)
  })
})
