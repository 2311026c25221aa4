/**
 * Two ends of an in-memory `Transport` connection for actor tests: frame streams that either
 * side opens, FIN, reset, close with a §3.7 code, and a "wedge" switch that makes one side stop
 * reading and writing while its connection stays up (what a wedged peer looks like).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { ConnectionCloseName, StreamResetName } from "../../../src/core/Codes.ts"
import { ConnectionLost, StreamEnded, StreamReset } from "../../../src/platform/transport/Errors.ts"
import type { ReceiveError, SendError } from "../../../src/platform/transport/Errors.ts"
import type { Connection, FrameStream } from "../../../src/platform/transport/Transport.ts"

class Queue<A> {
  readonly items: Array<A> = []
  readonly takers: Array<(a: A) => void> = []
  offer(a: A) {
    const taker = this.takers.shift()
    if (taker !== undefined) taker(a)
    else this.items.push(a)
  }
  take: Effect.Effect<A> = Effect.callback<A>((resume) => {
    const item = this.items.shift()
    if (item !== undefined) return resume(Effect.succeed(item))
    const taker = (a: A) => resume(Effect.succeed(a))
    this.takers.push(taker)
    return Effect.sync(() => {
      const at = this.takers.indexOf(taker)
      if (at >= 0) this.takers.splice(at, 1)
    })
  })
}

type Item = { readonly body: Uint8Array } | { readonly error: ReceiveError }

class MemStream implements FrameStream {
  peer!: MemStream
  readonly inbox = new Queue<Item>()
  failure: SendError | undefined
  sendLimitBytes = 1_048_576
  constructor(readonly id: number, readonly openedLocally: boolean, readonly end_: MemEnd) {}
  send = (body: Uint8Array): Effect.Effect<void, SendError> =>
    Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (!this.end_.wedged && !this.peer.end_.wedged) this.peer.inbox.offer({ body: Uint8Array.from(body) })
      return Effect.void
    })
  sendAll = (bodies: ReadonlyArray<Uint8Array>) => Effect.forEach(bodies, this.send, { discard: true })
  receive: Effect.Effect<Uint8Array, ReceiveError> = Effect.flatMap(this.inbox.take, (item) =>
    "body" in item ? Effect.succeed(item.body) : Effect.fail(item.error))
  receiveMany: Effect.Effect<ReadonlyArray<Uint8Array>, ReceiveError> = Effect.map(this.receive, (b) => [b])
  end: Effect.Effect<void> = Effect.sync(() => this.peer.inbox.offer({ error: new StreamEnded({ streamId: this.id }) }))
  reset = (code: StreamResetName) =>
    Effect.sync(() => {
      this.failure = new StreamReset({ streamId: this.id, by: "local", code })
      this.inbox.offer({ error: new StreamReset({ streamId: this.id, by: "local", code }) })
      this.peer.inbox.offer({ error: new StreamReset({ streamId: this.id, by: "peer", code }) })
      this.peer.failure = new StreamReset({ streamId: this.id, by: "peer", code })
    })
  setSendLimit = (bytes: number) => void (this.sendLimitBytes = bytes)
}

/** One end of the connection. */
export class MemEnd implements Connection {
  peer!: MemEnd
  readonly accepted = new Queue<FrameStream>()
  readonly gone = Deferred.makeUnsafe<ConnectionLost>()
  readonly streams: Array<MemStream> = []
  wedged = false
  nextId: number
  constructor(
    readonly id: string,
    readonly peerDid: string,
    readonly peerPublicKey: Uint8Array,
    readonly direction: "inbound" | "outbound"
  ) {
    this.nextId = direction === "outbound" ? 0 : 1
  }
  readonly remoteAddress = "quic://127.0.0.1:4433"
  openStream = Effect.sync((): FrameStream => {
    const id = this.nextId
    this.nextId += 4
    const mine = new MemStream(id, true, this)
    const theirs = new MemStream(id, false, this.peer)
    mine.peer = theirs
    theirs.peer = mine
    this.streams.push(mine)
    this.peer.streams.push(theirs)
    this.peer.accepted.offer(theirs)
    return mine
  })
  acceptStream = this.accepted.take
  lose(lost: ConnectionLost) {
    if (Deferred.isDoneUnsafe(this.gone)) return
    Deferred.doneUnsafe(this.gone, Effect.succeed(lost))
    for (const s of this.streams) s.inbox.offer({ error: lost })
  }
  close = (code: ConnectionCloseName = "normal", reason = "") =>
    Effect.sync(() => {
      this.lose(new ConnectionLost({ peerDid: this.peerDid, by: "local", code, message: reason }))
      this.peer.lose(new ConnectionLost({ peerDid: this.peer.peerDid, by: "peer", code, message: reason }))
    })
  closed = Deferred.await(this.gone)
  isClosed = () => Deferred.isDoneUnsafe(this.gone)
}

/** A connected pair: `dialer` (outbound) and `listener` (inbound). */
export const pair = (dialer: { did: string; key: Uint8Array }, listener: { did: string; key: Uint8Array }) => {
  const out = new MemEnd("out-1", listener.did, listener.key, "outbound")
  const inn = new MemEnd("in-1", dialer.did, dialer.key, "inbound")
  out.peer = inn
  inn.peer = out
  return { dialer: out, listener: inn }
}
