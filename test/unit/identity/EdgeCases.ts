/**
 * Ed25519 edge-case vectors for the strict rules of PROTOCOL.md §2.1, built here from first
 * principles with `@noble/ed25519`'s point arithmetic (deterministically: no randomness), so
 * each one documents exactly what it exercises.
 *
 * Every case records three verdicts:
 * - `strict`: ours. Both `Ed25519.verify` (platform) and `Ed25519.verifyNoble` must give it.
 * - `nobleStrict`: plain `@noble/ed25519` 3.2.0 `verify` with `zip215: false`. It checks the
 *   cofactored equation, so it accepts a few key-holder-made signatures (R or A with a torsion
 *   component) that the cofactorless platform rejects; `verifyNoble` closes that gap.
 * - `nobleZip215`: the same library in its lenient default mode, for contrast: it shows which
 *   checks strictness adds.
 *
 * Notation: B base point, L group order, A = [a]B public key, k = SHA-512(R ‖ A ‖ M) mod L,
 * T8 a point of order 8; "small" = in the 8-point torsion subgroup, "mixed" = prime-order part
 * plus a non-zero torsion part.
 */
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import * as Ed25519 from "../../../src/identity/Ed25519.ts"

// Importing Ed25519.ts configures noble's synchronous SHA-512; referencing it keeps the import.
void Ed25519.signatureLength

type Point = InstanceType<typeof ed.Point>

/** The prime order of the base point. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n
/** The field prime. */
export const P = 2n ** 255n - 19n

export const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"))
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(Buffer.concat(parts))

export const leToBigInt = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

export const bigIntToLe32 = (value: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  let n = value
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  if (n !== 0n) throw new RangeError("does not fit in 32 bytes")
  return out
}

/** k = SHA-512(R ‖ A ‖ M) mod L over the exact bytes. */
export const challenge = (r: Uint8Array, a: Uint8Array, message: Uint8Array): bigint =>
  leToBigInt(sha512(concat(r, a, message))) % L

/** A fixed non-zero scalar derived from a label (test nonces; not secret, not random). */
const scalarOf = (label: string): bigint => (leToBigInt(sha512(utf8(label))) % (L - 1n)) + 1n

const signature = (r: Uint8Array, s: bigint): Uint8Array => concat(r, bigIntToLe32(s))

/** The torsion subgroup: T8 · i for i = 0..7 (T8 · 0 is the identity). */
export const orderEightPoint: Point = ed.Point.fromBytes(
  hex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
  false
)
export const torsion: ReadonlyArray<Point> = (() => {
  const points: Array<Point> = [ed.Point.ZERO]
  for (let i = 1; i < 8; i++) points.push(points[i - 1]!.add(orderEightPoint))
  return points
})()

/** The 8 canonical small-order encodings and the 6 non-canonical aliases of torsion points. */
export const canonicalSmallOrder: ReadonlyArray<string> = torsion.map((t) => toHex(t.toBytes()))
export const nonCanonicalSmallOrder: ReadonlyArray<string> = [
  "0100000000000000000000000000000000000000000000000000000000000080", // identity, sign bit set
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2, sign bit set
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p (≡ 0): order 4
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p, sign bit set
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1 (≡ 1): identity
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" //  y = p + 1, sign bit set
]

/** The honest signer of most cases: seed 32 × 0x42. */
export const honestSeed = new Uint8Array(32).fill(0x42)
const honest = ed.utils.getExtendedPublicKey(honestSeed)
export const honestPublicKey: Uint8Array = honest.pointBytes
const a = honest.scalar

export interface EdgeCase {
  readonly name: string
  /** What the case exercises and why each verdict is what it is. */
  readonly about: string
  readonly publicKey: Uint8Array
  readonly message: Uint8Array
  readonly signature: Uint8Array
  readonly strict: boolean
  readonly nobleStrict: boolean
  readonly nobleZip215: boolean
}

const cases: Array<EdgeCase> = []
const add = (c: EdgeCase): void => {
  cases.push(c)
}

