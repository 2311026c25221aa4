/**
 * The §3.2a multiplexer over an in-memory link: stream ids, frames through `FramedStream`,
 * credit and backpressure per stream and per connection, the stream limit, coalesced writes,
 * resets and closes with their §3.7 codes, liveness, and every kind of illegal input closing the
 * connection with a typed error instead of throwing.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { connectionClose, streamReset } from "../../../src/core/Codes.ts"
import { ConnectionLost, StreamLimitReached, StreamReset } from "../../../src/platform/transport/Errors.ts"
import { FramedStream } from "../../../src/platform/transport/FramedStream.ts"
import { type MuxLink, MuxSession, MuxStream } from "../../../src/platform/transport/Mux.ts"
import * as Chunk from "../../../src/platform/transport/MuxChunk.ts"

const { Flag } = Chunk

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const settle = async (turns = 10) => {
  for (let i = 0; i < turns; i++) await turn()
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const settings = (over: Partial<Chunk.Settings> = {}): Chunk.Settings => ({
  streamWindowBytes: 1 << 20,
  connectionWindowBytes: 4 << 20,
  maxStreams: 16,
  idleTimeoutMs: 0,
  ...over
})

interface SideOptions {
  readonly settings?: Partial<Chunk.Settings>
  readonly keepAliveMs?: number
  readonly writeBatchBytes?: number
}

/** One end: its session, what it was told, and every link write it made. */
interface Side {
  readonly session: MuxSession
  readonly streams: Array<MuxStream>
  readonly ready: Promise<Chunk.Settings>
  readonly lost: Promise<ConnectionLost>
  readonly writes: Array<Uint8Array>
}

/** One direction of the in-memory link; `stall` holds writes (and makes `write` return false). */
interface Direction {
  target: MuxSession | undefined
  source: MuxSession | undefined
  stalled: boolean
  cut: boolean
  held: Array<Uint8Array>
}

const linkFor = (direction: Direction, writes: Array<Uint8Array>): MuxLink => ({
  write: (bytes) => {
    writes.push(bytes)
    if (direction.cut) return true
    if (direction.stalled) {
      direction.held.push(bytes)
      return false
    }
    setImmediate(() => direction.target?.receive(bytes))
    return true
  },
  end: () => {
    setImmediate(() => direction.target?.linkEnded())
    return Promise.resolve()
  },
  destroy: () => {
    setImmediate(() => direction.target?.linkFailed(Object.assign(new Error("reset by peer"), { code: "ECONNRESET" })))
  }
})

const side = (link: MuxLink, writes: Array<Uint8Array>, role: "dialer" | "acceptor", options: SideOptions): Side => {
  const streams: Array<MuxStream> = []
  let ready: (s: Chunk.Settings) => void = () => undefined
  let lost: (l: ConnectionLost) => void = () => undefined
  const session = new MuxSession(link, {
    role,
    peerDid: role === "dialer" ? "did:key:acceptor" : "did:key:dialer",
    settings: settings(options.settings),
    keepAliveMs: options.keepAliveMs ?? 60_000,
    writeBatchBytes: options.writeBatchBytes ?? 1 << 20
  }, {
    onReady: (s) => ready(s),
    onStream: (s) => streams.push(s),
    onClosed: (l) => lost(l)
  })
  return {
    session,
    streams,
    writes,
    ready: new Promise((resolve) => (ready = resolve)),
    lost: new Promise((resolve) => (lost = resolve))
  }
}

/** A dialer and an acceptor joined by an in-memory link, both started and ready. */
const connect = async (dialer: SideOptions = {}, acceptor: SideOptions = {}) => {
  const ab: Direction = { target: undefined, source: undefined, stalled: false, cut: false, held: [] }
  const ba: Direction = { target: undefined, source: undefined, stalled: false, cut: false, held: [] }
  const aWrites: Array<Uint8Array> = []
  const bWrites: Array<Uint8Array> = []
  const a = side(linkFor(ab, aWrites), aWrites, "dialer", dialer)
  const b = side(linkFor(ba, bWrites), bWrites, "acceptor", acceptor)
  ab.target = b.session
  ab.source = a.session
  ba.target = a.session
  ba.source = b.session
  a.session.start()
  b.session.start()
  await Promise.all([a.ready, b.ready])
  const release = (direction: Direction) => {
    direction.stalled = false
    for (const bytes of direction.held.splice(0)) setImmediate(() => direction.target?.receive(bytes))
    setImmediate(() => direction.source?.drained())
  }
  return { a, b, ab, ba, release }
}

