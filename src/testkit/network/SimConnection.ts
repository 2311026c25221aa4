/**
 * The two ends of one simulated connection and their frame streams: the `Connection` and
 * `FrameStream` of the `Transport` port, implemented directly over segments that the simulated
 * network (`World.ts`) carries between nodes with seeded delays.
 *
 * What an end does: numbers the frames of each stream it sends (`seq`), puts the received ones
 * back in order (a frame that arrives early waits for the ones before it; a copy of a frame
 * already received is discarded), delivers FIN, stream resets and the connection close, and keeps
 * the `Transport` port's promises: whole frames in order per stream, backpressure on `send`,
 * `PayloadTooLarge` above the send limit, typed `ConnectionLost` / `StreamReset` /
 * `StreamEnded` failures.
 *
 * What it leaves to the carrier: when a segment arrives (latency, jitter, loss as retransmission
 * delay, partitions, crashes), time, and the idle timeout. It never reads a clock itself: every
 * effect goes through `Carrier.run`, which reads the `Clock` once and passes `now` in.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { ConnectionCloseName, StreamResetName } from "../../core/Codes.ts"
import {
  ConnectionLost,
  framingError,
  PayloadTooLarge,
  type ReceiveError,
  type SendError,
  StreamEnded,
  StreamLimitReached,
  StreamReset
} from "../../platform/transport/Errors.ts"
import { Inbox } from "../../platform/transport/Inbox.ts"
import type { Connection, FrameStream } from "../../platform/transport/Transport.ts"

/**
 * What travels on a connection after the handshake. `Data` and `Fin` are numbered per stream
 * and direction; `Reset` and `Close` are not.
 *
 * @since 0.1.0
 * @category models
 */
export type Payload =
  | { readonly _tag: "Data"; readonly stream: number; readonly seq: number; readonly body: Uint8Array }
  | { readonly _tag: "Fin"; readonly stream: number; readonly seq: number }
  | { readonly _tag: "Reset"; readonly stream: number; readonly code: StreamResetName }
  | { readonly _tag: "Close"; readonly code: ConnectionCloseName; readonly reason: string }

/**
 * What became of a segment that reached its end.
 *
 * @since 0.1.0
 * @category models
 */
export type Arrival = "delivered" | "duplicate" | "dropped"

/**
 * The network under the ends: carries payloads and owns time.
 *
 * @since 0.1.0
 * @category models
 */
export interface Carrier {
  /** Reads the clock once, runs `f` with it, then lets the network schedule what `f` sent. */
  readonly run: <A>(f: (now: number) => A) => Effect.Effect<A>
  /** Sends `payload` from `from` to its peer end. */
  readonly send: (from: End, payload: Payload, now: number) => void
  /** Told once when an end is gone (closed, timed out, crashed, discarded). */
  readonly ended: (end: End, now: number) => void
}

/**
 * Sizes shared by every end of a network.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Largest frame body accepted from the peer, and the initial send limit. */
  readonly maxFrameBytes: number
  /** Unread bytes (sent, not yet taken by the peer) above which `send` waits. */
  readonly sendBufferBytes: number
  /** Streams one side may have open at once. */
  readonly maxStreams: number
}

/** Bytes one frame counts for in the send buffer: its body and a 4-byte length prefix. */
const cost = (body: Uint8Array): number => body.length + 4

/** A one-shot wake-up list: fibers wait for "something changed" and re-check. */
class Signal {
  #waiters: Array<() => void> = []

  readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const waiter = () => resume(Effect.void)
    this.#waiters.push(waiter)
    return Effect.sync(() => {
      const at = this.#waiters.indexOf(waiter)
      if (at >= 0) this.#waiters.splice(at, 1)
    })
  })

  fire(): void {
    if (this.#waiters.length === 0) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

/**
 * One side of one stream.
 *
 * @since 0.1.0
 * @category models
 */
export class SimStream implements FrameStream {
  readonly id: number
  readonly openedLocally: boolean
  readonly #end: End
  #sendLimitBytes: number

  // Receiving: frames in order and not yet taken, the terminal error, early arrivals.
  #ready: Array<Uint8Array> = []
  #readyHead = 0
  #receiveFailure: ReceiveError | undefined = undefined
  #expected = 0
  readonly #early = new Map<number, Payload & { readonly seq: number }>()
  readonly #received = new Signal()

  // Sending: the next sequence number, unread bytes, the terminal error.
  #nextSeq = 0
  #unreadBytes = 0
  #sendFailure: SendError | undefined = undefined
  #finSent = false
  #finReceived = false
  #reset = false
  readonly #room = new Signal()

  constructor(end: End, id: number, openedLocally: boolean) {
    this.#end = end
    this.id = id
    this.openedLocally = openedLocally
    this.#sendLimitBytes = end.limits.maxFrameBytes
  }

  get sendLimitBytes(): number {
    return this.#sendLimitBytes
  }

  readonly setSendLimit = (bytes: number): void => {
    this.#sendLimitBytes = bytes
  }

  /** Whether the stream still counts against the opener's stream limit. */
  get open(): boolean {
    return !this.#reset && !(this.#finSent && this.#finReceived) && this.#end.lost === undefined
  }

  /** Frames received in order and not yet taken. */
  get buffered(): number {
    return this.#ready.length - this.#readyHead
  }

  // ------------------------------------------------------------------------------------------
  // Sending
  // ------------------------------------------------------------------------------------------

  #enqueue(body: Uint8Array, now: number): SendError | undefined {
    if (this.#sendFailure !== undefined) return this.#sendFailure
    // L = 0 cannot be framed (§4.1): a caller bug, hence a defect, as on the real transports.
    if (body.length === 0) throw new RangeError("a frame body must not be empty")
    if (body.length > this.#sendLimitBytes) return new PayloadTooLarge({ size: body.length, limit: this.#sendLimitBytes })
    if (this.#finSent) return new StreamReset({ streamId: this.id, by: "local", code: "no_error" })
    this.#unreadBytes += cost(body)
    this.#end.carrier.send(this.#end, { _tag: "Data", stream: this.id, seq: this.#nextSeq++, body: body.slice() }, now)
    return undefined
  }

  /** Waits while more than the send buffer is unread by the peer; fails once the stream fails. */
  readonly #backpressure: Effect.Effect<void, SendError> = Effect.suspend(() => {
    if (this.#sendFailure !== undefined) return Effect.fail(this.#sendFailure)
    if (this.#unreadBytes <= this.#end.limits.sendBufferBytes) return Effect.void
    return Effect.andThen(this.#room.wait, this.#backpressure)
  })

  readonly send = (body: Uint8Array): Effect.Effect<void, SendError> =>
    Effect.flatMap(this.#end.carrier.run((now) => this.#enqueue(body, now)), (failure) =>
      failure === undefined ? this.#backpressure : Effect.fail(failure))

  readonly sendAll = (bodies: ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError> =>
    Effect.flatMap(
      this.#end.carrier.run((now) => {
        for (const body of bodies) {
          const failure = this.#enqueue(body, now)
          if (failure !== undefined) return failure
        }
        return undefined
      }),
      (failure) => (failure === undefined ? this.#backpressure : Effect.fail(failure))
    )

  readonly end: Effect.Effect<void> = Effect.suspend(() =>
    this.#end.carrier.run((now) => {
      if (this.#finSent || this.#sendFailure !== undefined) return
      this.#finSent = true
      this.#end.carrier.send(this.#end, { _tag: "Fin", stream: this.id, seq: this.#nextSeq++ }, now)
    })
  )

  readonly reset = (code: StreamResetName): Effect.Effect<void> =>
    Effect.suspend(() =>
      this.#end.carrier.run((now) => {
        if (this.#reset) return
        this.abort(new StreamReset({ streamId: this.id, by: "local", code }))
        if (this.#end.lost === undefined) this.#end.carrier.send(this.#end, { _tag: "Reset", stream: this.id, code }, now)
      })
    )

  /** The peer took `bytes` of what we sent: room for more. */
  credit(bytes: number): void {
    this.#unreadBytes -= bytes
    if (this.#unreadBytes <= this.#end.limits.sendBufferBytes) this.#room.fire()
  }

  /** Ends both directions with `error` (a reset or the connection's loss); idempotent per direction. */
  abort(error: StreamReset | ConnectionLost): void {
    if (error._tag === "StreamReset") this.#reset = true
    this.#sendFailure ??= error
    this.#receiveFailure ??= error
    this.#early.clear()
    this.#room.fire()
    this.#received.fire()
  }

  // ------------------------------------------------------------------------------------------
  // Receiving
  // ------------------------------------------------------------------------------------------

  /** A numbered payload (`Data` or `Fin`) of this stream reached this end. */
  arrive(payload: Payload & { readonly seq: number }, now: number): Arrival {
    if (this.#receiveFailure !== undefined) return "dropped"
    if (payload.seq < this.#expected || this.#early.has(payload.seq)) return "duplicate"
    if (payload.seq > this.#expected) {
      this.#early.set(payload.seq, payload)
      return "delivered"
    }
    let next: (Payload & { readonly seq: number }) | undefined = payload
    while (next !== undefined) {
      this.#expected++
      if (!this.#accept(next, now)) break
      next = this.#early.get(this.#expected)
      if (next !== undefined) this.#early.delete(this.#expected)
    }
    this.#received.fire()
    return "delivered"
  }

  /** Takes one in-order payload; `false` once nothing more can be received. */
  #accept(payload: Payload, now: number): boolean {
    if (payload._tag === "Fin") {
      this.#finReceived = true
      this.#receiveFailure ??= new StreamEnded({ streamId: this.id })
      this.#early.clear()
      return false
    }
    if (payload._tag !== "Data") return true
    if (payload.body.length > this.#end.limits.maxFrameBytes) {
      // What a real receiver does with an oversized length prefix (§4.1): reset, nothing after.
      this.#receiveFailure ??= framingError(this.id, "frame_too_large")
      this.#reset = true
      this.#sendFailure ??= new StreamReset({ streamId: this.id, by: "local", code: "frame_too_large" })
      this.#room.fire()
      this.#early.clear()
      this.#end.carrier.send(this.#end, { _tag: "Reset", stream: this.id, code: "frame_too_large" }, now)
      return false
    }
    this.#ready.push(payload.body)
    return true
  }

  /** The peer reset the stream. */
  peerReset(code: StreamResetName): Arrival {
    if (this.#reset) return "duplicate"
    this.abort(new StreamReset({ streamId: this.id, by: "peer", code }))
    return "delivered"
  }

  #takeNow(): Uint8Array | undefined {
    if (this.#readyHead >= this.#ready.length) return undefined
    const body = this.#ready[this.#readyHead]!
    this.#ready[this.#readyHead++] = undefined as unknown as Uint8Array
    if (this.#readyHead === this.#ready.length) {
      this.#ready = []
      this.#readyHead = 0
    } else if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead)
      this.#readyHead = 0
    }
    this.#end.creditPeer(this.id, cost(body))
    return body
  }

  #takeAllNow(): Array<Uint8Array> {
    const out = this.#readyHead === 0 ? this.#ready : this.#ready.slice(this.#readyHead)
    this.#ready = []
    this.#readyHead = 0
    let bytes = 0
    for (const body of out) bytes += cost(body)
    this.#end.creditPeer(this.id, bytes)
    return out
  }

  readonly receive: Effect.Effect<Uint8Array, ReceiveError> = Effect.suspend(() => {
    const body = this.#takeNow()
    if (body !== undefined) return Effect.succeed(body)
    if (this.#receiveFailure !== undefined) return Effect.fail(this.#receiveFailure)
    return Effect.andThen(this.#received.wait, this.receive)
  })

  readonly receiveMany: Effect.Effect<ReadonlyArray<Uint8Array>, ReceiveError> = Effect.suspend(() => {
    if (this.buffered > 0) return Effect.succeed(this.#takeAllNow())
    if (this.#receiveFailure !== undefined) return Effect.fail(this.#receiveFailure)
    return Effect.andThen(this.#received.wait, this.receiveMany)
  })
}

/**
 * How an end is told apart in logs and traces, and what it needs from its node.
 *
 * @since 0.1.0
 * @category models
 */
export interface EndOptions {
  readonly id: string
  readonly node: string
  readonly peerDid: string
  readonly peerPublicKey: Uint8Array
  readonly remoteAddress: string
  readonly direction: "inbound" | "outbound"
  readonly limits: Limits
  readonly carrier: Carrier
}

/**
 * One end of a simulated connection.
 *
 * @since 0.1.0
 * @category models
 */
export class End implements Connection {
  readonly id: string
  readonly node: string
  readonly peerDid: string
  readonly peerPublicKey: Uint8Array
  readonly remoteAddress: string
  readonly direction: "inbound" | "outbound"
  readonly limits: Limits
  readonly carrier: Carrier
  /** The other end; set by the network right after both are made. */
  peer!: End
  readonly streams = new Map<number, SimStream>()
  readonly #accepted = new Inbox<FrameStream, ConnectionLost>()
  #nextStreamId: number
  #lost: ConnectionLost | undefined = undefined
  readonly #gone = new Signal()

  // The idle model, kept by the network: when we last heard the peer, and since when nothing
  // can reach us from it (partition, crash, peer gone); `undefined` while keepalives flow.
  lastHeard = 0
  silentSince: number | undefined = undefined
  /** Latest arrival time scheduled from this end (a close never overtakes earlier segments). */
  lastArrival = 0

  constructor(options: EndOptions) {
    this.id = options.id
    this.node = options.node
    this.peerDid = options.peerDid
    this.peerPublicKey = Uint8Array.from(options.peerPublicKey)
    this.remoteAddress = options.remoteAddress
    this.direction = options.direction
    this.limits = options.limits
    this.carrier = options.carrier
    // QUIC numbering (RFC 9000 §2.1): client-initiated bidirectional 0, 4, 8…; server 1, 5, 9…
    this.#nextStreamId = options.direction === "outbound" ? 0 : 1
  }

  /** Why the connection is gone, once it is. */
  get lost(): ConnectionLost | undefined {
    return this.#lost
  }

  readonly isClosed = (): boolean => this.#lost !== undefined

  readonly openStream: Effect.Effect<FrameStream, ConnectionLost | StreamLimitReached> = Effect.suspend((): Effect.Effect<
    FrameStream,
    ConnectionLost | StreamLimitReached
  > => {
    if (this.#lost !== undefined) return Effect.fail(this.#lost)
    let open = 0
    for (const s of this.streams.values()) if (s.openedLocally && s.open) open++
    if (open >= this.limits.maxStreams) return Effect.fail(new StreamLimitReached({ peerDid: this.peerDid }))
    const stream = new SimStream(this, this.#nextStreamId, true)
    this.#nextStreamId += 4
    this.streams.set(stream.id, stream)
    return Effect.succeed(stream)
  })

  readonly acceptStream: Effect.Effect<FrameStream, ConnectionLost> = this.#accepted.take

  readonly close = (code: ConnectionCloseName = "normal", reason = ""): Effect.Effect<void> =>
    Effect.suspend(() =>
      this.carrier.run((now) => {
        if (this.#lost !== undefined) return
        this.lose(new ConnectionLost({ peerDid: this.peerDid, by: "local", code, message: reason }), now)
        this.carrier.send(this, { _tag: "Close", code, reason }, now)
      })
    )

  readonly closed: Effect.Effect<ConnectionLost> = Effect.suspend(() =>
    this.#lost !== undefined ? Effect.succeed(this.#lost) : Effect.andThen(this.#gone.wait, this.closed)
  )

  /** Ends the connection here with `lost`: every stream, the accept queue and `closed`. Idempotent. */
  lose(lost: ConnectionLost, now: number): void {
    if (this.#lost !== undefined) return
    this.#lost = lost
    for (const stream of this.streams.values()) stream.abort(lost)
    this.#accepted.fail(lost)
    this.#gone.fire()
    this.carrier.ended(this, now)
  }

  /** The stream `id`, made (and queued for `acceptStream`) if the peer opened it and it is new. */
  #streamFor(id: number): SimStream | undefined {
    const known = this.streams.get(id)
    if (known !== undefined) return known
    // An id of our own parity we never opened: nothing to attach it to.
    const ours = (id & 1) === (this.direction === "outbound" ? 0 : 1)
    if (ours) return undefined
    const stream = new SimStream(this, id, false)
    this.streams.set(id, stream)
    this.#accepted.offer(stream)
    return stream
  }

  /** A payload from the peer reached this end at `now`. */
  arrive(payload: Payload, now: number): Arrival {
    if (this.#lost !== undefined) return "dropped"
    this.lastHeard = now
    switch (payload._tag) {
      case "Data":
      case "Fin":
        return this.#streamFor(payload.stream)?.arrive(payload, now) ?? "dropped"
      case "Reset": {
        const known = this.streams.get(payload.stream)
        if (known !== undefined) return known.peerReset(payload.code)
        // Reset before any of its data arrived: remember it dead, never offer it.
        const ours = (payload.stream & 1) === (this.direction === "outbound" ? 0 : 1)
        if (ours) return "dropped"
        const dead = new SimStream(this, payload.stream, false)
        this.streams.set(payload.stream, dead)
        return dead.peerReset(payload.code)
      }
      case "Close":
        this.lose(new ConnectionLost({ peerDid: this.peerDid, by: "peer", code: payload.code, message: payload.reason }), now)
        return "delivered"
    }
  }

  /** Our reader took `bytes` of stream `id`: the peer's sender gets the room back. */
  creditPeer(id: number, bytes: number): void {
    this.peer.streams.get(id)?.credit(bytes)
  }
}
