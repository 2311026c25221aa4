/**
 * The station's RPC dispatcher (PROTOCOL.md §9): drives the `Rpc` dispatcher core over the
 * connections of the transport subtree, with provider records kept in the DHT through an
 * injected `Directory` port.
 *
 * What it owns: the core's state, one sleeping fiber per armed timer, one ordered outbox per
 * peer (frames leave on this side's `rpc` lane in the core's order), a watcher per adopted
 * connection, and the DHT stores and lookups in flight (forked; their completions come back as
 * `RecordStored` / `ProvidersResolved`).
 *
 * What it does around the core:
 * - **Connections.** As the pub/sub router: a ready client is `ClientAttached` (its close
 *   `ClientDetached`, which tombstones its providers), a ready station `PeerStatus alive` (its
 *   close `PeerStatus dead`, which fails the calls sent through it with `relay_failed` so an
 *   idempotent call retries elsewhere). A call for a station we hold no connection to is
 *   treated the same way.
 * - **Records.** `adv` / `unadv` records and the records the directory returns are opened
 *   (Ed25519 over the exact bytes, `provider` type, derived key, not expired) before the core
 *   sees them; a bad one from a client costs a major penalty (§14 row 17).
 * - **Grants.** `adv` and a client's `call` get the authorisation port's verdict.
 * - **Restart (§15.2).** The supervisor's `Journal` keeps each attached client's accepted
 *   `adv` frames; a restarted dispatcher replays them (storing the records again) without
 *   answering, so providers stay callable with no action from their clients.
 *
 * Not driven yet: streaming calls (§9.5). The connection handle opens lanes only, not call
 * streams, so `Send` / `ResetStream` commands aimed at a call stream are dropped and counted.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Did from "../src/identity/Did.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import type { Handle, Inbound, Lane } from "../src/protocols/connection/Handle.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import { hex } from "../src/protocols/rpc/Keys.ts"
import { Rpc } from "../src/protocols/rpc/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as RuntimeInbox from "../src/runtime/Inbox.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { ProviderRecordBody } from "../src/wire/SignedBody.ts"

/**
 * What the dispatcher needs of the transport subtree (a `TransportTree`'s registry fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface Connections {
  readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
}

/**
 * Where provider records live (§9.1, §10): the node backs it with the DHT subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Directory {
  /** Stores a signed provider record (or withdrawal); the number of replicas that acknowledged. */
  readonly putProvider: (record: Frame.Signed) => Effect.Effect<number, unknown>
  /** The signed provider records held for (realm, proc); verified here before use. */
  readonly findProviders: (realm: Uint8Array, proc: string) => Effect.Effect<ReadonlyArray<Frame.Signed>, unknown>
}

/**
 * One gated request for the authorisation port.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthRequest {
  readonly peerDid: string
  readonly realm: Uint8Array
  readonly command: "/mesh/advertise" | "/mesh/call"
  readonly topic: string
  readonly au: Frame.Authority | undefined
}

/**
 * The authorisation port: realm → UCAN verdict.
 *
 * @since 0.1.0
 * @category models
 */
export type Authorise = (request: AuthRequest) => Effect.Effect<Rpc.Verdict>

/**
 * What a restarted dispatcher replays (held by the supervisor).
 *
 * @since 0.1.0
 * @category models
 */
export interface Journal {
  /** Per client (hex key): its `adv` frames by `realmHex|proc`, with the opened record. */
  readonly ads: Map<string, Map<string, { readonly frame: Frame.Adv; readonly record: ProviderRecordBody }>>
  starts: number
}

/**
 * An empty journal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const journal = (): Journal => ({ ads: new Map(), starts: 0 })

/**
 * Where the node-wide `rpc` sink delivers.
 *
 * @since 0.1.0
 * @category models
 */
export type Inbox = RuntimeInbox.Inbox<Inbound, Msg>

/**
 * A fresh inbox; give `inbox.sink` to the transport as `sinks.rpc`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inbox = (): Inbox => RuntimeInbox.make((inbound: Inbound): Msg => ({ _tag: "Inbound", inbound }))

/**
 * What the dispatcher is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly publicKey: Uint8Array
  readonly config: Rpc.Config
  readonly connections: Connections
  readonly directory: Directory
  /** @default every request allowed (open realm) */
  readonly authorise?: Authorise
  /** @default strict Ed25519 */
  readonly verify?: Signed.Verify
  /** @default the platform's SHA-256 */
  readonly sha256?: (bytes: Uint8Array) => Uint8Array
  readonly journal: Journal
  readonly inbox: Inbox
  /** PRNG seed of the core (provider choice). @default drawn at each start */
  readonly seed?: number
  /** @default 1_000 */
  readonly scanIntervalMs?: number
}

