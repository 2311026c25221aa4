/**
 * The serving side of the content exchange (PROTOCOL.md §12.3): the driver of the pure `Serve`
 * core (`src/protocols/content/Serve.ts`), one actor per node under the content subtree.
 *
 * Inbound content sessions (streams a peer opened with a `content.*` frame) reach it through
 * the node-wide `content` sink, one `Inbound` at a time. Each session is one peer of the core
 * (`connectionId/stream`), so its answers go back on the stream the wants came on. The core
 * decides; the actor reads the store (`CheckHave`, `ReadBlock`, `ReadManifest`, each in its
 * own fiber, answered as an event), sends the answers, and reports `BlockSent` once a block
 * has left, which frees that peer's credit slot.
 *
 * Bad input never crashes it (§14): frames a server never receives on a session it did not
 * open (`content.block`, `content.manifest_res`, `err`) are dropped and counted, a manifest
 * request for bytes that are not an MCID is answered `nf`, and the core itself ignores
 * malformed wants. Push offers (`content.have {y: true}`, §12.6) are taken by the node's content
 * glue (`src/node/Content.ts`, `acceptPushFrom`) before they reach this actor; one that still
 * does (the glue not running) is counted and declined.
 *
 * Members-only serving (`Options.admission`, PROTOCOL.md §13.0, §13.3 `/content/get`): the first
 * `content.want` or `content.manifest_req` of each session is judged on its `au` (and the `from` a
 * relaying station stamped). Refused, the session is answered `err unauthorized` (`r` = the UCAN
 * error name; the manifest request's `id` when it was one) and nothing is served on it: its later
 * frames are dropped. Admitted for root X, the session is served X and, when X is a manifest,
 * the chunks it lists (read from the store once, at admission); other MCIDs asked on it are
 * answered as not held (`Serve.confine`). The admission ends when the chain expires (`until`):
 * a later frame is refused `Expired`. Sessions' verdicts are kept for the `4 × maxServedPeers`
 * newest sessions (a content session has no closing frame): an older session must present again.
 *
 * Ordering: the answers to one session leave in the order the core emitted them (one chain of
 * fibers per session); sessions do not wait for each other. Restart: the want lists are lost;
 * the peers' fetches time out those wants and ask again.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Mcid from "../src/content/Mcid.ts"
import type { ContentStoreShape } from "../src/platform/content/ContentStore.ts"
import type { Knobs } from "../src/protocols/content/Config.ts"
import * as Ids from "../src/protocols/content/Ids.ts"
import * as Serve from "../src/protocols/content/Serve.ts"
import type { Inbound } from "../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../src/runtime/Actor.ts"
import type { Authority, Frame } from "../src/wire/Frame.ts"

/**
 * The judgement of a members-only session's first frame (`content.want` or
 * `content.manifest_req`): allowed for the root `mcid` (text) until `until` (unix s, `null` =
 * no expiry), or denied with the UCAN error name.
 *
 * @since 0.1.0
 * @category models
 */
export type AdmissionVerdict =
  | { readonly _tag: "Allowed"; readonly mcid: string; readonly until: number | null }
  | { readonly _tag: "Denied"; readonly reason: string }

/**
 * A members-only serving policy, as the node glue builds it (`src/node/ContentAuthority.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Admission {
  /** Judges the first frame of a session: its peer, the `from` a station stamped, its `au`. */
  readonly judge: (first: {
    readonly peerDid: string
    readonly from: Uint8Array | undefined
    readonly au: Authority | undefined
  }) => AdmissionVerdict
}

/** What is known of a session under a members-only policy. */
type SessionAdmission =
  | { readonly _tag: "Refused" }
  | { readonly _tag: "Admitted"; readonly scope: ReadonlySet<string>; readonly until: number | null }

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly store: ContentStoreShape
  readonly knobs: Knobs
  /** Every frame received and sent (tests, metrics). */
  readonly onFrame?: (direction: "in" | "out", peer: string, frame: Frame) => void
  /** A members-only serving policy; absent, every session is served (`open`). */
  readonly admission?: Admission
}

