/**
 * The SWIM prober: drives the pure SWIM + Lifeguard core (`src/protocols/swim`) over the node's
 * connections (PROTOCOL.md §11, §15.2). Stations only.
 *
 * What it owns: the core's state, its timers (one sleeping fiber per armed key, on the Effect
 * `Clock`, so `TestClock` drives them), a cache of verified claims and of its own signatures,
 * and the swim lanes it opened. What it does:
 * - stamps every event with `now` from `Clock` (packets when they reach the actor, timers when
 *   they fire) and carries out the core's commands in order;
 * - `Send`: encodes the packet as its `swim.*` frame, relays verified claims byte for byte,
 *   signs the core's own claims (unsigned, `by` = self) with the node's key (memoised), and
 *   writes the frame on the peer's connection: replies (`swim.ack`, `swim.nack`, a sync answer)
 *   on the lane the request came on, requests on our own swim lane. No connection, or a failed
 *   write, comes back to the core as `SendFailed`. Sends are forked, so a slow peer never stalls
 *   the probe loop;
 * - `SetTimer` / `CancelTimer`: the timer map; `PersistIncarnation`: the injected store,
 *   awaited before anything that carries the incarnation is sent; `Penalise`: a major penalty
 *   on the peer's connection (`Handle.penalize`); `Emit`: publishes the change to the
 *   subscribers of `Changes`, and on `MemberDead` / `MemberLeft` calls `onVerdict` and closes
 *   that member's connections (§11.6);
 * - inbound: every `swim.*` frame reaches it through `Inbox.sink` (the node passes it to the
 *   transport as the node-wide `swim` sink, and the prober also subscribes each connection it
 *   finds). Each signed claim is opened with `Signed.openClaim`, verified over the exact
 *   received bytes, and checked: an `alive` claim signed by its subject, `inc` ≤ 2^53 − 1, the
 *   station proof of work of subject and signer (§2.4). A failing claim is dropped and the
 *   sender takes a major penalty (§14 rows 17, 22); the rest of the packet goes to the core.
 *
 * Restart (§15.2): `init` reloads the incarnation from the store and starts at stored + 1, so
 * the restarted station outbids its predecessor; it then joins every station it is still
 * connected to (connections outlive the prober), which rebuilds the table through `swim.sync`.
 * On a graceful stop (`Shutdown`) it gossips its leave claim first, bounded by `leaveTimeoutMs`.
 *
 * It does not dial: the station dialer keeps the links and feeds `Join`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { mkdir, open, readFile, rename } from "node:fs/promises"
import { join as joinPath } from "node:path"
import * as Bytes from "../src/core/Bytes.ts"
import * as Did from "../src/identity/Did.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import * as NodeId from "../src/identity/NodeId.ts"
import type { Handle, Inbound, Lane, Sink } from "../src/platform/transport/ConnectionHandle.ts"
import { Swim } from "../src/protocols/swim/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as RuntimeInbox from "../src/runtime/Inbox.ts"
import type * as ExitReason from "../src/runtime/ExitReason.ts"
import type { Frame, Signed as SignedObject } from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { ClaimBody } from "../src/wire/SignedBody.ts"

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * The node's key, as far as the prober needs it (an `Identity` fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface Signer {
  readonly publicKey: Uint8Array
  readonly sign: (message: Uint8Array) => Uint8Array
}

/**
 * Where the own incarnation survives restarts (§15.2). `load` gives the stored incarnation, or
 * `undefined` when none was stored yet; `store` must be durable when it completes. A failure of
 * either is a defect: the prober crashes and its supervisor restarts it.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncarnationStore {
  readonly load: () => Effect.Effect<number | undefined>
  readonly store: (incarnation: number) => Effect.Effect<void>
}

/**
 * An incarnation store in memory (tests, or a node without a data directory: a restarted
 * process then starts at 0 and refutes its predecessor's claims instead).
 *
 * @since 0.1.0
 * @category stores
 */
export const memoryStore = (initial?: number): IncarnationStore & { readonly current: () => number | undefined } => {
  let value = initial
  return {
    load: () => Effect.sync(() => value),
    store: (n) => Effect.sync(() => void (value = n)),
    current: () => value
  }
}