/**
 * The dispatcher's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | { readonly _tag: "Closed"; readonly connectionId: string; readonly peer: string }
  | { readonly _tag: "Unreachable"; readonly peer: string }
  | { readonly _tag: "Stored"; readonly ref: number; readonly acks: number }
  | { readonly _tag: "Resolved"; readonly realm: Uint8Array; readonly proc: string; readonly records: ReadonlyArray<ProviderRecordBody> }
  | { readonly _tag: "Scan" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

/**
 * Sizes and counters, for tests and status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly sizes: ReturnType<typeof Rpc.dispatcherSizes>
  readonly counters: Rpc.DispatcherCounters
  readonly badRecords: number
  readonly streamFramesDropped: number
}

interface Peer {
  readonly id: string
  readonly handle: Handle
  readonly role: "client" | "station"
  lane: Lane | undefined
  /** Writes on the peer's own lane: where `ok` / `err` answers go (they cannot open a lane). */
  answer: Inbound["reply"] | undefined
  readonly outbox: Array<Frame.Frame>
  draining: boolean
}

const hexOfDid = (did: string): string | undefined => {
  const key = Did.parsePublicKey(did)
  return key instanceof Uint8Array ? hex(key) : undefined
}

const platformSha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash("sha256").update(bytes).digest())

class Driver {
  core!: Rpc.DispatcherState
  readonly step: ReturnType<typeof Rpc.makeDispatcherStep>
  readonly self: string
  timers!: CoreTimers.CoreTimers<string>
  readonly peers = new Map<string, Peer>()
  readonly verify: Signed.Verify
  readonly sha256: (bytes: Uint8Array) => Uint8Array
  /** `client|id` answers not to send (the replay after a restart). */
  readonly suppressed = new Set<string>()
  badRecords = 0
  streamFramesDropped = 0
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Rpc.makeDispatcherStep(options.config)
    this.self = hex(options.publicKey)
    this.verify = options.verify ?? Ed25519.verify
    this.sha256 = options.sha256 ?? platformSha256
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  tell(message: Msg): void {
    if (this.ref.isAlive()) this.ref.tell(message)
  }

