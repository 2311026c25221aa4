/**
 * The station's relay of content sessions (PROTOCOL.md §12.3, the `to` field): a sans-IO core.
 *
 * Clients never listen, so a content session between two clients always goes through stations.
 * The fetcher opens a session on its home station's connection whose first frame carries
 * `to` = the provider's key. The station splices that session to a session of its own:
 * - straight to the provider when the provider is one of its attached clients (the hop's far
 *   end is then the connection's peer, so `to` is stripped);
 * - through the provider's home station otherwise (`to` kept; that station splices again). A
 *   session that arrives from another station is only ever spliced to an attached client, so a
 *   relayed session crosses at most two stations and cannot loop.
 *
 * The relay stores nothing: frames go on as they come, one session at a time, and the actor
 * awaits each send, so a slow far end pushes back through QUIC flow control. Limits:
 * `maxSessions` relayed sessions at once, `maxSessionsPerPeer` per upstream peer (excess refused
 * `err relay_refused`), `maxPendingFrames` frames held while the route is being found, and
 * `maxWantsPerSession` block wants outstanding per session: excess wants are answered
 * `content.have {y: false}` here and never travel on (the serving side's credit, §12.3).
 * Every push offer (`content.have`) and every request carrying `to` or `from` from a client is
 * stamped with `from` = the client before it enters the relay (`stampRelayed`, §12.6, §13.0), so
 * its far end knows the sender; a client can never be named as anyone else.
 * A session silent for `idleMs` in both directions is closed with `err relay_failed` (a content
 * session has no closing frame; the fetcher just stops). When the far end's connection or session fails the near end
 * gets `err relay_failed`, which the fetcher takes as the provider lost.
 *
 * Pure: no I/O, no clock (`now` comes in events). The state is owned by its driver: the step
 * updates its maps in place and returns the same object.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis } from "../../core/Millis.ts"
import type { ContentHave, ContentWant, Err, Frame } from "../../wire/Frame.ts"
import * as Ids from "./Ids.ts"

/**
 * The relay's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** This station's DID: a `to` naming it is not relayed. */
  readonly self: string
  /** Relayed sessions at once. @default 1_024 */
  readonly maxSessions: number
  /** Relayed sessions at once from one upstream peer. @default 64 */
  readonly maxSessionsPerPeer: number
  /** Frames held per session while its route is found and its far session opened. @default 64 */
  readonly maxPendingFrames: number
  /** Block wants outstanding per session; excess is answered `y: false`. @default 256 */
  readonly maxWantsPerSession: number
  /** A session silent this long both ways is closed. Unit: ms. @default 60_000 (wantTtlMs) */
  readonly idleMs: Millis
}

/**
 * The defaults of every limit, for `self`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (self: string, overrides: Partial<Omit<Config, "self">> = {}): Config => ({
  self,
  maxSessions: 1_024,
  maxSessionsPerPeer: 64,
  maxPendingFrames: 64,
  maxWantsPerSession: 256,
  idleMs: 60_000,
  ...overrides
})

/**
 * Where a target can be reached from here: attached to this station, or through these stations
 * (its endpoint record's `st`, those this station has a connection to).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reach {
  readonly attached: boolean
  readonly stations: ReadonlyArray<string>
}

/**
 * One relayed session, named by its upstream end (`key`, the actor's connection/stream).
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly key: string
  /** The upstream peer's DID. */
  readonly peer: string
  readonly target: string
  /** The session came from a client, so it may go on through another station. */
  readonly stationsAllowed: boolean
  phase: "resolving" | "opening" | "open"
  /** The next hop's DID, once routed. */
  via: string | undefined
  /** Whether the first frame keeps `to` (the next hop is a station). */
  keepTo: boolean
  /** Frames from upstream waiting for the far session. */
  readonly pending: Array<Frame>
  /** Block wants forwarded and not yet answered, by MCID key. */
  readonly wants: Set<string>
  lastAt: Millis
  first: boolean
}

