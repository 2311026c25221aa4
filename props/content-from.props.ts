/**
 * The identity fields of content frames (PROTOCOL.md §12.6, §13.0, §14): `from` on
 * `content.have` / `content.want` / `content.manifest_req`, and `au` on them, whatever their
 * values. The codec gives a frame whose `from` is exactly a 32-byte key and whose `au` is
 * `{inv: bin, prf: [bin]}`, or a typed `invalid_field` naming the field, never a throw; the same
 * fields on a content frame that does not carry them are ignored. What decodes then goes
 * through every pure piece that reads those fields (the station's stamps, the recipient's
 * `Push.senderOf`, the requester, and a members-only, fully pinned node's UCAN judges) without a
 * throw, and garbage `au` is always denied.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Did from "../src/identity/Did.ts"
import { Identity } from "../src/identity/Identity.ts"
import * as Realm from "../src/identity/Realm.ts"
import * as ContentAuthority from "../src/node/ContentAuthority.ts"
import * as Push from "../src/protocols/content/Push.ts"
import * as Relay from "../src/protocols/content/Relay.ts"
import * as Wire from "../src/testkit/arbitraries/Wire.ts"
import * as Codec from "../src/wire/Codec.ts"
import { DecodeError } from "../src/wire/DecodeError.ts"
import type { ContentHave, Frame } from "../src/wire/Frame.ts"
import { packr } from "../src/wire/Msgpack.ts"

const realm = "io.example"
const authority = Identity.generate()
const node = Identity.generate()
const peer = Identity.generate()
const m = Uint8Array.from([0x01, 0x55, ...new Uint8Array(32).fill(7)])

const bases: Record<"content.have" | "content.want" | "content.manifest_req", Record<string, unknown>> = {
  "content.have": { t: "content.have", h: [{ m, y: true, sz: 10 }] },
  "content.want": { t: "content.want", w: [{ m, k: "have" }] },
  "content.manifest_req": { t: "content.manifest_req", id: 1, m }
}

/** A key field's value: mostly bins around 32 bytes, sometimes anything at all. */
const keyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 70 }).chain((n) => Wire.bytes(n)) },
  { weight: 1, arbitrary: Wire.anyValue }
)

/** An `au` value: well-shaped with garbage tokens, mis-shaped, or anything at all. */
const auValue: fc.Arbitrary<unknown> = fc.oneof(
  Wire.authority,
  fc.record({ inv: Wire.anyValue, prf: fc.oneof(Wire.anyValue, fc.array(Wire.anyValue, { maxLength: 3 })) }, { requiredKeys: [] }),
  Wire.anyValue
)

const fields = fc.record({ from: keyValue, to: keyValue, au: auValue }, { requiredKeys: [] })

const decode = (value: Record<string, unknown>): unknown => Codec.decodeBody(Uint8Array.from(packr.pack({ v: 1, ...value })))

const isBin32 = (x: unknown): boolean => x instanceof Uint8Array && x.length === 32

const authorityNode = ContentAuthority.forNode({
  role: "station",
  identity: node,
  delegations: [],
  servePolicy: { _tag: "Members", realm, authority: authority.did },
  realmAuthorities: { [realm]: authority.did },
  servedRealms: [Realm.idHex(realm)],
  now: () => 1_800_000_000_000
})
const didOf = (key: Uint8Array): string | undefined => (key.length === 32 ? Did.fromPublicKeyUnsafe(key) : undefined)

describe("from, to and au on content frames", () => {
  it("decode to a 32-byte key and a well-shaped au, or to invalid_field naming the field; garbage au is denied", () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(bases) as Array<keyof typeof bases>), fields, (t, extra) => {
        const sent = { ...bases[t], ...extra }
        const out = decode(sent)
        if (out instanceof DecodeError) {
          expect(out.code).toBe("invalid_field")
          expect(out.detail).toMatch(/\b(from|to|au)\b/)
          return
        }
        const frame = out as Frame & { readonly from?: unknown; readonly to?: unknown; readonly au?: { inv: unknown; prf: ReadonlyArray<unknown> } }
        expect(frame.t).toBe(t)
        // A wrong-length key never gets through: the codec refuses it rather than dropping it.
        if (sent.from instanceof Uint8Array) expect(isBin32(sent.from)).toBe(true)
        if (frame.from !== undefined) expect(isBin32(frame.from)).toBe(true)
        if (frame.to !== undefined) expect(isBin32(frame.to)).toBe(true)
        if (frame.au !== undefined) {
          expect(frame.au.inv).toBeInstanceOf(Uint8Array)
          expect(frame.au.prf.every((p) => p instanceof Uint8Array)).toBe(true)
        }
        // Every pure reader of these fields takes the frame without a throw.
        for (const role of ["client", "station"] as const) {
          const upstream = { role, key: peer.publicKey }
          const stamped = Relay.stampRelayed(frame, upstream)
          const confined = Relay.confineFrom(frame, upstream)
          if (role === "client" && (stamped as { from?: Uint8Array }).from !== undefined) expect((stamped as { from?: Uint8Array }).from).toEqual(peer.publicKey)
          if (role === "client" && (confined as { from?: Uint8Array }).from !== undefined) expect((confined as { from?: Uint8Array }).from).toEqual(peer.publicKey)
          if (frame.t === "content.have") Push.senderOf(frame as ContentHave, { did: peer.did, role }, didOf)
        }
        const from = frame.from as Uint8Array | undefined
        expect(typeof ContentAuthority.requesterOf(peer.did, from)).toBe("string")
        const au = frame.au as Parameters<NonNullable<typeof authorityNode.serve>>[0]["au"]
        expect(authorityNode.serve!({ peerDid: peer.did, from, au })._tag).toBe("Denied")
        expect(authorityNode.admitOffer!({ peerDid: peer.did, from, au, mcid: "bafkqaaa", size: 10 })._tag).toBe("Denied")
      }),
      { numRuns: 800 }
    )
  })

  it("are ignored on content frames that do not carry them", () => {
    const others: ReadonlyArray<Record<string, unknown>> = [
      { t: "content.block", m, d: new Uint8Array(5) },
      { t: "content.cancel", c: [m] },
      { t: "content.manifest_res", id: 1, m, man: new Uint8Array(4) }
    ]
    fc.assert(
      fc.property(fc.constantFrom(...others), fields, (base, extra) => {
        const out = decode({ ...base, ...extra })
        expect(out).not.toBeInstanceOf(DecodeError)
        expect(out).toEqual(decode(base))
        expect(Object.keys(out as object)).not.toContain("au")
        expect(Object.keys(out as object)).not.toContain("from")
      }),
      { numRuns: 300 }
    )
  })
})
