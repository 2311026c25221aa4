/**
 * One table per frame type of PROTOCOL.md §6 (and `hello`, §3.4): a valid frame decodes to
 * itself; each required field missing, a mistyped field, a bin of the wrong size and an
 * oversize frame or field are each rejected with the reset name of §4.1/§4.4.
 */
import { describe, expect, it } from "vitest"
import * as Codec from "../../../src/wire/Codec.ts"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { DecodeError } from "../../../src/wire/DecodeError.ts"
import type { Frame, FrameOf, FrameType } from "../../../src/wire/Frame.ts"
import { frameTypes } from "../../../src/wire/Frame.ts"
import { packr } from "../../../src/wire/Msgpack.ts"

const bin = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill)
const signed = { b: bin(20, 1), s: bin(64, 2) }
const authority = { inv: bin(10, 3), prf: [bin(5, 4)] }
const contact = { pk: bin(32, 5), a: ["quic://10.0.0.1:4433"] }

/** Packs a raw wire map (with `v: 1`), bypassing the catalogue. */
const body = (fields: object): Uint8Array => Uint8Array.from(packr.pack({ v: 1, ...fields }))

const decodeRaw = (fields: object, config = CodecConfig.defaults): Frame | DecodeError =>
  Codec.decodeBody(body(fields), config)

const codeOf = (out: Frame | DecodeError): string => (out instanceof DecodeError ? out.code : "accepted")

interface Table<T extends FrameType> {
  /** A frame with every field set (optional ones included). */
  readonly valid: FrameOf<T>
  /** Fields whose absence is `invalid_field`. */
  readonly required: ReadonlyArray<string>
  /** A field set to a value of the wrong type. */
  readonly mistyped: ReadonlyArray<readonly [field: string, value: unknown]>
  /** A `binN` field set to N−1 or N+1 bytes. */
  readonly wrongSize: ReadonlyArray<readonly [field: string, value: unknown]>
  /** A field beyond a size limit of the catalogue (not the frame limit). */
  readonly oversizeField: ReadonlyArray<readonly [field: string, value: unknown]>
}