/**
 * An incarnation store in `dataDir/fileName`, as decimal text. Writes are atomic: a temporary
 * file in the same directory is written and synced, then renamed over the old one, so a crash
 * leaves either the old or the new value. A missing file loads as `undefined`; unreadable
 * contents too (the station then refutes its predecessor's claims, §11.2).
 *
 * @since 0.1.0
 * @category stores
 */
export const fileStore = (dataDir: string, fileName = "swim-incarnation"): IncarnationStore => {
  const path = joinPath(dataDir, fileName)
  return {
    load: () =>
      Effect.orDie(Effect.tryPromise({
        try: async () => {
          let text: string
          try {
            text = await readFile(path, "utf8")
          } catch (error) {
            if ((error as { code?: unknown }).code === "ENOENT") return undefined
            throw error
          }
          const n = Number(text.trim())
          return Number.isSafeInteger(n) && n >= 0 ? n : undefined
        },
        catch: (cause) => cause
      })),
    store: (n) =>
      Effect.orDie(Effect.tryPromise({
        try: async () => {
          await mkdir(dataDir, { recursive: true })
          const temp = `${path}.tmp`
          const file = await open(temp, "w", 0o600)
          try {
            await file.writeFile(`${n}\n`, "utf8")
            await file.sync()
          } finally {
            await file.close()
          }
          await rename(temp, path)
        },
        catch: (cause) => cause
      }))
  }
}

/**
 * The node's connections, as the prober uses them: the transport's registry (`lookup`,
 * `list`). A `TransportTree`'s `registry` fits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connections {
  /** The ready connection to a peer DID, if any. */
  readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
  /** Every live connection. */
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
}

/**
 * A membership change as published: the core's `Change` plus the member's DID.
 *
 * @since 0.1.0
 * @category models
 */
export type MemberChange = Swim.Change & { readonly did: string }

/**
 * The subscribers of membership changes. It outlives prober restarts (the supervisor makes
 * one), so the node and the DHT subscribe once. Listeners run synchronously inside the prober
 * and must not throw or block; a throwing listener is ignored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Changes {
  /** Calls `listener` on every change until the returned function is called. */
  readonly subscribe: (listener: (change: MemberChange) => void) => () => void
  readonly publish: (change: MemberChange) => void
}

/**
 * A new, empty set of subscribers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const changes = (): Changes => {
  const listeners = new Set<(change: MemberChange) => void>()
  return {
    subscribe: (listener) => {
      const wrapped = (change: MemberChange) => listener(change)
      listeners.add(wrapped)
      return () => void listeners.delete(wrapped)
    },
    publish: (change) => {
      for (const listener of [...listeners]) {
        try {
          listener(change)
        } catch {
          // A subscriber's defect is its own; membership goes on.
        }
      }
    }
  }
}

/**
 * Where inbound swim frames enter: `sink` forwards to the prober that is running now (frames
 * that arrive while it restarts, or when its mailbox is full, are dropped, as SWIM tolerates).
 * Made once by the supervisor, so the transport can be given the sink before the prober starts.
 *
 * @since 0.1.0
 * @category models
 */
export type Inbox = RuntimeInbox.Inbox<Inbound, Msg>

/**
 * A new inbox with no prober behind it yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inbox = (): Inbox => RuntimeInbox.stamped((inbound: Inbound, now: number): Msg => ({ _tag: "Inbound", inbound, now }))

// ---------------------------------------------------------------------------------------------
// Options and messages

/**
 * What the prober is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The node's key: signs our claims; its public key is our member id. */
  readonly identity: Signer
  /** The core's knobs, checked with `Swim.problems` at start. */
  readonly config: Swim.Config
  /** §2.4 proof of work required of claim subjects and signers (0 disables). @default 8 */
  readonly stationPowBits?: number
  /** Our listen addresses, read at each start, carried in our alive claim. */
  readonly addresses: Effect.Effect<ReadonlyArray<string>>
  readonly connections: Connections
  readonly store: IncarnationStore
  readonly changes: Changes
  readonly inbox: Inbox
  /** Called on `MemberDead` and `MemberLeft` (the node removes the DHT contact); failures are ignored. */
  readonly onVerdict?: (verdict: MemberChange) => Effect.Effect<void>
  /** Close the connections of a dead or departed member (§11.6). @default true */
  readonly closeOnVerdict?: boolean
  /** Gossip our leave claim when stopped with `Shutdown` (§15.3). @default true */
  readonly leaveOnShutdown?: boolean
  /** Longest wait for the leave pings at shutdown. @default 1_000 */
  readonly leaveTimeoutMs?: number
  /** Seed of the core's PRNG. @default drawn from `Random` at each start */
  readonly seed?: number
}

