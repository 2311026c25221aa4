/**
 * fast-check arbitraries for the wire: one per frame type, payload values, signed-object
 * bodies, whole byte streams and hostile byte mutations.
 *
 * Key invariant: every frame an arbitrary here produces is one the codec accepts and returns
 * unchanged after an encode/decode round trip (`toEqual`): optional fields are either absent
 * or hold a non-nil value (nil means absent on the wire), payloads hold only §4.3 values
 * (no `-0`, no `undefined`, no `__proto__` keys), strings are valid Unicode, and sizes stay
 * within the catalogue's limits. Mutations, by contrast, produce anything at all.
 *
 * It does not sign anything for real: signed objects carry random bytes, which the codec
 * neither checks nor needs to.
 *
 * @since 0.1.0
 */
import fc from "fast-check"
import * as Bytes from "../../core/Bytes.ts"
import * as Codec from "../../wire/Codec.ts"
import type * as Frame from "../../wire/Frame.ts"
import type * as SignedBody from "../../wire/SignedBody.ts"

/**
 * Exactly `n` random bytes.
 *
 * @since 0.1.0
 * @category values
 */
export const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })

/**
 * A protocol integer, 0..2^53−1, biased towards small values.
 *
 * @since 0.1.0
 * @category values
 */
export const u: fc.Arbitrary<number> = fc.oneof(fc.nat({ max: 1_000 }), fc.nat(), fc.maxSafeNat())

/**
 * A short valid-Unicode string (any code point, no lone surrogates).
 *
 * @since 0.1.0
 * @category values
 */
export const text: fc.Arbitrary<string> = fc.string({ unit: "binary", maxLength: 16 })

/**
 * A short ASCII string, such as a code name.
 *
 * @since 0.1.0
 * @category values
 */
export const word: fc.Arbitrary<string> = fc.string({ unit: "binary-ascii", maxLength: 12 })

/**
 * A map key for payloads: any short string but `__proto__` (which msgpackr renames).
 *
 * @since 0.1.0
 * @category values
 */
export const payloadKey: fc.Arbitrary<string> = text.filter((k) => k !== "__proto__")

const leaf: fc.Arbitrary<Frame.Any> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.integer({ min: -1_000, max: 1_000 }),
  fc.double().map((x) => (Object.is(x, -0) ? 0 : x)),
  text,
  fc.uint8Array({ maxLength: 24 })
)

/**
 * A payload value of §4.3, nested at most 4 deep.
 *
 * @since 0.1.0
 * @category values
 */
export const anyValue: fc.Arbitrary<Frame.Any> = fc.letrec<{ value: Frame.Any }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: "wire-any" },
    leaf,
    fc.array(tie("value"), { maxLength: 4, depthIdentifier: "wire-any" }),
    fc.dictionary(payloadKey, tie("value"), { maxKeys: 4, noNullPrototype: true, depthIdentifier: "wire-any" })
  )
})).value

/**
 * A payload value other than nil, for optional `any` fields (where nil means absent).
 *
 * @since 0.1.0
 * @category values
 */
export const someValue: fc.Arbitrary<Frame.Any> = anyValue.filter((v) => v !== null)

/**
 * A signed object with random body bytes and signature.
 *
 * @since 0.1.0
 * @category values
 */
export const signed: fc.Arbitrary<Frame.Signed> = fc.record({ b: fc.uint8Array({ maxLength: 48 }), s: bytes(64) })

/**
 * A contact.
 *
 * @since 0.1.0
 * @category values
 */
export const contact: fc.Arbitrary<Frame.Contact> = fc.record({ pk: bytes(32), a: fc.array(word, { maxLength: 3 }) })

/**
 * An authority `{inv, prf}`.
 *
 * @since 0.1.0
 * @category values
 */
export const authority: fc.Arbitrary<Frame.Authority> = fc.record({
  inv: fc.uint8Array({ maxLength: 40 }),
  prf: fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 3 })
})