const tables: { readonly [T in FrameType]: Table<T> } = {
  "hello": {
    valid: {
      t: "hello",
      role: "station",
      vers: [1],
      feat: ["x"],
      realms: [bin(32)],
      addrs: ["quic://127.0.0.1:4433"],
      lim: { f: 1_048_576 },
      ts: 1_700_000_000_000,
      peers: [contact],
      impl: "macula-node/0.1.0"
    },
    required: ["role", "vers", "feat", "realms", "addrs", "lim", "ts"],
    mistyped: [["role", "router"], ["vers", [1, -1]], ["feat", [1]], ["lim", { f: "big" }], ["ts", "now"], [
      "peers",
      [{ pk: bin(32), a: "x" }]
    ]],
    wrongSize: [["realms", [bin(31)]], ["peers", [{ pk: bin(33), a: [] }]]],
    oversizeField: [["addrs", new Array(9).fill("quic://a:1")], ["impl", "x".repeat(65)]]
  },
  "ping": { valid: { t: "ping", n: 42 }, required: ["n"], mistyped: [["n", "42"], ["n", -1], ["n", 1.5]], wrongSize: [], oversizeField: [] },
  "pong": { valid: { t: "pong", n: 42 }, required: ["n"], mistyped: [["n", true]], wrongSize: [], oversizeField: [] },
  "goodbye": {
    valid: { t: "goodbye", c: "going_away", m: "bye", after: 1_000 },
    required: ["c"],
    mistyped: [["c", 3], ["m", bin(2)], ["after", "soon"]],
    wrongSize: [],
    oversizeField: []
  },
  "resync": {
    valid: { t: "resync", what: ["sub", "adv", "interest"] },
    required: ["what"],
    mistyped: [["what", "sub"], ["what", ["sub", "everything"]]],
    wrongSize: [],
    oversizeField: []
  },
  "ok": { valid: { t: "ok", id: 1, n: 6, cur: 9 }, required: ["id"], mistyped: [["id", "1"], ["cur", -3]], wrongSize: [], oversizeField: [] },
  "err": {
    valid: { t: "err", id: 1, c: "unauthorized", r: "Expired", m: "token expired" },
    required: ["c"],
    mistyped: [["c", 1], ["r", false], ["id", "x"]],
    wrongSize: [],
    oversizeField: [["m", "é".repeat(129)]]
  },
  "swim.ping": {
    valid: { t: "swim.ping", id: 1, g: [signed] },
    required: ["id", "g"],
    mistyped: [["g", [{ b: "x", s: bin(64) }]], ["g", signed]],
    wrongSize: [["g", [{ b: bin(3), s: bin(63) }]]],
    oversizeField: []
  },
  "swim.ping_req": {
    valid: { t: "swim.ping_req", id: 1, pk: bin(32), g: [] },
    required: ["id", "pk", "g"],
    mistyped: [["pk", "key"]],
    wrongSize: [["pk", bin(31)], ["pk", bin(33)]],
    oversizeField: []
  },
  "swim.ack": {
    valid: { t: "swim.ack", id: 1, g: [signed, signed] },
    required: ["id", "g"],
    mistyped: [["g", null]],
    wrongSize: [["g", [{ b: bin(3), s: bin(65) }]]],
    oversizeField: []
  },
  "swim.nack": { valid: { t: "swim.nack", id: 1 }, required: ["id"], mistyped: [["id", [1]]], wrongSize: [], oversizeField: [] },
  "swim.sync": {
    valid: { t: "swim.sync", id: 1, m: [signed] },
    required: ["id", "m"],
    mistyped: [["m", [1]]],
    wrongSize: [["m", [{ b: bin(1), s: bin(32) }]]],
    oversizeField: []
  },
  "dht.find_node": {
    valid: { t: "dht.find_node", id: 1, key: bin(32) },
    required: ["id", "key"],
    mistyped: [["key", "k"]],
    wrongSize: [["key", bin(31)]],
    oversizeField: []
  },
  "dht.nodes": {
    valid: { t: "dht.nodes", id: 1, n: [contact] },
    required: ["id", "n"],
    mistyped: [["n", [{ pk: "pk", a: [] }]]],
    wrongSize: [["n", [{ pk: bin(31), a: [] }]]],
    oversizeField: []
  },
  "dht.find_value": {
    valid: { t: "dht.find_value", id: 1, key: bin(32), ty: "provider" },
    required: ["id", "key"],
    mistyped: [["ty", 3]],
    wrongSize: [["key", bin(34)]],
    oversizeField: []
  },
  "dht.value": {
    valid: { t: "dht.value", id: 1, r: [signed], n: [contact] },
    required: ["id", "r"],
    mistyped: [["r", signed], ["n", contact]],
    wrongSize: [["r", [{ b: bin(1), s: bin(1) }]]],
    oversizeField: []
  },
  "dht.store": {
    valid: { t: "dht.store", id: 1, r: signed },
    required: ["id", "r"],
    mistyped: [["r", [signed]], ["r", { b: bin(1) }]],
    wrongSize: [["r", { b: bin(1), s: bin(63) }]],
    oversizeField: []
  },
  "dht.store_ack": {
    valid: { t: "dht.store_ack", id: 1, ok: false, why: "key_full", n: 2 },
    required: ["id", "ok"],
    mistyped: [["ok", 1], ["why", true]],
    wrongSize: [],
    oversizeField: []
  },
  "dht.get": {
    valid: { t: "dht.get", id: 1, key: bin(32), ty: "endpoint" },
    required: ["id", "key"],
    mistyped: [["key", [1, 2]]],
    wrongSize: [["key", bin(0)]],
    oversizeField: []
  },
  "dht.put": {
    valid: { t: "dht.put", id: 1, r: signed },
    required: ["id", "r"],
    mistyped: [["r", "record"]],
    wrongSize: [["r", { b: bin(1), s: bin(65) }]],
    oversizeField: []
  },
  "sub": {
    valid: { t: "sub", id: 1, sid: 2, realm: bin(32), pat: "io.macula/acme/app/d/#", mode: "alo", cur: 5, au: authority },
    required: ["id", "sid", "realm", "pat"],
    mistyped: [["mode", "exactly-once"], ["pat", bin(3)], ["au", { inv: "x", prf: [] }], ["au", { inv: bin(1), prf: ["x"] }]],
    wrongSize: [["realm", bin(16)]],
    oversizeField: []
  },
  "unsub": { valid: { t: "unsub", id: 1, sid: 2 }, required: ["id", "sid"], mistyped: [["sid", "2"]], wrongSize: [], oversizeField: [] },
  "pub": {
    valid: { t: "pub", id: 3, b: bin(40), s: bin(64), au: authority },
    required: ["b", "s"],
    mistyped: [["b", "body"], ["id", -1]],
    wrongSize: [["s", bin(63)]],
    oversizeField: []
  },
  "event": {
    valid: { t: "event", sid: [1, 2], b: bin(40), s: bin(64), cur: 9 },
    required: ["sid", "b", "s"],
    mistyped: [["sid", 1], ["sid", [1, "2"]]],
    wrongSize: [["s", bin(65)]],
    oversizeField: []
  },
  "ack": { valid: { t: "ack", sid: 1, cur: 2 }, required: ["sid", "cur"], mistyped: [["cur", null]], wrongSize: [], oversizeField: [] },
  "gap": {
    valid: { t: "gap", sid: 1, from: 2, to: 3, why: "overflow" },
    required: ["sid", "from", "to", "why"],
    mistyped: [["why", "because"], ["to", "3"]],
    wrongSize: [],
    oversizeField: []
  },
  "fwd": { valid: { t: "fwd", b: bin(30), s: bin(64) }, required: ["b", "s"], mistyped: [["b", 1]], wrongSize: [["s", bin(32)]], oversizeField: [] },
  "interest.sync": {
    valid: { t: "interest.sync", id: 1, gen: 2, e: [[bin(32), "io.macula/#"]], more: true },
    required: ["id", "gen", "e", "more"],
    mistyped: [["e", [[bin(32), 3]]], ["more", "yes"], ["e", [[bin(32)]]]],
    wrongSize: [["e", [[bin(31), "io.macula/#"]]]],
    oversizeField: []
  },
  "interest.add": {
    valid: { t: "interest.add", id: 1, gen: 2, e: [[bin(32), "io.macula/a/b/c/d_v1"]] },
    required: ["gen", "e"],
    mistyped: [["gen", "2"]],
    wrongSize: [["e", [[bin(33), "x"]]]],
    oversizeField: []
  },
  "interest.del": {
    valid: { t: "interest.del", gen: 2, e: [] },
    required: ["gen", "e"],
    mistyped: [["e", {}]],
    wrongSize: [["e", [[bin(0), "x"]]]],
    oversizeField: []
  },
  "adv": {
    valid: { t: "adv", id: 1, realm: bin(32), proc: "io.macula/acme/app/calc/add_v1", modes: ["unary", "bidi"], rec: signed, au: authority },
    required: ["id", "realm", "proc", "modes", "rec"],
    mistyped: [["modes", ["duplex"]], ["rec", "r"]],
    wrongSize: [["realm", bin(31)]],
    oversizeField: []
  },
  "unadv": {
    valid: { t: "unadv", id: 1, realm: bin(32), proc: "io.macula/acme/app/calc/add_v1", rec: signed },
    required: ["id", "realm", "proc", "rec"],
    mistyped: [["proc", 1]],
    wrongSize: [["realm", bin(33)]],
    oversizeField: []
  },
  "call": {
    valid: {
      t: "call",
      id: 1,
      cid: bin(16),
      realm: bin(32),
      proc: "io.macula/acme/app/calc/add_v1",
      a: { x: 1, y: [2.5, "three", null, bin(2)] },
      ttl: 5_000,
      idem: true,
      mode: "server",
      to: bin(32, 1),
      from: bin(32, 2),
      hop: 1,
      cr: 64,
      au: authority,
      ucan: authority
    },
    required: ["id", "cid", "realm", "proc", "a", "ttl", "idem", "hop"],
    mistyped: [["idem", "yes"], ["mode", "stream"], ["hop", -1]],
    wrongSize: [["cid", bin(15)], ["to", bin(31)], ["from", bin(33)]],
    oversizeField: []
  },
  "reply": {
    valid: { t: "reply", id: 1, r: [1, 2, 3], e: { c: "handler_error", m: "boom", d: { why: "x" }, by: bin(32) } },
    required: ["id"],
    mistyped: [["e", { c: "kaboom" }], ["e", "handler_error"], ["e", { c: "overloaded", m: 5 }]],
    wrongSize: [["e", { c: "overloaded", by: bin(31) }]],
    oversizeField: []
  },
  "cancel": { valid: { t: "cancel", id: 1 }, required: ["id"], mistyped: [["id", false]], wrongSize: [], oversizeField: [] },
  "s.data": { valid: { t: "s.data", q: 0, d: { chunk: "hello" } }, required: ["q", "d"], mistyped: [["q", "0"]], wrongSize: [], oversizeField: [] },
  "s.end": { valid: { t: "s.end" }, required: [], mistyped: [], wrongSize: [], oversizeField: [] },
  "s.credit": { valid: { t: "s.credit", n: 64 }, required: ["n"], mistyped: [["n", 2 ** 53]], wrongSize: [], oversizeField: [] },
  "content.want": {
    valid: { t: "content.want", w: [{ m: bin(34), k: "block", p: 200 }, { m: bin(34, 1), k: "have" }], full: true, to: bin(32), from: bin(32, 1), au: authority },
    required: ["w"],
    mistyped: [["w", [{ m: bin(34), k: "all" }]], ["full", 1], ["w", [bin(34)]], ["from", "did:key:z6Mk"], ["au", { inv: "x", prf: [] }], ["au", bin(8)]],
    wrongSize: [["w", [{ m: bin(33), k: "block" }]], ["to", bin(31)], ["from", bin(33)], ["from", bin(0)]],
    oversizeField: [["w", [{ m: bin(34), k: "block", p: 256 }]]]
  },
  "content.have": {
    valid: { t: "content.have", h: [{ m: bin(34), y: true, sz: 1_000 }, { m: bin(34), y: false }], to: bin(32), from: bin(32, 1), au: authority },
    required: ["h"],
    mistyped: [["h", [{ m: bin(34), y: "yes" }]], ["h", [{ m: bin(34), y: true, sz: -1 }]], ["from", 7], ["au", { inv: bin(8), prf: bin(8) }], ["au", "token"]],
    wrongSize: [["h", [{ m: bin(35), y: true }]], ["from", bin(31)], ["from", bin(33)], ["to", bin(33)]],
    oversizeField: []
  },
  "content.block": {
    valid: { t: "content.block", m: bin(34), d: bin(1_000) },
    required: ["m", "d"],
    mistyped: [["d", "bytes"]],
    wrongSize: [["m", bin(32)]],
    oversizeField: [["d", new Uint8Array(262_145)]]
  },
  "content.manifest_req": {
    valid: { t: "content.manifest_req", id: 1, m: bin(34), to: bin(32), from: bin(32, 1), au: authority },
    required: ["id", "m"],
    mistyped: [["m", "mcid"], ["from", [bin(32)]], ["au", { prf: [] }]],
    wrongSize: [["m", bin(33)], ["from", bin(31)], ["from", bin(64)]],
    oversizeField: []
  },
  "content.manifest_res": {
    valid: { t: "content.manifest_res", id: 1, m: bin(34), man: bin(100), nf: true },
    required: ["id", "m"],
    mistyped: [["nf", false], ["man", "manifest"]],
    wrongSize: [["m", bin(35)]],
    oversizeField: []
  },
  "content.cancel": {
    valid: { t: "content.cancel", c: [bin(34), bin(34, 1)] },
    required: ["c"],
    mistyped: [["c", bin(34)]],
    wrongSize: [["c", [bin(34), bin(3)]]],
    oversizeField: []
  }
}

