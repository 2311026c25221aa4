/**
 * PROTOCOL.md §14, rows 1–9: bad remote input the wire layer must turn into the right stream
 * reset, without allocating on a peer's say-so and without throwing. (Rows 8's "frame before
 * the hellos" and "second lane of a family", and row 9's "reused in-flight id", need
 * connection state; the codec's part of them is `Streams.check`.)
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Codec from "../../../src/wire/Codec.ts"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { DecodeError } from "../../../src/wire/DecodeError.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import * as FrameDecoder from "../../../src/wire/FrameDecoder.ts"
import { packr } from "../../../src/wire/Msgpack.ts"
import * as Streams from "../../../src/wire/Streams.ts"

const prefix = (length: number): Uint8Array =>
  Uint8Array.from([length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff])
const framed = (body: ReadonlyArray<number> | Uint8Array): Uint8Array => Uint8Array.from([...prefix(body.length), ...body])
const raw = (fields: Record<string, unknown>): Uint8Array => Uint8Array.from(packr.pack(fields))
const codeOf = (out: Frame | DecodeError): string => (out instanceof DecodeError ? out.code : "accepted")
const push = (bytes: Uint8Array) => FrameDecoder.make().push(bytes)

afterEach(() => {
  vi.restoreAllMocks()
})

describe("§14 row 1: length prefix above the limit (up to 4 GiB)", () => {
  it.each([1_048_577, 0x7fff_ffff, 0xffff_ffff])("rejects L = %i with frame_too_large from the prefix alone", (length) => {
    const decoder = FrameDecoder.make()
    const out = decoder.push(prefix(length))
    expect(out.error?.code).toBe("frame_too_large")
    expect(out.frames).toEqual([])
    expect(decoder.bufferedBytes()).toBe(0)
    expect(codeOf(Codec.decode(prefix(length)))).toBe("frame_too_large")
  })

  it("accepts L = maxFrameBytes exactly", () => {
    const body = raw({ v: 1, t: "content.manifest_res", id: 1, m: new Uint8Array(34), man: new Uint8Array(1_048_576 - 32) })
    const config = CodecConfig.make({ maxFrameBytes: body.length })
    expect(Codec.decode(framed(body), config)).toMatchObject({ t: "content.manifest_res" })
    expect(codeOf(Codec.decode(framed(body), CodecConfig.make({ maxFrameBytes: body.length - 1 })))).toBe("frame_too_large")
  })
})

describe("§14 row 2: length 0; stream ends inside a prefix or body", () => {
  it("rejects L = 0 with malformed_frame", () => {
    expect(push(prefix(0)).error?.code).toBe("malformed_frame")
    expect(codeOf(Codec.decode(prefix(0)))).toBe("malformed_frame")
  })

  it("reports truncated_frame at end of stream inside a prefix", () => {
    for (const cut of [1, 2, 3]) {
      const decoder = FrameDecoder.make()
      expect(decoder.push(prefix(5).subarray(0, cut)).error).toBeUndefined()
      expect(decoder.end()?.code).toBe("truncated_frame")
      expect(codeOf(Codec.decode(prefix(5).subarray(0, cut)))).toBe("truncated_frame")
    }
  })

  it("reports truncated_frame at end of stream inside a body, dispatching nothing", () => {
    const bytes = Codec.encode({ t: "ping", n: 7 }) as Uint8Array
    for (let cut = 4; cut < bytes.length; cut++) {
      const decoder = FrameDecoder.make()
      expect(decoder.push(bytes.subarray(0, cut))).toEqual({ frames: [], error: undefined })
      expect(decoder.end()?.code).toBe("truncated_frame")
      expect(codeOf(Codec.decode(bytes.subarray(0, cut)))).toBe("truncated_frame")
    }
  })

  it("reports nothing at a clean end of stream", () => {
    const decoder = FrameDecoder.make()
    decoder.push(Codec.encode({ t: "ping", n: 7 }) as Uint8Array)
    expect(decoder.end()).toBeUndefined()
  })
})

describe("§14 row 3: not msgpack, trailing bytes, 0xc1, invalid UTF-8, top level not a map", () => {
  it.each([
    ["not msgpack (text)", [...new TextEncoder().encode("{\"v\":1,\"t\":\"ping\"}")]],
    ["trailing bytes", [...raw({ v: 1, t: "ping", n: 1 }), 0x00]],
    ["0xc1", [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0xc1]],
    ["invalid UTF-8 in t", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa2, 0xc3, 0x28]],
    ["a top-level array", [...packr.pack([1, "ping", 3])]],
    ["a top-level str", [...packr.pack("ping")]]
  ])("%s is malformed_frame", (_, body) => {
    expect(codeOf(Codec.decodeBody(Uint8Array.from(body)))).toBe("malformed_frame")
    expect(push(framed(body)).error?.code).toBe("malformed_frame")
  })

  it("rejects bytes after a single frame passed to Codec.decode", () => {
    const bytes = Codec.encode({ t: "ping", n: 1 }) as Uint8Array
    expect(codeOf(Codec.decode(Uint8Array.from([...bytes, 0])))).toBe("malformed_frame")
  })
})

describe("§14 row 4: length bombs", () => {
  it.each([
    ["array32 of 4 294 967 295", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xdd, 0xff, 0xff, 0xff, 0xff]],
    ["map32 of 4 294 967 295", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xdf, 0xff, 0xff, 0xff, 0xff]],
    ["bin32 of 4 GiB", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xc6, 0xff, 0xff, 0xff, 0xff]],
    ["str32 of 4 GiB", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xdb, 0xff, 0xff, 0xff, 0xff]],
    ["array16 of 65 535 in 10 bytes", [0x81, 0xa1, 0x76, 0xdc, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04]],
    ["a top-level map32 of 4 294 967 295", [0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x76]]
  ])("%s is malformed_frame in the pre-scan, msgpack never runs", (_, body) => {
    const unpack = vi.spyOn(packr, "unpack")
    expect(codeOf(Codec.decodeBody(Uint8Array.from(body)))).toBe("malformed_frame")
    expect(unpack).not.toHaveBeenCalled()
  })
})

describe("§14 row 5: nesting deeper than maxDecodeDepth", () => {
  it("is malformed_frame, with no recursion, even 500 000 levels deep", () => {
    const unpack = vi.spyOn(packr, "unpack")
    const body = Uint8Array.from([0x81, 0xa1, 0x74, ...new Array<number>(500_000).fill(0x91), 0xc0])
    expect(codeOf(Codec.decodeBody(body))).toBe("malformed_frame")
    expect(unpack).not.toHaveBeenCalled()
  })

  it("honours a configured depth", () => {
    const body = raw({ v: 1, t: "s.data", q: 0, d: [[[[1]]]] })
    expect(codeOf(Codec.decodeBody(body, CodecConfig.make({ maxDecodeDepth: 5 })))).toBe("accepted")
    expect(codeOf(Codec.decodeBody(body, CodecConfig.make({ maxDecodeDepth: 4 })))).toBe("malformed_frame")
  })
})

describe("§14 row 6: extension types, timestamps, non-string or duplicate keys", () => {
  it.each([
    ["a timestamp (Date)", [...packr.pack({ v: 1, t: "s.data", q: 0, d: new Date(0) })]],
    ["an ext 8", [0x84, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa6, ...new TextEncoder().encode("s.data"), 0xa1, 0x71, 0x00, 0xa1, 0x64, 0xc7, 0x01, 0x05, 0x00]],
    ["undefined as fixext", [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0xd4, 0x00, 0x00]],
    ["an integer key", [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0x01, 0x01]],
    ["a duplicate key", [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x74, 0xa4, 0x70, 0x6f, 0x6e, 0x67]],
    ["a msgpackr record", [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xd4, 0x72, 0x40]]
  ])("%s is malformed_frame", (_, body) => {
    expect(codeOf(Codec.decodeBody(Uint8Array.from(body)))).toBe("malformed_frame")
  })
})

describe("§14 row 7: v other than negotiated; unknown t", () => {
  it("rejects a wrong version with unsupported_version", () => {
    expect(codeOf(Codec.decodeBody(raw({ v: 2, t: "ping", n: 1 })))).toBe("unsupported_version")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "ping", n: 1 }), CodecConfig.defaults, 2))).toBe("unsupported_version")
    expect(codeOf(Codec.decodeBody(raw({ v: 2, t: "ping", n: 1 }), CodecConfig.defaults, 2))).toBe("accepted")
  })

  it("accepts a hello of any version: hello is how versions are negotiated", () => {
    const hello = { t: "hello", role: "client", vers: [1, 2], feat: [], realms: [], addrs: [], lim: { f: 1_000 }, ts: 1 }
    expect(codeOf(Codec.decodeBody(raw({ v: 2, ...hello })))).toBe("accepted")
  })

  it.each(["pingg", "", "__proto__", "constructor", "toString", "content.*", "PING"])("rejects t = %j with unknown_type", (t) => {
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t, n: 1 })))).toBe("unknown_type")
  })

  it("rejects a missing or mistyped v or t with invalid_field", () => {
    expect(codeOf(Codec.decodeBody(raw({ t: "ping", n: 1 })))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: "1", t: "ping", n: 1 })))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, n: 1 })))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: 7 })))).toBe("invalid_field")
  })
})

describe("§14 row 8: wrong stream", () => {
  const lane = (family: Streams.Family): Streams.Stream => ({ kind: "lane", family })
  it.each([
    [{ kind: "control" } as Streams.Stream, { t: "swim.nack", id: 1 } as Frame],
    [lane("swim"), { t: "dht.find_node", id: 1, key: new Uint8Array(32) } as Frame],
    [lane("pubsub"), { t: "ping", n: 1 } as Frame],
    [lane("rpc"), { t: "s.credit", n: 1 } as Frame],
    [{ kind: "call" } as Streams.Stream, { t: "sub", id: 1, sid: 1, realm: new Uint8Array(32), pat: "x" } as Frame],
    [{ kind: "content" } as Streams.Stream, { t: "ok", id: 1 } as Frame],
    [{ kind: "control" } as Streams.Stream, { t: "err", c: "x" } as Frame]
  ])("refuses on %o the frame %o with wrong_stream", (stream, frame) => {
    expect(Streams.check(stream, frame)?.code).toBe("wrong_stream")
  })

  it("refuses frames that cannot open a stream", () => {
    for (const frame of [{ t: "ok", id: 1 }, { t: "ping", n: 1 }, { t: "s.data", q: 0, d: null }] as ReadonlyArray<Frame>) {
      expect(Streams.checkFirst(frame)).toMatchObject({ _tag: "DecodeError", code: "wrong_stream" })
    }
  })
})

describe("§14 row 9: wrong field type, 31-byte bin32, integer above 2^53−1", () => {
  it("rejects a mistyped field", () => {
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "ping", n: "1" })))).toBe("invalid_field")
  })

  it("rejects a 31-byte bin32", () => {
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "dht.find_node", id: 1, key: new Uint8Array(31) })))).toBe("invalid_field")
  })

  it("rejects str and bin standing in for each other", () => {
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "goodbye", c: new TextEncoder().encode("bye") })))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "fwd", b: "body", s: new Uint8Array(64) })))).toBe("invalid_field")
  })

  it("rejects integers above 2^53−1 whether sent as uint64 or float", () => {
    const uint64 = [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0]
    expect(codeOf(Codec.decodeBody(Uint8Array.from(uint64)))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "ping", n: 2 ** 53 })))).toBe("invalid_field")
    expect(codeOf(Codec.decodeBody(raw({ v: 1, t: "ping", n: 2 ** 53 - 1 })))).toBe("accepted")
  })

  it("rejects payload integers beyond ±(2^53−1) sent as int64", () => {
    const int64 = [0x84, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa6, ...new TextEncoder().encode("s.data"), 0xa1, 0x71, 0x00, 0xa1, 0x64, 0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0]
    expect(codeOf(Codec.decodeBody(Uint8Array.from(int64)))).toBe("invalid_field")
  })

  it("accepts uint64-encoded integers within range, as numbers", () => {
    const uint64 = [0x83, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    expect(Codec.decodeBody(Uint8Array.from(uint64))).toEqual({ t: "ping", n: 2 ** 53 - 1 })
  })
})