/** An acceptor session fed raw bytes by the test, which plays a (possibly broken) dialer. */
const rawPeer = (options: SideOptions = {}) => {
  const writes: Array<Uint8Array> = []
  const link: MuxLink = {
    write: (bytes) => {
      writes.push(bytes)
      return true
    },
    end: () => Promise.resolve(),
    destroy: () => undefined
  }
  const b = side(link, writes, "acceptor", options)
  b.session.start()
  const inject = (...chunks: Array<Uint8Array>) => {
    for (const chunk of chunks) b.session.receive(chunk)
  }
  const sent = () => {
    const decoder = new Chunk.ChunkDecoder()
    const out: Array<Chunk.Chunk> = []
    for (const w of writes) decoder.push(w, out)
    return out
  }
  return { b, inject, sent, preface: Chunk.preface(settings()) }
}

const open = (s: MuxSession): MuxStream => {
  const stream = s.openStream()
  if (!(stream instanceof MuxStream)) throw new Error(`openStream failed: ${String(stream)}`)
  return stream
}

const framed = (stream: MuxStream) => new FramedStream(stream, { maxFrameBytes: 1 << 20, sendBufferBytes: 1 << 20 })
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("Mux streams", () => {
  it("opens even ids on the dialing side and odd on the accepting side, carrying frames both ways", async () => {
    const { a, b } = await connect()
    const s0 = open(a.session)
    const s2 = open(a.session)
    const s1 = open(b.session)
    expect([s0.id, s2.id, s1.id]).toEqual([0, 2, 1])
    await run(framed(s0).send(Uint8Array.of(1)))
    await run(framed(s2).send(Uint8Array.of(2)))
    await run(framed(s1).send(Uint8Array.of(3)))
    await settle()
    expect(b.streams.map((s) => s.id)).toEqual([0, 2])
    expect(a.streams.map((s) => s.id)).toEqual([1])
    expect(Array.from(await run(framed(b.streams[0]!).receive))).toEqual([1])
    expect(Array.from(await run(framed(b.streams[1]!).receive))).toEqual([2])
    expect(Array.from(await run(framed(a.streams[0]!).receive))).toEqual([3])
    expect(b.streams.every((s) => !s.openedLocally) && s0.openedLocally).toBe(true)
  })

  it("keeps every stream's frames whole and in order, however frames interleave across streams", () =>
    fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.nat({ max: 3 }), fc.integer({ min: 1, max: 70_000 })), { minLength: 1, maxLength: 40 }),
      async (plan) => {
        const { a, b } = await connect({ writeBatchBytes: 100_000 }, { settings: { streamWindowBytes: 80_000 } })
        const senders = [0, 1, 2, 3].map(() => framed(open(a.session)))
        const expected: Array<Array<number>> = [[], [], [], []]
        for (const [lane, size] of plan) {
          const body = new Uint8Array(size).fill(expected[lane]!.length & 0xff)
          body[0] = expected[lane]!.length
          expected[lane]!.push(size)
          void run(senders[lane]!.send(body))
        }
        const ending = Promise.all(senders.map((s) => run(s.end)))
        await settle()
        expect(b.streams).toHaveLength(4)
        await Promise.all(b.streams.map(async (stream) => {
          const receiver = framed(stream)
          const sizes: Array<number> = []
          for (;;) {
            const result = await run(Effect.result(receiver.receive))
            if (result._tag === "Failure") {
              expect(result.failure._tag).toBe("StreamEnded")
              break
            }
            expect(result.success[0]).toBe(sizes.length & 0xff)
            sizes.push(result.success.length)
          }
          expect(sizes).toEqual(expected[stream.id / 2])
        }))
        await ending
        expect(a.session.lost ?? b.session.lost).toBeUndefined()
      }
    ), { numRuns: 25 }))

  it("coalesces every chunk pending in one turn into one link write", async () => {
    const { a, b } = await connect()
    await settle()
    const before = a.writes.length
    const writers = Array.from({ length: 10 }, () => open(a.session).writable.getWriter())
    for (const [i, writer] of writers.entries()) void writer.write(Uint8Array.of(i))
    await settle()
    expect(a.writes.length - before).toBe(1)
    expect(b.streams).toHaveLength(10)
  })

  it("ends cleanly: fin both ways frees the stream; reset carries its §3.7 code to the peer", async () => {
    const { a, b } = await connect()
    const mine = framed(open(a.session))
    await run(mine.send(Uint8Array.of(7)))
    await settle()
    const theirs = framed(b.streams[0]!)
    await run(mine.end)
    expect(Array.from(await run(theirs.receive))).toEqual([7])
    expect((await run(Effect.flip(theirs.receive)))._tag).toBe("StreamEnded")
    expect(a.session.openStreams).toBe(1)
    await run(theirs.end)
    await settle()
    expect((await run(Effect.flip(mine.receive)))._tag).toBe("StreamEnded")
    expect([a.session.openStreams, b.session.openStreams]).toEqual([0, 0])

    const doomed = framed(open(a.session))
    await run(doomed.send(Uint8Array.of(1)))
    await settle()
    const victim = framed(b.streams[1]!)
    await run(doomed.reset("deadline_exceeded"))
    await settle()
    expect(await run(Effect.flip(victim.receive))).toMatchObject({ _tag: "StreamReset", by: "peer", code: "deadline_exceeded" })
    // A send is queued before its write fails (as on QUIC); the failure shows from then on.
    await run(Effect.ignore(victim.send(Uint8Array.of(1))))
    await settle()
    expect(await run(Effect.flip(victim.send(Uint8Array.of(1))))).toMatchObject({ _tag: "StreamReset", by: "peer" })
    expect(await run(Effect.flip(doomed.send(Uint8Array.of(1))))).toMatchObject({ _tag: "StreamReset", by: "local" })
    expect([a.session.openStreams, b.session.openStreams]).toEqual([0, 0])
  })
})