const interestEntry: fc.Arbitrary<Frame.InterestEntry> = fc.tuple(bytes(32), text)
const callMode = fc.constantFrom<Frame.CallMode>("unary", "server", "client", "bidi")
const rpcErrorCode = fc.constantFrom<Frame.RpcErrorCode>(
  "no_provider",
  "relay_failed",
  "relay_refused",
  "provider_gone",
  "realm_refused",
  "loop_detected",
  "deadline_exceeded",
  "overloaded",
  "bad_request",
  "identity_rejected",
  "wrong_station",
  "withdrawn",
  "payload_too_large",
  "bad_signature",
  "handler_error",
  "unauthorized"
)

const opt = { noNullPrototype: true } as const
const list = <A>(arb: fc.Arbitrary<A>, maxLength = 3): fc.Arbitrary<Array<A>> => fc.array(arb, { maxLength })

/**
 * One arbitrary per frame type: a record over `FrameType`, so a new type without an
 * arbitrary does not compile.
 *
 * @since 0.1.0
 * @category frames
 */
export const frames: { readonly [T in Frame.FrameType]: fc.Arbitrary<Frame.FrameOf<T>> } = {
  "hello": fc.record({
    t: fc.constant("hello"),
    role: fc.constantFrom("station", "client"),
    vers: list(u),
    feat: list(word),
    realms: list(bytes(32)),
    addrs: list(word, 8),
    lim: fc.record({ f: u }),
    ts: u,
    peers: list(contact),
    impl: text
  }, { ...opt, requiredKeys: ["t", "role", "vers", "feat", "realms", "addrs", "lim", "ts"] }),
  "ping": fc.record({ t: fc.constant("ping"), n: u }),
  "pong": fc.record({ t: fc.constant("pong"), n: u }),
  "goodbye": fc.record({ t: fc.constant("goodbye"), c: word, m: text, after: u }, { ...opt, requiredKeys: ["t", "c"] }),
  "resync": fc.record({
    t: fc.constant("resync"),
    what: fc.subarray<Frame.ResyncWhat>(["sub", "adv", "interest"])
  }),
  "ok": fc.record({ t: fc.constant("ok"), id: u, n: u, cur: u }, { ...opt, requiredKeys: ["t", "id"] }),
  "err": fc.record(
    { t: fc.constant("err"), id: u, c: word, r: word, m: fc.string({ unit: "binary", maxLength: 64 }) },
    { ...opt, requiredKeys: ["t", "c"] }
  ),
  "swim.ping": fc.record({ t: fc.constant("swim.ping"), id: u, g: list(signed) }),
  "swim.ping_req": fc.record({ t: fc.constant("swim.ping_req"), id: u, pk: bytes(32), g: list(signed) }),
  "swim.ack": fc.record({ t: fc.constant("swim.ack"), id: u, g: list(signed) }),
  "swim.nack": fc.record({ t: fc.constant("swim.nack"), id: u }),
  "swim.sync": fc.record({ t: fc.constant("swim.sync"), id: u, m: list(signed) }),
  "dht.find_node": fc.record({ t: fc.constant("dht.find_node"), id: u, key: bytes(32) }),
  "dht.nodes": fc.record({ t: fc.constant("dht.nodes"), id: u, n: list(contact) }),
  "dht.find_value": fc.record({ t: fc.constant("dht.find_value"), id: u, key: bytes(32), ty: word }, {
    ...opt,
    requiredKeys: ["t", "id", "key"]
  }),
  "dht.value": fc.record({ t: fc.constant("dht.value"), id: u, r: list(signed), n: list(contact) }, {
    ...opt,
    requiredKeys: ["t", "id", "r"]
  }),
  "dht.store": fc.record({ t: fc.constant("dht.store"), id: u, r: signed }),
  "dht.store_ack": fc.record({ t: fc.constant("dht.store_ack"), id: u, ok: fc.boolean(), why: word, n: u }, {
    ...opt,
    requiredKeys: ["t", "id", "ok"]
  }),
  "dht.get": fc.record({ t: fc.constant("dht.get"), id: u, key: bytes(32), ty: word }, {
    ...opt,
    requiredKeys: ["t", "id", "key"]
  }),
  "dht.put": fc.record({ t: fc.constant("dht.put"), id: u, r: signed }),
  "sub": fc.record({
    t: fc.constant("sub"),
    id: u,
    sid: u,
    realm: bytes(32),
    pat: text,
    mode: fc.constantFrom("amo", "alo"),
    cur: u,
    au: authority
  }, { ...opt, requiredKeys: ["t", "id", "sid", "realm", "pat"] }),
  "unsub": fc.record({ t: fc.constant("unsub"), id: u, sid: u }),
  "pub": fc.record({ t: fc.constant("pub"), id: u, b: fc.uint8Array({ maxLength: 64 }), s: bytes(64), au: authority }, {
    ...opt,
    requiredKeys: ["t", "b", "s"]
  }),
  "event": fc.record(
    { t: fc.constant("event"), sid: list(u), b: fc.uint8Array({ maxLength: 64 }), s: bytes(64), cur: u },
    { ...opt, requiredKeys: ["t", "sid", "b", "s"] }
  ),
  "ack": fc.record({ t: fc.constant("ack"), sid: u, cur: u }),
  "gap": fc.record({
    t: fc.constant("gap"),
    sid: u,
    from: u,
    to: u,
    why: fc.constantFrom("overflow", "retention", "station_restart", "resume_unavailable")
  }),
  "fwd": fc.record({ t: fc.constant("fwd"), b: fc.uint8Array({ maxLength: 64 }), s: bytes(64) }),
  "interest.sync": fc.record({
    t: fc.constant("interest.sync"),
    id: u,
    gen: u,
    e: list(interestEntry),
    more: fc.boolean()
  }),
  "interest.add": fc.record({ t: fc.constant("interest.add"), id: u, gen: u, e: list(interestEntry) }, {
    ...opt,
    requiredKeys: ["t", "gen", "e"]
  }),
  "interest.del": fc.record({ t: fc.constant("interest.del"), id: u, gen: u, e: list(interestEntry) }, {
    ...opt,
    requiredKeys: ["t", "gen", "e"]
  }),
  "adv": fc.record({
    t: fc.constant("adv"),
    id: u,
    realm: bytes(32),
    proc: text,
    modes: list(callMode),
    rec: signed,
    au: authority
  }, { ...opt, requiredKeys: ["t", "id", "realm", "proc", "modes", "rec"] }),
  "unadv": fc.record({ t: fc.constant("unadv"), id: u, realm: bytes(32), proc: text, rec: signed }),
  "call": fc.record({
    t: fc.constant("call"),
    id: u,
    cid: bytes(16),
    realm: bytes(32),
    proc: text,
    a: anyValue,
    ttl: u,
    idem: fc.boolean(),
    mode: callMode,
    to: bytes(32),
    from: bytes(32),
    hop: u,
    cr: u,
    au: authority,
    ucan: authority
  }, { ...opt, requiredKeys: ["t", "id", "cid", "realm", "proc", "a", "ttl", "idem", "hop"] }),
  "reply": fc.record({
    t: fc.constant("reply"),
    id: u,
    r: someValue,
    e: fc.record({ c: rpcErrorCode, m: text, d: someValue, by: bytes(32) }, { ...opt, requiredKeys: ["c"] })
  }, { ...opt, requiredKeys: ["t", "id"] }),
  "cancel": fc.record({ t: fc.constant("cancel"), id: u }),
  "s.data": fc.record({ t: fc.constant("s.data"), q: u, d: anyValue }),
  "s.end": fc.record({ t: fc.constant("s.end") }),
  "s.credit": fc.record({ t: fc.constant("s.credit"), n: u }),
  "content.want": fc.record({
    t: fc.constant("content.want"),
    w: list(fc.record({ m: bytes(34), k: fc.constantFrom("block", "have"), p: fc.nat({ max: 255 }) }, {
      ...opt,
      requiredKeys: ["m", "k"]
    })),
    full: fc.boolean(),
    to: bytes(32),
    au: authority
  }, { ...opt, requiredKeys: ["t", "w"] }),
  "content.have": fc.record({
    t: fc.constant("content.have"),
    h: list(fc.record({ m: bytes(34), y: fc.boolean(), sz: u }, { ...opt, requiredKeys: ["m", "y"] })),
    to: bytes(32)
  }, { ...opt, requiredKeys: ["t", "h"] }),
  "content.block": fc.record({ t: fc.constant("content.block"), m: bytes(34), d: fc.uint8Array({ maxLength: 256 }) }),
  "content.manifest_req": fc.record(
    { t: fc.constant("content.manifest_req"), id: u, m: bytes(34), to: bytes(32), au: authority },
    { ...opt, requiredKeys: ["t", "id", "m"] }
  ),
  "content.manifest_res": fc.record({
    t: fc.constant("content.manifest_res"),
    id: u,
    m: bytes(34),
    man: fc.uint8Array({ maxLength: 64 }),
    nf: fc.constant(true)
  }, { ...opt, requiredKeys: ["t", "id", "m"] }),
  "content.cancel": fc.record({ t: fc.constant("content.cancel"), c: list(bytes(34)) })
}

