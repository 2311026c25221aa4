/**
 * Properties of streaming calls (PROTOCOL.md §9.5) over the whole path: a caller endpoint, the
 * station's dispatcher relaying, and a provider endpoint (`StreamPath`), driven by arbitrary
 * interleavings of application sends, consumption, half-closes, handler returns and failures,
 * cancels, frame deliveries on each link, and time:
 * - ordering: each side receives exactly a prefix of what the other sent, in order;
 * - credit: no side ever has more messages on the wire than the other granted, and no
 *   flow-control violation (reset, counter) is ever seen at either end or at the station;
 * - bounded buffers: unconsumed messages, messages in flight and send queues stay within
 *   `streamInitialCredit` / `streamQueueMax`, however slow a consumer is;
 * - every call ends exactly once (one completion, the handler run at most once), and leaves
 *   no state behind at any of the three;
 * - nothing on the wire is lost before a successful reply;
 * - cancel propagates: the caller's cancel aborts a running handler and ends the call;
 * - model-based (testkit `Model` runner, virtual clock firing the three cores' timers): what
 *   each application receives follows an ideal FIFO pipe of what the other's core accepted,
 *   the caller's deadline ends the call, and a cancel before the end makes it `Cancelled`.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rpc } from "../src/protocols/rpc/index.ts"
import * as Model from "../src/testkit/model/index.ts"
import type * as Frame from "../src/wire/Frame.ts"
import {
  initialPath,
  type LinkName,
  linkNames,
  type PathCommand,
  type PathEvent,
  type PathState,
  pathStep,
  pathViolations
} from "../test/unit/protocols/rpc/StreamPath.ts"

type Act =
  | { readonly k: "send"; readonly side: "caller" | "provider" }
  | { readonly k: "consume"; readonly side: "caller" | "provider"; readonly n: number }
  | { readonly k: "close"; readonly side: "caller" | "provider" }
  | { readonly k: "return"; readonly ok: boolean }
  | { readonly k: "cancel" }
  | { readonly k: "deliver"; readonly link: LinkName }
  | { readonly k: "wait"; readonly ms: number }

const side = fc.constantFrom("caller" as const, "provider" as const)
const act = (withCancel: boolean): fc.Arbitrary<Act> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant("send" as const), side }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant("consume" as const), side, n: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("close" as const), side }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("return" as const), ok: fc.boolean() }) },
    { weight: withCancel ? 1 : 0, arbitrary: fc.constant({ k: "cancel" as const }) },
    { weight: 8, arbitrary: fc.record({ k: fc.constant("deliver" as const), link: fc.constantFrom(...linkNames) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("wait" as const), ms: fc.integer({ min: 1, max: 400 }) }) }
  )
const mode = fc.constantFrom<Frame.CallMode>("server", "client", "bidi")

/** Runs a path under a timer table and a clock, checking the invariants after every step. */
const runner = (s: PathState) => {
  const timers = new Map<string, { at: number; generation: number }>()
  let now = 0
  const step = (e: PathEvent): ReadonlyArray<PathCommand> => {
    const [, out] = pathStep(s, e)
    for (const c of out) {
      if (c._tag === "SetTimer") timers.set(c.timer, { at: c.at, generation: c.generation })
      else if (c._tag === "CancelTimer") timers.delete(c.timer)
    }
    expect(pathViolations(s)).toEqual([])
    return out
  }
  const fireDue = (until: number): void => {
    for (let guard = 0; guard < 1_000; guard++) {
      const due = Array.from(timers).filter(([, t]) => t.at <= until).sort((x, y) => x[1].at - y[1].at)[0]
      if (due === undefined) break
      timers.delete(due[0])
      now = Math.max(now, due[1].at)
      step({ _tag: "TimerFired", timer: due[0], generation: due[1].generation, now })
    }
    now = Math.max(now, until)
  }
  const apply = (a: Act): void => {
    switch (a.k) {
      case "send":
      case "close":
        return void step({ _tag: a.k === "send" ? "Send" : "Close", side: a.side, now })
      case "consume":
        return void step({ _tag: "Consume", side: a.side, n: a.n, now })
      case "return":
        return void step({ _tag: "Return", ok: a.ok, now })
      case "cancel":
        return void step({ _tag: "Cancel", now })
      case "deliver":
        return void step({ _tag: "Deliver", link: a.link, now })
      case "wait":
        return fireDue(now + a.ms)
    }
  }
  /** Delivers everything, consuming as it arrives (if `consume`), then lets time run out. */
  const drain = (consume: boolean): void => {
    for (let guard = 0; guard < 20_000; guard++) {
      const link = linkNames.find((l) => s.links[l].length > 0)
      if (link !== undefined) {
        step({ _tag: "Deliver", link, now })
        continue
      }
      const behind = (["caller", "provider"] as const).find((x) => s.apps[x].received.length > s.apps[x].consumed)
      if (consume && behind !== undefined) {
        step({ _tag: "Consume", side: behind, n: 1_000, now })
        continue
      }
      const next = Array.from(timers.values()).sort((x, y) => x.at - y.at)[0]
      if (next === undefined) return
      fireDue(next.at)
    }
    throw new Error("the path never went quiet")
  }
  /** Delivers every frame on every link, and what that causes, without time passing. */
  const flush = (): void => {
    for (let link = linkNames.find((l) => s.links[l].length > 0); link !== undefined; link = linkNames.find((l) => s.links[l].length > 0)) {
      step({ _tag: "Deliver", link, now })
    }
  }
  return {
    step,
    apply,
    drain,
    flush,
    timers,
    get now() {
      return now
    }
  }
}