describe("Mux credit", () => {
  it("stops a writer after one stream window while the reader does not read, and resumes as it reads", async () => {
    const window = 64 * 1024
    const { a, b } = await connect({}, { settings: { streamWindowBytes: window } })
    const writer = open(a.session).writable.getWriter()
    const total = 1 << 20
    let taken = 0
    const piece = new Uint8Array(16 * 1024)
    const writing = (async () => {
      for (let sent = 0; sent < total; sent += piece.length) {
        await writer.write(piece)
        taken += piece.length
      }
    })()
    await settle(30)
    expect(taken).toBeLessThanOrEqual(window)
    expect(taken).toBeGreaterThanOrEqual(window - piece.length)
    const reader = b.streams[0]!.readable.getReader()
    let got = 0
    while (got < total) got += (await reader.read()).value!.length
    await writing
    expect([taken, got]).toEqual([total, total])
  })

  it("bounds all streams together by the connection window", async () => {
    const { a, b } = await connect({}, { settings: { streamWindowBytes: 64 * 1024, connectionWindowBytes: 96 * 1024 } })
    const streams = [0, 1, 2, 3].map(() => open(a.session))
    const taken = [0, 0, 0, 0]
    const piece = new Uint8Array(16 * 1024)
    const writing = streams.map(async (stream, i) => {
      const writer = stream.writable.getWriter()
      for (let n = 0; n < 8; n++) {
        await writer.write(piece)
        taken[i]! += piece.length
      }
    })
    await settle(30)
    const sum = taken.reduce((x, y) => x + y, 0)
    expect(sum).toBeLessThanOrEqual(96 * 1024)
    expect(sum).toBeGreaterThanOrEqual(96 * 1024 - 4 * piece.length)
    // Reading every stream lets all of them finish.
    await Promise.all(b.streams.map(async (stream) => {
      const reader = stream.readable.getReader()
      let got = 0
      while (got < 8 * piece.length) got += (await reader.read()).value!.length
    }))
    await Promise.all(writing)
    expect(taken).toEqual([1, 2, 3, 4].map(() => 8 * piece.length))
  })

  it("writes nothing more while the link is congested, and goes on when it drains", async () => {
    const { a, b, ab, release } = await connect()
    const writer = open(a.session).writable.getWriter()
    ab.stalled = true
    void writer.write(new Uint8Array(1000))
    await settle()
    const writes = a.writes.length
    void writer.write(new Uint8Array(1000))
    void open(a.session).writable.getWriter().write(Uint8Array.of(1))
    await settle()
    expect(a.writes.length).toBe(writes)
    release(ab)
    await settle()
    expect(a.writes.length).toBe(writes + 1)
    expect(b.streams).toHaveLength(2)
  })

  it("returns credit for data that arrives for a stream already reset here", async () => {
    const { b, inject, sent, preface } = rawPeer({ settings: { streamWindowBytes: 100, connectionWindowBytes: 400 } })
    inject(preface, Chunk.encode(0, Flag.open | Flag.data, new Uint8Array(101)))
    // The stream's own window was exceeded: that stream is reset, the connection lives.
    expect(b.session.lost).toBeUndefined()
    await settle()
    expect(await b.streams[0]!.readable.getReader().read().catch((e: unknown) => e)).toMatchObject({
      _tag: "StreamReset",
      by: "local",
      code: "flow_control"
    })
    expect(sent().filter((c) => c.id === 0 && c.flags === Flag.reset).map((c) => Chunk.readU32(c.payload, 0))).toEqual([
      streamReset.flow_control
    ])
    // In-flight data for the reset stream is dropped but still counts, and is credited back.
    for (let i = 0; i < 3; i++) inject(Chunk.encode(0, Flag.data, new Uint8Array(100)))
    await settle()
    expect(b.session.lost).toBeUndefined()
    const credited = sent().filter((c) => c.id === Chunk.connectionId && c.flags === Flag.credit)
    expect(credited.reduce((n, c) => n + Chunk.readU32(c.payload, 0), 0)).toBe(401)
  })
})

