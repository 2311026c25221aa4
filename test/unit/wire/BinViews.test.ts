/**
 * Bins as views: a body its receiver owns (assembled across chunks by the transport's
 * `FrameDecoder`) gives its block payload as a view instead of a copy; any other body, and
 * any small bin, still gives copies.
 */
import { describe, expect, it } from "vitest"
import * as Frame from "../../../src/platform/transport/Frame.ts"
import * as Codec from "../../../src/wire/Codec.ts"
import type { Frame as WireFrame } from "../../../src/wire/Frame.ts"
import * as FrameDecoder from "../../../src/wire/FrameDecoder.ts"

type Block = Extract<WireFrame, { t: "content.block" }>

const blockFrame = (size: number): Uint8Array => {
  const d = new Uint8Array(size).map((_, i) => (i * 7) & 255)
  const bytes = Codec.encode({ t: "content.block", m: new Uint8Array(34).fill(1), d } as Block)
  if (!(bytes instanceof Uint8Array)) throw new Error(bytes.message)
  return bytes
}

describe("Codec.decodeBody with owned", () => {
  it("gives a large bin as a view of an owned body, and copies the small ones", () => {
    const body = blockFrame(200_000).slice(Codec.prefixBytes)
    const frame = Codec.decodeBody(body, undefined, undefined, true) as Block
    expect(frame.d.buffer).toBe(body.buffer)
    expect(frame.d.length).toBe(200_000)
    expect(frame.m.buffer).not.toBe(body.buffer)
    expect(frame.d[199_999]).toBe((199_999 * 7) & 255)
  })

  it("copies every bin of a body it does not own", () => {
    const body = blockFrame(200_000).slice(Codec.prefixBytes)
    const frame = Codec.decodeBody(body) as Block
    expect(frame.d.buffer).not.toBe(body.buffer)
    body.fill(0)
    expect(frame.d[1]).toBe(7)
  })

  it("copies a bin that is not most of the body", () => {
    const body = blockFrame(16).slice(Codec.prefixBytes)
    const frame = Codec.decodeBody(body, undefined, undefined, true) as Block
    expect(frame.d.buffer).not.toBe(body.buffer)
  })
})

describe("Frame.isAssembled", () => {
  it("marks a body assembled across chunks, not a view of one chunk", () => {
    const bytes = blockFrame(100_000)
    const decoder = new Frame.FrameDecoder(1_048_576)
    const split: Array<Uint8Array> = []
    decoder.push(bytes.subarray(0, 50_000), split)
    decoder.push(bytes.subarray(50_000), split)
    expect(split).toHaveLength(1)
    expect(Frame.isAssembled(split[0]!)).toBe(true)
    const whole: Array<Uint8Array> = []
    new Frame.FrameDecoder(1_048_576).push(bytes, whole)
    expect(whole).toHaveLength(1)
    expect(Frame.isAssembled(whole[0]!)).toBe(false)
    // Decoded as the connection does: the assembled body's payload is a view of it, the other a copy.
    const viewed = Codec.decodeBody(split[0]!, undefined, undefined, Frame.isAssembled(split[0]!)) as Block
    const copied = Codec.decodeBody(whole[0]!, undefined, undefined, Frame.isAssembled(whole[0]!)) as Block
    expect(viewed.d.buffer).toBe(split[0]!.buffer)
    expect(copied.d.buffer).not.toBe(bytes.buffer)
    expect(Buffer.compare(viewed.d, copied.d)).toBe(0)
  })
})

describe("wire FrameDecoder", () => {
  it("keeps a split frame's payload as a view of its own assembly buffer, and copies an in-place one", () => {
    const bytes = blockFrame(100_000)
    const split = FrameDecoder.make()
    expect(split.push(bytes.subarray(0, 30_000)).frames).toHaveLength(0)
    const [assembled] = split.push(bytes.subarray(30_000)).frames as ReadonlyArray<Block>
    const [inPlace] = FrameDecoder.make().push(bytes).frames as ReadonlyArray<Block>
    expect(assembled!.d.buffer).not.toBe(bytes.buffer)
    expect(assembled!.d.buffer.byteLength).toBe(bytes.length - Codec.prefixBytes)
    expect(inPlace!.d.buffer).not.toBe(bytes.buffer)
    bytes.fill(0)
    expect(assembled!.d[1]).toBe(7)
    expect(inPlace!.d[1]).toBe(7)
  })
})