// --- Control -------------------------------------------------------------------------------
{
  const message = utf8("an honest message")
  const sig = ed.sign(message, honestSeed)
  add({
    name: "honest signature",
    about: "control: an RFC 8032 signature by the key holder verifies everywhere",
    publicKey: honestPublicKey,
    message,
    signature: sig,
    strict: true,
    nobleStrict: true,
    nobleZip215: true
  })

  // --- Non-canonical S -----------------------------------------------------------------------
  const s = leToBigInt(sig.subarray(32))
  for (const [multiple, label] of [[1n, "S + L"], [14n, "S + 14L (top bits set)"]] as const) {
    add({
      name: `non-canonical S: ${label}`,
      about: "S ≥ L is the same scalar mod L; accepting it would make signatures malleable (RFC 8032 §5.1.7 " +
        "requires 0 ≤ S < L). Every mode refuses it.",
      publicKey: honestPublicKey,
      message,
      signature: signature(sig.subarray(0, 32), s + multiple * L),
      strict: false,
      nobleStrict: false,
      nobleZip215: false
    })
  }
  add({
    name: "S = L exactly",
    about: "the smallest non-reduced scalar",
    publicKey: honestPublicKey,
    message,
    signature: signature(sig.subarray(0, 32), L),
    strict: false,
    nobleStrict: false,
    nobleZip215: false
  })
}

// --- Small-order public keys (all 14 encodings), S = 0 ------------------------------------------
// With A small and S = 0 the cofactorless equation is 0 = R + [k]A, so R = −[k]A works whenever
// the hash happens to land on it (1 in 8 per try): search messages and torsion points for R.
for (const encoding of [...canonicalSmallOrder, ...nonCanonicalSmallOrder]) {
  const publicKey = hex(encoding)
  const point = ed.Point.fromBytes(publicKey, true) // lenient decoding reads the aliases too
  let found: EdgeCase | undefined
  for (let attempt = 0; found === undefined && attempt < 256; attempt++) {
    const message = utf8(`small-order A ${encoding}, attempt ${attempt}`)
    for (const r of torsion) {
      const rBytes = r.toBytes()
      const k = challenge(rBytes, publicKey, message)
      if (point.multiply(k, false).negate().equals(r)) {
        const canonical = canonicalSmallOrder.includes(encoding)
        found = {
          name: `small-order A ${encoding.slice(0, 8)}…${encoding.slice(-4)}${canonical ? "" : " (non-canonical)"}, S = 0`,
          about: "a torsion point as public key with R = −[k]A and S = 0 satisfies the cofactorless and the " +
            "cofactored equation for *any* party, i.e. a universal forgery; §2.1 refuses small-order keys" +
            (canonical ? "" : ", and this encoding is non-canonical as well"),
          publicKey,
          message,
          signature: signature(rBytes, 0n),
          strict: false,
          nobleStrict: false,
          nobleZip215: true
        }
        break
      }
    }
  }
  if (found === undefined) throw new Error(`no S = 0 forgery found for ${encoding}`)
  add(found)
}

// --- Small-order and non-canonical R under an honest key: S = k·a ---------------------------
// Then [S]B − [k]A = 0, so the cofactorless check holds only for R = identity (canonical), and
// the cofactored check holds for any torsion R. Only the key holder can make these.
{
  const rCases: ReadonlyArray<{ readonly encoding: string; readonly strict: boolean; readonly note: string }> = [
    {
      encoding: canonicalSmallOrder[0]!,
      strict: true,
      note: "R = identity (canonical) and S = k·a satisfy [S]B = R + [k]A exactly. §2.1 does not refuse " +
        "small-order R, every verifier accepts, and only the key holder can make it (it needs a)."
    },
    ...canonicalSmallOrder.slice(1).map((encoding) => ({
      encoding,
      strict: false,
      note: "R a non-identity torsion point and S = k·a: [S]B − [k]A = 0 ≠ R, so the cofactorless platform " +
        "refuses; the cofactored equation multiplies R's torsion away and plain noble accepts."
    })),
    ...nonCanonicalSmallOrder.map((encoding) => ({
      encoding,
      strict: false,
      note: "a non-canonical encoding of a torsion point as R, S = k·a: strict decoding refuses it; lenient " +
        "(ZIP-215) decoding reads it as a torsion point and the cofactored equation accepts."
    }))
  ]
  for (const { encoding, note, strict } of rCases) {
    const rBytes = hex(encoding)
    const message = utf8(`small-order R ${encoding}`)
    const k = challenge(rBytes, honestPublicKey, message)
    const canonical = canonicalSmallOrder.includes(encoding)
    add({
      name: `${canonical ? "small-order" : "non-canonical"} R ${encoding.slice(0, 8)}…${encoding.slice(-4)}, S = k·a`,
      about: note,
      publicKey: honestPublicKey,
      message,
      signature: signature(rBytes, (k * a) % L),
      strict,
      nobleStrict: canonical,
      nobleZip215: true
    })
  }
}