/**
 * Counters for tests and `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly sessions: number
  readonly blocksServed: number
  readonly bytesServed: number
  readonly refusedOverCap: number
  readonly notHeld: number
  readonly dropped: number
  readonly offersDeclined: number
  readonly penalties: number
  readonly openWants: number
  /** Sessions refused `unauthorized` (members-only policy). */
  readonly unauthorized: number
}

/**
 * The actor's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "Core"; readonly event: (now: number) => Serve.Event }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

interface PeerLink {
  readonly reply: (frame: Frame) => Effect.Effect<void, unknown>
  last: Fiber.Fiber<void> | undefined
}

const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null
const isU = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

/** Whether `frame` is a request the serving core takes, with the field shapes of §6. */
const isRequest = (frame: Frame): frame is Serve.Inbound => {
  switch (frame.t) {
    case "content.want":
      return Array.isArray(frame.w) && frame.w.every((e: unknown) =>
        isObject(e) && isBytes(e["m"]) && (e["k"] === "block" || e["k"] === "have") &&
        (e["p"] === undefined || (isU(e["p"]) && (e["p"] as number) <= 255))
      )
    case "content.cancel":
      return Array.isArray(frame.c) && frame.c.every(isBytes)
    case "content.manifest_req":
      return isU(frame.id) && isBytes(frame.m)
    case "content.have":
      return Array.isArray(frame.h) && frame.h.every((e: unknown) =>
        isObject(e) && isBytes(e["m"]) && typeof e["y"] === "boolean" && (e["sz"] === undefined || isU(e["sz"]))
      )
    default:
      return false
  }
}

class Driver {
  core: Serve.State = Serve.initial
  readonly step: ReturnType<typeof Serve.make>
  readonly peers = new Map<string, PeerLink>()
  timer: Fiber.Fiber<void> | undefined
  bytesServed = 0
  dropped = 0
  offersDeclined = 0
  penalties = 0
  unauthorized = 0
  /** Members-only policy: each session's verdict, newest last (bounded). */
  readonly admissions = new Map<string, SessionAdmission>()
  self!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Serve.make(options.knobs)
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.Fiber<A, E>> {
    return Effect.forkIn(effect, this.scope, { startImmediately: true })
  }

