/**
 * The stream multiplexer of TLS over TCP (PROTOCOL.md §3.2a): many logical streams on one ordered
 * byte link, each exposed as a WHATWG byte-stream pair (`MuxStream`, a `BytePort`) so that
 * `FramedStream` runs on it unchanged, exactly as on a QUIC stream.
 *
 * One `MuxSession` per connection, over a `MuxLink` (the TLS socket, or an in-memory pipe in
 * tests). What it guarantees:
 * - **Preface first.** Each side's first chunk is its preface (`MuxChunk.Settings`); anything else
 *   before the peer's preface, other than a close, is a protocol violation.
 * - **Ids.** The dialing side opens even stream ids, the accepting side odd ones, each strictly in
 *   sequence (0, 2, 4, … and 1, 3, 5, …). A chunk for a stream that was opened and has since closed
 *   is dropped silently (it was in flight); a chunk for one never opened is a protocol violation.
 * - **Credit, the same backpressure as QUIC.** A side sends stream data only within the credit
 *   the receiver granted for that stream (initially the receiver's `streamWindowBytes`) and for
 *   the connection (`connectionWindowBytes`). The receiver grants more as the application *reads*:
 *   once the bytes read since the last grant reach half the window, it grants them back. A reader
 *   that stops reading therefore stops its writer after one window, per stream and per connection.
 *   Data beyond a stream's credit resets that stream `flow_control`; beyond the connection's, it
 *   closes the connection `protocol_violation`.
 * - **Stream limit.** At most the peer's `maxStreams` streams opened by this side are open at once
 *   (`StreamLimitReached`). A stream stops counting when both directions are finished (fin sent
 *   and received) or it is reset, which both sides see in the same order on the ordered link.
 * - **Coalesced writes.** Everything pending (control chunks first, then stream data round-robin
 *   in chunks of at most `MuxChunk.maxPayloadBytes`, up to `writeBatchBytes`) leaves in one link
 *   write per event-loop turn; while the link is congested nothing more is written until it drains.
 * - **Liveness.** Nothing received for the idle timeout (the smaller non-zero value of both
 *   prefaces) closes the connection (`idle_timeout`); after `keepAliveMs` (at most half the idle
 *   timeout) without sending, a keep-alive goes out.
 * - **Typed failure.** Malformed or illegal chunks never throw: the connection closes
 *   `protocol_violation` (the peer is told, with the reason) and every stream fails with that
 *   `ConnectionLost`; a stream reset surfaces as `StreamReset` with its §3.7 name.
 *
 * Not here: TLS and certificates (`Tls.ts`), frames (`FramedStream`), HELLO and app pings.
 *
 * @since 0.1.0
 */
import { connectionClose, connectionCloseLabel, type ConnectionCloseName, streamReset, streamResetLabel } from "../../core/Codes.ts"
import { ConnectionLost, StreamLimitReached, StreamReset } from "./Errors.ts"
import type { BytePort } from "./FramedStream.ts"
import * as Chunk from "./MuxChunk.ts"

/**
 * The ordered, reliable byte link a session runs on. The owner feeds the link's events back into
 * the session (`receive`, `drained`, `linkEnded`, `linkFailed`).
 *
 * @since 0.1.0
 * @category models
 */
export interface MuxLink {
  /** Writes bytes in order; `false` means congested: the session writes nothing more until `drained`. */
  readonly write: (bytes: Uint8Array) => boolean
  /** Ends our direction after the pending writes; resolves once they are out (or the link is gone). */
  readonly end: () => Promise<void>
  /** Tears the link down at once. */
  readonly destroy: () => void
}

/**
 * Options of one session.
 *
 * @since 0.1.0
 * @category models
 */
export interface MuxOptions {
  /** `dialer` opens even stream ids, `acceptor` odd ones (§3.2a). */
  readonly role: "dialer" | "acceptor"
  /** The peer's DID, for the errors this session produces. */
  readonly peerDid: string
  /** What this side announces in its preface. */
  readonly settings: Chunk.Settings
  /** A keep-alive goes out after this long without sending, ms (capped at half the idle timeout). */
  readonly keepAliveMs: number
  /** Most stream-data bytes in one link write. @default 1_048_576 */
  readonly writeBatchBytes: number
}

/**
 * What a session tells its owner.
 *
 * @since 0.1.0
 * @category models
 */