describe("Mux limits", () => {
  it("refuses a stream beyond the peer's maxStreams until one closes", async () => {
    const { a, b } = await connect({}, { settings: { maxStreams: 2 } })
    const first = framed(open(a.session))
    open(a.session)
    expect(a.session.openStream()).toBeInstanceOf(StreamLimitReached)
    await run(first.send(Uint8Array.of(1)))
    await settle()
    await run(first.reset("cancelled"))
    await settle()
    const third = a.session.openStream()
    expect(third).toBeInstanceOf(MuxStream)
    expect((third as MuxStream).id).toBe(4)
    expect(a.session.openStream()).toBeInstanceOf(StreamLimitReached)
    await settle()
    expect(b.session.lost).toBeUndefined()
  })
})

describe("Mux liveness and closing", () => {
  it("carries a close's §3.7 code and reason to the peer and fails every stream", async () => {
    const { a, b } = await connect()
    const mine = framed(open(a.session))
    await run(mine.send(Uint8Array.of(1)))
    await settle()
    const theirs = framed(b.streams[0]!)
    await a.session.close("going_away", "maintenance")
    expect(await b.lost).toMatchObject({ _tag: "ConnectionLost", by: "peer", code: "going_away", message: "maintenance" })
    expect(await a.lost).toMatchObject({ by: "local", code: "going_away" })
    // As with QUIC, a close discards what the peer had not read yet (draining is goodbye's job).
    expect(await run(Effect.flip(theirs.receive))).toMatchObject({ _tag: "ConnectionLost", code: "going_away" })
    await run(Effect.ignore(mine.send(Uint8Array.of(2))))
    await settle()
    expect(await run(Effect.flip(mine.send(Uint8Array.of(3))))).toMatchObject({ _tag: "ConnectionLost", by: "local" })
    expect(a.session.openStream()).toBeInstanceOf(ConnectionLost)
  })

  it("keeps a quiet connection open with keep-alives, and closes idle_timeout when the peer goes silent", async () => {
    const { a, b, ab } = await connect({ keepAliveMs: 60_000, settings: { idleTimeoutMs: 0 } }, { settings: { idleTimeoutMs: 200 } })
    await sleep(700)
    expect(a.session.lost ?? b.session.lost).toBeUndefined()
    // The dialer wedges: nothing it sends arrives any more.
    ab.cut = true
    const silentAt = performance.now()
    const lost = await b.lost
    expect(lost).toMatchObject({ by: "idle_timeout", code: "idle_timeout" })
    expect(performance.now() - silentAt).toBeLessThan(1_000)
  })

  it("reports a link that ends without a close as eof, and one that ends inside a chunk as truncated", async () => {
    const clean = rawPeer()
    clean.inject(clean.preface)
    clean.b.session.linkEnded()
    expect(await clean.b.lost).toMatchObject({ by: "transport", code: "eof" })
    const cut = rawPeer()
    cut.inject(cut.preface, Chunk.encode(0, Flag.open | Flag.data, Uint8Array.of(1, 2, 3)).subarray(0, 11))
    cut.b.session.linkEnded()
    expect(await cut.b.lost).toMatchObject({ by: "transport", code: "truncated" })
  })
})