/**
 * A member as the prober reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberInfo {
  readonly id: Swim.MemberId
  readonly did: string
  readonly status: Swim.Status
  readonly incarnation: number
  readonly addrs: ReadonlyArray<string>
}

/**
 * The prober's view: itself and its table.
 *
 * @since 0.1.0
 * @category models
 */
export interface View {
  readonly self: { readonly id: Swim.MemberId; readonly did: string; readonly incarnation: number; readonly leaving: boolean }
  readonly members: ReadonlyArray<MemberInfo>
  readonly counters: Swim.Counters
  /** Claims dropped by the actor's checks (bad signature, not self-signed alive, no proof of work). */
  readonly claimsForged: number
}

/**
 * The prober's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly timer: Swim.TimerKey; readonly generation: number; readonly now: number }
  | { readonly _tag: "SendFailed"; readonly to: Swim.MemberId; readonly packet: Swim.Packet }
  | { readonly _tag: "Join"; readonly dids: ReadonlyArray<string> }
  | { readonly _tag: "UpdateAddresses"; readonly addrs: ReadonlyArray<string> }
  | { readonly _tag: "View"; readonly reply: Actor.Reply<View> }

// ---------------------------------------------------------------------------------------------
// Ids

const hex = Bytes.toHex
const unhex = (id: string): Uint8Array => Uint8Array.from(Buffer.from(id, "hex"))

/** Small bounded memo: forgets everything past `cap` (the values are cheap to recompute). */
class Memo<K, V> {
  readonly map = new Map<K, V>()
  constructor(readonly cap: number) {}
  get(key: K, make: (key: K) => V): V {
    const hit = this.map.get(key)
    if (hit !== undefined) return hit
    const value = make(key)
    if (this.map.size >= this.cap) this.map.delete(this.map.keys().next().value as K)
    this.map.set(key, value)
    return value
  }
}

/**
 * The member id of a DID (lower-case hex of its key), `undefined` if it is not a valid DID.
 *
 * @since 0.1.0
 * @category getters
 */
export const memberIdOfDid = (did: string): Swim.MemberId | undefined => {
  const key = Did.parsePublicKey(did)
  return key instanceof Uint8Array ? hex(key) : undefined
}

/**
 * The DID of a member id.
 *
 * @since 0.1.0
 * @category getters
 */
export const didOfMemberId = (id: Swim.MemberId): string => Did.fromPublicKeyUnsafe(unhex(id))

// ---------------------------------------------------------------------------------------------
// Frames ↔ packets

type Opened = { readonly claim: Swim.Claim } | { readonly problem: string }

/** A `swim.*` frame as its signed claims and a packet to build once they are opened. */
interface Parsed {
  readonly signed: ReadonlyArray<SignedObject>
  readonly make: (claims: ReadonlyArray<Swim.Claim>) => Swim.Packet
}

const packetOf = (frame: Frame): Parsed | undefined => {
  switch (frame.t) {
    case "swim.ping":
      return { signed: frame.g, make: (claims) => Swim.Packet.Ping({ seq: frame.id, claims }) }
    case "swim.ping_req": {
      const target = hex(frame.pk)
      return { signed: frame.g, make: (claims) => Swim.Packet.PingReq({ seq: frame.id, target, claims }) }
    }
    case "swim.ack":
      return { signed: frame.g, make: (claims) => Swim.Packet.Ack({ seq: frame.id, claims }) }
    case "swim.nack":
      return { signed: [], make: () => Swim.Packet.Nack({ seq: frame.id }) }
    case "swim.sync":
      return { signed: frame.m, make: (claims) => Swim.Packet.Sync({ seq: frame.id, claims }) }
    default:
      return undefined
  }
}

