/**
 * The content exchange on the deterministic simulator: one fetcher (the fetch core plus a
 * store in its state, standing in for `ContentFetchActor` and `ContentStore`) and providers
 * (the serving core plus the blocks they hold, standing in for `ContentStoreActor`). Provider
 * behaviours: honest, `liar` (serves corrupted blocks and manifests), `mute` (receives but
 * never answers). Crashes and slow links come from the simulator itself.
 */
import type { Millis } from "../../../../src/core/Millis.ts"
import * as Content from "../../../../src/content/Content.ts"
import * as Mcid from "../../../../src/content/Mcid.ts"
import type * as Config from "../../../../src/protocols/content/Config.ts"
import * as Fetch from "../../../../src/protocols/content/Fetch.ts"
import * as Serve from "../../../../src/protocols/content/Serve.ts"
import * as Sim from "../../../../src/testkit/sim/index.ts"
import * as Codec from "../../../../src/wire/Codec.ts"

export type Behaviour = "honest" | "liar" | "mute"

export type Frame = Fetch.Outbound | Fetch.Inbound

export type Timer = { readonly _tag: "Fetch"; readonly timer: Fetch.Timer } | { readonly _tag: "Serve"; readonly timer: Serve.Timer }

export type State =
  | {
    readonly _tag: "Fetcher"
    readonly fetch: Fetch.State
    /** The store: chunk index → bytes (verified by the core before it asked to store). */
    readonly stored: ReadonlyMap<number, Uint8Array>
    readonly manifest: Uint8Array | undefined
    readonly storedBad: number
  }
  | { readonly _tag: "Provider"; readonly serve: Serve.State; readonly blocks: ReadonlyMap<string, Uint8Array>; readonly behaviour: Behaviour }

export type Event =
  | { readonly _tag: "Start"; readonly now: Millis; readonly providers: ReadonlyArray<string>; readonly held: Fetch.Stored }
  | { readonly _tag: "Msg"; readonly now: Millis; readonly from: string; readonly frame: Frame }
  | { readonly _tag: "Timer"; readonly now: Millis; readonly timer: Timer; readonly generation: number }
  | { readonly _tag: "Fetch"; readonly event: Fetch.Event; readonly now: Millis }

export type Record = { readonly _tag: "Completed"; readonly at: Millis } | { readonly _tag: "Blacklisted"; readonly provider: string }

type Action = Sim.Action<Frame, Timer, Record>

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** Every frame goes through the real codec, as on a session: encoded, then decoded and checked. */
const wire = <F extends Frame>(frame: F): F => {
  const bytes = Codec.encode(frame)
  if (!(bytes instanceof Uint8Array)) throw new Error(`a core emitted a frame the codec refuses: ${bytes.message}`)
  const back = Codec.decode(bytes)
  if (!("t" in back) || back.t !== frame.t) throw new Error(`a core emitted a frame that does not decode: ${JSON.stringify(back)}`)
  return back as F
}

const corrupt = (b: Uint8Array): Uint8Array => {
  const out = b.slice()
  if (out.length > 0) out[out.length >> 1] = out[out.length >> 1]! ^ 0x5a
  else return new Uint8Array([1])
  return out
}

/** Runs the fetch core on one event, carrying out store commands at once (as the actor would). */
const fetchStep = (config: Config.Config, s: Extract<State, { _tag: "Fetcher" }>, first: Fetch.Event): readonly [State, ReadonlyArray<Action>] => {
  const step = Fetch.make(config)
  let fetch = s.fetch
  let stored = s.stored
  let manifest = s.manifest
  let storedBad = s.storedBad
  const actions: Array<Action> = []
  const queue: Array<Fetch.Event> = [first]
  while (queue.length > 0) {
    const [next, commands] = step(fetch, queue.shift()!)
    fetch = next
    for (const c of commands) {
      switch (c._tag) {
        case "Send":
          actions.push(Sim.send(c.to, wire(c.frame)))
          break
        case "SetTimer":
          actions.push(Sim.setTimer({ _tag: "Fetch", timer: c.timer }, c.at, c.generation))
          break
        case "CancelTimer":
          actions.push(Sim.cancelTimer({ _tag: "Fetch", timer: c.timer }))
          break
        case "StoreManifest":
          manifest = c.bytes
          queue.push(Fetch.Event.ManifestStored({ now: first.now, held: [] }))
          break
        case "StoreBlock":
          if (!Mcid.verifies(Mcid.fromBytes(c.mcid), c.bytes)) storedBad++
          stored = new Map(stored).set(c.index, c.bytes)
          queue.push(Fetch.Event.Stored({ now: first.now, index: c.index }))
          break
        case "Blacklist":
          actions.push(Sim.emit({ _tag: "Blacklisted", provider: c.provider }))
          break
        case "Completed":
          actions.push(Sim.emit({ _tag: "Completed", at: first.now }))
          break
        case "Score":
          actions.push(Sim.count(`score:${c.reason}`))
          break
        default:
          actions.push(Sim.count(c._tag))
      }
    }
  }
  return [{ ...s, fetch, stored, manifest, storedBad }, actions]
}

