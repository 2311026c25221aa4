/**
 * Properties of content addressing (PROTOCOL.md §12.1–§12.2):
 * - MCID text and binary forms round-trip, and any string or byte string whatever given to the
 *   parsers yields an MCID or an `McidError("invalid_mcid")`, nothing else; anything accepted
 *   prints back to exactly the input (one text per MCID);
 * - any content round-trips through its blocks, and its MCID is the one `Mcid.ofBytes` gives;
 * - any corrupted byte of chunked content is caught at the chunk it sits in, and only there;
 * - the manifest decoder, fed manifests with random mutations or random bytes, returns a
 *   manifest or a `ManifestError` and never throws; what it accepts re-encodes to the input.
 *
 * Regression cases: counterexamples found by these properties are pinned as `examples` of the
 * property that found them. None so far.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Base32 from "../src/content/Base32.ts"
import * as Blake3 from "../src/content/Blake3.ts"
import * as Content from "../src/content/Content.ts"
import * as Manifest from "../src/content/Manifest.ts"
import { ManifestError } from "../src/content/ManifestError.ts"
import * as Mcid from "../src/content/Mcid.ts"
import { McidError } from "../src/content/McidError.ts"
import { packr } from "../src/wire/Msgpack.ts"

const CS = 262_144

/** Content from a seed and a size: cheap to build at megabyte sizes. */
const contentOf = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

const arbMcid = fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([raw, d]) =>
  raw ? Mcid.raw(d) : Mcid.manifest(d)
)

/** Sizes around the interesting places: empty, one chunk, chunk boundaries, a few chunks. */
const arbSize = fc.oneof(
  fc.integer({ min: 0, max: 2_000 }),
  fc.integer({ min: CS - 3, max: CS + 3 }),
  fc.integer({ min: 2 * CS - 2, max: 2 * CS + 2 }),
  fc.integer({ min: CS + 1, max: 5 * CS })
)

describe("MCID parsing", () => {
  it("round-trips text and binary forms", () => {
    fc.assert(fc.property(arbMcid, (m) => {
      expect(Mcid.equals(Mcid.parse(Mcid.toString(m)), m)).toBe(true)
      expect(Mcid.equals(Mcid.fromBytes(Mcid.bytes(m)), m)).toBe(true)
    }), { numRuns: 500 })
  })

  const textish = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: fc.constantFrom(..."b" + Base32.alphabet + "AZ=01"), minLength: 54, maxLength: 58 }),
    fc.uint8Array({ minLength: 30, maxLength: 38 }).map((b) => "b" + Base32.encode(b)),
    arbMcid.chain((m) => fc.tuple(fc.nat(55), fc.string({ minLength: 1, maxLength: 1 })).map(([at, c]) => {
      const t = Mcid.toString(m)
      return t.slice(0, at) + c + t.slice(at + 1)
    }))
  )

  it("gives any string an MCID that prints back to it, or invalid_mcid", () => {
    fc.assert(fc.property(textish, (text) => {
      let out: unknown
      try {
        out = Mcid.parse(text)
      } catch (e) {
        expect(e).toBeInstanceOf(McidError)
        expect((e as McidError).reason).toBe("invalid_mcid")
        expect(Mcid.isValid(text)).toBe(false)
        return
      }
      expect(Mcid.toString(out as Mcid.Mcid)).toBe(text)
    }), { numRuns: 3_000 })
  })

  it("gives any byte string an MCID that encodes back to it, or invalid_mcid", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bin, shape) => {
      const b = shape && bin.length >= 2 ? Uint8Array.from([1, bin[0]! & 1 ? 0x55 : 0x56, ...bin.subarray(2), ...new Uint8Array(34)]).subarray(0, 34) : bin
      const m = Mcid.fromBinary(b)
      if (m === undefined) expect(() => Mcid.fromBytes(b)).toThrow(McidError)
      else expect(same(Mcid.bytes(m), b)).toBe(true)
    }), { numRuns: 2_000 })
  })
})