/** Replies travel on the requester's lane (§3.5); requests on ours. */
const isReply = (
  packet: Swim.Packet,
  answering: { readonly from: Swim.MemberId; readonly packet: Swim.Packet } | undefined,
  to: Swim.MemberId
): boolean => {
  switch (packet._tag) {
    case "Ack":
    case "Nack":
      return true
    case "Sync":
      return answering !== undefined && answering.from === to && answering.packet._tag === "Sync" &&
        answering.packet.seq === packet.seq
    default:
      return false
  }
}

// ---------------------------------------------------------------------------------------------
// The driver

interface PeerLink {
  readonly handle: Handle
  lane: Lane | undefined
}

/** The mutable driver state of the prober; the core's state is the immutable `core`. */
class Driver {
  core!: Swim.State
  readonly step: ReturnType<typeof Swim.makeStep>
  readonly selfId: Swim.MemberId
  readonly selfDid: string
  readonly powBits: number
  timers!: CoreTimers.CoreTimers<Swim.TimerKey>
  /** Ready connections by member id, with the swim lane we opened on each. */
  readonly links = new Map<Swim.MemberId, PeerLink>()
  /** The reply channel of each member's own swim lane, from its latest request. */
  readonly replies = new Map<Swim.MemberId, Inbound["reply"]>()
  /** Connections we subscribed, by id (their status tells a station from a client). */
  readonly subscribed = new Map<string, Handle>()
  readonly verified = new Memo<string, Opened>(4_096)
  readonly ownSigned = new Memo<string, SignedObject | undefined>(256)
  readonly dids = new Memo<Swim.MemberId, string>(8_192)
  readonly members = new Memo<string, Swim.MemberId | undefined>(8_192)
  readonly pow = new Memo<Swim.MemberId, boolean>(8_192)
  claimsForged = 0
  /** The clock read at the start of the current message (the `ts` of claims we sign). */
  wallNow = 0
  /** The request being answered in the current step, so its reply goes back on its lane. */
  answering: { readonly from: Swim.MemberId; readonly packet: Swim.Packet } | undefined = undefined
  self!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Swim.makeStep(options.config)
    this.selfId = hex(options.identity.publicKey)
    this.selfDid = Did.fromPublicKeyUnsafe(options.identity.publicKey)
    this.powBits = options.stationPowBits ?? 8
  }

  didOf(id: Swim.MemberId): string {
    return this.dids.get(id, didOfMemberId)
  }

  memberOf(did: string): Swim.MemberId | undefined {
    return this.members.get(did, memberIdOfDid)
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  /** Steps the core with `event` and carries out its commands in order. */
  feed(event: Swim.Event, inline = false): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      for (const command of commands) yield* driver.interpret(command, inline)
    })
  }

  interpret(command: Swim.Command, inline: boolean): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send": {
        const frame = driver.encode(command.packet)
        const reply = isReply(command.packet, driver.answering, command.to)
        const send = driver.transmit(command.to, frame, reply, command.packet)
        return inline ? send : driver.fork(send)
      }
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "PersistIncarnation":
        // Awaited: nothing carrying this incarnation may leave before it is durable (§15.2).
        return driver.options.store.store(command.incarnation)
      case "Penalise":
        return driver.fork(driver.penalise(driver.didOf(command.peer), command.reason))
      case "Emit":
        return driver.emit(command.change)
    }
  }

  emit(change: Swim.Change): Effect.Effect<void> {
    const driver = this
    const published: MemberChange = { ...change, did: driver.didOf(change.member) }
    driver.options.changes.publish(published)
    if (change._tag !== "MemberDead" && change._tag !== "MemberLeft") return Effect.void
    driver.links.delete(change.member)
    driver.replies.delete(change.member)
    return driver.fork(Effect.gen(function*() {
      if (driver.options.onVerdict !== undefined) yield* Effect.ignoreCause(driver.options.onVerdict(published))
      if (driver.options.closeOnVerdict ?? true) {
        const all = yield* driver.options.connections.list
        for (const handle of all) {
          if (handle.peerDid !== published.did) continue
          yield* handle.close({
            code: "normal",
            message: change._tag === "MemberDead" ? "swim: declared dead" : "swim: left",
            graceful: change._tag === "MemberLeft"
          })
        }
      }
    }))
  }

  penalise(did: string, reason: string): Effect.Effect<void> {
    return Effect.flatMap(this.options.connections.lookup(did), (handle) =>
      handle === undefined ? Effect.void : handle.penalize("major", reason))
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  /** The signed object for a claim: verbatim if verified, signed by us if it is ours, else none. */
  signedOf(claim: Swim.Claim, wallNow: number): SignedObject | undefined {
    if (claim.signed !== undefined) return claim.signed
    // The core only emits unsigned claims in our own name; never sign for anyone else.
    if (claim.by !== this.selfId) return undefined
    const addrs = claim.kind === "alive" ? claim.addrs ?? [] : []
    const key = `${claim.kind}|${claim.subject}|${claim.incarnation}|${addrs.join(" ")}`
    return this.ownSigned.get(key, () => {
      const body: ClaimBody = {
        ty: claim.kind,
        pk: unhex(claim.subject),
        inc: claim.incarnation,
        by: this.options.identity.publicKey,
        ...(claim.kind === "alive" ? { a: addrs } : {}),
        ts: Math.max(0, Math.floor(wallNow))
      }
      const signed = Signed.signClaim(body, (message) => this.options.identity.sign(message))
      return signed instanceof Error ? undefined : signed
    })
  }

  /** Encodes a packet; our own claims get `ts` = `wallNow`, the clock read of this step. */
  encode(packet: Swim.Packet): Frame {
    const wallNow = this.wallNow
    const list = (claims: ReadonlyArray<Swim.Claim>): Array<SignedObject> => {
      const out: Array<SignedObject> = []
      for (const claim of claims) {
        const signed = this.signedOf(claim, wallNow)
        if (signed !== undefined) out.push(signed)
      }
      return out
    }
    switch (packet._tag) {
      case "Ping":
        return { t: "swim.ping", id: packet.seq, g: list(packet.claims) }
      case "PingReq":
        return { t: "swim.ping_req", id: packet.seq, pk: unhex(packet.target), g: list(packet.claims) }
      case "Ack":
        return { t: "swim.ack", id: packet.seq, g: list(packet.claims) }
      case "Nack":
        return { t: "swim.nack", id: packet.seq }
      case "Sync":
        return { t: "swim.sync", id: packet.seq, m: list(packet.claims) }
    }
  }

  /** The ready connection to a member (cached while it stays ready). */
  linkTo(to: Swim.MemberId): Effect.Effect<PeerLink | undefined> {
    const driver = this
    return Effect.gen(function*() {
      const cached = driver.links.get(to)
      if (cached !== undefined && cached.handle.status().phase === "ready") return cached
      driver.links.delete(to)
      const handle = yield* driver.options.connections.lookup(driver.didOf(to))
      if (handle === undefined) return undefined
      driver.adopt(handle)
      const link: PeerLink = { handle, lane: undefined }
      driver.links.set(to, link)
      return link
    })
  }

  /** Writes one frame to a member; any failure is reported to the core as `SendFailed`. */
  transmit(to: Swim.MemberId, frame: Frame, reply: boolean, packet: Swim.Packet): Effect.Effect<void> {
    const driver = this
    const failed = Effect.sync(() => void Actor.tellUrgent(driver.self, { _tag: "SendFailed", to, packet }))
    return Effect.gen(function*() {
      if (reply) {
        const back = driver.replies.get(to)
        if (back !== undefined && Result.isSuccess(yield* Effect.result(back(frame)))) return
      }
      const link = yield* driver.linkTo(to)
      if (link === undefined) return yield* failed
      if (link.lane === undefined) {
        const lane = yield* Effect.result(link.handle.openLane("swim"))
        if (Result.isFailure(lane)) return yield* failed
        link.lane = lane.success
      }
      const sent = yield* Effect.result(link.lane.send(frame))
      if (Result.isFailure(sent)) {
        driver.links.delete(to)
        return yield* failed
      }
    })
  }

  /** Routes a connection's swim frames to us (the node-wide sink may not be wired). */
  adopt(handle: Handle): void {
    if (this.subscribed.has(handle.connectionId)) return
    this.subscribed.set(handle.connectionId, handle)
    handle.subscribe("swim", this.options.inbox.sink)
  }

  /** Subscribes every live connection and forgets closed ones. */
  discover(): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const all = yield* driver.options.connections.list
      const live = new Set<string>()
      for (const handle of all) {
        live.add(handle.connectionId)
        if (handle.status().phase !== "closed") driver.adopt(handle)
      }
      for (const id of [...driver.subscribed.keys()]) if (!live.has(id)) driver.subscribed.delete(id)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  /** Opens and checks one signed claim (memoised by its exact bytes). */
  open(signed: SignedObject): Opened {
    const key = `${Buffer.from(signed.b).toString("base64")}.${Buffer.from(signed.s).toString("base64")}`
    return this.verified.get(key, (): Opened => {
      const body = Signed.openClaim(signed, Ed25519.verify)
      if (body instanceof Error) return { problem: body._tag === "SignatureInvalid" ? "bad claim signature" : `malformed claim: ${body.message}` }
      if (!Number.isSafeInteger(body.inc)) return { problem: "claim incarnation above 2^53 - 1" }
      if (body.ty === "alive" && !Bytes.equals(body.by, body.pk)) return { problem: "alive claim not signed by its subject" }
      const subject = hex(body.pk)
      const by = hex(body.by)
      if (!this.meetsPow(subject, body.pk) || !this.meetsPow(by, body.by)) return { problem: "claim without station proof of work" }
      const claim: Swim.Claim = {
        kind: body.ty,
        subject,
        incarnation: body.inc,
        by,
        ...(body.ty === "alive" ? { addrs: body.a ?? [] } : {}),
        signed
      }
      return { claim }
    })
  }

  meetsPow(id: Swim.MemberId, key: Uint8Array): boolean {
    return this.powBits <= 0 || this.pow.get(id, () => NodeId.meetsPow(key, this.powBits))
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const parsed = packetOf(inbound.frame)
      if (parsed === undefined) return // `ok` / `err` on a swim lane: nothing SWIM uses
      const from = driver.memberOf(inbound.peerDid)
      if (from === undefined || from === driver.selfId) return
      // SWIM is between stations (§11); a client has no business on a swim lane.
      if (driver.subscribed.get(inbound.connectionId)?.status().peerRole === "client") return
      if (inbound.opener === "peer") {
        // Bounded like the table: peers that never become members cannot grow it.
        if (!driver.replies.has(from) && driver.replies.size > driver.options.config.swimMaxMembers) {
          driver.replies.delete(driver.replies.keys().next().value!)
        }
        driver.replies.set(from, inbound.reply)
      }
      const claims: Array<Swim.Claim> = []
      let problem: string | undefined
      for (const signed of parsed.signed) {
        const opened = driver.open(signed)
        if ("claim" in opened) claims.push(opened.claim)
        else {
          driver.claimsForged++
          problem ??= opened.problem
        }
      }
      // One major penalty per packet (§14 rows 17, 22); the rest of the packet still counts.
      if (problem !== undefined) yield* driver.fork(driver.penalise(inbound.peerDid, problem))
      const packet = parsed.make(claims)
      driver.answering = { from, packet }
      yield* Effect.ensuring(
        driver.feed(Swim.Event.PacketReceived({ now, from, packet })),
        Effect.sync(() => void (driver.answering = undefined))
      )
    })
  }

  view(): View {
    const members: Array<MemberInfo> = []
    for (const m of this.core.members.values()) {
      members.push({ id: m.id, did: this.didOf(m.id), status: m.status, incarnation: m.incarnation, addrs: m.addrs })
    }
    const self = this.core.self
    return {
      self: { id: self.id, did: this.selfDid, incarnation: self.incarnation, leaving: self.leaving },
      members,
      counters: this.core.counters,
      claimsForged: this.claimsForged
    }
  }
}

