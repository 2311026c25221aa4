/**
 * Node ids (PROTOCOL.md §2.3) and station proof of work (§2.4). Expected values were computed
 * independently (Python hashlib and the `cryptography` package).
 */
import { describe, expect, it } from "vitest"
import * as Ed25519 from "../../../src/identity/Ed25519.ts"
import * as NodeId from "../../../src/identity/NodeId.ts"

const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"))
const seedOf = (n: number) => {
  const seed = new Uint8Array(32)
  new DataView(seed.buffer).setUint32(28, n)
  return seed
}

describe("NodeId.ofPublicKey", () => {
  it("is SHA-256 of the public key", () => {
    const key = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a") // RFC 8032 TEST 1
    expect(NodeId.toHex(NodeId.ofPublicKey(key))).toBe("21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9")
    expect(NodeId.ofPublicKey(key).length).toBe(NodeId.length)
  })
})

describe("leadingZeroBits", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<number>, number]> = [
    [[], 0],
    [[0x80], 0],
    [[0x7f], 1],
    [[0x01], 7],
    [[0x00], 8],
    [[0x00, 0x40], 9],
    [[0x00, 0x00, 0x01], 23],
    [[0x00, 0x00], 16]
  ]
  for (const [input, bits] of cases) {
    it(`counts ${bits} in [${input.join(", ")}]`, () => {
      expect(NodeId.leadingZeroBits(Uint8Array.from(input))).toBe(bits)
    })
  }
})

describe("proof of work", () => {
  // Seeds are 32-byte big-endian integers; values found by an independent search.
  const pinned: ReadonlyArray<readonly [number, string, number]> = [
    [0, "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", 0],
    [3, "f381626e41e7027ea431bfe3009e94bdd25a746beec468948d6c3c7c5dc9a54b", 2],
    [73, "dd2d54263c31faa79756b986a5d1e1fe2788c9ab6a6ed3c695fe451a367cbacf", 8],
    [2716, "9fdf04ddb08e720ef602548455ac9e16d61c645c60e912c1e0a1a261c909d22b", 12]
  ]
  for (const [seed, publicKey, bits] of pinned) {
    it(`counts ${bits} bits for the key of seed ${seed}`, () => {
      expect(NodeId.toHex(Ed25519.publicKeyOf(seedOf(seed)))).toBe(publicKey)
      expect(NodeId.powBits(hex(publicKey))).toBe(bits)
      expect(NodeId.powBitsOfNodeId(NodeId.ofPublicKey(hex(publicKey)))).toBe(bits)
      expect(NodeId.meetsPow(hex(publicKey), bits)).toBe(true)
      expect(NodeId.meetsPow(hex(publicKey), bits + 1)).toBe(false)
    })
  }

  it("hashes twice: SHA-256(SHA-256(key))", () => {
    const key = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    // SHA-256(node id) = 88d25b…, whose first byte 0x88 has no leading zero bit.
    expect(NodeId.powBits(key)).toBe(0)
  })

  it("treats 0 (or less) as disabled", () => {
    expect(NodeId.meetsPow(new Uint8Array(32), 0)).toBe(true)
    expect(NodeId.meetsPow(new Uint8Array(32), -3)).toBe(true)
  })
})