/**
 * Any frame, every type equally likely.
 *
 * @since 0.1.0
 * @category frames
 */
export const frame: fc.Arbitrary<Frame.Frame> = fc.oneof(
  ...(Object.values(frames) as ReadonlyArray<fc.Arbitrary<Frame.Frame>>)
)

const encodeOrThrow = (f: Frame.Frame): Uint8Array => {
  const out = Codec.encode(f)
  if (!(out instanceof Uint8Array)) throw out
  return Uint8Array.from(out)
}

/**
 * A frame with its encoding (prefix and body), as a plain, unshared `Uint8Array`.
 *
 * @since 0.1.0
 * @category streams
 */
export const encodedFrame: fc.Arbitrary<{ readonly frame: Frame.Frame; readonly bytes: Uint8Array }> = frame.map(
  (f) => ({ frame: f, bytes: encodeOrThrow(f) })
)

/**
 * Several frames and the stream of their concatenated encodings.
 *
 * @since 0.1.0
 * @category streams
 */
export const frameStream: fc.Arbitrary<{ readonly frames: ReadonlyArray<Frame.Frame>; readonly bytes: Uint8Array }> = fc
  .array(frame, { maxLength: 8 })
  .map((fs) => ({ frames: fs, bytes: Bytes.concat(...fs.map(encodeOrThrow)) }))