const isGraceful = (reason: ExitReason.ExitReason): boolean => reason._tag === "Shutdown" || reason._tag === "Normal"

/**
 * The prober's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "swim-prober",
    // Packets arrive through `tell` and are dropped when it is full; timers and send failures
    // use the priority lane.
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = Swim.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`swim config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.self = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.self, { _tag: "TimerFired", ...fired })
        })
        // §15.2: a restarted station outbids every claim its predecessor made.
        const stored = yield* options.store.load()
        const incarnation = stored === undefined ? 0 : Math.min(stored + 1, Swim.Claims.maxIncarnation)
        const addrs = yield* options.addresses
        const seed = options.seed ?? (yield* Random.nextIntBetween(0, 2 ** 31 - 1))
        driver.core = Swim.initial({ self: driver.selfId, incarnation, addrs, seed })
        options.inbox.current = ctx.self
        driver.wallNow = yield* Clock.currentTimeMillis
        yield* driver.feed(Swim.Event.Start({ now: driver.wallNow }))
        // Connections outlive a prober restart: sync with every station we are still linked to.
        yield* driver.discover()
        const peers: Array<Swim.MemberId> = []
        for (const handle of yield* options.connections.list) {
          const status = handle.status()
          if (status.phase !== "ready" || status.peerRole !== "station") continue
          const id = driver.memberOf(handle.peerDid)
          if (id !== undefined && id !== driver.selfId) peers.push(id)
        }
        if (peers.length > 0) yield* driver.feed(Swim.Event.Join({ now: driver.wallNow, peers }))
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        driver.wallNow = now
        switch (message._tag) {
          case "Inbound":
            yield* driver.onInbound(message.inbound, message.now)
            break
          case "TimerFired":
            if (message.timer === "probe") yield* driver.fork(driver.discover())
            yield* driver.feed(Swim.Event.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            break
          case "SendFailed":
            yield* driver.feed(Swim.Event.SendFailed({ now, to: message.to, packet: message.packet }))
            break
          case "Join": {
            const peers = message.dids.flatMap((did) => {
              const id = driver.memberOf(did)
              return id === undefined || id === driver.selfId ? [] : [id]
            })
            if (peers.length > 0) yield* driver.feed(Swim.Event.Join({ now, peers }))
            break
          }
          case "UpdateAddresses":
            yield* driver.feed(Swim.Event.UpdateAddresses({ now, addrs: message.addrs }))
            break
          case "View":
            message.reply.succeed(driver.view())
            break
        }
        return driver
      }),
    terminate: (reason, driver) =>
      Effect.gen(function*() {
        if (driver.options.inbox.current === driver.self) driver.options.inbox.current = undefined
        if (!isGraceful(reason) || !(driver.options.leaveOnShutdown ?? true)) return
        // §15.3: gossip the leave before going; the pings are awaited, within a bound.
        driver.wallNow = yield* Clock.currentTimeMillis
        yield* Effect.timeoutOption(
          driver.feed(Swim.Event.Leave({ now: driver.wallNow }), true),
          driver.options.leaveTimeoutMs ?? 1_000
        )
      })
  })

/**
 * Asks a running prober for its view (`undefined` if none runs or it does not answer).
 *
 * @since 0.1.0
 * @category getters
 */
export const view = (ref: Actor.ActorRef<Msg> | undefined, timeoutMs = 5_000): Effect.Effect<View | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<View>((reply) => ({ _tag: "View", reply }), { timeoutMs }), () => undefined)

/**
 * The handle types the supervisor needs without importing the protocol folder.
 *
 * @since 0.1.0
 * @category models
 */
export type { Handle, Inbound, Sink }

/**
 * The SWIM core's namespace (presets `Swim.lan`, `Swim.wan`, `Swim.local`; `Swim.Config`).
 *
 * @since 0.1.0
 * @category models
 */
export { Swim }
