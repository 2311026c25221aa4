/**
 * Properties of the wire codec: round trips for every frame type and signed body, totality
 * of decoding on arbitrary and corrupted bytes, chunking independence of the frame decoder,
 * and rejection of length and nesting bombs before any msgpack decoding.
 */
import fc from "fast-check"
import { createHash } from "node:crypto"
import { afterEach, describe, expect, it, vi } from "vitest"
import { equals as equalBytes } from "../src/core/Bytes.ts"
import * as Wire from "../src/testkit/arbitraries/Wire.ts"
import * as Codec from "../src/wire/Codec.ts"
import * as CodecConfig from "../src/wire/CodecConfig.ts"
import { DecodeError } from "../src/wire/DecodeError.ts"
import { EncodeError } from "../src/wire/EncodeError.ts"
import { frameTypes, isFrameType } from "../src/wire/Frame.ts"
import * as FrameDecoder from "../src/wire/FrameDecoder.ts"
import { packr } from "../src/wire/Msgpack.ts"
import * as Signed from "../src/wire/Signed.ts"

/**
 * A frame, or a DecodeError: anything else (a throw included) fails the property. A body the
 * pre-scan passed must also decode in msgpackr: "msgpack decoding failed" would mean the two
 * disagree, so it fails the property too.
 */
const isFrameOrError = (out: unknown): boolean =>
  (out instanceof DecodeError && out.detail !== "msgpack decoding failed") ||
  (typeof out === "object" && out !== null && isFrameType((out as { readonly t?: unknown }).t))

const encode = (frame: Parameters<typeof Codec.encode>[0]): Uint8Array => {
  const out = Codec.encode(frame)
  if (out instanceof EncodeError) throw out
  return out
}

/** Everything a decoder produced for a stream, split into chunks. */
const decodeChunks = (chunks: ReadonlyArray<Uint8Array>, config = CodecConfig.defaults) => {
  const decoder = FrameDecoder.make(config)
  const frames: Array<unknown> = []
  let error: DecodeError | undefined
  let maxBuffered = 0
  for (const chunk of chunks) {
    const out = decoder.push(chunk)
    frames.push(...out.frames)
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes())
    if (out.error !== undefined) {
      error = out.error
      break
    }
  }
  return { frames, error: error ?? decoder.end(), maxBuffered }
}

// A deterministic stand-in for Ed25519 (the identity module is not imported here): the
// "signature" is SHA-512(key ‖ message), so any change to key or message changes it.
const fakeSignature = (publicKey: Uint8Array, message: Uint8Array): Uint8Array =>
  new Uint8Array(createHash("sha512").update(publicKey).update(message).digest())
const signerFor = (publicKey: Uint8Array): Signed.Sign => (message) => fakeSignature(publicKey, message)
const fakeVerify: Signed.Verify = (publicKey, message, signature) => {
  const expected = fakeSignature(publicKey, message)
  return signature.length === 64 && expected.every((b, i) => b === signature[i])
}

