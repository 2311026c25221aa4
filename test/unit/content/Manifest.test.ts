/**
 * Manifests (PROTOCOL.md §12.2): the exact bytes, the Merkle root with self-paired odd
 * hashes, and each refusal reason of the decoder.
 */
import { describe, expect, it } from "vitest"
import * as Blake3 from "../../../src/content/Blake3.ts"
import * as Chunker from "../../../src/content/Chunker.ts"
import * as Content from "../../../src/content/Content.ts"
import * as Manifest from "../../../src/content/Manifest.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as Merkle from "../../../src/content/Merkle.ts"
import { packr } from "../../../src/wire/Msgpack.ts"

const CS = 262_144
const content = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed * 7 + (i >>> 9)) & 255
  return out
}
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

const reason = (x: Manifest.Manifest | { readonly _tag: "ManifestError"; readonly reason: string }): string =>
  "reason" in x ? x.reason : "ok"

describe("Merkle.root", () => {
  it("hashes pairs left to right and pairs an odd last hash with itself", () => {
    const [a, b, c] = [Blake3.hash(new Uint8Array([1])), Blake3.hash(new Uint8Array([2])), Blake3.hash(new Uint8Array([3]))]
    expect(hex(Merkle.root([a]))).toBe(hex(a))
    expect(hex(Merkle.root([a, b]))).toBe(hex(Blake3.parent(a, b)))
    expect(hex(Merkle.root([a, b, c]))).toBe(hex(Blake3.parent(Blake3.parent(a, b), Blake3.parent(c, c))))
    expect(hex(Merkle.root([a, b, c]))).toBe(hex(Merkle.root([a, b, c, c])))
  })

  it("equals the level-by-level definition for every count up to 70", () => {
    const leaves = Array.from({ length: 70 }, (_, i) => Blake3.hash(new Uint8Array([i])))
    const byDefinition = (xs: ReadonlyArray<Uint8Array>): Uint8Array => {
      let level = xs
      while (level.length > 1) {
        const next: Array<Uint8Array> = []
        for (let i = 0; i < level.length; i += 2) next.push(Blake3.parent(level[i]!, level[i + 1] ?? level[i]!))
        level = next
      }
      return level[0]!
    }
    for (let n = 1; n <= 70; n++) expect([n, hex(Merkle.root(leaves.slice(0, n)))]).toEqual([n, hex(byDefinition(leaves.slice(0, n)))])
  })
})