// --- Mixed-order R: R = [r]B + T8 -------------------------------------------------------------
{
  const r = scalarOf("mixed R nonce")
  const rBytes = ed.Point.BASE.multiply(r).add(orderEightPoint).toBytes()
  const message = utf8("mixed-order R")
  const k = challenge(rBytes, honestPublicKey, message)
  add({
    name: "mixed-order R = [r]B + T8",
    about: "the key holder adds a torsion point to R: [S]B − [k]A = [r]B ≠ R, so the cofactorless platform " +
      "refuses, while the cofactored equation (plain noble) accepts. Our noble path also checks the " +
      "cofactorless equation, so both our verifiers refuse.",
    publicKey: honestPublicKey,
    message,
    signature: signature(rBytes, (r + k * a) % L),
    strict: false,
    nobleStrict: true,
    nobleZip215: true
  })
}

// --- Mixed-order A: A = [a]B + T8 -------------------------------------------------------------
// The signer knows a; [S]B − [k]A = [r]B − [k]T8, which equals R = [r]B iff 8 divides k.
{
  const mixedKey = ed.Point.BASE.multiply(a).add(orderEightPoint).toBytes()
  const r = scalarOf("mixed A nonce")
  const rBytes = ed.Point.BASE.multiply(r).toBytes()
  for (const wantDivisible of [true, false]) {
    for (let attempt = 0; ; attempt++) {
      const message = utf8(`mixed-order A, attempt ${attempt}`)
      const k = challenge(rBytes, mixedKey, message)
      if ((k % 8n === 0n) !== wantDivisible) continue
      add({
        name: `mixed-order A = [a]B + T8, k ${wantDivisible ? "≡" : "≢"} 0 (mod 8)`,
        about: wantDivisible
          ? "a public key with a torsion component is not small order, so §2.1 admits it; with 8 | k the " +
            "torsion term vanishes and every equation holds. Honest keys never have torsion."
          : "same key, 8 ∤ k: [k]T8 ≠ 0, so the cofactorless platform refuses while the cofactored " +
            "equation (plain noble) accepts; our noble path refuses too.",
        publicKey: mixedKey,
        message,
        signature: signature(rBytes, (r + k * a) % L),
        strict: wantDivisible,
        nobleStrict: true,
        nobleZip215: true
      })
      break
    }
  }
}

// --- Non-canonical A that is not small order --------------------------------------------------
// y ≥ p aliases of points y = 2..18 that lie on the curve: nobody knows their discrete log, so no
// valid signature exists, but a lenient decoder would reach the curve equation with them.
{
  const message = utf8("non-canonical A")
  const sig = ed.sign(message, honestSeed)
  for (let t = 2n; t <= 18n; t++) {
    const alias = bigIntToLe32(P + t)
    let onCurve = true
    try {
      ed.Point.fromBytes(alias, true)
    } catch {
      onCurve = false
    }
    if (!onCurve) continue
    add({
      name: `non-canonical A: y = p + ${t}`,
      about: "a y ≥ p alias of a curve point as public key: strict decoding refuses it (§2.1).",
      publicKey: alias,
      message,
      signature: sig,
      strict: false,
      nobleStrict: false,
      nobleZip215: false
    })
    break
  }
}

// --- Not a point at all -----------------------------------------------------------------------
{
  const message = utf8("off-curve A")
  for (let t = 2n; ; t++) {
    const candidate = bigIntToLe32(t)
    let onCurve = true
    try {
      ed.Point.fromBytes(candidate, false)
    } catch {
      onCurve = false
    }
    if (onCurve) continue
    add({
      name: `off-curve A: y = ${t}`,
      about: "32 bytes that decode to no curve point cannot be a public key.",
      publicKey: candidate,
      message,
      signature: ed.sign(message, honestSeed),
      strict: false,
      nobleStrict: false,
      nobleZip215: false
    })
    break
  }
}

/** Every constructed case, in a fixed order. */
export const edgeCases: ReadonlyArray<EdgeCase> = cases
