/**
 * A `FrameStream` over any byte stream that offers WHATWG `ReadableStream` / `WritableStream`
 * halves and a reset: QUIC streams today, the logical streams of TLS over TCP (§3.2a) later.
 *
 * Sending coalesces: small frames queued during one event-loop turn are copied into one buffer
 * and leave in one write (one write per frame measured ~40× slower); a body of 16 KiB or more
 * (a content block) is handed to the transport as it is, not copied, so the caller must not
 * modify a body once sent. While a flush is in flight, new frames gather for the next one.
 * Backpressure: `send` completes at once while queued plus in-flight bytes stay at or below
 * `sendBufferBytes`, and otherwise waits until the transport has taken enough of them; the
 * transport in turn only takes bytes the peer's flow-control window admits, so a slow reader
 * slows its writer instead of growing a buffer.
 *
 * Receiving is pull-based: bytes are read from the transport only when the consumer asks for a
 * frame and none is decoded yet, so an idle consumer leaves data in the transport's window and
 * the peer stops sending. A framing fault (§4.1) delivers the frames before it, then resets the
 * stream with the fault's code and fails with `DecodeError`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { streamReset, type StreamResetName } from "../../core/Codes.ts"
import {
  type ConnectionLost,
  type FramingError,
  framingError,
  PayloadTooLarge,
  type ReceiveError,
  type SendError,
  StreamEnded,
  StreamReset
} from "./Errors.ts"
import { type DecodeProblem, FrameDecoder, prefixBytes, writePrefix } from "./Frame.ts"
import type { FrameStream } from "./Transport.ts"

/**
 * What a byte-stream implementation supplies to carry frames.
 *
 * @since 0.1.0
 * @category models
 */
export interface BytePort {
  readonly id: number
  readonly openedLocally: boolean
  readonly readable: ReadableStream<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  /** Resets both directions with a §3.7 stream code. Must not throw. */
  readonly reset: (code: number) => void
  /** Turns a rejection of a read or write into the typed error callers see. */
  readonly classify: (cause: unknown) => StreamReset | ConnectionLost
}

/**
 * Sizes of one framed stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface FramedStreamOptions {
  /** Largest frame body accepted from the peer (§4.1). @default 1_048_576 (`maxFrameBytes`) */
  readonly maxFrameBytes: number
  /** Largest frame body `send` accepts until `setSendLimit` (the peer's `lim.f`). @default maxFrameBytes */
  readonly sendLimitBytes?: number
  /** Queued plus in-flight bytes above which `send` waits. @default 1_048_576 */
  readonly sendBufferBytes: number
}

/** Bodies of at least this many bytes are written without being copied into a batch. */
const directBytes = 16_384

interface Waiter {
  readonly resolve: () => void
  readonly reject: (error: SendError) => void
}

/**
 * The frame layer of one stream. Create with `new FramedStream(port, options)`.
 *
 * @since 0.1.0
 * @category models
 */
export class FramedStream implements FrameStream {
  readonly id: number
  readonly openedLocally: boolean
  readonly #port: BytePort
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>
  readonly #decoder: FrameDecoder
  readonly #sendBufferBytes: number
  #sendLimitBytes: number

  // Receive side: decoded bodies not yet taken, and the terminal error once there is one.
  #ready: Array<Uint8Array> = []
  #readyHead = 0
  #receiveFailure: ReceiveError | undefined = undefined
  #pulling: Promise<void> | undefined = undefined

  // Send side: bodies queued for the next write, bytes of the write in flight, waiters.
  #queued: Array<Uint8Array> = []
  #queuedBytes = 0
  #inFlightBytes = 0
  #writing = false
  #flushScheduled = false
  #waiters: Array<Waiter> = []
  #sendFailure: SendError | undefined = undefined
  #ending = false
  #ended: Promise<void> | undefined = undefined
  #endResolve: (() => void) | undefined = undefined
  #reset = false

  constructor(port: BytePort, options: FramedStreamOptions) {
    this.id = port.id
    this.openedLocally = port.openedLocally
    this.#port = port
    this.#reader = port.readable.getReader()
    this.#writer = port.writable.getWriter()
    // A failed write or close is observed through its own promise; keep the writer's `closed`
    // promise from reporting an unhandled rejection.
    this.#writer.closed.catch(() => undefined)
    this.#reader.closed.catch(() => undefined)
    this.#decoder = new FrameDecoder(options.maxFrameBytes)
    this.#sendBufferBytes = options.sendBufferBytes
    this.#sendLimitBytes = options.sendLimitBytes ?? options.maxFrameBytes
  }