describe("Manifest", () => {
  const data = content(2 * CS + 10)
  const manifest = Manifest.ofContent(data, { name: "x.bin", mime: "application/octet-stream" })

  it("writes the keys in order with the shortest encodings, as msgpack reads them", () => {
    const bytes = Manifest.encode(manifest)
    expect(bytes[0]).toBe(0x88)
    const decoded = packr.unpack(bytes) as Record<string, unknown>
    expect(Object.keys(decoded)).toEqual(["v", "size", "cs", "n", "root", "h", "name", "mime"])
    expect(decoded).toMatchObject({ v: 1, size: 2 * CS + 10, cs: CS, n: 3, name: "x.bin" })
    // size 524 298 → uint32 (0xce), cs → uint32, n → fixint.
    expect(hex(bytes.subarray(0, 20))).toBe("88a17601a473697a65ce0008000aa26373ce0004")
  })

  it("decodes its own bytes to an equal manifest and opens them under their MCID", () => {
    const bytes = Manifest.encode(manifest)
    const mcid = Mcid.manifest(Blake3.hash(bytes))
    const opened = Manifest.open(mcid, bytes)
    expect(reason(opened)).toBe("ok")
    expect(Manifest.encode(opened as Manifest.Manifest)).toEqual(bytes)
  })

  it("ofHashes and describeHashes build from chunk hashes what ofContent and describe build from bytes", () => {
    const bytes = content(3 * CS + 5, 4)
    const hashes = Chunker.hashes(bytes)
    expect(Manifest.ofHashes(bytes.length, hashes, { name: "x" })).toEqual(Manifest.ofContent(bytes, { name: "x" }))
    const streamed = Content.describeHashes(bytes.length, hashes)
    const whole = Content.describe(bytes)
    expect(whole._tag === "chunked" && same(streamed.manifestBytes, whole.manifestBytes)).toBe(true)
    expect(Mcid.equals(streamed.mcid, Mcid.ofBytes(bytes))).toBe(true)
    expect(() => Manifest.ofHashes(bytes.length, hashes.slice(1))).toThrow()
    expect(() => Manifest.ofHashes(CS, [hashes[0]!])).toThrow()
  })

  it("omits absent metadata, so equal bytes give equal MCIDs", () => {
    const a = Content.describe(data)
    const b = Content.describe(data.slice())
    expect(Mcid.equals(a.mcid, b.mcid)).toBe(true)
    expect(Mcid.equals(a.mcid, Mcid.ofBytes(data))).toBe(true)
    expect(Mcid.equals(a.mcid, Content.describe(data, { name: "x" }).mcid)).toBe(false)
  })

  it("refuses bytes under another MCID, and a raw MCID", () => {
    const bytes = Manifest.encode(manifest)
    expect(reason(Manifest.open(Mcid.manifest(Blake3.hash(new Uint8Array(1))), bytes))).toBe("hash_mismatch")
    expect(reason(Manifest.open(Mcid.raw(Blake3.hash(bytes)), bytes))).toBe("hash_mismatch")
  })

  const fields = (over: Record<string, unknown>): Uint8Array =>
    packr.pack({ v: 1, size: manifest.size, cs: CS, n: 3, root: manifest.root, h: manifest.hashes, ...over })

  it("refuses each inconsistency with its reason", () => {
    expect(reason(Manifest.decode(fields({})))).toBe("ok")
    expect(reason(Manifest.decode(fields({ v: 2 })))).toBe("inconsistent")
    expect(reason(Manifest.decode(fields({ cs: 1024 })))).toBe("inconsistent")
    expect(reason(Manifest.decode(fields({ n: 4 })))).toBe("inconsistent")
    expect(reason(Manifest.decode(fields({ size: 10, n: 1, h: [manifest.hashes[0]] })))).toBe("inconsistent")
    expect(reason(Manifest.decode(fields({ h: manifest.hashes.slice(0, 2) })))).toBe("inconsistent")
    expect(reason(Manifest.decode(fields({ root: new Uint8Array(32) })))).toBe("bad_root")
    expect(reason(Manifest.decode(fields({ root: "x" })))).toBe("malformed")
    expect(reason(Manifest.decode(fields({ size: -1 })))).toBe("malformed")
    expect(reason(Manifest.decode(fields({ extra: 1 })))).toBe("not_canonical")
    expect(reason(Manifest.decode(fields({}), { maxChunks: 2 }))).toBe("too_many_chunks")
    expect(reason(Manifest.decode(new Uint8Array([0x91, 0x01])))).toBe("malformed")
    expect(reason(Manifest.decode(new Uint8Array(0)))).toBe("malformed")
  })

  it("refuses the right fields in the wrong order or with longer encodings", () => {
    const swapped = packr.pack({ size: manifest.size, v: 1, cs: CS, n: 3, root: manifest.root, h: manifest.hashes })
    expect(reason(Manifest.decode(swapped))).toBe("not_canonical")
    const bytes = Manifest.encode({ size: manifest.size, chunkCount: 3, root: manifest.root, hashes: manifest.hashes })
    // `v` 1 as uint8 (0xcc 0x01) rather than a fixint.
    const longer = new Uint8Array([...bytes.subarray(0, 3), 0xcc, 0x01, ...bytes.subarray(4)])
    expect(reason(Manifest.decode(longer))).toBe("not_canonical")
  })
})

describe("Content", () => {
  it("lays out small content as one raw block and large content as a manifest and chunks", () => {
    const small = Content.describe(content(100))
    expect(small._tag).toBe("single")
    expect(Content.blocks(small)).toHaveLength(1)
    const large = Content.describe(content(3 * CS))
    expect(large._tag).toBe("chunked")
    expect(Content.blocks(large)).toHaveLength(4)
    if (large._tag !== "chunked") return
    expect(large.chunks.every((c) => Mcid.verifies(c.mcid, c.bytes))).toBe(true)
    expect(same(Content.assemble(large.manifest, (i) => large.chunks[i]!.bytes), content(3 * CS))).toBe(true)
  })

  it("checks a chunk's hash and length", () => {
    const data = content(CS + 5)
    const m = Manifest.ofContent(data)
    expect(Content.verifyChunk(m, 1, data.subarray(CS))).toBe(true)
    expect(Content.verifyChunk(m, 0, data.subarray(CS))).toBe(false)
    expect(Content.verifyChunk(m, 2, data.subarray(CS))).toBe(false)
  })
})
