/**
 * Streaming calls as the application sees them (PROTOCOL.md §9.5): the caller's `StreamCall`,
 * the handler's `StreamChannel`, and the `Pipe` that backs both over the RPC endpoint.
 *
 * A pipe is one side of one call stream. Outbound, `send` hands a message to the endpoint and
 * resolves once it left within the credit the other side granted; at most `queueMax` messages
 * wait for credit, and a further `send` waits for room (so a producer is paced by its consumer
 * and nothing grows without bound). Inbound, messages wait in the pipe until the application
 * takes them; each one taken is reported as consumed, which is what re-grants credit, so the
 * inbound buffer never holds more than the credit window.
 *
 * @since 0.1.0
 */
import type { CallContext } from "./Mesh.ts"

/**
 * The streaming modes (§9.5): `server` (one request, many responses), `client` (many
 * requests, one response), `bidi` (both ways).
 *
 * @since 0.1.0
 * @category models
 */
export type StreamMode = "server" | "client" | "bidi"

/**
 * The caller's side of a streaming call. Iterating yields the provider's messages in order
 * and ends when the provider half-closes or the call ends; if the call failed, iteration
 * throws its error after the messages that arrived.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamCall extends AsyncIterable<unknown> {
  readonly procedure: string
  readonly mode: StreamMode
  /**
   * `client` / `bidi`: sends one message (any msgpack-encodable value); resolves once it left
   * within the provider's credit. Rejects after `end`, or once the call is over.
   */
  readonly send: (message: unknown) => Promise<void>
  /** Half-closes the caller's side: no more messages (the provider's iteration ends). */
  readonly end: () => Promise<void>
  /** The handler's return value; rejects with the call's typed error. */
  readonly result: Promise<unknown>
  /** Gives up on the call: the provider's handler is aborted, `result` rejects `cancelled`. */
  readonly cancel: () => Promise<void>
}

/**
 * The handler's side of a streaming call. Iterating yields the caller's messages in order and
 * ends when the caller half-closes (`client` / `bidi`; at once in `server` mode).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamChannel extends AsyncIterable<unknown> {
  readonly mode: StreamMode
  /** `server` / `bidi`: sends one message; resolves once it left within the caller's credit. */
  readonly send: (message: unknown) => Promise<void>
}

/**
 * A streaming procedure's handler: its return value (after its messages) is the call's
 * result; a throw reaches the caller as `RemoteError` `handler_error`.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamHandler = (args: unknown, stream: StreamChannel, ctx: CallContext) => unknown

/**
 * Options of a streaming call.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamCallOptions {
  readonly mode: StreamMode
  /** The call's whole budget, ms (at most `maxCallTtlMs`). @default callTimeoutMs */
  readonly timeoutMs?: number
  /** Direct mode (§9.2): the serving station's address, or `true` to find it; see `CallOptions.direct`. */
  readonly direct?: string | true
}

/**
 * What a pipe asks of the endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface PipeIo {
  readonly send: (data: unknown) => void
  readonly close: () => void
  readonly consumed: (n: number) => void
}

interface Waiter<A> {
  readonly resolve: (a: A) => void
  readonly reject: (e: unknown) => void
}

/**
 * One side of one call stream, between the application and the endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export class Pipe {
  readonly #inbox: Array<unknown> = []
  readonly #readers: Array<Waiter<IteratorResult<unknown>>> = []
  #ended = false
  #failure: { readonly error: unknown } | undefined
  #given = 0
  #left = 0
  readonly #senders: Array<Waiter<void> & { readonly seq: number }> = []
  readonly #room: Array<() => void> = []
  #closed = false
  /** Most messages ever waiting in the inbox: bounded by the credit window. */
  maxBuffered = 0

  constructor(
    readonly io: PipeIo,
    readonly queueMax: number,
    readonly check: (message: unknown) => Error | undefined
  ) {}

  /** Messages waiting for the application. */
  get buffered(): number {
    return this.#inbox.length
  }

  /** One message from the other side. */
  push(data: unknown): void {
    if (this.#ended || this.#failure !== undefined) return
    const reader = this.#readers.shift()
    if (reader !== undefined) {
      this.io.consumed(1)
      return reader.resolve({ value: data, done: false })
    }
    this.#inbox.push(data)
    this.maxBuffered = Math.max(this.maxBuffered, this.#inbox.length)
  }

  /** The other side half-closed: readers finish once the inbox is empty. */
  end(): void {
    this.#ended = true
    for (const reader of this.#readers.splice(0)) reader.resolve({ value: undefined, done: true })
  }

  /** The call is over with `error`: readers get it after the buffered messages; senders at once. */
  fail(error: unknown): void {
    if (this.#failure === undefined && !this.#ended) this.#failure = { error }
    for (const reader of this.#readers.splice(0)) {
      if (this.#failure !== undefined) reader.reject(this.#failure.error)
      else reader.resolve({ value: undefined, done: true })
    }
    this.#closed = true
    for (const sender of this.#senders.splice(0)) sender.reject(error)
    for (const room of this.#room.splice(0)) room()
  }

  /** The call is over (successfully): nothing more will arrive or leave. */
  finish(error: unknown): void {
    this.end()
    this.#closed = true
    for (const sender of this.#senders.splice(0)) sender.reject(error)
    for (const room of this.#room.splice(0)) room()
  }

  /** The next message, in order; `done` after the other side's end. */
  next(): Promise<IteratorResult<unknown>> {
    if (this.#inbox.length > 0) {
      const value = this.#inbox.shift()
      this.io.consumed(1)
      return Promise.resolve({ value, done: false })
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error)
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }))
  }

  /** An async iterator over the inbound messages. */
  iterator(): AsyncIterator<unknown> {
    return { next: () => this.next() }
  }

  /** Sends one message; resolves once the endpoint reports it left within credit. */
  async send(message: unknown, closedError: () => unknown): Promise<void> {
    const problem = this.check(message)
    if (problem !== undefined) throw problem
    while (!this.#closed && this.#given - this.#left >= this.queueMax) {
      await new Promise<void>((resolve) => this.#room.push(resolve))
    }
    if (this.#closed) throw closedError()
    const seq = this.#given++
    const left = new Promise<void>((resolve, reject) => this.#senders.push({ seq, resolve, reject }))
    this.io.send(message)
    return left
  }

  /** The endpoint sent our oldest waiting message. */
  sent(): void {
    this.#left++
    while (this.#senders.length > 0 && this.#senders[0]!.seq < this.#left) this.#senders.shift()!.resolve()
    for (const room of this.#room.splice(0)) room() // each waiter re-checks its own condition
  }

  /** Resolves once every message given to `send` left (or the pipe closed). */
  async drained(): Promise<void> {
    while (!this.#closed && this.#left < this.#given) {
      await new Promise<void>((resolve) => this.#room.push(resolve))
    }
  }

  /** Half-closes our side: no more sends. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const room of this.#room.splice(0)) room()
    this.io.close()
  }
}