/**
 * The relay's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly sessions: Map<string, Session>
  readonly perPeer: Map<string, number>
  readonly counters: Counters
}

/**
 * What the relay counted (metrics, tests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  opened: number
  refused: number
  failed: number
  closedIdle: number
  framesUp: number
  framesDown: number
  wantsDeclined: number
}

/**
 * An empty relay.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (): State => ({
  sessions: new Map(),
  perPeer: new Map(),
  counters: { opened: 0, refused: 0, failed: 0, closedIdle: 0, framesUp: 0, framesDown: 0, wantsDeclined: 0 }
})

/**
 * What the driver tells the relay.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** A frame on a session a peer opened with us. `to`: the DID its first frame names, if any. */
  UpFrame: { readonly now: Millis; readonly key: string; readonly peer: string; readonly peerRole: "client" | "station"; readonly frame: Frame; readonly to: string | undefined }
  /** The answer to `Resolve`. */
  Resolved: { readonly now: Millis; readonly key: string; readonly reach: Reach }
  /** The far session of `key` is open. */
  DownOpened: { readonly now: Millis; readonly key: string }
  /** The far session of `key` could not be opened, or failed (its connection or stream is gone). */
  DownFailed: { readonly now: Millis; readonly key: string; readonly reason: string }
  /** A frame from the far end of `key`. */
  DownFrame: { readonly now: Millis; readonly key: string; readonly frame: Frame }
  /** The upstream connection of these sessions is gone. */
  UpLost: { readonly now: Millis; readonly keys: ReadonlyArray<string> }
  /** Periodic: close idle sessions. */
  Tick: { readonly now: Millis }
}>

/**
 * Constructors of `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

/**
 * What the driver must do, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Not a relayed session: hand the frame to the serving side as usual. */
  Local: { readonly frame: Frame }
  /** Find where `target` is (attached here, or its endpoint record's stations); answer `Resolved`. */
  Resolve: { readonly key: string; readonly target: string; readonly stationsAllowed: boolean }
  /** Open a content session to `via` for `key`. */
  Open: { readonly key: string; readonly via: string }
  /** Send on the far session of `key`. */
  ToDown: { readonly key: string; readonly frame: Frame }
  /** Send on the upstream session of `key`. */
  ToUp: { readonly key: string; readonly frame: Frame }
  /** Finish and forget the far session of `key`. */
  EndDown: { readonly key: string }
}>

/**
 * Constructors of `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

const errFrame = (c: "relay_refused" | "relay_failed", m: string): Err => ({ t: "err", c, m: m.slice(0, 200) })

const drop = (state: State, s: Session): void => {
  state.sessions.delete(s.key)
  const n = (state.perPeer.get(s.peer) ?? 1) - 1
  if (n <= 0) state.perPeer.delete(s.peer)
  else state.perPeer.set(s.peer, n)
}

/** The first frame toward the next hop: `to` stays only when that hop is a station. */
const firstFrame = (frame: Frame, keepTo: boolean): Frame => {
  if (keepTo || !("to" in frame)) return frame
  const { to: _to, ...rest } = frame as Frame & { readonly to?: Uint8Array }
  return rest as Frame
}

/** Applies the want credit to an upstream frame: what travels on, and what is declined here. */
const credit = (config: Config, state: State, s: Session, frame: Frame): { readonly forward: Frame | undefined; readonly declined: ContentHave | undefined } => {
  if (frame.t === "content.cancel") {
    for (const m of frame.c) s.wants.delete(Ids.key(m))
    return { forward: frame, declined: undefined }
  }
  if (frame.t !== "content.want") return { forward: frame, declined: undefined }
  if (frame.full === true) s.wants.clear()
  const kept: Array<ContentWant["w"][number]> = []
  const refused: Array<ContentHave["h"][number]> = []
  for (const entry of frame.w) {
    if (entry.k !== "block") {
      kept.push(entry)
      continue
    }
    const k = Ids.key(entry.m)
    if (s.wants.has(k) || s.wants.size < config.maxWantsPerSession) {
      s.wants.add(k)
      kept.push(entry)
    } else refused.push({ m: entry.m, y: false })
  }
  state.counters.wantsDeclined += refused.length
  const declined: ContentHave | undefined = refused.length === 0 ? undefined : { t: "content.have", h: refused }
  if (kept.length === 0 && frame.full !== true) return { forward: undefined, declined }
  return { forward: kept.length === frame.w.length ? frame : { ...frame, w: kept }, declined }
}