  feed(event: Rpc.DispatcherEvent): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      for (const command of commands) yield* driver.interpret(command)
    })
  }

  interpret(command: Rpc.DispatcherCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        if (command.stream !== undefined) {
          driver.streamFramesDropped++
          return Effect.void
        }
        return driver.enqueue(command.to, command.frame)
      case "ResetStream":
        driver.streamFramesDropped++
        return Effect.void
      case "StoreRecord":
        return driver.fork(Effect.gen(function*() {
          const acks = yield* Effect.orElseSucceed(driver.options.directory.putProvider(command.record), () => 0)
          driver.tell({ _tag: "Stored", ref: command.ref, acks })
        }))
      case "ResolveProviders":
        return driver.fork(Effect.gen(function*() {
          const found = yield* Effect.orElseSucceed(
            driver.options.directory.findProviders(command.realm, command.proc),
            (): ReadonlyArray<Frame.Signed> => []
          )
          const wall = yield* Clock.currentTimeMillis
          const records: Array<ProviderRecordBody> = []
          for (const signed of found) {
            const body = driver.openProvider(signed, wall)
            if (body !== undefined) records.push(body)
          }
          driver.tell({ _tag: "Resolved", realm: command.realm, proc: command.proc, records })
        }))
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "Penalise": {
        const peer = driver.peers.get(command.peer)
        return peer === undefined ? Effect.void : driver.fork(peer.handle.penalize(command.severity, command.reason))
      }
    }
  }

  /** A verified, unexpired provider record with the right key; `undefined` otherwise. */
  openProvider(signed: Frame.Signed, wall: number): ProviderRecordBody | undefined {
    const body = Signed.openRecord({ b: signed.b, s: signed.s }, this.verify)
    if (body instanceof Error || body.ty !== "provider" || body.exp <= wall) return undefined
    const key = Records.expectedKey({ sha256: this.sha256 }, body)
    return hex(key) === hex(body.key) ? body : undefined
  }

  enqueue(to: string, frame: Frame.Frame): Effect.Effect<void> {
    const peer = this.peers.get(to)
    if (peer === undefined) {
      // A call for a station we hold no link to: that route is dead for now.
      if (frame.t === "call") this.tell({ _tag: "Unreachable", peer: to })
      return Effect.void
    }
    if ((frame.t === "ok" || frame.t === "err") && frame.id !== undefined && this.suppressed.delete(`${to}|${frame.id}`)) {
      return Effect.void
    }
    peer.outbox.push(frame)
    if (peer.draining) return Effect.void
    peer.draining = true
    return this.fork(this.drain(peer))
  }

  drain(peer: Peer): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      while (peer.outbox.length > 0) {
        const frame = peer.outbox.shift()!
        if (frame.t === "ok" || frame.t === "err") {
          // An answer goes back on the lane its request came on; without one it cannot be sent.
          if (peer.answer !== undefined) yield* Effect.ignore(peer.answer(frame))
          continue
        }
        if (peer.lane === undefined) {
          const lane = yield* Effect.result(peer.handle.openLane("rpc"))
          if (Result.isSuccess(lane)) peer.lane = lane.success
        }
        const sent = peer.lane === undefined ? false : Result.isSuccess(yield* Effect.result(peer.lane.send(frame)))
        if (!sent && frame.t === "call" && peer.role === "station") driver.tell({ _tag: "Unreachable", peer: peer.id })
      }
      peer.draining = false
    })
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  adopt(handle: Handle, now: number): Effect.Effect<Peer | undefined> {
    const driver = this
    return Effect.gen(function*() {
      const status = handle.status()
      if (status.phase !== "ready" || status.peerRole === undefined) return undefined
      const id = hexOfDid(handle.peerDid)
      if (id === undefined || id === driver.self) return undefined
      const known = driver.peers.get(id)
      if (known !== undefined && known.handle.connectionId === handle.connectionId) return known
      if (known !== undefined) yield* driver.drop(known, now)
      const peer: Peer = { id, handle, role: status.peerRole, lane: undefined, answer: undefined, outbox: [], draining: false }
      driver.peers.set(id, peer)
      handle.subscribe("rpc", driver.options.inbox.sink)
      yield* driver.fork(Effect.flatMap(handle.closed, () =>
        Effect.sync(() => driver.tell({ _tag: "Closed", connectionId: handle.connectionId, peer: id }))))
      if (peer.role === "client") yield* driver.feed(Rpc.DispatcherEvent.ClientAttached({ now, client: id }))
      else yield* driver.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: id, status: "alive" }))
      return peer
    })
  }

  drop(peer: Peer, now: number): Effect.Effect<void> {
    this.peers.delete(peer.id)
    if (peer.role === "client") {
      this.options.journal.ads.delete(peer.id)
      return this.feed(Rpc.DispatcherEvent.ClientDetached({ now, client: peer.id }))
    }
    return this.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: peer.id, status: "dead" }))
  }

  scan(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const handle of yield* driver.options.connections.list) yield* driver.adopt(handle, now)
    })
  }

  peerOf(inbound: Inbound, now: number): Effect.Effect<Peer | undefined> {
    const driver = this
    return Effect.gen(function*() {
      const id = hexOfDid(inbound.peerDid)
      if (id === undefined) return undefined
      const known = driver.peers.get(id)
      if (known !== undefined && known.handle.connectionId === inbound.connectionId) return known
      const handle = yield* driver.options.connections.lookup(inbound.peerDid)
      if (handle === undefined || handle.connectionId !== inbound.connectionId) return undefined
      return yield* driver.adopt(handle, now)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  authorise(request: AuthRequest): Effect.Effect<Rpc.Verdict> {
    return this.options.authorise === undefined ? Effect.succeed({ _tag: "Allowed" }) : this.options.authorise(request)
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const peer = yield* driver.peerOf(inbound, now)
      if (peer === undefined) return
      if (inbound.opener === "peer") peer.answer = inbound.reply
      const f = inbound.frame
      const client = peer.role === "client"
      switch (f.t) {
        case "adv":
        case "unadv": {
          if (!client) return
          const record = driver.openProvider(f.rec, now)
          if (record === undefined) {
            driver.badRecords++
            yield* driver.fork(peer.handle.penalize("major", `${f.t}: bad provider record`))
            return yield* driver.enqueue(peer.id, { t: "err", id: f.id, c: "bad_signature" })
          }
          const procKey = `${hex(f.realm)}|${f.proc}`
          if (f.t === "unadv") {
            driver.options.journal.ads.get(peer.id)?.delete(procKey)
            return yield* driver.feed(Rpc.DispatcherEvent.UnadvReceived({ now, client: peer.id, frame: f, record }))
          }
          const verdict = yield* driver.authorise({
            peerDid: inbound.peerDid, realm: f.realm, command: "/mesh/advertise", topic: f.proc, au: f.au
          })
          if (verdict._tag === "Allowed") {
            let ads = driver.options.journal.ads.get(peer.id)
            if (ads === undefined) driver.options.journal.ads.set(peer.id, ads = new Map())
            ads.set(procKey, { frame: f, record })
          }
          return yield* driver.feed(Rpc.DispatcherEvent.AdvReceived({ now, client: peer.id, frame: f, record, verdict }))
        }
        case "call": {
          const verdict: Rpc.Verdict = client
            ? yield* driver.authorise({ peerDid: inbound.peerDid, realm: f.realm, command: "/mesh/call", topic: f.proc, au: f.au })
            : { _tag: "Allowed" }
          return yield* driver.feed(Rpc.DispatcherEvent.CallReceived({ now, from: peer.id, role: peer.role, frame: f, verdict }))
        }
        case "reply":
          return yield* driver.feed(Rpc.DispatcherEvent.ReplyReceived({ now, from: peer.id, frame: f }))
        case "cancel":
          return yield* driver.feed(Rpc.DispatcherEvent.CancelReceived({ now, from: peer.id, frame: f }))
        default:
          return
      }
    })
  }

  /** After a restart: every attached client's advertisements, answered to nobody. */
  replay(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const [id, ads] of Array.from(driver.options.journal.ads)) {
        if (driver.peers.get(id)?.role !== "client") {
          driver.options.journal.ads.delete(id)
          continue
        }
        for (const { frame, record } of ads.values()) {
          driver.suppressed.add(`${id}|${frame.id}`)
          yield* driver.feed(Rpc.DispatcherEvent.AdvReceived({ now, client: id, frame, record, verdict: { _tag: "Allowed" } }))
        }
      }
    })
  }

  stats(): Stats {
    return {
      sizes: Rpc.dispatcherSizes(this.core),
      counters: { ...this.core.counters },
      badRecords: this.badRecords,
      streamFramesDropped: this.streamFramesDropped
    }
  }
}

