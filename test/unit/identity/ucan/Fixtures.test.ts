/**
 * The official UCAN 1.0 fixtures (`fixtures/1.0.0` of the specification), copied into
 * `test/vectors/`:
 * - `ucan-1.0.0-delegation.json` (final, `@1.0.0` tags) and `ucan-1.0.0-rc.1-delegation.json`
 *   (the same case at `@1.0.0-rc.1`): decode, CID, signature, payload, principals;
 * - `ucan-1.0.0-invocation.json` (`@1.0.0-rc.1` tags, which decoders accept): every valid case
 *   verifies, every invalid case fails with the expected error name;
 * - `ucan-1.0.0-policy.json`: every valid policy holds on its args, every invalid one does not.
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { equals as equalBytes } from "../../../../src/core/Bytes.ts"
import { Identity } from "../../../../src/identity/Identity.ts"
import { base64Decode } from "../../../../src/identity/ucan/Bytes.ts"
import * as DagCbor from "../../../../src/identity/ucan/DagCbor.ts"
import * as Ucan from "../../../../src/identity/ucan/index.ts"

const vectors = resolve(import.meta.dirname, "../../../vectors")
const load = (name: string): any => JSON.parse(readFileSync(resolve(vectors, name), "utf8"))
const b64 = (text: string): Uint8Array => {
  const bytes = base64Decode(text)
  if (bytes === undefined) throw new Error(`bad base64 in a fixture: ${text.slice(0, 20)}…`)
  return bytes
}
const dagJsonBytes = (node: { "/": { bytes: string } }): Uint8Array => b64(node["/"].bytes)

/** A time after every fixture's `nbf` and `exp` (2025-10) but before the `nbf` of year 9999. */
const NOW = 1_780_000_000

describe.each(["ucan-1.0.0-delegation.json", "ucan-1.0.0-rc.1-delegation.json"])("delegation fixtures %s", (file) => {
  const fixture = load(file)
  const principals: Record<string, Identity> = Object.fromEntries(
    Object.entries(fixture.principals as Record<string, string>).map(([name, key]) => {
      const raw = b64(key)
      // base64pad(varint(0x1300) ‖ private key): the varint is 0x80 0x26.
      expect([raw[0], raw[1], raw.length]).toEqual([0x80, 0x26, 34])
      return [name, Identity.fromSeed(raw.subarray(2))]
    })
  )

  it.each<[string, any]>(fixture.valid.map((c: any) => [c.name, c]))("%s decodes, names and verifies", (_name, c) => {
    const token = b64(c.token)
    const decoded = Ucan.decode(token)
    expect(decoded.kind).toBe("delegation")
    if (decoded.kind !== "delegation") return
    expect(Ucan.cid(token)).toBe(c.cid)
    expect(decoded.cid).toBe(c.cid)
    expect(decoded.version).toBe(c.envelope.version)
    expect(decoded.signature).toEqual(b64(c.envelope.signature))
    expect(Identity.verify(decoded.iss, decoded.signedBytes, decoded.signature)).toBe(true)
    const p = c.envelope.payload
    expect({ iss: decoded.iss, aud: decoded.aud, sub: decoded.sub, cmd: decoded.cmd, pol: decoded.pol, exp: decoded.exp }).toEqual({
      iss: p.iss,
      aud: p.aud,
      sub: p.sub,
      cmd: p.cmd,
      pol: p.pol,
      exp: p.exp
    })
    expect(decoded.nonce).toEqual(b64(p.nonce))
    // "bob > carol": the principals' keys give the DIDs of the payload.
    expect(principals["bob"]!.did).toBe(p.iss)
    expect(principals["carol"]!.did).toBe(p.aud)
  })

  it("re-signing the fixture payload with bob's key reproduces the token byte for byte", () => {
    // Ed25519 is deterministic, so the same payload and key give the same envelope (final tag only).
    const c = fixture.valid[0]
    if (c.envelope.version !== "1.0.0") return
    const token = Ucan.delegate({
      issuer: principals["bob"]!,
      audience: c.envelope.payload.aud,
      subject: c.envelope.payload.sub,
      command: c.envelope.payload.cmd,
      policy: c.envelope.payload.pol,
      expiration: c.envelope.payload.exp,
      nonce: b64(c.envelope.payload.nonce)
    })
    expect(token).toEqual(b64(c.token))
    expect(Ucan.cid(token)).toBe(c.cid)
  })
})

describe("invocation fixtures", () => {
  const fixture = load("ucan-1.0.0-invocation.json")
  const run = (c: any) =>
    Ucan.verifyInvocation(dagJsonBytes(c.invocation), c.proofs.map(dagJsonBytes), { now: NOW })

  it.each<[string, any]>(fixture.valid.map((c: any) => [c.name, c]))("valid: %s", (_name, c) => {
    const result = run(c)
    expect(result.ok ? "ok" : `${result.error.name}: ${result.error.message}`).toBe("ok")
    if (!result.ok) return
    expect(result.chain.length).toBe(c.proofs.length + 1)
    expect(result.chain[result.chain.length - 1]!.kind).toBe("invocation")
  })

  it.each<[string, string, any]>(fixture.invalid.map((c: any) => [c.name, c.error.name, c]))("invalid: %s → %s", (_name, expected, c) => {
    const result = run(c)
    expect(result.ok ? "ok" : result.error.name).toBe(expected)
  })

  it("every fixture token is canonical DAG-CBOR: decoding and re-encoding gives the same bytes", () => {
    const tokens = [...fixture.valid, ...fixture.invalid].flatMap((c: any) => [c.invocation, ...c.proofs].map(dagJsonBytes))
    expect(tokens.length).toBeGreaterThan(30)
    for (const bytes of tokens) expect(equalBytes(DagCbor.encode(DagCbor.decode(bytes).value), bytes)).toBe(true)
  })

  it("exercises every error name of the specification but MalformedToken (covered in Chain.test.ts)", () => {
    const names = new Set(fixture.invalid.map((c: any) => c.error.name))
    expect([...names].sort()).toEqual(
      ["Expired", "InvalidAudience", "InvalidClaim", "InvalidSignature", "InvalidSubject", "MatchError", "TooEarly", "UnavailableProof"].sort()
    )
  })
})

describe("policy fixtures", () => {
  const fixture = load("ucan-1.0.0-policy.json")
  const cases = (kind: "valid" | "invalid"): Array<[string, any, any]> =>
    fixture[kind].flatMap((c: any, i: number) =>
      c.policies.map((policy: any, j: number) => [`${kind}[${i}] policy ${j}: ${JSON.stringify(policy)}`, policy, c.args])
    )

  it.each<[string, any, any]>(cases("valid"))("holds: %s", (_name, policy, args) => {
    expect(Ucan.matchesPolicy(policy, args)).toBe(true)
  })

  it.each<[string, any, any]>(cases("invalid"))("does not hold: %s", (_name, policy, args) => {
    expect(Ucan.matchesPolicy(policy, args)).toBe(false)
  })
})
