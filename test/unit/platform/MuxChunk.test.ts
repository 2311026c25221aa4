/**
 * The §3.2a chunk codec: every flag and the connection chunks round-trip, any cutting of the byte
 * stream yields the same chunks, and malformed headers give a typed problem before any payload is
 * allocated, never an exception.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Bytes from "../../../src/core/Bytes.ts"
import * as Chunk from "../../../src/platform/transport/MuxChunk.ts"

const { Flag } = Chunk

/** Cuts `bytes` at the given offsets (deduplicated, within range). */
const cut = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(last, p))
    last = p
  }
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Bytes.concat(...parts)

/**
 * Decodes `pieces` and joins data pieces back into whole chunks, checking that pieces come
 * first-to-last with nothing in between and that their sizes add up to the header's length.
 */
const decodeAll = (pieces: ReadonlyArray<Uint8Array>) => {
  const decoder = new Chunk.ChunkDecoder()
  const out: Array<Chunk.Chunk> = []
  let problem: Chunk.ChunkProblem | undefined
  for (const piece of pieces) {
    problem = decoder.push(piece, out)
    if (problem !== undefined) break
  }
  problem ??= decoder.end()
  const chunks: Array<{ id: number; flags: number; payload: Array<number> }> = []
  let open: { id: number; flags: number; length: number; payload: Array<number> } | undefined
  for (const c of out) {
    expect(c.first).toBe(open === undefined)
    if (open === undefined) open = { id: c.id, flags: c.flags, length: c.length, payload: [] }
    expect([c.id, c.flags, c.length]).toEqual([open.id, open.flags, open.length])
    open.payload.push(...c.payload)
    if (c.last) {
      expect(open.payload).toHaveLength(open.length)
      chunks.push({ id: open.id, flags: open.flags, payload: open.payload })
      open = undefined
    }
  }
  // Only a stream that failed or ended early may stop inside a chunk.
  if (open !== undefined) expect(problem).toBeDefined()
  return { chunks, problem }
}

const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
const header = (id: number, flags: number, length: number) => {
  const h = new Uint8Array(Chunk.headerBytes)
  Chunk.writeHeader(h, 0, id, flags, length)
  return h
}

const streamId = fc.integer({ min: 0, max: Chunk.connectionId - 1 })
const u32Arb = fc.integer({ min: 0, max: 0xffff_ffff })
interface Whole {
  readonly id: number
  readonly flags: number
  readonly payload: Uint8Array
}

/** Any chunk the decoder must accept. */
const validChunk: fc.Arbitrary<Whole> = fc.oneof(
  fc.record({
    id: streamId,
    flags: fc.constantFrom(Flag.open, Flag.fin, Flag.open | Flag.fin),
    payload: fc.constant(new Uint8Array(0))
  }),
  fc.record({
    id: streamId,
    flags: fc.constantFrom(Flag.data, Flag.open | Flag.data, Flag.data | Flag.fin, Flag.open | Flag.data | Flag.fin),
    payload: fc.uint8Array({ minLength: 1, maxLength: 400 })
  }),
  fc.record({ id: streamId, flags: fc.constantFrom(Flag.reset, Flag.credit), payload: u32Arb.map(u32) }),
  fc.record({ id: fc.constant(Chunk.connectionId), flags: fc.constant(Flag.credit), payload: u32Arb.map(u32) }),
  fc.record({
    id: fc.constant(Chunk.connectionId),
    flags: fc.constant(Flag.open),
    payload: fc.tuple(u32Arb, u32Arb, u32Arb, u32Arb).map((xs) => concat(xs.map(u32)))
  }),
  fc.record({
    id: fc.constant(Chunk.connectionId),
    flags: fc.constant(Flag.reset),
    payload: fc.tuple(u32Arb, fc.uint8Array({ maxLength: Chunk.maxCloseReasonBytes })).map(([c, r]) => concat([u32(c), r]))
  })
)