describe("wire round trips", () => {
  it.each(frameTypes)("decode(encode(f)) equals f for every %s frame", (t) => {
    fc.assert(
      fc.property(Wire.frames[t], (frame) => {
        const bytes = encode(frame)
        expect(Codec.decode(bytes)).toEqual(frame)
      }),
      { numRuns: 60 }
    )
  })

  it("encodes every frame within its limit and with a correct length prefix", () => {
    fc.assert(
      fc.property(Wire.frame, (frame) => {
        const bytes = encode(frame)
        expect(Codec.readLength(bytes, 0)).toBe(bytes.length - 4)
        expect(bytes.length - 4).toBeLessThanOrEqual(CodecConfig.defaults.maxFrameBytes)
      }),
      { numRuns: 300 }
    )
  })

  it("opens what it signs, for envelopes, records and claims", () => {
    fc.assert(
      fc.property(Wire.envelopeBody, Wire.recordBody, Wire.claimBody, (envelope, record, claim) => {
        const e = Signed.signEnvelope(envelope, signerFor(envelope.pk))
        const r = Signed.signRecord(record, signerFor(record.pk))
        const c = Signed.signClaim(claim, signerFor(claim.by))
        if (e instanceof EncodeError || r instanceof EncodeError || c instanceof EncodeError) throw new Error("encode")
        expect(Signed.openEnvelope(e, fakeVerify)).toEqual(envelope)
        expect(Signed.openRecord(r, fakeVerify)).toEqual(record)
        expect(Signed.openClaim(c, fakeVerify)).toEqual(claim)
      }),
      { numRuns: 150 }
    )
  })

  it("never opens a signed object whose body or signature was changed", () => {
    fc.assert(
      fc.property(Wire.envelopeBody, Wire.mutation, fc.boolean(), (envelope, m, onBody) => {
        const signed = Signed.signEnvelope(envelope, signerFor(envelope.pk))
        if (signed instanceof EncodeError) throw signed
        const changed = onBody
          ? { b: Wire.mutate(signed.b, m), s: signed.s }
          : { b: signed.b, s: Wire.mutate(signed.s, m) }
        fc.pre(!equalBytes(changed.b, signed.b) || !equalBytes(changed.s, signed.s))
        const out = Signed.openEnvelope(changed, fakeVerify)
        expect(out instanceof DecodeError || out instanceof Signed.SignatureInvalid).toBe(true)
      }),
      { numRuns: 300 }
    )
  })
})

describe("wire totality", () => {
  it("turns arbitrary bytes into a frame or a DecodeError, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        expect(isFrameOrError(Codec.decode(bytes))).toBe(true)
        expect(isFrameOrError(Codec.decodeBody(bytes))).toBe(true)
      }),
      { numRuns: 2_000 }
    )
  })

  it("turns arbitrary msgpack maps with known types and field names into a frame or a DecodeError", () => {
    const fieldNames = [
      "id", "n", "c", "m", "r", "g", "pk", "key", "ty", "ok", "why", "sid", "realm", "pat", "mode", "cur", "au", "b",
      "s", "from", "to", "gen", "e", "more", "proc", "modes", "rec", "cid", "a", "ttl", "idem", "hop", "cr", "ucan",
      "q", "d", "w", "h", "full", "man", "nf", "role", "vers", "feat", "realms", "addrs", "lim", "ts", "peers", "impl",
      "after", "what", "__proto__", "constructor"
    ]
    const fieldValue = fc.oneof(
      fc.anything({ maxDepth: 2 }),
      Wire.anyValue,
      Wire.u,
      Wire.bytes(32),
      Wire.signed,
      fc.array(Wire.signed, { maxLength: 2 }),
      fc.array(fc.record({ m: Wire.bytes(34), k: fc.constantFrom("block", "have", "x"), y: fc.boolean() }), { maxLength: 2 })
    )
    const wireLike = fc.tuple(
      fc.oneof(fc.constant(1), fc.anything({ maxDepth: 0 })),
      fc.oneof(fc.constantFrom(...frameTypes), fc.anything({ maxDepth: 0 })),
      fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 8 })
    ).map(([v, t, fields]) => ({ ...fields, v, t }))
    fc.assert(
      fc.property(wireLike, (value) => {
        let body: Uint8Array
        try {
          body = Uint8Array.from(packr.pack(value))
        } catch {
          return // not every JS value is msgpack; the codec is not at fault
        }
        expect(isFrameOrError(Codec.decodeBody(body))).toBe(true)
      }),
      { numRuns: 1_500 }
    )
  })

  it("turns mutated valid frames into frames or DecodeErrors, in one piece or in chunks", () => {
    fc.assert(
      fc.property(Wire.corruptedFrame, Wire.cuts, (bytes, cuts) => {
        expect(isFrameOrError(Codec.decode(bytes))).toBe(true)
        const { frames, error } = decodeChunks(Wire.split(bytes, cuts))
        for (const f of frames) expect(isFrameOrError(f)).toBe(true)
        expect(error === undefined || error instanceof DecodeError).toBe(true)
      }),
      { numRuns: 1_500 }
    )
  })
})