export interface MuxEvents {
  /** The peer's preface arrived: streams may be opened from now on. */
  readonly onReady: (peer: Chunk.Settings) => void
  /** The peer opened a stream. */
  readonly onStream: (stream: MuxStream) => void
  /** The connection is gone (called once). */
  readonly onClosed: (lost: ConnectionLost) => void
}

const maxCredit = 2 ** 52
const empty = new Uint8Array(0)
const now = (): number => performance.now()

/**
 * One logical stream: the byte-stream pair `FramedStream` reads and writes, and its flow-control
 * state. Made by the session; fields without `#` are shared with it and not for other callers.
 *
 * @since 0.1.0
 * @category models
 */
export class MuxStream implements BytePort {
  readonly id: number
  readonly openedLocally: boolean
  readonly readable: ReadableStream<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  readonly #session: MuxSession
  #writableController: WritableStreamDefaultController | undefined = undefined

  // Receive side. `recvAvailable`: bytes the peer may still send before it needs more credit.
  #queue: Array<Uint8Array> = []
  #queueHead = 0
  #queuedBytes = 0
  #wake: (() => void) | undefined = undefined
  /** @internal */ recvAvailable: number
  /** @internal */ recvConsumed = 0
  /** @internal */ finReceived = false
  /** @internal */ recvFailure: StreamReset | ConnectionLost | undefined = undefined

  // Send side: the one write being taken (WritableStream calls `write` one at a time).
  /** @internal */ sendCredit: number
  /** @internal */ out: Uint8Array | undefined = undefined
  /** @internal */ outOffset = 0
  /** @internal */ outResolve: (() => void) | undefined = undefined
  /** @internal */ outReject: ((error: unknown) => void) | undefined = undefined
  /** @internal */ finRequested = false
  /** @internal */ finSent = false
  /** @internal */ finResolve: (() => void) | undefined = undefined
  /** @internal */ finReject: ((error: unknown) => void) | undefined = undefined
  /** @internal */ sendFailure: StreamReset | ConnectionLost | undefined = undefined
  /** @internal */ inReady = false
  /** @internal */ wasReset = false

