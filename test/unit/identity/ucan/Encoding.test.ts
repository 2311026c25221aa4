/**
 * The encoding layer: base32/base64 helpers, CIDs, and strict DAG-CBOR.
 */
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../../src/core/Bytes.ts"
import { base32Decode, base32Encode, base64Decode, base64Encode } from "../../../../src/identity/ucan/Bytes.ts"
import { cidOf, isCidV1Sha256, Link, parseCid } from "../../../../src/identity/ucan/Cid.ts"
import * as Command from "../../../../src/identity/ucan/Command.ts"
import * as DagCbor from "../../../../src/identity/ucan/DagCbor.ts"

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)

describe("base32 (RFC 4648, lower case, unpadded)", () => {
  it.each([
    ["", ""],
    ["f", "my"],
    ["fo", "mzxq"],
    ["foo", "mzxw6"],
    ["foob", "mzxw6yq"],
    ["fooba", "mzxw6ytb"],
    ["foobar", "mzxw6ytboi"]
  ])("%j ↔ %j", (text, encoded) => {
    expect(base32Encode(ascii(text))).toBe(encoded)
    expect(base32Decode(encoded)).toEqual(ascii(text))
  })

  it.each(["m", "mzx", "mzxw6y", "MZXW6", "mzxw6===", "mzxw1", "mzxw7"])("refuses %j", (text) => {
    expect(base32Decode(text)).toBeUndefined()
  })
})

describe("base64", () => {
  it.each([
    ["", "", ""],
    ["f", "Zg==", "Zg"],
    ["fo", "Zm8=", "Zm8"],
    ["foo", "Zm9v", "Zm9v"],
    ["foobar", "Zm9vYmFy", "Zm9vYmFy"]
  ])("%j ↔ %j / %j", (text, padded, bare) => {
    expect(base64Encode(ascii(text))).toBe(padded)
    expect(base64Encode(ascii(text), false)).toBe(bare)
    expect(base64Decode(padded)).toEqual(ascii(text))
    expect(base64Decode(bare)).toEqual(ascii(text))
  })

  it.each(["Z", "Zh==", "Zg=", "Zg===", "Z=g=", "Zm9v!", "Zm8==="])("refuses %j", (text) => {
    expect(base64Decode(text)).toBeUndefined()
  })

  it("hex round-trips", () => {
    expect(toHex(Uint8Array.of(0, 0xab, 0xff))).toBe("00abff")
    expect(fromHex("00ABff")).toEqual(Uint8Array.of(0, 0xab, 0xff))
    expect(fromHex("0")).toBeUndefined()
  })
})

describe("CIDs", () => {
  it("names a block CIDv1 dag-cbor sha2-256 in base32 (bafyrei…)", () => {
    // DAG-CBOR of the empty map, a well-known CID.
    expect(cidOf(Uint8Array.of(0xa0))).toBe("bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua")
  })

  it("parses and prints CIDs", () => {
    const text = "bafyreigyftnzjf4rcu7glp5kfop53vqlopc3zcldauoqdxqlz7t4343gr4"
    const link = parseCid(text)!
    expect(link.toString()).toBe(text)
    expect(link.bytes.slice(0, 4)).toEqual(Uint8Array.of(0x01, 0x71, 0x12, 0x20))
    expect(link.equals(new Link(Uint8Array.from(link.bytes)))).toBe(true)
    expect(parseCid("zdpuAzx4sBrBCabrZZqXgvK3NDzh7Mf5mKbG11aBkkMCdLtCp")).toBeUndefined()
    expect(parseCid("bafyrei")).toBeUndefined()
    expect(isCidV1Sha256(Uint8Array.of(0x01, 0x55, 0x12, 0x20, ...new Uint8Array(32)))).toBe(true) // raw codec
    expect(isCidV1Sha256(Uint8Array.of(0x12, 0x20, ...new Uint8Array(32)))).toBe(false) // CIDv0
  })
})