describe("frame decoder", () => {
  it("yields the same frames for any chunking of a concatenated stream", () => {
    fc.assert(
      fc.property(Wire.frameStream, Wire.cuts, ({ frames, bytes }, cuts) => {
        const out = decodeChunks(Wire.split(bytes, cuts))
        expect(out.error).toBeUndefined()
        expect(out.frames).toEqual(frames)
      }),
      { numRuns: 300 }
    )
  })

  it("never holds more than one frame's bytes", () => {
    const config = CodecConfig.make({ maxFrameBytes: 300 })
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }), (chunks) => {
        const { maxBuffered } = decodeChunks(chunks, config)
        expect(maxBuffered).toBeLessThanOrEqual(4 + config.maxFrameBytes)
      }),
      { numRuns: 500 }
    )
  })

  it("reports truncated_frame when a stream ends inside a frame", () => {
    fc.assert(
      fc.property(Wire.encodedFrame, fc.nat(), ({ bytes }, cut) => {
        const at = 1 + (cut % (bytes.length - 1))
        const { frames, error } = decodeChunks([bytes.subarray(0, at)])
        expect(frames).toEqual([])
        expect(error?.code).toBe("truncated_frame")
      }),
      { numRuns: 300 }
    )
  })
})

describe("bombs", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  const bomb = fc.oneof(
    // A collection or byte string declaring far more than the frame holds.
    fc.record({
      header: fc.constantFrom(0xdd, 0xdf, 0xdb, 0xc6, 0xdc, 0xde, 0xda, 0xc5),
      declared: fc.oneof(
        fc.constant(0xffff_ffff),
        fc.integer({ min: 70_000, max: 0xffff_ffff }),
        fc.integer({ min: 40, max: 0xffff })
      ),
      depth: fc.nat({ max: 6 })
    }).map(({ header, declared, depth }) => {
      const size = header === 0xdd || header === 0xdf || header === 0xdb || header === 0xc6 ? 4 : 2
      // At least 2 elements or bytes are declared, and only 1 byte follows.
      const short = 2 + (declared % 0xfffe)
      const lengthBytes = size === 4
        ? [declared >>> 24, (declared >>> 16) & 0xff, (declared >>> 8) & 0xff, declared & 0xff]
        : [(short >>> 8) & 0xff, short & 0xff]
      // {"v": [[[ ... bomb ]]]}
      return Uint8Array.from([0x81, 0xa1, 0x76, ...new Array<number>(depth).fill(0x91), header, ...lengthBytes, 0x00])
    }),
    // Nesting far deeper than maxDecodeDepth, in a few hundred bytes.
    fc.integer({ min: 33, max: 5_000 }).map((depth) =>
      Uint8Array.from([0x81, 0xa1, 0x76, ...new Array<number>(depth).fill(0x91), 0xc0])
    )
  )

  it("rejects length and nesting bombs in the pre-scan, before msgpack decodes anything", () => {
    const unpack = vi.spyOn(packr, "unpack")
    fc.assert(
      fc.property(bomb, (body) => {
        const out = Codec.decodeBody(body)
        expect(out).toBeInstanceOf(DecodeError)
        expect((out as DecodeError).code).toBe("malformed_frame")
      }),
      { numRuns: 500 }
    )
    expect(unpack).not.toHaveBeenCalled()
  })

  it("rejects a 4 GiB length prefix before reading a body byte", () => {
    fc.assert(
      fc.property(fc.integer({ min: CodecConfig.defaults.maxFrameBytes + 1, max: 0xffff_ffff }), (length) => {
        const prefix = Uint8Array.from([length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff])
        const decoder = FrameDecoder.make()
        const out = decoder.push(prefix)
        expect(out.error?.code).toBe("frame_too_large")
        expect(decoder.bufferedBytes()).toBe(0)
      }),
      { numRuns: 200 }
    )
  })
})