/**
 * The dispatcher's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "rpc-dispatcher",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = Rpc.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`rpc config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.ref = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.ref, { _tag: "TimerFired", ...fired })
        })
        const now = yield* Clock.currentTimeMillis
        const restarted = options.journal.starts > 0
        options.journal.starts++
        const seed = options.seed ?? Math.floor(now % 2_147_483_647)
        driver.core = Rpc.initialDispatcher({ self: driver.self, seed })
        options.inbox.current = ctx.self
        yield* driver.scan(now)
        if (restarted) yield* driver.replay(now)
        else options.journal.ads.clear()
        const every = options.scanIntervalMs ?? 1_000
        yield* Effect.forkIn(
          Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void ctx.self.tell({ _tag: "Scan" })))),
          driver.scope,
          { startImmediately: true }
        )
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Inbound":
            yield* driver.onInbound(message.inbound, now)
            break
          case "TimerFired":
            yield* driver.feed(Rpc.DispatcherEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            break
          case "Closed": {
            const peer = driver.peers.get(message.peer)
            if (peer !== undefined && peer.handle.connectionId === message.connectionId) yield* driver.drop(peer, now)
            break
          }
          case "Unreachable":
            yield* driver.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: message.peer, status: "dead" }))
            break
          case "Stored":
            yield* driver.feed(Rpc.DispatcherEvent.RecordStored({ now, ref: message.ref, acks: message.acks }))
            break
          case "Resolved":
            yield* driver.feed(Rpc.DispatcherEvent.ProvidersResolved({ now, realm: message.realm, proc: message.proc, records: message.records }))
            break
          case "Scan":
            yield* driver.scan(now)
            break
          case "Stats":
            message.reply.succeed(driver.stats())
            break
        }
        return driver
      }),
    terminate: (_reason, driver) =>
      Effect.sync(() => {
        if (driver.options.inbox.current === driver.ref) driver.options.inbox.current = undefined
      })
  })

/**
 * Asks a running dispatcher for its sizes and counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (ref: Actor.ActorRef<Msg> | undefined): Effect.Effect<Stats | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 5_000 }), () => undefined)

export { Rpc }
