import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Bytes from "../../../src/core/Bytes.ts"
import * as Frame from "../../../src/platform/transport/Frame.ts"

/** Cuts `bytes` at the given offsets (sorted, deduplicated, within range). */
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

const decodeAll = (decoder: Frame.FrameDecoder, chunks: ReadonlyArray<Uint8Array>) => {
  const out: Array<Uint8Array> = []
  let problem: Frame.DecodeProblem | undefined
  for (const chunk of chunks) {
    problem = decoder.push(chunk, out)
    if (problem !== undefined) break
  }
  return { out, problem: problem ?? decoder.end() }
}

describe("FrameDecoder", () => {
  it("yields the same bodies whatever the chunking", () =>
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (bodies, cuts) => {
        const stream = concat(bodies.map(Frame.encode))
        const { out, problem } = decodeAll(new Frame.FrameDecoder(300), cut(stream, cuts))
        expect(problem).toBeUndefined()
        expect(out.map((b) => Array.from(b))).toEqual(bodies.map((b) => Array.from(b)))
      }
    ), { numRuns: 300 }))

  it("reports truncated_frame when the stream ends inside a prefix or a body", () =>
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { minLength: 1, maxLength: 10 }),
      fc.nat(),
      fc.array(fc.nat(), { maxLength: 10 }),
      (bodies, drop, cuts) => {
        const stream = concat(bodies.map(Frame.encode))
        const keep = stream.length - 1 - (drop % (stream.length - 1))
        const { problem } = decodeAll(new Frame.FrameDecoder(), cut(stream.subarray(0, keep), cuts))
        // Only a cut exactly between frames is clean.
        let boundary = false
        for (let at = 0, i = 0; at <= keep; at += 4 + bodies[i++]!.length) if (at === keep) boundary = true
        expect(problem).toBe(boundary ? undefined : "truncated_frame")
      }
    ), { numRuns: 300 }))

  it("checks the length before allocating: a 4 GiB prefix is frame_too_large at once", () => {
    const decoder = new Frame.FrameDecoder(1024)
    const out: Array<Uint8Array> = []
    expect(decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff), out)).toBe("frame_too_large")
    expect(decoder.push(Uint8Array.of(0, 0, 0, 1, 7), out)).toBe("frame_too_large")
    expect(out).toEqual([])
  })

  it("accepts exactly maxFrameBytes and refuses one more", () => {
    const ok = decodeAll(new Frame.FrameDecoder(8), [Frame.encode(new Uint8Array(8))])
    expect(ok.problem).toBeUndefined()
    expect(ok.out).toHaveLength(1)
    expect(decodeAll(new Frame.FrameDecoder(8), [Frame.encode(new Uint8Array(9))]).problem).toBe("frame_too_large")
  })

  it("refuses a zero length as malformed_frame, keeping the frames before it", () => {
    const stream = concat([Frame.encode(Uint8Array.of(1)), Uint8Array.of(0, 0, 0, 0), Frame.encode(Uint8Array.of(2))])
    const { out, problem } = decodeAll(new Frame.FrameDecoder(), [stream])
    expect(problem).toBe("malformed_frame")
    expect(out.map((b) => Array.from(b))).toEqual([[1]])
  })

  it("hands out bodies inside one chunk as views, without copying", () => {
    const chunk = concat([Frame.encode(Uint8Array.of(1, 2)), Frame.encode(Uint8Array.of(3))])
    const out: Array<Uint8Array> = []
    new Frame.FrameDecoder().push(chunk, out)
    expect(out[0]!.buffer).toBe(chunk.buffer)
    expect(out[1]!.buffer).toBe(chunk.buffer)
  })

  it("refuses a maxFrameBytes the prefix cannot express", () => {
    expect(() => new Frame.FrameDecoder(0)).toThrow(RangeError)
    expect(() => new Frame.FrameDecoder(2 ** 32)).toThrow(RangeError)
  })
})
