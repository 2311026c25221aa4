/**
 * MCIDs (PROTOCOL.md §12.1): binary and text forms, every refusal reason, and `ofBytes` for
 * small and large content.
 */
import { describe, expect, it } from "vitest"
import * as Base32 from "../../../src/content/Base32.ts"
import * as Blake3 from "../../../src/content/Blake3.ts"
import * as Manifest from "../../../src/content/Manifest.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import { McidError } from "../../../src/content/McidError.ts"

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const empty = Mcid.ofBytes(new Uint8Array(0))

const refused = (text: string): McidError => {
  const out = Mcid.decode(text)
  if (out._tag !== "McidError") throw new Error(`accepted ${text}`)
  expect(() => Mcid.parse(text)).toThrow(McidError)
  return out
}

describe("Mcid", () => {
  it("names the empty content by BLAKE3 of nothing, as a raw block", () => {
    expect(empty.codec).toBe("raw")
    expect(hex(Mcid.bytes(empty))).toBe("0155" + "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
  })

  it("writes 56 characters: b + lowercase unpadded base32 of the 34 bytes", () => {
    const text = Mcid.toString(empty)
    expect(text).toHaveLength(56)
    expect(text).toMatch(/^b[a-z2-7]{55}$/)
    expect(text).toBe("b" + Base32.encode(Mcid.bytes(empty)))
    expect(String(empty)).toBe(text)
    expect(JSON.stringify({ m: empty })).toBe(JSON.stringify({ m: text }))
  })

  it("parses its own text and binary forms back to an equal MCID", () => {
    const m = Mcid.ofBytes(new TextEncoder().encode("hello"))
    expect(Mcid.equals(Mcid.parse(Mcid.toString(m)), m)).toBe(true)
    expect(Mcid.equals(Mcid.fromBytes(Mcid.bytes(m)), m)).toBe(true)
    expect(Mcid.key(m)).toBe(Mcid.toString(m))
    expect(Mcid.isValid(Mcid.toString(m))).toBe(true)
  })

  it("refuses another prefix, uppercase, padding and wrong lengths with invalid_mcid", () => {
    const text = Mcid.toString(empty)
    for (const bad of ["z" + text.slice(1), text.toUpperCase(), "B" + text.slice(1), text + "=", text.slice(0, 55), text + "a", "", "b"]) {
      const e = refused(bad)
      expect(e._tag).toBe("McidError")
      expect(e.reason).toBe("invalid_mcid")
    }
  })

  it("refuses version ≠ 1 and codecs other than 0x55 and 0x56", () => {
    const bin = Mcid.bytes(empty)
    for (const [at, value] of [[0, 0x00], [0, 0x02], [1, 0x70], [1, 0x54], [1, 0x57]] as const) {
      const b = bin.slice()
      b[at] = value
      refused("b" + Base32.encode(b))
      expect(Mcid.fromBinary(b)).toBeUndefined()
      expect(() => Mcid.fromBytes(b)).toThrow(McidError)
    }
    const m = bin.slice()
    m[1] = 0x56
    expect(Mcid.parse("b" + Base32.encode(m)).codec).toBe("manifest")
  })

  it("refuses a text whose unused trailing bits are set (one text per MCID)", () => {
    const text = Mcid.toString(empty)
    const last = Base32.alphabet.indexOf(text[55]!)
    // 34 bytes = 272 bits; 55 characters carry 275: the last character's low 3 bits are padding.
    expect(last & 7).toBe(0)
    refused(text.slice(0, 55) + Base32.alphabet[last | 1]!)
  })

  it("gives content of one chunk (256 KiB exactly) a raw MCID and larger content a manifest MCID", () => {
    const oneChunk = new Uint8Array(262_144).fill(7)
    expect(Mcid.ofBytes(oneChunk).codec).toBe("raw")
    expect(hex(Mcid.ofBytes(oneChunk).digest)).toBe(hex(Blake3.hash(oneChunk)))
    const bigger = new Uint8Array(262_145).fill(7)
    const m = Mcid.ofBytes(bigger)
    expect(m.codec).toBe("manifest")
    expect(hex(m.digest)).toBe(hex(Blake3.hash(Manifest.encode(Manifest.ofContent(bigger)))))
  })

  it("refuses digests that are not 32 bytes", () => {
    expect(() => Mcid.raw(new Uint8Array(31))).toThrow(McidError)
    expect(() => Mcid.manifest(new Uint8Array(33))).toThrow(McidError)
  })

  it("verifies a block against its MCID", () => {
    const block = new Uint8Array([1, 2, 3])
    expect(Mcid.verifies(Mcid.ofBlock(block), block)).toBe(true)
    expect(Mcid.verifies(Mcid.ofBlock(block), new Uint8Array([1, 2, 4]))).toBe(false)
  })
})

describe("Base32", () => {
  it("encodes the RFC 4648 test vectors in lowercase without padding", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", ""], ["f", "my"], ["fo", "mzxq"], ["foo", "mzxw6"], ["foob", "mzxw6yq"], ["fooba", "mzxw6ytb"], ["foobar", "mzxw6ytboi"]
    ]
    for (const [plain, encoded] of cases) {
      expect(Base32.encode(new TextEncoder().encode(plain))).toBe(encoded)
      expect(new TextDecoder().decode(Base32.decode(encoded))).toBe(plain)
    }
  })

  it("refuses impossible lengths, foreign characters and set padding bits", () => {
    for (const bad of ["m", "mzx", "mzxw6y1", "MZXW6", "mzxw6===", "mz"]) expect(Base32.decode(bad)).toBeUndefined()
  })
})