  constructor(session: MuxSession, id: number, openedLocally: boolean, sendCredit: number, recvWindow: number) {
    this.#session = session
    this.id = id
    this.openedLocally = openedLocally
    this.sendCredit = sendCredit
    this.recvAvailable = recvWindow
    // High-water mark 0: `pull` runs only while a read is waiting, so bytes leave the queue (and
    // earn the peer new credit) exactly as fast as the application reads them.
    this.readable = new ReadableStream<Uint8Array>({ pull: (controller) => this.#pull(controller) }, { highWaterMark: 0 })
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writableController = controller
      },
      write: (chunk) => session.write(this, chunk),
      close: () => session.finish(this),
      abort: () => session.resetStream(this, streamReset.cancelled)
    })
  }

  #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    if (this.recvFailure !== undefined) return controller.error(this.recvFailure)
    if (this.#queueHead < this.#queue.length) {
      const next = this.#queue[this.#queueHead]!
      this.#queue[this.#queueHead++] = empty
      if (this.#queueHead === this.#queue.length) {
        this.#queue = []
        this.#queueHead = 0
      }
      this.#queuedBytes -= next.length
      controller.enqueue(next)
      this.#session.consumed(this, next.length)
      return
    }
    if (this.finReceived) return controller.close()
    return new Promise<void>((resolve) => (this.#wake = resolve)).then(() => this.#pull(controller))
  }

  /** @internal Queues received bytes for the reader. */
  deliver(bytes: Uint8Array): void {
    this.#queue.push(bytes)
    this.#queuedBytes += bytes.length
    this.wakeReader()
  }

  /** @internal */
  wakeReader(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** @internal Fails both directions; returns the received bytes it discarded. */
  fail(error: StreamReset | ConnectionLost): number {
    this.sendFailure ??= error
    this.recvFailure ??= error
    this.out = undefined
    const reject = this.outReject
    this.outResolve = this.outReject = undefined
    reject?.(error)
    const finReject = this.finReject
    this.finResolve = this.finReject = undefined
    finReject?.(error)
    this.#writableController?.error(error)
    const discarded = this.#queuedBytes
    this.#queue = []
    this.#queueHead = 0
    this.#queuedBytes = 0
    this.wakeReader()
    return discarded
  }

  /** Resets both directions with a §3.7 stream code (the `BytePort` reset). Never throws. */
  readonly reset = (code: number): void => this.#session.resetStream(this, code)

  /** Maps a rejection of a read or write to the typed error callers see. */
  readonly classify = (cause: unknown): StreamReset | ConnectionLost =>
    cause instanceof StreamReset || cause instanceof ConnectionLost
      ? cause
      : new ConnectionLost({
        peerDid: this.#session.peerDid,
        by: "transport",
        code: "transport_error",
        message: cause instanceof Error ? cause.message : String(cause)
      })
}

/**
 * One multiplexed connection. Create it, wire the link's events into it, then `start()`.
 *
 * @since 0.1.0
 * @category models
 */
export class MuxSession {
  readonly peerDid: string
  readonly #link: MuxLink
  readonly #options: MuxOptions
  readonly #events: MuxEvents
  readonly #decoder = new Chunk.ChunkDecoder()
  readonly #decoded: Array<Chunk.Chunk> = []
  /** The stream the data chunk under way goes to (`undefined`: its pieces are dropped). */
  #target: MuxStream | undefined = undefined
  #targetOpened = false
  readonly #localParity: 0 | 1
  #peer: Chunk.Settings | undefined = undefined

  readonly #streams = new Map<number, MuxStream>()
  #nextLocalId: number
  #nextPeerId: number
  #localOpen = 0
  #peerOpen = 0

  #connSendCredit = 0
  #connRecvAvailable: number
  #connConsumed = 0

  #control: Array<Uint8Array> = []
  #ready: Array<MuxStream> = []
  readonly #blocked = new Set<MuxStream>()
  #flushScheduled = false
  #congested = false

  #lost: ConnectionLost | undefined = undefined
  #ending: Promise<void> | undefined = undefined
  readonly #closedWaiters: Array<(lost: ConnectionLost) => void> = []

  #idleMs = 0
  #keepAliveMs = 0
  #lastReceived = now()
  #lastSent = now()
  #idleTimer: ReturnType<typeof setTimeout> | undefined = undefined
  #keepAliveTimer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(link: MuxLink, options: MuxOptions, events: MuxEvents) {
    this.#link = link
    this.#options = options
    this.#events = events
    this.peerDid = options.peerDid
    this.#localParity = options.role === "dialer" ? 0 : 1
    this.#nextLocalId = this.#localParity
    this.#nextPeerId = 1 - this.#localParity
    this.#connRecvAvailable = options.settings.connectionWindowBytes
  }

  /** Sends the preface. */
  start(): void {
    this.#sendControl(Chunk.preface(this.#options.settings))
  }

  /** The peer's settings, once its preface arrived. */
  get peerSettings(): Chunk.Settings | undefined {
    return this.#peer
  }

  /** Why the connection is gone, once it is. */
  get lost(): ConnectionLost | undefined {
    return this.#lost
  }

  /** Streams currently open (either side), for tests and status. */
  get openStreams(): number {
    return this.#streams.size
  }

  /** Resolves with the reason once the connection is gone. */
  readonly closed = (): Promise<ConnectionLost> => new Promise<ConnectionLost>((resolve) => this.whenClosed(resolve))

  /** Calls `waiter` once the connection is gone (at once if it is); returns a function withdrawing it. */
  whenClosed(waiter: (lost: ConnectionLost) => void): () => void {
    if (this.#lost !== undefined) {
      waiter(this.#lost)
      return () => undefined
    }
    this.#closedWaiters.push(waiter)
    return () => {
      const at = this.#closedWaiters.indexOf(waiter)
      if (at >= 0) this.#closedWaiters.splice(at, 1)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Link events
  // ------------------------------------------------------------------------------------------

  /** Bytes read from the link. */
  receive(bytes: Uint8Array): void {
    if (this.#lost !== undefined) return
    this.#lastReceived = now()
    const chunks = this.#decoded
    const problem = this.#decoder.push(bytes, chunks)
    for (let i = 0; i < chunks.length && this.#lost === undefined; i++) this.#onChunk(chunks[i]!)
    chunks.length = 0
    if (problem !== undefined) this.#violation(`malformed chunk: ${problem}`)
  }

  /** The link accepts writes again. */
  drained(): void {
    this.#congested = false
    if (this.#control.length > 0 || this.#ready.length > 0) this.#scheduleFlush()
  }

  /** The peer ended its direction of the link. */
  linkEnded(): void {
    if (this.#lost !== undefined) return
    const problem = this.#decoder.end()
    this.#terminate(new ConnectionLost({
      peerDid: this.peerDid,
      by: "transport",
      code: problem === undefined ? "eof" : "truncated",
      message: "the peer ended the connection without a close"
    }))
    void this.#link.end()
  }

  /** The link failed or closed. */
  linkFailed(error: unknown): void {
    if (this.#lost !== undefined) return
    const code = (error as { code?: unknown } | null)?.code
    this.#terminate(new ConnectionLost({
      peerDid: this.peerDid,
      by: "transport",
      code: code === "ECONNRESET" ? "reset" : typeof code === "string" ? code : "transport_error",
      message: error instanceof Error ? error.message : String(error)
    }))
    this.#link.destroy()
  }

  // ------------------------------------------------------------------------------------------
  // Application commands
  // ------------------------------------------------------------------------------------------

  /** Opens a stream; the peer learns of it with this turn's write. */
  openStream(): MuxStream | StreamLimitReached | ConnectionLost {
    if (this.#lost !== undefined) return this.#lost
    if (this.#ending !== undefined || this.#peer === undefined) {
      return new ConnectionLost({ peerDid: this.peerDid, by: "local", code: "normal", message: "not open" })
    }
    if (this.#localOpen >= this.#peer.maxStreams || this.#nextLocalId >= Chunk.connectionId) {
      return new StreamLimitReached({ peerDid: this.peerDid })
    }
    const id = this.#nextLocalId
    this.#nextLocalId += 2
    const stream = new MuxStream(this, id, true, this.#peer.streamWindowBytes, this.#options.settings.streamWindowBytes)
    this.#streams.set(id, stream)
    this.#localOpen++
    this.#sendControl(Chunk.encode(id, Chunk.Flag.open))
    return stream
  }

  /**
   * Closes the connection with a §3.7 code: the close chunk (with `reason`) goes out, our
   * direction ends, and every stream fails. Resolves once the close is written. Idempotent.
   */
  close(code: ConnectionCloseName, reason: string): Promise<void> {
    if (this.#ending !== undefined) return this.#ending
    if (this.#lost !== undefined) return Promise.resolve()
    return this.#closeWith(new ConnectionLost({ peerDid: this.peerDid, by: "local", code, message: reason }), connectionClose[code])
  }

  // ------------------------------------------------------------------------------------------
  // Stream operations (called by MuxStream's web streams)
  // ------------------------------------------------------------------------------------------

  /** @internal A write from the stream's `WritableStream`: resolves once every byte is taken. */
  write(stream: MuxStream, bytes: Uint8Array): Promise<void> {
    if (stream.sendFailure !== undefined) return Promise.reject(stream.sendFailure)
    if (bytes.length === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      stream.out = bytes
      stream.outOffset = 0
      stream.outResolve = resolve
      stream.outReject = reject
      this.#wantSend(stream)
    })
  }

  /** @internal The stream's `WritableStream` closed: fin after the data. */
  finish(stream: MuxStream): Promise<void> {
    if (stream.sendFailure !== undefined) return Promise.reject(stream.sendFailure)
    if (stream.finRequested) return Promise.resolve()
    stream.finRequested = true
    return new Promise<void>((resolve, reject) => {
      stream.finResolve = resolve
      stream.finReject = reject
      this.#wantSend(stream)
    })
  }

  /** @internal Resets both directions of `stream` with `code`; the peer is told. */
  resetStream(stream: MuxStream, code: number): void {
    if (stream.wasReset || stream.recvFailure !== undefined || this.#lost !== undefined) return
    stream.wasReset = true
    if (this.#streams.has(stream.id)) this.#sendControl(Chunk.reset(stream.id, code))
    this.#connectionConsumed(stream.fail(new StreamReset({ streamId: stream.id, by: "local", code: streamResetLabel(code) })))
    this.#remove(stream)
  }

  /** @internal The reader took `bytes` bytes of `stream`: grant them back once they reach half a window. */
  consumed(stream: MuxStream, bytes: number): void {
    if (this.#lost !== undefined) return
    this.#connectionConsumed(bytes)
    if (stream.finReceived || stream.wasReset || !this.#streams.has(stream.id)) return
    stream.recvConsumed += bytes
    if (stream.recvConsumed * 2 >= this.#options.settings.streamWindowBytes) {
      this.#sendControl(Chunk.credit(stream.id, stream.recvConsumed))
      stream.recvAvailable += stream.recvConsumed
      stream.recvConsumed = 0
    }
  }

  #connectionConsumed(bytes: number): void {
    if (bytes === 0 || this.#lost !== undefined) return
    this.#connConsumed += bytes
    if (this.#connConsumed * 2 >= this.#options.settings.connectionWindowBytes) {
      this.#sendControl(Chunk.credit(Chunk.connectionId, this.#connConsumed))
      this.#connRecvAvailable += this.#connConsumed
      this.#connConsumed = 0
    }
  }

  // ------------------------------------------------------------------------------------------
  // Receiving chunks
  // ------------------------------------------------------------------------------------------

  #onChunk(chunk: Chunk.Chunk): void {
    if (!chunk.first) return this.#onPiece(chunk)
    this.#target = undefined
    this.#targetOpened = false
    const { id, flags, length } = chunk
    if (id === Chunk.connectionId) return this.#onConnectionChunk(flags, chunk.payload)
    if (this.#peer === undefined) return this.#violation("a stream chunk before the preface")
    const peerOpened = (id & 1) !== this.#localParity
    let stream = this.#streams.get(id)
    let opened = false
    if ((flags & Chunk.Flag.open) !== 0) {
      if (!peerOpened || id !== this.#nextPeerId) return this.#violation(`stream ${id} opened out of sequence`)
      if (this.#peerOpen >= this.#options.settings.maxStreams) return this.#violation("the peer exceeded maxStreams")
      this.#nextPeerId += 2
      stream = new MuxStream(this, id, false, this.#peer.streamWindowBytes, this.#options.settings.streamWindowBytes)
      this.#streams.set(id, stream)
      this.#peerOpen++
      opened = true
    } else if (stream === undefined) {
      const seen = peerOpened ? id < this.#nextPeerId : id < this.#nextLocalId
      if (!seen) return this.#violation(`a chunk for stream ${id}, which was never opened`)
      // A stream that closed here while this chunk was in flight: drop it (its pieces too), but its
      // data still counted against the connection window, so give that back.
      if ((flags & Chunk.Flag.data) !== 0) {
        if (length > this.#connRecvAvailable) return this.#violation("the peer exceeded the connection window")
        this.#connRecvAvailable -= length
        this.#connectionConsumed(length)
      }
      return
    }
    if ((flags & Chunk.Flag.reset) !== 0) {
      const code = Chunk.readU32(chunk.payload, 0)
      stream.wasReset = true
      this.#connectionConsumed(stream.fail(new StreamReset({ streamId: id, by: "peer", code: streamResetLabel(code) })))
      this.#remove(stream)
      return
    }
    if ((flags & Chunk.Flag.credit) !== 0) {
      stream.sendCredit = Math.min(maxCredit, stream.sendCredit + Chunk.readU32(chunk.payload, 0))
      this.#wantSend(stream)
      return
    }
    if ((flags & Chunk.Flag.data) !== 0) {
      // Credit is checked on the header, before the payload has arrived.
      if (stream.finReceived) return this.#violation(`data after fin on stream ${id}`)
      if (length > this.#connRecvAvailable) return this.#violation("the peer exceeded the connection window")
      this.#connRecvAvailable -= length
      if (length > stream.recvAvailable) {
        // The stream's own window: that stream is reset, the connection goes on.
        this.#connectionConsumed(length)
        if (opened) this.#events.onStream(stream)
        this.resetStream(stream, streamReset.flow_control)
        return
      }
      stream.recvAvailable -= length
    }
    this.#target = stream
    this.#targetOpened = opened
    this.#onPiece(chunk)
  }

  /** A piece of the chunk under way (all of it, for a chunk without data). */
  #onPiece(chunk: Chunk.Chunk): void {
    const stream = this.#target
    if (stream === undefined) return
    if ((chunk.flags & Chunk.Flag.data) !== 0) {
      // Reset here since the chunk began: its bytes only return connection credit.
      if (stream.recvFailure !== undefined) this.#connectionConsumed(chunk.payload.length)
      else if (chunk.payload.length > 0) stream.deliver(chunk.payload)
    }
    if (!chunk.last) return
    const opened = this.#targetOpened
    this.#target = undefined
    this.#targetOpened = false
    if ((chunk.flags & Chunk.Flag.fin) !== 0 && stream.recvFailure === undefined) {
      if (stream.finReceived) return this.#violation(`a second fin on stream ${stream.id}`)
      stream.finReceived = true
      stream.wakeReader()
      if (stream.finSent) this.#remove(stream)
    }
    if (opened) this.#events.onStream(stream)
  }

  #onConnectionChunk(flags: number, payload: Uint8Array): void {
    if (flags === Chunk.Flag.reset) {
      const code = Chunk.readU32(payload, 0)
      this.#terminate(new ConnectionLost({
        peerDid: this.peerDid,
        by: "peer",
        code: connectionCloseLabel(code),
        message: Buffer.from(payload.subarray(4)).toString("utf8")
      }))
      void this.#link.end()
      return
    }
    if (flags === Chunk.Flag.open) {
      if (this.#peer !== undefined) return this.#violation("a second preface")
      const settings = Chunk.decodeSettings(payload)
      if (settings === undefined) return this.#violation("a preface with a zero window")
      this.#peer = settings
      this.#connSendCredit = settings.connectionWindowBytes
      const idle = [this.#options.settings.idleTimeoutMs, settings.idleTimeoutMs].filter((ms) => ms > 0)
      this.#idleMs = idle.length === 0 ? 0 : Math.min(...idle)
      this.#keepAliveMs = this.#idleMs === 0 ? this.#options.keepAliveMs : Math.min(this.#options.keepAliveMs, this.#idleMs / 2)
      this.#armTimers()
      this.#events.onReady(settings)
      return
    }
    // Credit (the decoder admits nothing else on the connection id).
    if (this.#peer === undefined) return this.#violation("credit before the preface")
    const increment = Chunk.readU32(payload, 0)
    if (increment === 0) return // keep-alive
    this.#connSendCredit = Math.min(maxCredit, this.#connSendCredit + increment)
    for (const stream of this.#blocked) this.#wantSend(stream)
    this.#blocked.clear()
  }

  #remove(stream: MuxStream): void {
    if (this.#streams.get(stream.id) !== stream) return
    this.#streams.delete(stream.id)
    this.#blocked.delete(stream)
    if (stream.openedLocally) this.#localOpen--
    else this.#peerOpen--
  }

  // ------------------------------------------------------------------------------------------
  // Sending: one coalesced link write per turn
  // ------------------------------------------------------------------------------------------

  #sendControl(bytes: Uint8Array): void {
    if (this.#lost !== undefined) return
    this.#control.push(bytes)
    this.#scheduleFlush()
  }

  /** Queues `stream` for the next write if it has something it may send. */
  #wantSend(stream: MuxStream): void {
    if (stream.inReady || stream.sendFailure !== undefined || this.#lost !== undefined) return
    const hasData = stream.out !== undefined
    if (hasData && stream.sendCredit === 0) return // waits for stream credit
    if (hasData && this.#connSendCredit === 0) {
      this.#blocked.add(stream)
      return
    }
    if (!hasData && !(stream.finRequested && !stream.finSent)) return
    stream.inReady = true
    this.#ready.push(stream)
    this.#scheduleFlush()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#congested) return
    this.#flushScheduled = true
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#lost !== undefined || this.#congested) return
    const control = this.#control
    this.#control = []
    let size = 0
    for (const bytes of control) size += bytes.length
    const ids: Array<number> = []
    const flagsOf: Array<number> = []
    const payloads: Array<Uint8Array> = []
    let budget = this.#options.writeBatchBytes
    // Round-robin: each pass gives every ready stream one chunk, until the budget is spent.
    const queue = this.#ready
    this.#ready = []
    for (let i = 0; i < queue.length; i++) {
      const stream = queue[i]!
      stream.inReady = false
      if (stream.sendFailure !== undefined) continue
      let flags = 0
      let payload: Uint8Array = empty
      const out = stream.out
      if (out !== undefined) {
        const amount = Math.min(Chunk.maxPayloadBytes, out.length - stream.outOffset, stream.sendCredit, this.#connSendCredit, budget)
        if (amount > 0) {
          payload = out.subarray(stream.outOffset, stream.outOffset + amount)
          stream.outOffset += amount
          stream.sendCredit -= amount
          this.#connSendCredit -= amount
          budget -= amount
          flags = Chunk.Flag.data
          if (stream.outOffset === out.length) {
            const resolve = stream.outResolve
            stream.out = undefined
            stream.outResolve = stream.outReject = undefined
            resolve?.()
          }
        }
      }
      if (stream.out === undefined && stream.finRequested && !stream.finSent) {
        flags |= Chunk.Flag.fin
        stream.finSent = true
        const resolve = stream.finResolve
        stream.finResolve = stream.finReject = undefined
        resolve?.()
        if (stream.finReceived) this.#remove(stream)
      }
      if (flags !== 0) {
        ids.push(stream.id)
        flagsOf.push(flags)
        payloads.push(payload)
        size += Chunk.headerBytes + payload.length
      }
      if (stream.out !== undefined) {
        if (stream.sendCredit > 0 && this.#connSendCredit > 0) {
          stream.inReady = true
          if (budget > 0) queue.push(stream)
          else this.#ready.push(stream)
        } else if (stream.sendCredit > 0) {
          this.#blocked.add(stream)
        }
      }
    }
    if (size === 0) return
    const bytes = Buffer.allocUnsafe(size)
    let at = 0
    for (const c of control) {
      bytes.set(c, at)
      at += c.length
    }
    for (let i = 0; i < ids.length; i++) {
      const payload = payloads[i]!
      Chunk.writeHeader(bytes, at, ids[i]!, flagsOf[i]!, payload.length)
      bytes.set(payload, at + Chunk.headerBytes)
      at += Chunk.headerBytes + payload.length
    }
    this.#lastSent = now()
    if (!this.#link.write(bytes)) this.#congested = true
    else if (this.#ready.length > 0 || this.#control.length > 0) this.#scheduleFlush()
  }

  // ------------------------------------------------------------------------------------------
  // Liveness and closing
  // ------------------------------------------------------------------------------------------

  #armTimers(): void {
    if (this.#idleMs > 0) this.#idleTimer = setTimeout(this.#checkIdle, this.#idleMs)
    if (this.#keepAliveMs > 0) this.#keepAliveTimer = setTimeout(this.#checkKeepAlive, this.#keepAliveMs)
    this.#idleTimer?.unref()
    this.#keepAliveTimer?.unref()
  }

  // Both timers check on firing instead of being re-armed per chunk: one timer each, no churn.
  readonly #checkIdle = (): void => {
    if (this.#lost !== undefined) return
    const quiet = now() - this.#lastReceived
    if (quiet >= this.#idleMs) {
      this.#terminate(new ConnectionLost({
        peerDid: this.peerDid,
        by: "idle_timeout",
        code: "idle_timeout",
        message: `nothing received for ${this.#idleMs} ms`
      }))
      this.#link.destroy()
      return
    }
    this.#idleTimer = setTimeout(this.#checkIdle, this.#idleMs - quiet)
    this.#idleTimer.unref()
  }

  readonly #checkKeepAlive = (): void => {
    if (this.#lost !== undefined) return
    const quiet = now() - this.#lastSent
    let wait = this.#keepAliveMs - quiet
    if (wait <= 0) {
      this.#sendControl(Chunk.keepAlive())
      wait = this.#keepAliveMs
    }
    this.#keepAliveTimer = setTimeout(this.#checkKeepAlive, wait)
    this.#keepAliveTimer.unref()
  }

  #violation(message: string): void {
    if (this.#lost !== undefined) return
    void this.#closeWith(
      new ConnectionLost({ peerDid: this.peerDid, by: "local", code: "protocol_violation", message }),
      connectionClose.protocol_violation
    )
  }

  #closeWith(lost: ConnectionLost, code: number): Promise<void> {
    this.#terminate(lost)
    // Whatever was queued is dropped; the close goes out on its own, then our direction ends. The
    // link keeps reading until the peer ends too, so the close is not lost to a TCP reset.
    this.#link.write(Chunk.close(code, lost.message))
    this.#ending = this.#link.end()
    return this.#ending
  }

  #terminate(lost: ConnectionLost): void {
    if (this.#lost !== undefined) return
    this.#lost = lost
    clearTimeout(this.#idleTimer)
    clearTimeout(this.#keepAliveTimer)
    const streams = [...this.#streams.values()]
    this.#streams.clear()
    this.#blocked.clear()
    this.#ready = []
    this.#control = []
    for (const stream of streams) stream.fail(lost)
    this.#events.onClosed(lost)
    for (const waiter of this.#closedWaiters.splice(0)) waiter(lost)
  }
}