describe("rpc streams over a station: every interleaving", () => {
  it("keeps order, credit and bounded buffers at every step, and ends every call exactly once", () => {
    fc.assert(
      fc.property(mode, fc.array(act(true), { maxLength: 150 }), fc.boolean(), (m, acts, consumeAtEnd) => {
        const s = initialPath(m, 2_000)
        const r = runner(s)
        r.step({ _tag: "Start", now: 0 })
        for (const a of acts) r.apply(a)
        r.drain(consumeAtEnd)
        // Exactly one completion, and nothing left anywhere.
        expect(s.completions.length).toBe(1)
        expect(Rpc.dispatcherSizes(s.station)).toMatchObject({ calls: 0, legs: 0 })
        expect(Rpc.endpointSizes(s.caller)).toMatchObject({ calls: 0 })
        expect(Rpc.endpointSizes(s.provider)).toMatchObject({ incoming: 0 })
        expect(r.timers.size).toBe(0)
        // Nothing the provider put on the wire is lost before a successful reply.
        if (s.completions[0]!._tag === "Ok") expect(s.apps.caller.received.length).toBe(s.apps.provider.dataOnWire)
      }),
      { numRuns: 300 }
    )
  })

  it("a slow consumer holds the producer at the window: nothing piles up anywhere", () => {
    fc.assert(
      fc.property(fc.constantFrom<Frame.CallMode>("server", "bidi"), fc.integer({ min: 1, max: 200 }), (m, sends) => {
        const s = initialPath(m, 100_000)
        const r = runner(s)
        r.step({ _tag: "Start", now: 0 })
        for (let i = 0; i < 20; i++) for (const l of linkNames) r.step({ _tag: "Deliver", link: l, now: 0 })
        for (let i = 0; i < sends; i++) {
          r.step({ _tag: "Send", side: "provider", now: 0 })
          for (const l of linkNames) r.step({ _tag: "Deliver", link: l, now: 0 })
        }
        r.flush()
        const window = s.config.streamInitialCredit
        // The caller consumed nothing: exactly the window arrived, the rest waits in the
        // provider's bounded queue or was refused there (never sent, so never lost unseen).
        expect(s.apps.caller.received.length).toBe(Math.min(window, sends))
        expect(s.apps.provider.sent.length).toBeLessThanOrEqual(window + s.config.streamQueueMax)
        // Consuming releases the rest in order.
        for (let round = 0; round < 10; round++) {
          r.step({ _tag: "Consume", side: "caller", n: 1_000, now: 0 })
          r.flush()
        }
        expect(s.apps.caller.received).toEqual(s.apps.provider.sent)
      }),
      { numRuns: 100 }
    )
  })

  it("the caller's cancel reaches a running handler and ends the call as Cancelled", () => {
    fc.assert(
      fc.property(mode, fc.array(act(false), { maxLength: 80 }), (m, acts) => {
        const s = initialPath(m, 60_000)
        const r = runner(s)
        r.step({ _tag: "Start", now: 0 })
        for (const a of acts) r.apply(a)
        const running = s.handlerRuns === 1 && !s.handlerDone && s.completions.length === 0 &&
          s.provider.incoming.size === 1
        const open = s.completions.length === 0
        r.step({ _tag: "Cancel", now: r.now })
        r.drain(false)
        if (open) expect(s.completions.map((c) => c._tag)).toEqual(["Cancelled"])
        if (running) expect(s.handlerAborts).toBe(1)
        expect(Rpc.dispatcherSizes(s.station).calls).toBe(0)
        expect(s.provider.incoming.size).toBe(0)
      }),
      { numRuns: 300 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Model-based: the path beside an ideal pipe
// ---------------------------------------------------------------------------------------------

/**
 * The reference: an ideal call between two applications. Each direction is a FIFO of the
 * values its sender's core accepted; deliveries take them in order. The call is over at the
 * first completion, and by the caller's deadline at the latest; a cancel before that ends it
 * as `Cancelled`.
 */
interface Ideal {
  readonly queue: { readonly caller: ReadonlyArray<number>; readonly provider: ReadonlyArray<number> }
  readonly taken: { readonly caller: number; readonly provider: number }
  readonly deadline: number | undefined
  readonly over: string | undefined
  readonly cancelledOpen: boolean
}

const idealSpec = (m: Frame.CallMode, timeoutMs: number): Model.Spec<PathState, PathEvent, PathCommand, Ideal> => ({
  step: pathStep,
  initial: () => initialPath(m, timeoutMs),
  prelude: (now) => [{ _tag: "Start", now }],
  model: {
    initial: () => ({ queue: { caller: [], provider: [] }, taken: { caller: 0, provider: 0 }, deadline: undefined, over: undefined, cancelledOpen: false }),
    next: (ideal, event, { commands }) => {
      let { queue, taken, deadline, over, cancelledOpen } = ideal
      if (event._tag === "Start") deadline = event.now + timeoutMs
      if (event._tag === "Cancel" && over === undefined) cancelledOpen = true
      for (const c of commands) {
        // What a sender's core accepted is what its receiver must get, in order.
        if (c._tag === "Accepted") {
          const to = c.side === "caller" ? "provider" : "caller"
          queue = { ...queue, [to]: [...queue[to], c.value] }
        }
        if (c._tag === "Delivered") taken = { ...taken, [c.side]: taken[c.side] + 1 }
        if (c._tag === "Completed" && over === undefined) over = c.outcome._tag
      }
      return { queue, taken, deadline, over, cancelledOpen }
    }
  },
  actions: {
    callerSend: Model.action(fc.constant(0), (_v, { now }) => ({ _tag: "Send", side: "caller", now })),
    providerSend: Model.action(fc.constant(0), (_v, { now }) => ({ _tag: "Send", side: "provider", now }), { weight: 2 }),
    consume: Model.action(fc.record({ side, n: fc.integer({ min: 1, max: 4 }) }), ({ side, n }, { now }) => ({ _tag: "Consume", side, n, now }), { weight: 2 }),
    close: Model.action(side, (s, { now }) => ({ _tag: "Close", side: s, now })),
    handlerReturns: Model.action(fc.boolean(), (ok, { now }) => ({ _tag: "Return", ok, now })),
    cancel: Model.action(fc.constant(0), (_v, { now }) => ({ _tag: "Cancel", now })),
    deliver: Model.action(fc.constantFrom(...linkNames), (link, { now }) => ({ _tag: "Deliver", link, now }), { weight: 6 }),
    wait: Model.advance({ max: 300 })
  },
  timers: Model.tagged({ fire: (timer: string, generation, now): PathEvent => ({ _tag: "TimerFired", timer, generation, now }) }),
  invariant: (s) => pathViolations(s),
  check: ({ commands, before, model, state, now }) => {
    const problems: Array<string> = []
    const seen = { caller: before.taken.caller, provider: before.taken.provider }
    for (const c of commands) {
      if (c._tag !== "Delivered") continue
      const expected = model.queue[c.side][seen[c.side]]
      if (c.value !== expected) problems.push(`${c.side} got ${c.value}, the ideal pipe says ${expected}`)
      seen[c.side]++
    }
    if (model.deadline !== undefined && now >= model.deadline && state.completions.length !== 1) {
      problems.push(`at ${now}, past the deadline ${model.deadline}, the call completed ${state.completions.length} times`)
    }
    if (model.cancelledOpen && model.over !== undefined && model.over !== "Cancelled") problems.push(`cancelled, yet ended ${model.over}`)
    return problems
  }
})

describe("rpc streams: model-based, against an ideal pipe", () => {
  for (const m of ["server", "client", "bidi"] as const) {
    it(`${m}: deliveries follow the ideal pipe, the deadline ends the call, cancel wins`, () => {
      Model.assert(idealSpec(m, 1_000), { numRuns: 150, maxActions: 120 })
    })
  }
})