  get sendLimitBytes(): number {
    return this.#sendLimitBytes
  }

  readonly setSendLimit = (bytes: number): void => {
    this.#sendLimitBytes = bytes
  }

  // ------------------------------------------------------------------------------------------
  // Sending
  // ------------------------------------------------------------------------------------------

  /** Queues one body; returns a promise only when the caller must wait (backpressure). */
  enqueue(body: Uint8Array): Promise<void> | SendError | undefined {
    if (this.#sendFailure !== undefined) return this.#sendFailure
    // An empty body cannot be framed (L = 0 is malformed, §4.1): a caller bug, hence a defect.
    if (body.length === 0) throw new RangeError("a frame body must not be empty")
    if (body.length > this.#sendLimitBytes) {
      return new PayloadTooLarge({ size: body.length, limit: this.#sendLimitBytes })
    }
    if (this.#ending) return new StreamReset({ streamId: this.id, by: "local", code: "no_error" })
    this.#queued.push(body)
    this.#queuedBytes += prefixBytes + body.length
    if (!this.#flushScheduled && !this.#writing) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
    return this.#mustWait() ? this.#waitForRoom() : undefined
  }

  #mustWait(): boolean {
    return this.#queuedBytes + this.#inFlightBytes > this.#sendBufferBytes
  }

  #waitForRoom(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#writing || this.#sendFailure !== undefined) return
    if (this.#queued.length === 0) {
      if (this.#ending) this.#finish()
      return
    }
    const bodies = this.#queued
    const size = this.#queuedBytes
    this.#queued = []
    this.#queuedBytes = 0
    this.#writing = true
    this.#inFlightBytes = size
    // Small frames are copied into one batch behind their prefixes; a large body (a content
    // block) is written as it is, its prefix closing the batch before it: copying 256 KiB to
    // save one write call costs more than the call.
    let last: Promise<void> | undefined
    let from = 0
    let batchBytes = 0
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!
      if (body.length < directBytes) {
        batchBytes += prefixBytes + body.length
        continue
      }
      this.#writeBatch(bodies, from, i, batchBytes + prefixBytes, body.length)
      last = this.#writer.write(body)
      from = i + 1
      batchBytes = 0
      if (i + 1 < bodies.length) last.catch(this.#writeFailed)
    }
    if (from < bodies.length) last = this.#writeBatch(bodies, from, bodies.length, batchBytes, undefined)
    last!.then(this.#written, this.#writeFailed)
  }

  /**
   * Writes `bodies[from, to)` with their prefixes in one buffer of `bytes` bytes, ending with the
   * prefix of the large body that follows (`nextLength`), if any.
   */
  #writeBatch(bodies: ReadonlyArray<Uint8Array>, from: number, to: number, bytes: number, nextLength: number | undefined): Promise<void> {
    const batch = Buffer.allocUnsafe(bytes)
    let at = 0
    for (let i = from; i < to; i++) {
      const body = bodies[i]!
      writePrefix(batch, at, body.length)
      batch.set(body, at + prefixBytes)
      at += prefixBytes + body.length
    }
    if (nextLength !== undefined) writePrefix(batch, at, nextLength)
    const written = this.#writer.write(batch)
    // Only the last write of a flush reports; an earlier failure fails the ones after it too.
    if (to < bodies.length) written.catch(this.#writeFailed)
    return written
  }

  readonly #written = (): void => {
    this.#writing = false
    this.#inFlightBytes = 0
    // Frames queued while the write was in flight go out now, in one batch.
    if (this.#queued.length > 0) this.#flush()
    else if (this.#ending) this.#finish()
    if (!this.#mustWait() && this.#waiters.length > 0) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w.resolve()
    }
  }

  readonly #writeFailed = (cause: unknown): void => {
    this.#writing = false
    this.#inFlightBytes = 0
    this.#failSend(this.#port.classify(cause))
  }

  #failSend(error: SendError): void {
    if (this.#sendFailure === undefined) this.#sendFailure = error
    this.#queued = []
    this.#queuedBytes = 0
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w.reject(this.#sendFailure)
    this.#endResolve?.()
  }

  #finish(): void {
    this.#writer.close().then(
      () => this.#endResolve?.(),
      () => this.#endResolve?.()
    )
  }

  /** FIN after everything queued; resolves once the FIN is handed to the transport. */
  finish(): Promise<void> {
    if (this.#ended !== undefined) return this.#ended
    this.#ending = true
    this.#ended = new Promise<void>((resolve) => (this.#endResolve = resolve))
    if (this.#sendFailure !== undefined) this.#endResolve?.()
    else if (!this.#writing && !this.#flushScheduled) this.#flush()
    return this.#ended
  }

  /** Resets both directions with `code`; idempotent. */
  abort(code: StreamResetName): void {
    if (this.#reset) return
    this.#reset = true
    const error = new StreamReset({ streamId: this.id, by: "local", code })
    this.#failSend(error)
    if (this.#receiveFailure === undefined) this.#receiveFailure = error
    this.#port.reset(streamReset[code])
  }

  // ------------------------------------------------------------------------------------------
  // Receiving
  // ------------------------------------------------------------------------------------------

  /** Number of decoded bodies waiting to be taken. */
  get buffered(): number {
    return this.#ready.length - this.#readyHead
  }

  /** The next decoded body, if one is waiting. */
  takeNow(): Uint8Array | undefined {
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
    return body
  }

  /** Every decoded body waiting, in order. */
  takeAllNow(): Array<Uint8Array> {
    const out = this.#readyHead === 0 ? this.#ready : this.#ready.slice(this.#readyHead)
    this.#ready = []
    this.#readyHead = 0
    return out
  }

  /** The terminal receive error, once nothing more can arrive. */
  get receiveFailure(): ReceiveError | undefined {
    return this.#receiveFailure
  }

  /** Reads from the transport until at least one body is decoded or the stream fails. */
  pull(): Promise<void> {
    if (this.#pulling === undefined) {
      this.#pulling = this.#pullLoop().finally(() => {
        this.#pulling = undefined
      })
    }
    return this.#pulling
  }

  async #pullLoop(): Promise<void> {
    while (this.buffered === 0 && this.#receiveFailure === undefined) {
      let result: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>
      try {
        result = await this.#reader.read()
      } catch (cause) {
        this.#receiveFailure ??= this.#port.classify(cause)
        return
      }
      if (result.done) {
        const problem = this.#decoder.end()
        this.#receiveFailure ??= problem === undefined
          ? new StreamEnded({ streamId: this.id })
          : this.#decodeFailed(problem)
        return
      }
      const problem = this.#decoder.push(result.value, this.#ready)
      if (problem !== undefined) {
        this.#receiveFailure ??= this.#decodeFailed(problem)
        return
      }
    }
  }

  #decodeFailed(problem: DecodeProblem): FramingError {
    const error = framingError(this.id, problem)
    if (!this.#reset) {
      this.#reset = true
      this.#failSend(new StreamReset({ streamId: this.id, by: "local", code: problem }))
      this.#port.reset(streamReset[problem])
    }
    return error
  }

  // ------------------------------------------------------------------------------------------
  // The FrameStream interface (Effect)
  // ------------------------------------------------------------------------------------------

  readonly send = (body: Uint8Array): Effect.Effect<void, SendError> =>
    Effect.suspend(() => this.#afterEnqueue(this.enqueue(body)))

  readonly sendAll = (bodies: ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError> =>
    Effect.suspend(() => {
      let last: Promise<void> | SendError | undefined = undefined
      for (const body of bodies) {
        if (last instanceof Promise) last.catch(() => undefined)
        last = this.enqueue(body)
        if (last !== undefined && !(last instanceof Promise)) return Effect.fail(last)
      }
      return this.#afterEnqueue(last)
    })

  #afterEnqueue(outcome: Promise<void> | SendError | undefined): Effect.Effect<void, SendError> {
    if (outcome === undefined) return Effect.void
    if (!(outcome instanceof Promise)) return Effect.fail(outcome)
    return Effect.callback<void, SendError>((resume) => {
      outcome.then(
        () => resume(Effect.void),
        (error: SendError) => resume(Effect.fail(error))
      )
    })
  }

  readonly receive: Effect.Effect<Uint8Array, ReceiveError> = Effect.suspend(() => {
    const body = this.takeNow()
    if (body !== undefined) return Effect.succeed(body)
    if (this.#receiveFailure !== undefined) return Effect.fail(this.#receiveFailure)
    return Effect.flatMap(Effect.promise(() => this.pull()), () => this.receive)
  })

  readonly receiveMany: Effect.Effect<ReadonlyArray<Uint8Array>, ReceiveError> = Effect.suspend(() => {
    if (this.buffered > 0) return Effect.succeed(this.takeAllNow())
    if (this.#receiveFailure !== undefined) return Effect.fail(this.#receiveFailure)
    return Effect.flatMap(Effect.promise(() => this.pull()), () => this.receiveMany)
  })

  readonly end: Effect.Effect<void> = Effect.promise(() => this.finish())

  readonly reset = (code: StreamResetName): Effect.Effect<void> => Effect.sync(() => this.abort(code))
}
