/**
 * Encoding and decoding single frames: the msgpackr rules of PROTOCOL.md §4.3, the peer limit
 * of §4.1, and what encoding refuses.
 */
import { describe, expect, it } from "vitest"
import * as Codec from "../../../src/wire/Codec.ts"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { DecodeError } from "../../../src/wire/DecodeError.ts"
import { EncodeError } from "../../../src/wire/EncodeError.ts"
import type { Any, Frame } from "../../../src/wire/Frame.ts"
import { packr } from "../../../src/wire/Msgpack.ts"

const data = (d: unknown): Frame => ({ t: "s.data", q: 0, d: d as Any })
const encoded = (frame: Frame): Uint8Array => {
  const out = Codec.encode(frame)
  if (out instanceof EncodeError) throw out
  return out
}
const nest = (depth: number): unknown => {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}
const roundTrip = (frame: Frame): Frame | DecodeError => Codec.decode(encoded(frame))

describe("Codec.encode", () => {
  it("writes the big-endian body length, then a map with v and t", () => {
    const bytes = encoded({ t: "ping", n: 300 })
    expect(Codec.readLength(bytes, 0)).toBe(bytes.length - 4)
    expect(packr.unpack(bytes.subarray(4))).toEqual({ t: "ping", n: 300, v: 1 })
  })

  it("writes the negotiated version", () => {
    const bytes = encoded({ t: "ping", n: 1 })
    const v2 = Codec.encode({ t: "ping", n: 1 }, { version: 2 }) as Uint8Array
    expect(packr.unpack(v2.subarray(4))).toMatchObject({ v: 2 })
    expect(Codec.decode(v2, CodecConfig.defaults, 2)).toEqual({ t: "ping", n: 1 })
    expect(Codec.decode(bytes, CodecConfig.defaults, 2)).toMatchObject({ code: "unsupported_version" })
  })

  it("refuses a frame above the peer's limit with payload_too_large", () => {
    const frame: Frame = { t: "content.block", m: new Uint8Array(34), d: new Uint8Array(5_000) }
    const out = Codec.encode(frame, { maxFrameBytes: 4_096 })
    expect(out).toBeInstanceOf(EncodeError)
    expect((out as EncodeError).code).toBe("payload_too_large")
  })

  it("applies the content.block limit to blocks", () => {
    const frame: Frame = { t: "content.block", m: new Uint8Array(34), d: new Uint8Array(262_144) }
    expect(Codec.encode(frame)).toBeInstanceOf(Uint8Array)
    const tight = CodecConfig.make({ blockFrameOverheadBytes: 8 })
    expect(Codec.encode(frame, { config: tight })).toMatchObject({ code: "payload_too_large" })
  })

  it.each([
    ["an unknown type", { t: "pingg", n: 1 }],
    ["a missing field", { t: "ping" }],
    ["a 31-byte bin32", { t: "dht.find_node", id: 1, key: new Uint8Array(31) }],
    ["a negative u", { t: "ping", n: -1 }],
    ["a fractional u", { t: "ping", n: 0.5 }],
    ["a u above 2^53−1", { t: "ping", n: 2 ** 53 }],
    ["a Date payload", data(new Date(0))],
    ["a Map payload with integer keys", data(new Map([[1, 2]]))],
    ["a bigint payload beyond 2^53", data(2n ** 60n)],
    ["a symbol payload", data(Symbol("s"))],
    ["a payload nested past maxDecodeDepth", data(nest(33))],
    ["a Set payload", data(new Set([1]))],
    ["a class instance payload", data(new (class Point { x = 1 })())],
    ["a function payload", data(() => 1)],
    ["an Int16Array payload (msgpackr would write half of it and stale bytes)", data(new Int16Array(4))],
    ["a Float32Array payload", data(new Float32Array(2))],
    ["an ArrayBuffer payload", data(new ArrayBuffer(2))],
    ["a payload map with more than maxCollectionEntries entries", data(Object.fromEntries(Array.from({ length: 65_537 }, (_, i) => [`k${i}`, 0])))],
    ["a frame that is not an object", 42],
    ["null", null]
  ])("refuses %s with invalid_frame", (_, frame) => {
    const out = Codec.encode(frame as unknown as Frame)
    expect(out).toBeInstanceOf(EncodeError)
    expect((out as EncodeError).code).toBe("invalid_frame")
  })

  it("accepts Buffers and subarray views as bins, writing exactly their bytes", () => {
    const backing = Uint8Array.from({ length: 100 }, (_, i) => i)
    for (const key of [backing.subarray(10, 42), Buffer.from(backing.subarray(10, 42))]) {
      const out = roundTrip({ t: "dht.find_node", id: 1, key }) as Extract<Frame, { t: "dht.find_node" }>
      expect([...out.key]).toEqual([...backing.subarray(10, 42)])
      expect(out.key.constructor).toBe(Uint8Array)
    }
  })

  it("refuses a circular payload without throwing", () => {
    const loop: Record<string, unknown> = {}
    loop["self"] = loop
    expect(Codec.encode(data(loop))).toMatchObject({ _tag: "EncodeError", code: "invalid_frame" })
  })

  it("drops unknown fields and undefined optionals", () => {
    const frame = { t: "ok", id: 1, n: undefined, extra: "x" } as unknown as Frame
    expect(packr.unpack(encoded(frame).subarray(4))).toEqual({ t: "ok", id: 1, v: 1 })
  })

  it("never shares bytes between two encoded frames", () => {
    const a = encoded({ t: "ping", n: 1 })
    const copy = Uint8Array.from(a)
    encoded({ t: "ping", n: 2 })
    expect(a).toEqual(copy)
  })
})