/** Answers from the far end settle the wants they answer. */
const settle = (s: Session, frame: Frame): void => {
  if (frame.t === "content.block") s.wants.delete(Ids.key(frame.m))
  else if (frame.t === "content.have") for (const e of frame.h) if (!e.y) s.wants.delete(Ids.key(e.m))
}

/** Sends upstream frames toward the far end (the first one with `to` fixed). */
const forward = (config: Config, state: State, s: Session, frames: ReadonlyArray<Frame>, out: Array<Command>): void => {
  for (const frame of frames) {
    const { forward: f, declined } = credit(config, state, s, frame)
    if (declined !== undefined) out.push(Command.ToUp({ key: s.key, frame: declined }))
    if (f === undefined) continue
    out.push(Command.ToDown({ key: s.key, frame: s.first ? firstFrame(f, s.keepTo) : f }))
    s.first = false
    state.counters.framesDown++
  }
}

/**
 * The relay's step for a config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Config) => (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
  const out: Array<Command> = []
  switch (event._tag) {
    case "UpFrame": {
      const s = state.sessions.get(event.key)
      if (s === undefined) {
        if (event.to === undefined || event.to === config.self) return [state, [Command.Local({ frame: event.frame })]]
        const perPeer = state.perPeer.get(event.peer) ?? 0
        if (state.sessions.size >= config.maxSessions || perPeer >= config.maxSessionsPerPeer) {
          state.counters.refused++
          return [state, [Command.ToUp({ key: event.key, frame: errFrame("relay_refused", "too many relayed sessions") })]]
        }
        const session: Session = {
          key: event.key, peer: event.peer, target: event.to, stationsAllowed: event.peerRole === "client", phase: "resolving", via: undefined, keepTo: false,
          pending: [event.frame], wants: new Set(), lastAt: event.now, first: true
        }
        state.sessions.set(event.key, session)
        state.perPeer.set(event.peer, perPeer + 1)
        // A session from another station only goes to an attached client: two station hops at most.
        return [state, [Command.Resolve({ key: event.key, target: event.to, stationsAllowed: event.peerRole === "client" })]]
      }
      s.lastAt = event.now
      if (s.phase !== "open") {
        if (s.pending.length >= config.maxPendingFrames) {
          drop(state, s)
          state.counters.refused++
          return [state, [Command.ToUp({ key: s.key, frame: errFrame("relay_refused", "too many frames before the route was found") })]]
        }
        s.pending.push(event.frame)
        return [state, []]
      }
      forward(config, state, s, [event.frame], out)
      return [state, out]
    }
    case "Resolved": {
      const s = state.sessions.get(event.key)
      if (s === undefined || s.phase !== "resolving") return [state, []]
      const station = s.stationsAllowed ? event.reach.stations.find((st) => st !== config.self && st !== s.peer) : undefined
      if (event.reach.attached) s.via = s.target
      else if (station !== undefined) {
        s.via = station
        s.keepTo = true
      }
      if (s.via === undefined) {
        drop(state, s)
        state.counters.refused++
        return [state, [Command.ToUp({ key: s.key, frame: errFrame("relay_refused", `no route to ${s.target}`) })]]
      }
      s.phase = "opening"
      s.lastAt = event.now
      return [state, [Command.Open({ key: s.key, via: s.via })]]
    }
    case "DownOpened": {
      const s = state.sessions.get(event.key)
      if (s === undefined || s.phase !== "opening") return [state, []]
      s.phase = "open"
      s.lastAt = event.now
      state.counters.opened++
      forward(config, state, s, s.pending.splice(0), out)
      return [state, out]
    }
    case "DownFailed": {
      const s = state.sessions.get(event.key)
      if (s === undefined) return [state, []]
      drop(state, s)
      state.counters.failed++
      return [state, [Command.ToUp({ key: s.key, frame: errFrame("relay_failed", event.reason) }), Command.EndDown({ key: s.key })]]
    }
    case "DownFrame": {
      const s = state.sessions.get(event.key)
      if (s === undefined || s.phase !== "open") return [state, []]
      s.lastAt = event.now
      settle(s, event.frame)
      state.counters.framesUp++
      return [state, [Command.ToUp({ key: s.key, frame: event.frame })]]
    }
    case "UpLost": {
      for (const key of event.keys) {
        const s = state.sessions.get(key)
        if (s === undefined) continue
        drop(state, s)
        out.push(Command.EndDown({ key }))
      }
      return [state, out]
    }
    case "Tick": {
      for (const s of [...state.sessions.values()]) {
        if (event.now - s.lastAt < config.idleMs) continue
        drop(state, s)
        state.counters.closedIdle++
        // The near end learns it, rather than having its next frames served by this station.
        out.push(Command.ToUp({ key: s.key, frame: errFrame("relay_failed", "idle") }), Command.EndDown({ key: s.key }))
      }
      return [state, out]
    }
  }
}

/** The content frames whose `from` names a peer (§12.6 offers, §13.0 requests). */
const namesFrom = (frame: Frame): frame is Extract<Frame, { readonly t: "content.have" | "content.want" | "content.manifest_req" }> =>
  frame.t === "content.have" || frame.t === "content.want" || frame.t === "content.manifest_req"