  feed(event: Serve.Event): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      for (const command of commands) yield* driver.interpret(command)
      // Sessions the core forgot (idle) are forgotten here too, once their sends are done.
      for (const [peer, link] of driver.peers) {
        if (!driver.core.peers.has(peer) && (link.last === undefined || link.last.pollUnsafe() !== undefined)) driver.peers.delete(peer)
      }
    })
  }

  /** Chains `effect` after the previous send to `peer`, so one session's answers stay in order. */
  chain(peer: string, effect: Effect.Effect<void>): Effect.Effect<void> {
    const link = this.peers.get(peer)
    if (link === undefined) return Effect.void
    const previous = link.last
    return Effect.map(
      this.fork(Effect.andThen(previous === undefined ? Effect.void : Fiber.await(previous), effect)),
      (fiber) => void (link.last = fiber)
    )
  }

  read<A>(effect: Effect.Effect<A, unknown>, fallback: A, answer: (value: A) => (now: number) => Serve.Event): Effect.Effect<void> {
    const self = this.self
    return Effect.asVoid(this.fork(Effect.map(Effect.orElseSucceed(effect, () => fallback), (value) => {
      self.tell({ _tag: "Core", event: answer(value) })
    })))
  }

  interpret(command: Serve.Command): Effect.Effect<void> {
    const store = this.options.store
    const self = this.self
    switch (command._tag) {
      case "Send": {
        const peer = command.to
        const frame = command.frame
        const link = this.peers.get(peer)
        if (link === undefined) return Effect.void
        this.options.onFrame?.("out", peer, frame)
        if (frame.t === "content.block") this.bytesServed += frame.d.length
        return this.chain(peer, Effect.gen(function*() {
          yield* Effect.ignore(link.reply(frame))
          if (frame.t === "content.block") self.tell({ _tag: "Core", event: (now) => Serve.Event.BlockSent({ now, peer }) })
        }))
      }
      case "CheckHave": {
        const { peer, m } = command
        const mcid = Mcid.fromBinary(m)
        const check = mcid === undefined
          ? Effect.succeed({ held: false, size: undefined as number | undefined })
          : Effect.map(store.progress(mcid), (p) => ({
            held: p.complete,
            size: p._tag === "chunked" ? p.manifest.size : undefined
          }))
        return this.read(check, { held: false, size: undefined }, (r) => (now) =>
          Serve.Event.HaveChecked({ now, peer, m, held: r.held, ...(r.size === undefined ? {} : { size: r.size }) }))
      }
      case "ReadBlock": {
        const { peer, m } = command
        const mcid = Mcid.fromBinary(m)
        // Only encoded into a frame (a copy), so the store's own bytes do: no copy to read them.
        const read = mcid === undefined
          ? Effect.succeed(undefined)
          : Effect.map(store.getBlock(mcid, { shared: true }), (o) => o._tag === "Some" ? o.value : undefined)
        return this.read(read, undefined as Uint8Array | undefined, (bytes) => (now) =>
          Serve.Event.BlockRead({ now, peer, m, ...(bytes === undefined ? {} : { bytes }) }))
      }
      case "ReadManifest": {
        const { peer, id, m } = command
        const mcid = Mcid.fromBinary(m)
        const read = mcid === undefined || mcid.codec !== "manifest"
          ? Effect.succeed(undefined)
          : Effect.map(store.getBlock(mcid), (o) => o._tag === "Some" ? o.value : undefined)
        return this.read(read, undefined as Uint8Array | undefined, (bytes) => (now) =>
          Serve.Event.ManifestRead({ now, peer, id, m, ...(bytes === undefined ? {} : { bytes }) }))
      }
      case "Penalise":
        this.penalties++
        return Effect.void
      case "Offered":
        this.offersDeclined++
        return Effect.void
      case "SetTimer": {
        const driver = this
        const { at, generation, timer } = command
        return Effect.gen(function*() {
          if (driver.timer !== undefined) yield* Fiber.interrupt(driver.timer)
          driver.timer = yield* driver.fork(Effect.gen(function*() {
            yield* Effect.sleep(Math.max(0, at - (yield* Clock.currentTimeMillis)))
            self.tell({ _tag: "Core", event: (now) => Serve.Event.TimerFired({ now: Math.max(now, at), timer, generation }) })
          }))
        })
      }
    }
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const frame = inbound.frame
    const peer = `${inbound.connectionId}/${inbound.stream}`
    this.options.onFrame?.("in", peer, frame)
    if (inbound.opener !== "peer" || !isRequest(frame)) {
      // Not a request to a server (blocks, manifests and errors on a session we did not open), or
      // a shape the codec should have refused: dropped and counted, never a crash.
      this.dropped++
      return Effect.void
    }
    if (!this.peers.has(peer)) this.peers.set(peer, { reply: inbound.reply, last: undefined })
    if (this.options.admission !== undefined) return this.admit(this.options.admission, inbound, peer, frame, now)
    return this.feed(Serve.Event.FrameReceived({ now, from: peer, frame }))
  }

  /** Members-only policy: judges a session's first frame, then confines the session to its scope. */
  admit(admission: Admission, inbound: Inbound, peer: string, frame: Serve.Inbound, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      let known = driver.admissions.get(peer)
      if (known === undefined) {
        if (!Serve.opensSession(frame)) {
          // Nothing asked yet (a cancel, an offer): nothing to serve, so nothing to judge.
          return yield* driver.feed(Serve.Event.FrameReceived({ now, from: peer, frame }))
        }
        const verdict = admission.judge({ peerDid: inbound.peerDid, from: frame.from, au: frame.au })
        known = verdict._tag === "Denied"
          ? { _tag: "Refused" }
          : { _tag: "Admitted", scope: yield* driver.scopeOf(verdict.mcid), until: verdict.until }
        driver.remember(peer, known)
        if (known._tag === "Refused") {
          driver.unauthorized++
          return yield* driver.refuse(peer, frame, verdict._tag === "Denied" ? verdict.reason : "InvalidClaim")
        }
      }
      if (known._tag === "Refused") {
        driver.dropped++
        // Its link was just added for this frame: nothing will be sent on it.
        if (!driver.core.peers.has(peer) && driver.peers.get(peer)?.last === undefined) driver.peers.delete(peer)
        return
      }
      if (known.until !== null && now > known.until * 1_000) {
        driver.remember(peer, { _tag: "Refused" })
        driver.unauthorized++
        yield* driver.refuse(peer, frame, "Expired")
        // Its open wants are not served any more.
        return yield* driver.feed(Serve.Event.PeerGone({ now, peer }))
      }
      const scope = known.scope
      const confined = Serve.confine(frame, (m) => scope.has(Ids.key(m)))
      for (const answer of confined.answers) yield* driver.interpret(Serve.Command.Send({ to: peer, frame: answer }))
      if (confined.frame !== undefined) yield* driver.feed(Serve.Event.FrameReceived({ now, from: peer, frame: confined.frame }))
    })
  }

  /** The scope of a session admitted for `text`: the root and, for a held manifest, its chunks. */
  scopeOf(text: string): Effect.Effect<ReadonlySet<string>> {
    const mcid = Mcid.decode(text)
    if (mcid._tag !== "Mcid") return Effect.succeed(new Set())
    const root = Mcid.bytes(mcid)
    if (mcid.codec !== "manifest") return Effect.succeed(Serve.scopeOf(root))
    // Read once, at admission; a manifest not held leaves only the root (answered `nf`).
    return Effect.map(
      Effect.orElseSucceed(this.options.store.getManifest(mcid), () => Option.none()),
      (manifest) => Serve.scopeOf(root, Option.isSome(manifest) ? manifest.value.hashes : [])
    )
  }

  remember(peer: string, admission: SessionAdmission): void {
    this.admissions.delete(peer)
    this.admissions.set(peer, admission)
    const cap = 4 * this.options.knobs.maxServedPeers
    while (this.admissions.size > cap) this.admissions.delete(this.admissions.keys().next().value!)
  }

  /** `err unauthorized` on a session (§13.0); the core never hears of it. */
  refuse(peer: string, frame: Serve.Inbound, reason: string): Effect.Effect<void> {
    const link = this.peers.get(peer)
    if (link === undefined) return Effect.void
    const err: Frame = frame.t === "content.manifest_req"
      ? { t: "err", id: frame.id, c: "unauthorized", r: reason }
      : { t: "err", c: "unauthorized", r: reason }
    this.options.onFrame?.("out", peer, err)
    if (!this.core.peers.has(peer)) {
      // Forgotten once the reply left: the core never tracked this session.
      return this.chain(peer, Effect.andThen(Effect.ignore(link.reply(err)), Effect.sync(() => void this.peers.delete(peer))))
    }
    return this.chain(peer, Effect.ignore(link.reply(err)))
  }

  stats(): Stats {
    let openWants = 0
    for (const p of this.core.peers.values()) openWants += p.wants.size
    const c = this.core.counters
    return {
      sessions: this.core.peers.size,
      blocksServed: c.blocksServed,
      bytesServed: this.bytesServed,
      refusedOverCap: c.refusedOverCap,
      notHeld: c.notHeld,
      dropped: this.dropped,
      offersDeclined: this.offersDeclined,
      penalties: this.penalties,
      openWants,
      unauthorized: this.unauthorized
    }
  }
}

/**
 * The actor's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "content-serve",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const driver = new Driver(options)
        driver.self = ctx.self
        driver.scope = yield* Effect.scope
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Inbound":
            yield* driver.onInbound(message.inbound, now)
            break
          case "Core":
            yield* driver.feed(message.event(now))
            break
          case "Stats":
            message.reply.succeed(driver.stats())
            break
        }
        return driver
      })
  })

/**
 * Spawns the serving actor in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options)))