describe("commands", () => {
  it.each(["/", "/crud", "/crud/create", "/foo/bar/baz/qux/quux", "/ほげ/ふが", "/mesh/publish"])("%j is valid", (c) => {
    expect(Command.isValid(c)).toBe(true)
  })
  it.each(["", "crud", "/crud/", "//", "/crud//create", "/Crud", "/CRUD/read"])("%j is not", (c) => {
    expect(Command.isValid(c)).toBe(false)
  })
  it.each<[string, string, boolean]>([
    ["/", "/anything/at/all", true],
    ["/crypto", "/crypto/sign", true],
    ["/crypto", "/crypto", true],
    ["/crypto", "/cryptocurrency", false],
    ["/crypto", "/stack/pop", false],
    ["/crypto/sign", "/crypto", false]
  ])("%s covers %s: %s", (parent, child, expected) => {
    expect(Command.covers(parent, child)).toBe(expected)
  })
})

describe("DAG-CBOR", () => {
  it("sorts map keys length-first, then byte-wise", () => {
    const bytes = DagCbor.encode({ bb: 1, a: 2, c: 3, aaa: 4 })
    expect(toHex(bytes)).toBe("a4" + "616102" + "616303" + "62626201" + "6361616104")
  })

  it("encodes floats in 64 bits and links as tag 42 with the 0x00 prefix", () => {
    expect(toHex(DagCbor.encode(0.5))).toBe("fb3fe0000000000000")
    const link = new Link(Uint8Array.of(0x01, 0x71, 0x12, 0x20, ...new Uint8Array(32)))
    expect(toHex(DagCbor.encode(link))).toBe("d82a5825000171122" + "0" + "00".repeat(32))
  })

  it("round-trips integers across the safe range and bigints beyond it", () => {
    for (const n of [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -24, -25, Number.MIN_SAFE_INTEGER]) {
      expect(DagCbor.decode(DagCbor.encode(n)).value).toBe(n)
    }
    for (const n of [2n ** 53n, 2n ** 64n - 1n, -(2n ** 64n)]) expect(DagCbor.decode(DagCbor.encode(n)).value).toBe(n)
  })

  it("keeps a __proto__ key as data", () => {
    const decoded = DagCbor.decode(Uint8Array.of(0xa1, 0x69, ...ascii("__proto__"), 0x01)).value as Record<string, unknown>
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.keys(decoded)).toEqual(["__proto__"])
    expect(DagCbor.encode(DagCbor.fromJs(JSON.parse('{"__proto__": 1}')))).toEqual(Uint8Array.of(0xa1, 0x69, ...ascii("__proto__"), 0x01))
  })

  it("bounds nesting depth instead of overflowing the stack", () => {
    const deep = new Uint8Array(100_000).fill(0x81) // [[[[…
    expect(() => DagCbor.decode(Uint8Array.from([...deep, 0x80]))).toThrow(DagCborError)
    expect(DagCbor.decode(Uint8Array.from([...new Uint8Array(10).fill(0x81), 0x80])).value).toEqual([[[[[[[[[[[]]]]]]]]]]])
  })

  it.each<[string, ReadonlyArray<number>]>([
    ["a length bomb", [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ["a byte string longer than the input", [0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]],
    ["a non-string key", [0xa1, 0x01, 0x02]],
    ["NaN", [0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ["infinity", [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]],
    ["a simple value", [0xf0]],
    ["a break", [0xff]],
    ["a tag 42 without the 0x00 prefix", [0xd8, 0x2a, 0x42, 0x01, 0x71]],
    ["a tag 42 over a string", [0xd8, 0x2a, 0x61, 0x61]],
    ["a non-minimal length", [0x58, 0x01, 0x00]],
    ["a non-minimal tag", [0xd9, 0x00, 0x2a, 0x43, 0x00, 0x01, 0x71]]
  ])("refuses %s", (_name, bytes) => {
    expect(() => DagCbor.decode(Uint8Array.from(bytes))).toThrow(DagCborError)
  })

  it("refuses to encode what DAG-CBOR cannot hold", () => {
    expect(() => DagCbor.fromJs({ a: undefined })).toThrow(DagCborError)
    expect(() => DagCbor.fromJs(new Map())).toThrow(DagCborError)
    expect(() => DagCbor.fromJs([1, , 3])).toThrow(DagCborError) // eslint-disable-line no-sparse-arrays
    expect(() => DagCbor.fromJs(Number.POSITIVE_INFINITY)).toThrow(DagCborError)
    expect(() => DagCbor.fromJs(2n ** 64n)).toThrow(DagCborError)
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    expect(() => DagCbor.fromJs(cyclic)).toThrow(DagCborError)
  })
})

const { DagCborError } = DagCbor