/**
 * What a station passes on of a content frame from `upstream` toward a relayed session's far end
 * (§12.3): from a client, every `content.have` (the first offer names the far end in `to`, a
 * repeat does not, and both must name the client) and every `content.want` or
 * `content.manifest_req` that carries `to` or `from` gets `from` = the client's key, whatever the
 * client put there. Without this a client could send its first frame honestly and a later one
 * with `from` naming someone else, or with no `from` at all (which the recipient reads as the
 * relaying station's own offer). From a station the frame is returned as it is (stations are
 * trusted to route, §13.4).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stampRelayed = (frame: Frame, upstream: { readonly role: "client" | "station"; readonly key: Uint8Array }): Frame => {
  if (upstream.role !== "client" || !namesFrom(frame)) return frame
  if (frame.t !== "content.have" && frame.to === undefined && frame.from === undefined) return frame
  return { ...frame, from: upstream.key }
}

/**
 * What a node serves itself of a content frame from `upstream` (not relayed): a client can only
 * ever be named by `from` as itself, so a `from` a client put on a `content.have`,
 * `content.want` or `content.manifest_req` is replaced by its own key (a visitor's offer keeps
 * its mark, §12.6; a request names its peer, §13.0). A frame without `from`, or from a station,
 * is returned as it is.
 *
 * @since 0.1.0
 * @category constructors
 */
export const confineFrom = (frame: Frame, upstream: { readonly role: "client" | "station"; readonly key: Uint8Array }): Frame => {
  if (upstream.role !== "client" || !namesFrom(frame) || frame.from === undefined) return frame
  return { ...frame, from: upstream.key }
}

/**
 * The relayed sessions of one upstream connection (its keys start with `connectionId/`).
 *
 * @since 0.1.0
 * @category getters
 */
export const keysOf = (state: State, connectionId: string): ReadonlyArray<string> =>
  [...state.sessions.keys()].filter((k) => k.startsWith(`${connectionId}/`))