describe("MuxChunk encoding", () => {
  it("round-trips every stream flag and combination", () => {
    const cases: Array<[number, Uint8Array]> = [
      [Flag.open, new Uint8Array(0)],
      [Flag.open | Flag.data, Uint8Array.of(1, 2)],
      [Flag.data, Uint8Array.of(3)],
      [Flag.data | Flag.fin, Uint8Array.of(4)],
      [Flag.fin, new Uint8Array(0)],
      [Flag.open | Flag.fin, new Uint8Array(0)],
      [Flag.open | Flag.data | Flag.fin, Uint8Array.of(5)]
    ]
    const bytes = concat(cases.map(([flags, payload], i) => Chunk.encode(i * 2, flags, payload)))
    const { chunks, problem } = decodeAll([bytes])
    expect(problem).toBeUndefined()
    expect(chunks).toEqual(cases.map(([flags, payload], i) => ({ id: i * 2, flags, payload: Array.from(payload) })))
  })

  it("writes the header as id (u32 BE) ‖ flags (u8) ‖ length (u32 BE)", () => {
    expect(Array.from(Chunk.encode(0x01020304, Flag.data, Uint8Array.of(9, 9)))).toEqual([1, 2, 3, 4, 0x02, 0, 0, 0, 2, 9, 9])
    expect(Array.from(Chunk.reset(7, 0x09))).toEqual([0, 0, 0, 7, 0x08, 0, 0, 0, 4, 0, 0, 0, 9])
    expect(Array.from(Chunk.credit(7, 0x10000))).toEqual([0, 0, 0, 7, 0x10, 0, 0, 0, 4, 0, 1, 0, 0])
  })

  it("round-trips the connection chunks: preface, credit, keep-alive and close", () => {
    const settings = { streamWindowBytes: 4 << 20, connectionWindowBytes: 16 << 20, maxStreams: 128, idleTimeoutMs: 10_000 }
    const bytes = concat([Chunk.preface(settings), Chunk.credit(Chunk.connectionId, 99), Chunk.keepAlive(), Chunk.close(0x10b, "bye ✓")])
    const decoder = new Chunk.ChunkDecoder()
    const out: Array<Chunk.Chunk> = []
    expect(decoder.push(bytes, out)).toBeUndefined()
    expect(out.map((c) => [c.id, c.flags])).toEqual([
      [Chunk.connectionId, Flag.open],
      [Chunk.connectionId, Flag.credit],
      [Chunk.connectionId, Flag.credit],
      [Chunk.connectionId, Flag.reset]
    ])
    expect(Chunk.decodeSettings(out[0]!.payload)).toEqual(settings)
    expect(Chunk.readU32(out[1]!.payload, 0)).toBe(99)
    expect(Chunk.readU32(out[2]!.payload, 0)).toBe(0)
    expect(Chunk.readU32(out[3]!.payload, 0)).toBe(0x10b)
    expect(Buffer.from(out[3]!.payload.subarray(4)).toString("utf8")).toBe("bye ✓")
  })

  it("refuses a preface with a zero window", () => {
    const zero = Chunk.preface({ streamWindowBytes: 0, connectionWindowBytes: 1, maxStreams: 1, idleTimeoutMs: 0 })
    expect(Chunk.decodeSettings(zero.subarray(Chunk.headerBytes))).toBeUndefined()
  })

  it("cuts a long close reason at a character boundary within the limit", () => {
    const close = Chunk.close(0x100, "é".repeat(2_000))
    const reason = close.subarray(Chunk.headerBytes + 4)
    expect(reason.length).toBeLessThanOrEqual(Chunk.maxCloseReasonBytes)
    expect(Buffer.from(reason).toString("utf8")).toBe("é".repeat(reason.length / 2))
    expect(decodeAll([close]).problem).toBeUndefined()
  })
})