describe("content layout", () => {
  it("round-trips any content through its blocks under the MCID ofBytes gives", () => {
    fc.assert(fc.property(arbSize, fc.integer(), (size, seed) => {
      const data = contentOf(size, seed)
      const layout = Content.describe(data)
      expect(Mcid.equals(layout.mcid, Mcid.ofBytes(data))).toBe(true)
      for (const block of Content.blocks(layout)) expect(Mcid.verifies(block.mcid, block.bytes)).toBe(true)
      if (layout._tag === "single") {
        expect(same(layout.block.bytes, data)).toBe(true)
        return
      }
      const opened = Manifest.open(layout.mcid, layout.manifestBytes)
      expect(Manifest.isError(opened)).toBe(false)
      const manifest = opened as Manifest.Manifest
      expect(manifest.chunkCount).toBe(Math.ceil(size / CS))
      const byKey = new Map(layout.chunks.map((c) => [Mcid.key(c.mcid), c.bytes.slice()]))
      const back = Content.assemble(manifest, (i) => byKey.get(Mcid.key(Content.chunkMcid(manifest, i)))!)
      expect(same(back, data)).toBe(true)
    }), { numRuns: 40 })
  })

  it("catches any corrupted byte at the chunk it sits in, and only there", () => {
    fc.assert(fc.property(fc.integer({ min: CS + 1, max: 4 * CS }), fc.integer(), fc.nat(), fc.integer({ min: 1, max: 255 }), (size, seed, where, flip) => {
      const data = contentOf(size, seed)
      const manifest = Manifest.ofContent(data)
      const at = where % size
      const corrupted = data.slice()
      corrupted[at] = corrupted[at]! ^ flip
      expect(Content.corruptChunks(manifest, data)).toEqual([])
      expect(Content.corruptChunks(manifest, corrupted)).toEqual([Math.floor(at / CS)])
    }), { numRuns: 40 })
  })
})

describe("manifest decoder", () => {
  const arbManifestBytes = fc.tuple(
    fc.integer({ min: 2, max: 40 }),
    fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    fc.option(fc.string({ maxLength: 300 }), { nil: undefined })
  ).map(([n, name, mime]) => {
    const hashes = Array.from({ length: n }, (_, i) => Blake3.hash(new Uint8Array([i, n])))
    const size = (n - 1) * CS + 1 + ((n * 7919) % CS)
    return Manifest.encode({
      size, chunkCount: n, root: rootOf(hashes), hashes,
      ...(name === undefined ? {} : { name }), ...(mime === undefined ? {} : { mime })
    })
  })

  const check = (bytes: Uint8Array): void => {
    let out: Manifest.Manifest | ManifestError
    try {
      out = Manifest.decode(bytes)
    } catch (e) {
      throw new Error(`decode threw ${String(e)} on ${Buffer.from(bytes).toString("hex").slice(0, 200)}`)
    }
    if (out instanceof ManifestError) return
    expect(same(Manifest.encode(out), bytes)).toBe(true)
  }

  it("accepts every canonical manifest it encodes", () => {
    fc.assert(fc.property(arbManifestBytes, (bytes) => {
      expect(Manifest.isError(Manifest.decode(bytes))).toBe(false)
    }), { numRuns: 200 })
  })

  it("never throws on mutated manifests, and accepts only canonical bytes", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.nat(255) }),
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) })
    )
    fc.assert(fc.property(arbManifestBytes, fc.array(mutation, { minLength: 1, maxLength: 4 }), (bytes, mutations) => {
      let b = bytes
      for (const m of mutations) {
        const at = b.length === 0 ? 0 : m.at % b.length
        if (m.kind === "flip" && b.length > 0) (b = b.slice(), b[at] = b[at]! ^ (1 << m.bit))
        else if (m.kind === "cut") b = b.subarray(0, at)
        else if (m.kind === "insert") b = Uint8Array.from([...b.subarray(0, at), m.byte, ...b.subarray(at)])
        else if (m.kind === "set" && b.length > 0) (b = b.slice(), b[at] = m.byte)
      }
      check(b)
    }), { numRuns: 3_000 })
  })

  it("never throws on random bytes or on random msgpack maps", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 2_000 })
    const value = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.constant(null))
    const arbMap = fc.record({
      v: fc.oneof(fc.constant(1), value), size: fc.oneof(fc.integer({ min: 0, max: 10 * CS }), value), cs: fc.oneof(fc.constant(CS), value),
      n: fc.oneof(fc.integer({ min: 0, max: 12 }), value), root: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), value),
      h: fc.oneof(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 12 }), fc.array(value, { maxLength: 4 }), value)
    }, { requiredKeys: [] })
    fc.assert(fc.property(arbMap, (m) => check(packr.pack(m))), { numRuns: 2_000 })
  })
})

function rootOf(hashes: ReadonlyArray<Uint8Array>): Uint8Array {
  let level = hashes
  while (level.length > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < level.length; i += 2) next.push(Blake3.parent(level[i]!, level[i + 1] ?? level[i]!))
    level = next
  }
  return level[0]!
}
