/**
 * The incremental frame decoder: frames out of chunks however they are cut, many frames per
 * chunk, errors that fail the stream, and no aliasing of the caller's chunks.
 */
import { describe, expect, it } from "vitest"
import * as Codec from "../../../src/wire/Codec.ts"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import * as FrameDecoder from "../../../src/wire/FrameDecoder.ts"

const frames: ReadonlyArray<Frame> = [
  { t: "ping", n: 1 },
  { t: "content.block", m: new Uint8Array(34).fill(1), d: new Uint8Array(3_000).fill(9) },
  { t: "ok", id: 2, cur: 3 },
  { t: "s.end" },
  { t: "call", id: 3, cid: new Uint8Array(16), realm: new Uint8Array(32), proc: "p", a: { x: [1, "two"] }, ttl: 10, idem: false, hop: 0 }
]
const encoded = frames.map((f) => Codec.encode(f) as Uint8Array)
const stream = Uint8Array.from(encoded.flatMap((b) => [...b]))

const collect = (decoder: FrameDecoder.FrameDecoder, chunks: ReadonlyArray<Uint8Array>): Array<Frame> => {
  const out: Array<Frame> = []
  for (const chunk of chunks) {
    const r = decoder.push(chunk)
    if (r.error !== undefined) throw r.error
    out.push(...r.frames)
  }
  expect(decoder.end()).toBeUndefined()
  return out
}

describe("FrameDecoder", () => {
  it("decodes many frames from one chunk", () => {
    expect(collect(FrameDecoder.make(), [stream])).toEqual(frames)
  })

  it("decodes a stream fed one byte at a time", () => {
    const chunks = Array.from(stream, (b) => Uint8Array.of(b))
    expect(collect(FrameDecoder.make(), chunks)).toEqual(frames)
  })

  it("decodes every two-way split of the stream identically", () => {
    for (let cut = 0; cut <= stream.length; cut += 61) {
      expect(collect(FrameDecoder.make(), [stream.subarray(0, cut), stream.subarray(cut)])).toEqual(frames)
    }
  })

  it("accepts empty chunks", () => {
    expect(collect(FrameDecoder.make(), [new Uint8Array(0), stream, new Uint8Array(0)])).toEqual(frames)
  })

  it("returns the frames before an error together with the error, then stays failed", () => {
    const bad = Uint8Array.from([0, 0, 0, 2, 0x91, 0x01]) // a top-level array
    const decoder = FrameDecoder.make()
    const out = decoder.push(Uint8Array.from([...encoded[0]!, ...bad, ...encoded[2]!]))
    expect(out.frames).toEqual([frames[0]])
    expect(out.error?.code).toBe("malformed_frame")
    expect(decoder.failure()).toBe(out.error)
    expect(decoder.push(encoded[2]!)).toEqual({ frames: [], error: out.error })
    expect(decoder.end()).toBe(out.error)
  })

  it("checks each prefix against maxFrameBytes before buffering the body", () => {
    const decoder = FrameDecoder.make(CodecConfig.make({ maxFrameBytes: 16 }))
    const out = decoder.push(encoded[1]!.subarray(0, 6))
    expect(out.error?.code).toBe("frame_too_large")
    expect(decoder.bufferedBytes()).toBe(0)
  })

  it("buffers only what arrived of a split frame", () => {
    const decoder = FrameDecoder.make()
    decoder.push(encoded[1]!.subarray(0, 100))
    expect(decoder.bufferedBytes()).toBe(100)
    decoder.push(encoded[1]!.subarray(100, 2_000))
    expect(decoder.bufferedBytes()).toBe(2_000)
    expect(decoder.push(encoded[1]!.subarray(2_000)).frames).toEqual([frames[1]])
    expect(decoder.bufferedBytes()).toBe(0)
  })

  it("shares no memory with the chunks it was given", () => {
    const chunk = Uint8Array.from(encoded[1]!)
    const [frame] = FrameDecoder.make().push(chunk).frames as ReadonlyArray<Extract<Frame, { t: "content.block" }>>
    chunk.fill(0)
    expect(frame!.d.every((b) => b === 9)).toBe(true)
    expect(frame!.m.every((b) => b === 1)).toBe(true)
  })

  it("yields plain Uint8Array bins from Buffer chunks", () => {
    const [frame] = FrameDecoder.make().push(Buffer.from(encoded[1]!)).frames as ReadonlyArray<Extract<Frame, { t: "content.block" }>>
    expect(frame!.d.constructor).toBe(Uint8Array)
  })

  it("checks the negotiated version", () => {
    const out = FrameDecoder.make(CodecConfig.defaults, 2).push(encoded[0]!)
    expect(out.error?.code).toBe("unsupported_version")
  })
})