describe("ChunkDecoder", () => {
  it("yields the same chunks however the byte stream is cut", () =>
    fc.assert(fc.property(
      fc.array(validChunk, { maxLength: 25 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      (chunks, cuts) => {
        const bytes = concat(chunks.map((c) => Chunk.encode(c.id, c.flags, c.payload)))
        const whole = decodeAll([bytes])
        expect(whole.problem).toBeUndefined()
        expect(whole.chunks).toEqual(chunks.map((c) => ({ id: c.id, flags: c.flags, payload: Array.from(c.payload) })))
        expect(decodeAll(cut(bytes, cuts))).toEqual(whole)
        // One byte at a time too.
        expect(decodeAll(Array.from(bytes, (b) => Uint8Array.of(b)))).toEqual(whole)
      }
    ), { numRuns: 300 }))

  it("gives the same chunks and the same problem for any bytes, however cut, and never throws", () =>
    fc.assert(fc.property(
      fc.array(fc.oneof(
        validChunk.map((c) => Chunk.encode(c.id, c.flags, c.payload)),
        fc.uint8Array({ minLength: 1, maxLength: 20 })
      ), { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (parts, cuts) => {
        const bytes = concat(parts)
        expect(decodeAll(cut(bytes, cuts))).toEqual(decodeAll([bytes]))
      }
    ), { numRuns: 300 }))

  it("hands out data as views of the pushed bytes, in pieces when a payload straddles pushes, never copied", () => {
    const bytes = concat([Chunk.encode(0, Flag.open | Flag.data, Uint8Array.of(1, 2)), Chunk.encode(0, Flag.data | Flag.fin, Uint8Array.of(3, 4, 5))])
    const decoder = new Chunk.ChunkDecoder()
    const out: Array<Chunk.Chunk> = []
    const first = bytes.subarray(0, 9 + 2 + 9 + 1)
    const second = bytes.subarray(first.length)
    decoder.push(first, out)
    decoder.push(second, out)
    expect(out.map((c) => [c.flags, c.length, Array.from(c.payload), c.first, c.last])).toEqual([
      [Flag.open | Flag.data, 2, [1, 2], true, true],
      [Flag.data | Flag.fin, 3, [3], true, false],
      [Flag.data | Flag.fin, 3, [4, 5], false, true]
    ])
    expect(out.every((c) => c.payload.buffer === bytes.buffer)).toBe(true)
  })

  const malformed: Array<[string, Uint8Array, Chunk.ChunkProblem]> = [
    ["an unknown flag bit", header(0, 0x20, 0), "unknown_flags"],
    ["the top flag bit", header(0, 0x80 | Flag.open, 0), "unknown_flags"],
    ["no flag at all", header(0, 0, 0), "invalid_flags"],
    ["reset with data", header(0, Flag.reset | Flag.data, 4), "invalid_flags"],
    ["credit with open", header(0, Flag.credit | Flag.open, 4), "invalid_flags"],
    ["reset and credit", header(0, Flag.reset | Flag.credit, 4), "invalid_flags"],
    ["data on the connection id", header(Chunk.connectionId, Flag.data, 1), "invalid_flags"],
    ["fin on the connection id", header(Chunk.connectionId, Flag.fin, 0), "invalid_flags"],
    ["a 3-byte reset", header(0, Flag.reset, 3), "invalid_length"],
    ["a 5-byte credit", header(0, Flag.credit, 5), "invalid_length"],
    ["data of 0 bytes", header(0, Flag.data, 0), "invalid_length"],
    ["a fin with a payload", header(0, Flag.fin, 1), "invalid_length"],
    ["an open with a payload but no data flag", header(0, Flag.open, 2), "invalid_length"],
    ["a preface of 15 bytes", header(Chunk.connectionId, Flag.open, 15), "invalid_length"],
    ["a close without a code", header(Chunk.connectionId, Flag.reset, 2), "invalid_length"],
    ["a close with a 2 KiB reason", header(Chunk.connectionId, Flag.reset, 4 + 2_048), "invalid_length"],
    ["a payload of maxPayloadBytes + 1", header(0, Flag.data, Chunk.maxPayloadBytes + 1), "payload_too_large"],
    ["a 4 GiB length", header(0, Flag.data, 0xffff_ffff), "payload_too_large"]
  ]

  for (const [name, bytes, problem] of malformed) {
    it(`refuses ${name} as ${problem}, keeping the chunks before it`, () => {
      const good = Chunk.encode(2, Flag.open, new Uint8Array(0))
      const decoder = new Chunk.ChunkDecoder()
      const out: Array<Chunk.Chunk> = []
      expect(decoder.push(concat([good, bytes, good]), out)).toBe(problem)
      expect(out).toHaveLength(1)
      // Sticky: nothing more is decoded.
      expect(decoder.push(good, out)).toBe(problem)
      expect(decoder.end()).toBe(problem)
      expect(out).toHaveLength(1)
    })
  }

  it("accepts exactly maxPayloadBytes of data", () => {
    const { chunks, problem } = decodeAll([Chunk.encode(0, Flag.data, new Uint8Array(Chunk.maxPayloadBytes))])
    expect(problem).toBeUndefined()
    expect(chunks[0]!.payload).toHaveLength(Chunk.maxPayloadBytes)
  })

  it("reports truncated when the stream ends inside a header or a payload", () => {
    const bytes = Chunk.encode(0, Flag.data, Uint8Array.of(1, 2, 3))
    for (let keep = 1; keep < bytes.length; keep++) expect(decodeAll([bytes.subarray(0, keep)]).problem).toBe("truncated")
    expect(decodeAll([bytes]).problem).toBeUndefined()
  })

  it("checks the header before allocating: a too-large length fails with only its header pushed", () => {
    const decoder = new Chunk.ChunkDecoder()
    const out: Array<Chunk.Chunk> = []
    expect(decoder.push(header(0, Flag.data, 0x7fff_ffff), out)).toBe("payload_too_large")
    expect(out).toEqual([])
  })
})