const without = (frame: object, field: string): Record<string, unknown> => {
  const copy: Record<string, unknown> = { ...frame }
  delete copy[field]
  return copy
}

describe.each(frameTypes.map((t) => [t] as const))("the %s frame", (t) => {
  const table = tables[t] as Table<FrameType>

  it("decodes a valid frame to itself, from raw msgpack and through encode", () => {
    expect(decodeRaw(table.valid)).toEqual(table.valid)
    const bytes = Codec.encode(table.valid)
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Codec.decode(bytes as Uint8Array)).toEqual(table.valid)
  })

  it("ignores unknown fields and treats nil optionals as absent", () => {
    const out = decodeRaw({ ...table.valid, zz_future: { any: [1, 2] }, "x-y": "z" })
    expect(out).toEqual(table.valid)
  })

  it.each(table.required.map((f) => [f] as const))("is invalid_field without %s", (field) => {
    const out = decodeRaw(without(table.valid, field))
    expect(codeOf(out)).toBe("invalid_field")
    expect((out as DecodeError).detail).toContain(field)
  })

  it.each(table.mistyped.map(([f, v], i) => [f, i, v] as const))("is invalid_field with %s mistyped (#%i)", (field, _, value) => {
    expect(codeOf(decodeRaw({ ...table.valid, [field]: value }))).toBe("invalid_field")
  })

  it.each(table.wrongSize.map(([f, v], i) => [f, i, v] as const))("is invalid_field with %s of the wrong size (#%i)", (field, _, value) => {
    expect(codeOf(decodeRaw({ ...table.valid, [field]: value }))).toBe("invalid_field")
  })

  it.each(table.oversizeField.map(([f, v], i) => [f, i, v] as const))("is invalid_field with %s over its limit (#%i)", (field, _, value) => {
    expect(codeOf(decodeRaw({ ...table.valid, [field]: value }))).toBe("invalid_field")
  })

  it("is frame_too_large when the body exceeds maxFrameBytes", () => {
    const config = CodecConfig.make({ maxFrameBytes: 2_048 })
    expect(codeOf(decodeRaw({ ...table.valid, pad: new Uint8Array(2_048) }, config))).toBe("frame_too_large")
  })

  it("is refused by encode, producing nothing, when its body exceeds the peer's limit by one byte", () => {
    const bytes = Codec.encode(table.valid) as Uint8Array
    const length = bytes.length - 4
    expect(Codec.encode(table.valid, { maxFrameBytes: length })).toBeInstanceOf(Uint8Array)
    expect(Codec.encode(table.valid, { maxFrameBytes: length - 1 })).toMatchObject({
      _tag: "EncodeError",
      code: "payload_too_large"
    })
  })

  it("is refused by encode when a required field is missing", () => {
    if (table.required.length === 0) return
    const refused = Codec.encode(without(table.valid, table.required[0]!) as unknown as Frame)
    expect(refused).toMatchObject({ _tag: "EncodeError", code: "invalid_frame" })
  })
})

describe("the content.block limit", () => {
  it("is frame_too_large above chunk size + blockFrameOverheadBytes, even below maxFrameBytes", () => {
    const config = CodecConfig.make({ blockFrameOverheadBytes: 16 })
    const out = decodeRaw({ t: "content.block", m: bin(34), d: new Uint8Array(262_144), pad: new Uint8Array(64) }, config)
    expect(codeOf(out)).toBe("frame_too_large")
    const ok = decodeRaw({ t: "content.block", m: bin(34), d: new Uint8Array(262_144) })
    expect(codeOf(ok)).toBe("accepted")
  })
})