describe("Codec.decode", () => {
  it("copies bins: a frame does not alias the receive buffer", () => {
    const bytes = encoded({ t: "dht.find_node", id: 1, key: new Uint8Array(32).fill(5) })
    const frame = Codec.decode(bytes) as Extract<Frame, { t: "dht.find_node" }>
    bytes.fill(0)
    expect(frame.key).toEqual(new Uint8Array(32).fill(5))
    expect(frame.key.buffer).not.toBe(bytes.buffer)
  })

  it("decodes payloads of every §4.3 kind", () => {
    const payload = { n: null, b: [true, false], i: [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1)], f: [1.5, -2.25, 1e300], s: "é€𝄞", bin: Uint8Array.of(1, 2), deep: { a: { b: [{}] } } }
    expect(roundTrip(data(payload))).toEqual(data(payload))
  })

  it("gives -0 no meaning: it decodes as 0", () => {
    const out = roundTrip(data(-0)) as Extract<Frame, { t: "s.data" }>
    expect(Object.is(out.d, 0)).toBe(true)
  })

  it("gives undefined no meaning: it becomes nil in a payload", () => {
    expect(roundTrip(data([1, undefined, 3]))).toEqual(data([1, null, 3]))
  })

  it("treats nil as absent for optional fields, including optional payloads", () => {
    const body = Uint8Array.from(packr.pack({ v: 1, t: "reply", id: 4, r: null, e: null }))
    expect(Codec.decodeBody(body)).toEqual({ t: "reply", id: 4 })
  })

  it("keeps nil as a value for required payloads", () => {
    expect(roundTrip({ t: "s.data", q: 1, d: null })).toEqual({ t: "s.data", q: 1, d: null })
  })

  it("decodes a body in place inside a larger buffer", () => {
    const bytes = encoded({ t: "pong", n: 9 })
    const buffer = Uint8Array.from([0xc1, ...bytes.subarray(4), 0xc1])
    expect(Codec.decodeBodyAt(buffer, 1, buffer.length - 1)).toEqual({ t: "pong", n: 9 })
  })

  it("returns DecodeErrors whose message names the code and detail", () => {
    const out = Codec.decodeBody(Uint8Array.of(0x91, 0x01)) as DecodeError
    expect(out).toBeInstanceOf(Error)
    expect(out._tag).toBe("DecodeError")
    expect(out.message).toBe("malformed_frame: top level is not a map")
  })
})