const serveStep = (config: Config.Config, s: Extract<State, { _tag: "Provider" }>, first: Serve.Event): readonly [State, ReadonlyArray<Action>] => {
  const step = Serve.make(config)
  let serve = s.serve
  const actions: Array<Action> = []
  const queue: Array<Serve.Event> = [first]
  const lie = s.behaviour === "liar"
  while (queue.length > 0) {
    const [next, commands] = step(serve, queue.shift()!)
    serve = next
    for (const c of commands) {
      switch (c._tag) {
        case "Send":
          actions.push(Sim.send(c.to, wire(c.frame)))
          if (c.frame.t === "content.block") queue.push(Serve.Event.BlockSent({ now: first.now, peer: c.to }))
          break
        case "ReadBlock": {
          const bytes = s.blocks.get(hex(c.m))
          queue.push(Serve.Event.BlockRead({ now: first.now, peer: c.peer, m: c.m, ...(bytes === undefined ? {} : { bytes: lie ? corrupt(bytes) : bytes }) }))
          break
        }
        case "ReadManifest": {
          const bytes = s.blocks.get(hex(c.m))
          queue.push(Serve.Event.ManifestRead({ now: first.now, peer: c.peer, id: c.id, m: c.m, ...(bytes === undefined ? {} : { bytes: lie ? corrupt(bytes) : bytes }) }))
          break
        }
        case "CheckHave": {
          const bytes = s.blocks.get(hex(c.m))
          queue.push(Serve.Event.HaveChecked({ now: first.now, peer: c.peer, m: c.m, held: bytes !== undefined }))
          break
        }
        case "SetTimer":
          actions.push(Sim.setTimer({ _tag: "Serve", timer: c.timer }, c.at, c.generation))
          break
        case "Penalise":
          actions.push(Sim.count("serve:penalise"))
          break
      }
    }
  }
  return [{ ...s, serve }, actions]
}

export interface Scenario {
  readonly seed: number
  readonly content: Uint8Array
  readonly providers: ReadonlyArray<{ readonly id: string; readonly behaviour: Behaviour }>
  readonly config: Config.Config
  readonly network?: Partial<Sim.Network.Link>
  readonly link?: (from: string, to: string) => Partial<Sim.Network.Link> | undefined
}

/** Builds the simulation; the fetcher is node `f`. Inject `start` to begin. */
export const make = (scenario: Scenario) => {
  const layout = Content.describe(scenario.content)
  const blocks = new Map(Content.blocks(layout).map((b) => [hex(Mcid.bytes(b.mcid)), b.bytes.slice()]))
  const behaviours = new Map(scenario.providers.map((p) => [p.id, p.behaviour]))
  const sim = Sim.make<State, Event, Action, Frame, Timer, Record>({
    seed: scenario.seed,
    nodes: ["f", ...scenario.providers.map((p) => p.id)],
    initial: (ctx): State =>
      ctx.id === "f"
        ? { _tag: "Fetcher", fetch: Fetch.initial(Mcid.bytes(layout.mcid), ctx.seed), stored: new Map(), manifest: undefined, storedBad: 0 }
        : { _tag: "Provider", serve: Serve.initial, blocks, behaviour: behaviours.get(ctx.id) ?? "honest" },
    step: (state, event) => {
      if (state._tag === "Fetcher") {
        switch (event._tag) {
          case "Start":
            return fetchStep(scenario.config, state, Fetch.Event.Start({ now: event.now, providers: event.providers, stored: event.held }))
          case "Fetch":
            return fetchStep(scenario.config, state, event.event)
          case "Msg":
            if (event.frame.t === "content.block" || event.frame.t === "content.have" || event.frame.t === "content.manifest_res") {
              return fetchStep(scenario.config, state, Fetch.Event.FrameReceived({ now: event.now, from: event.from, frame: event.frame }))
            }
            return [state, []]
          case "Timer":
            return event.timer._tag === "Fetch"
              ? fetchStep(scenario.config, state, Fetch.Event.TimerFired({ now: event.now, timer: event.timer.timer, generation: event.generation }))
              : [state, []]
        }
      }
      if (state.behaviour === "mute") return [state, []]
      switch (event._tag) {
        case "Msg":
          if (event.frame.t === "content.want" || event.frame.t === "content.cancel" || event.frame.t === "content.manifest_req") {
            return serveStep(scenario.config, state, Serve.Event.FrameReceived({ now: event.now, from: event.from, frame: event.frame }))
          }
          return [state, []]
        case "Timer":
          return event.timer._tag === "Serve"
            ? serveStep(scenario.config, state, Serve.Event.TimerFired({ now: event.now, timer: event.timer.timer, generation: event.generation }))
            : [state, []]
        default:
          return [state, []]
      }
    },
    interpret: (action) => action,
    events: {
      message: (frame, from, now) => ({ _tag: "Msg", now, from, frame }),
      timer: (timer, generation, now) => ({ _tag: "Timer", now, timer, generation })
    },
    ...(scenario.network === undefined ? {} : { network: scenario.network }),
    ...(scenario.link === undefined ? {} : { link: scenario.link }),
    timerKey: (t) => t._tag === "Fetch" ? `f:${Fetch.timerKey(t.timer)}` : "sweep",
    kindOf: (frame) => frame.t
  })
  const start = (at: Millis, held: Fetch.Stored = { _tag: "Nothing" }, providers = scenario.providers.map((p) => p.id)) =>
    Sim.inject(sim, at, "f", { _tag: "Start", now: at, providers, held })
  const fetcher = () => {
    const s = Sim.state(sim, "f")
    if (s._tag !== "Fetcher") throw new Error("f is not the fetcher")
    return s
  }
  /** The fetched content reassembled from the fetcher's store, if complete. */
  const assembled = (): Uint8Array | undefined => {
    const f = fetcher()
    if (f.fetch.phase !== "done") return undefined
    if (layout._tag === "single") return f.stored.get(0)
    const out = new Uint8Array(layout.size)
    for (let i = 0; i < layout.manifest.chunkCount; i++) {
      const chunk = f.stored.get(i)
      if (chunk === undefined) return undefined
      out.set(chunk, i * 262_144)
    }
    return out
  }
  return { sim, layout, start, fetcher, assembled }
}