/**
 * Cuts `bytes` at the given positions (taken modulo its length, sorted, deduplicated).
 *
 * @since 0.1.0
 * @category streams
 */
export const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>): ReadonlyArray<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  out.push(bytes.subarray(from))
  return out
}

/**
 * Cut positions for `split`: none to many, empty chunks included.
 *
 * @since 0.1.0
 * @category streams
 */
export const cuts: fc.Arbitrary<ReadonlyArray<number>> = fc.array(fc.nat(), { maxLength: 24 })

/**
 * One hostile change to a byte string.
 *
 * @since 0.1.0
 * @category chaos
 */
export type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "truncate"; readonly to: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly count: number }
  | { readonly kind: "overwrite"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "length"; readonly value: number }

/**
 * Bit flips, truncation, insertion, deletion, overwrites and length-prefix changes (small,
 * off-by-one and huge values up to 2^32−1).
 *
 * @since 0.1.0
 * @category chaos
 */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip"), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("truncate"), to: fc.nat() }),
  fc.record({ kind: fc.constant("insert"), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete"), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("overwrite"), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant("length"),
    value: fc.oneof(fc.nat({ max: 300 }), fc.constantFrom(0, 0xffff_ffff, 0x7fff_ffff, 1_048_577), fc.nat())
  })
)

/**
 * Applies a mutation to a copy of `bytes`.
 *
 * @since 0.1.0
 * @category chaos
 */