describe("Mux refuses illegal input with a typed close, never an exception", () => {
  const open0 = Chunk.encode(0, Flag.open, new Uint8Array(0))
  const header = (id: number, flags: number, length: number) => {
    const h = new Uint8Array(Chunk.headerBytes)
    Chunk.writeHeader(h, 0, id, flags, length)
    return h
  }
  const cases: Array<[string, (preface: Uint8Array) => Array<Uint8Array>, string]> = [
    ["a stream chunk before the preface", () => [open0], "before the preface"],
    ["credit before the preface", () => [Chunk.credit(Chunk.connectionId, 5)], "before the preface"],
    ["a second preface", (p) => [p, p], "second preface"],
    ["an open out of sequence", (p) => [p, Chunk.encode(2, Flag.open)], "out of sequence"],
    ["an open with the accepting side's parity", (p) => [p, Chunk.encode(1, Flag.open)], "out of sequence"],
    ["data for a stream never opened", (p) => [p, Chunk.encode(4, Flag.data, Uint8Array.of(1))], "never opened"],
    ["a credit for a stream this side never opened", (p) => [p, Chunk.credit(7, 1)], "never opened"],
    ["data after fin", (p) => [p, Chunk.encode(0, Flag.open | Flag.fin), Chunk.encode(0, Flag.data, Uint8Array.of(1))], "after fin"],
    ["a second fin", (p) => [p, Chunk.encode(0, Flag.open | Flag.fin), Chunk.encode(0, Flag.fin)], "second fin"],
    ["more streams than maxStreams", (p) => [p, open0, Chunk.encode(2, Flag.open), Chunk.encode(4, Flag.open)], "maxStreams"],
    [
      "more data than the connection window",
      (p) => [p, open0, Chunk.encode(0, Flag.data, new Uint8Array(60_000)), Chunk.encode(0, Flag.data, new Uint8Array(60_000))],
      "connection window"
    ],
    [
      "a chunk header announcing more than the connection window, before its payload arrives",
      (p) => [p, open0, header(0, Flag.data, 60_000), new Uint8Array(60_000), header(0, Flag.data, 60_000)],
      "connection window"
    ],
    ["an unknown flag", (p) => [p, header(0, 0x40, 0)], "unknown_flags"],
    ["an oversized chunk header", (p) => [p, header(0, Flag.data, 0x7fff_ffff)], "payload_too_large"],
    ["a malformed flag combination", (p) => [p, header(0, Flag.reset | Flag.fin, 4)], "invalid_flags"],
    ["random bytes", (p) => [p, Uint8Array.from({ length: 64 }, (_, i) => (i * 151 + 7) & 0xff)], "malformed chunk"]
  ]
  for (const [name, bytes, because] of cases) {
    it(`closes protocol_violation on ${name}`, async () => {
      const { b, inject, sent, preface } = rawPeer({
        settings: { maxStreams: 2, streamWindowBytes: 1 << 20, connectionWindowBytes: 100_000 }
      })
      expect(() => inject(...bytes(preface))).not.toThrow()
      const lost = await b.lost
      expect(lost).toMatchObject({ _tag: "ConnectionLost", by: "local", code: "protocol_violation" })
      expect(lost.message).toContain(because)
      // The peer is told why, with the close code and the same reason.
      const close = sent().find((c) => c.id === Chunk.connectionId && c.flags === Flag.reset)!
      expect(Chunk.readU32(close.payload, 0)).toBe(connectionClose.protocol_violation)
      expect(Buffer.from(close.payload.subarray(4)).toString()).toBe(lost.message)
      // Every stream the peer had opened fails with that loss; later input is ignored.
      for (const stream of b.streams) {
        expect(await stream.readable.getReader().read().catch((e: unknown) => e)).toBeInstanceOf(ConnectionLost)
      }
      expect(() => inject(open0, header(0, 0xff, 0xffff_ffff))).not.toThrow()
    })
  }

  it("never throws on arbitrary bytes after the preface; a loss is always a typed protocol_violation", () =>
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.tuple(fc.nat({ max: 8 }), fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 16), fc.uint8Array({ maxLength: 12 }))
          .map(([id, flags, payload]) => Chunk.encode(id, flags, payload))
      ), { maxLength: 20 }),
      (pieces) => {
        const { b, inject, preface } = rawPeer({ settings: { maxStreams: 3, connectionWindowBytes: 64, streamWindowBytes: 16 } })
        expect(() => inject(preface, ...pieces)).not.toThrow()
        const lost = b.session.lost
        if (lost !== undefined) expect(lost).toMatchObject({ _tag: "ConnectionLost", by: "local", code: "protocol_violation" })
      }
    ), { numRuns: 500 }))

  it("drops in-flight chunks for a stream that closed here instead of failing", async () => {
    const { b, inject, preface } = rawPeer()
    inject(preface, Chunk.encode(0, Flag.open | Flag.data | Flag.fin, Uint8Array.of(1)))
    await settle()
    const stream = b.streams[0]!
    stream.reset(streamReset.cancelled)
    inject(Chunk.encode(0, Flag.data, Uint8Array.of(2)), Chunk.reset(0, streamReset.internal), Chunk.credit(0, 10))
    await settle()
    expect(b.session.lost).toBeUndefined()
    expect(await stream.readable.getReader().read().catch((e: unknown) => e)).toBeInstanceOf(StreamReset)
  })
})