export const mutate = (bytes: Uint8Array, m: Mutation): Uint8Array => {
  const n = bytes.length
  switch (m.kind) {
    case "flip": {
      const out = Uint8Array.from(bytes)
      if (n > 0) out[m.at % n] = out[m.at % n]! ^ (1 << m.bit)
      return out
    }
    case "truncate":
      return bytes.slice(0, n === 0 ? 0 : m.to % n)
    case "insert": {
      const at = m.at % (n + 1)
      return Bytes.concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at))
    }
    case "delete": {
      const at = n === 0 ? 0 : m.at % n
      return Bytes.concat(bytes.subarray(0, at), bytes.subarray(at + m.count))
    }
    case "overwrite": {
      const out = Uint8Array.from(bytes)
      const at = n === 0 ? 0 : m.at % n
      for (let i = 0; i < m.bytes.length && at + i < n; i++) out[at + i] = m.bytes[i]!
      return out
    }
    case "length": {
      const out = Uint8Array.from(bytes.length >= 4 ? bytes : Bytes.concat(bytes, new Uint8Array(4 - bytes.length)))
      new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(0, m.value >>> 0)
      return out
    }
  }
}

/**
 * Valid encoded frames after one to three mutations.
 *
 * @since 0.1.0
 * @category chaos
 */
export const corruptedFrame: fc.Arbitrary<Uint8Array> = fc
  .tuple(encodedFrame, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([{ bytes: b }, ms]) => ms.reduce(mutate, b))

/**
 * A publisher envelope body.
 *
 * @since 0.1.0
 * @category bodies
 */
export const envelopeBody: fc.Arbitrary<SignedBody.EnvelopeBody> = fc.record({
  realm: bytes(32),
  topic: text,
  pk: bytes(32),
  sess: bytes(8),
  seq: u,
  tseq: u,
  ts: u,
  p: anyValue
})

const recordHeader = { key: bytes(32), pk: bytes(32), seq: u, iat: u, exp: u }

/**
 * A DHT record body of any of the six types.
 *
 * @since 0.1.0
 * @category bodies
 */
export const recordBody: fc.Arbitrary<SignedBody.RecordBody> = fc.oneof(
  fc.record({
    ty: fc.constant("provider"),
    ...recordHeader,
    d: fc.record({
      realm: bytes(32),
      proc: text,
      st: bytes(32),
      modes: list(callMode),
      req: fc.boolean(),
      gone: fc.boolean()
    }, { ...opt, requiredKeys: ["realm", "proc", "st", "modes", "req"] })
  }),
  fc.record({ ty: fc.constant("endpoint"), ...recordHeader, d: fc.record({ st: list(bytes(32)), a: list(word) }) }),
  fc.record({
    ty: fc.constant("station"),
    ...recordHeader,
    d: fc.record({ a: list(word), realms: list(bytes(32)), feat: list(word) })
  }),
  fc.record({
    ty: fc.constant("content-provider"),
    ...recordHeader,
    d: fc.record({ m: bytes(34), sz: u, n: u, st: bytes(32), a: list(word) })
  }),
  fc.record({
    ty: fc.constant("revocation"),
    ...recordHeader,
    d: fc.record({
      cid: fc.uint8Array({ maxLength: 36 }),
      inv: fc.uint8Array({ maxLength: 64 }),
      prf: list(fc.uint8Array({ maxLength: 32 }))
    })
  }),
  fc.record({
    ty: fc.constant("realm"),
    ...recordHeader,
    d: fc.record({ name: text, auth: word, pol: fc.constantFrom("open", "members") })
  })
)

/**
 * A SWIM claim body.
 *
 * @since 0.1.0
 * @category bodies
 */
export const claimBody: fc.Arbitrary<SignedBody.ClaimBody> = fc.record({
  ty: fc.constantFrom("alive", "suspect", "dead"),
  pk: bytes(32),
  inc: u,
  by: bytes(32),
  a: list(word),
  ts: u
}, { ...opt, requiredKeys: ["ty", "pk", "inc", "by", "ts"] })
