/**
 * Field-by-field checks of every frame type of PROTOCOL.md §6 and `hello` (§3.4).
 *
 * Key invariant: each check reads only the fields its type defines, returns a fresh frame
 * holding exactly those fields (optional ones omitted when absent or nil), and records the
 * first problem through `Fields`; unknown fields are ignored. The same checks guard both
 * directions: decoding (a problem is `invalid_field`) and encoding (a problem refuses the
 * frame), so this side never sends what a peer of the same version would reset.
 *
 * It does not check `v` and `t` (the codec does), nor anything that needs state or policy:
 * topic grammar (`err invalid_topic`), `dhtK` truncation, reused ids, signatures. `any`
 * payloads are taken as msgpack decoded them; the pre-scan already bounded them.
 *
 * @since 0.1.0
 */
import {
  callIdBytes,
  chunkSizeBytes,
  keyBytes,
  maxErrMessageBytes,
  maxHelloAddrs,
  maxImplBytes,
  maxWantPriority,
  mcidBytes,
  signatureBytes
} from "./Constants.ts"
import * as F from "./Fields.ts"
import type * as Frame from "./Frame.ts"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Checks one decoded map as the frame of type `T`; read `Fields.problem()` afterwards.
 *
 * @since 0.1.0
 * @category models
 */
export type Check<T extends Frame.FrameType> = (o: F.WireMap) => Frame.FrameOf<T>

const roles: ReadonlyArray<Frame.Role> = ["station", "client"]
const resyncWhats: ReadonlyArray<Frame.ResyncWhat> = ["sub", "adv", "interest"]
const subModes: ReadonlyArray<Frame.SubMode> = ["amo", "alo"]
const gapReasons: ReadonlyArray<Frame.GapReason> = [
  "overflow",
  "retention",
  "station_restart",
  "resume_unavailable"
]
const callModes: ReadonlyArray<Frame.CallMode> = ["unary", "server", "client", "bidi"]
const wantKinds: ReadonlyArray<Frame.WantKind> = ["block", "have"]
const rpcErrorCodes: ReadonlySet<string> = new Set<Frame.RpcErrorCode>([
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
])

const hello: Check<"hello"> = (o) => {
  const lim = F.map(o.lim, "lim")
  const f = lim["f"]
  if (!F.isU(f)) F.fail("lim.f", f === undefined ? "missing" : "expected u (0..2^53-1)")
  const frame: Mutable<Frame.Hello> = {
    t: "hello",
    role: F.oneOf(o.role, "role", roles),
    vers: F.listU(o.vers, "vers"),
    feat: F.listStr(o.feat, "feat"),
    realms: F.listBinN(o.realms, "realms", keyBytes),
    addrs: F.listStr(o.addrs, "addrs", maxHelloAddrs),
    lim: { f: F.isU(f) ? f : 0 },
    ts: F.u(o.ts, "ts")
  }
  const peers = F.optListContact(o.peers, "peers")
  if (peers !== undefined) frame.peers = peers
  const impl = F.optStrMax(o.impl, "impl", maxImplBytes)
  if (impl !== undefined) frame.impl = impl
  return frame
}

const ping: Check<"ping"> = (o) => ({ t: "ping", n: F.u(o.n, "n") })

const pong: Check<"pong"> = (o) => ({ t: "pong", n: F.u(o.n, "n") })

const goodbye: Check<"goodbye"> = (o) => {
  const frame: Mutable<Frame.Goodbye> = { t: "goodbye", c: F.str(o.c, "c") }
  const m = F.optStr(o.m, "m")
  if (m !== undefined) frame.m = m
  const after = F.optU(o.after, "after")
  if (after !== undefined) frame.after = after
  return frame
}

const resync: Check<"resync"> = (o) => ({ t: "resync", what: F.listOneOf(o.what, "what", resyncWhats) })

const ok: Check<"ok"> = (o) => {
  const frame: Mutable<Frame.Ok> = { t: "ok", id: F.u(o.id, "id") }
  const n = F.optU(o.n, "n")
  if (n !== undefined) frame.n = n
  const cur = F.optU(o.cur, "cur")
  if (cur !== undefined) frame.cur = cur
  return frame
}

const err: Check<"err"> = (o) => {
  const id = F.optU(o.id, "id")
  const c = F.str(o.c, "c")
  const frame: Mutable<Frame.Err> = id === undefined ? { t: "err", c } : { t: "err", id, c }
  const r = F.optStr(o.r, "r")
  if (r !== undefined) frame.r = r
  const m = F.optStrMax(o.m, "m", maxErrMessageBytes)
  if (m !== undefined) frame.m = m
  return frame
}

const swimPing: Check<"swim.ping"> = (o) => ({ t: "swim.ping", id: F.u(o.id, "id"), g: F.listSigned(o.g, "g") })

const swimPingReq: Check<"swim.ping_req"> = (o) => ({
  t: "swim.ping_req",
  id: F.u(o.id, "id"),
  pk: F.binN(o.pk, "pk", keyBytes),
  g: F.listSigned(o.g, "g")
})

const swimAck: Check<"swim.ack"> = (o) => ({ t: "swim.ack", id: F.u(o.id, "id"), g: F.listSigned(o.g, "g") })

const swimNack: Check<"swim.nack"> = (o) => ({ t: "swim.nack", id: F.u(o.id, "id") })

const swimSync: Check<"swim.sync"> = (o) => ({ t: "swim.sync", id: F.u(o.id, "id"), m: F.listSigned(o.m, "m") })

const dhtFindNode: Check<"dht.find_node"> = (o) => ({
  t: "dht.find_node",
  id: F.u(o.id, "id"),
  key: F.binN(o.key, "key", keyBytes)
})

const dhtNodes: Check<"dht.nodes"> = (o) => ({ t: "dht.nodes", id: F.u(o.id, "id"), n: F.listContact(o.n, "n") })

const dhtFindValue: Check<"dht.find_value"> = (o) => {
  const frame: Mutable<Frame.DhtFindValue> = {
    t: "dht.find_value",
    id: F.u(o.id, "id"),
    key: F.binN(o.key, "key", keyBytes)
  }
  const ty = F.optStr(o.ty, "ty")
  if (ty !== undefined) frame.ty = ty
  return frame
}

const dhtValue: Check<"dht.value"> = (o) => {
  const frame: Mutable<Frame.DhtValue> = { t: "dht.value", id: F.u(o.id, "id"), r: F.listSigned(o.r, "r") }
  const n = F.optListContact(o.n, "n")
  if (n !== undefined) frame.n = n
  return frame
}

const dhtStore: Check<"dht.store"> = (o) => ({ t: "dht.store", id: F.u(o.id, "id"), r: F.signed(o.r, "r") })

const dhtStoreAck: Check<"dht.store_ack"> = (o) => {
  const frame: Mutable<Frame.DhtStoreAck> = { t: "dht.store_ack", id: F.u(o.id, "id"), ok: F.bool(o.ok, "ok") }
  const why = F.optStr(o.why, "why")
  if (why !== undefined) frame.why = why
  const n = F.optU(o.n, "n")
  if (n !== undefined) frame.n = n
  return frame
}

const dhtGet: Check<"dht.get"> = (o) => {
  const frame: Mutable<Frame.DhtGet> = { t: "dht.get", id: F.u(o.id, "id"), key: F.binN(o.key, "key", keyBytes) }
  const ty = F.optStr(o.ty, "ty")
  if (ty !== undefined) frame.ty = ty
  return frame
}

const dhtPut: Check<"dht.put"> = (o) => ({ t: "dht.put", id: F.u(o.id, "id"), r: F.signed(o.r, "r") })

const sub: Check<"sub"> = (o) => {
  const frame: Mutable<Frame.Sub> = {
    t: "sub",
    id: F.u(o.id, "id"),
    sid: F.u(o.sid, "sid"),
    realm: F.binN(o.realm, "realm", keyBytes),
    pat: F.str(o.pat, "pat")
  }
  const mode = F.optOneOf(o.mode, "mode", subModes)
  if (mode !== undefined) frame.mode = mode
  const cur = F.optU(o.cur, "cur")
  if (cur !== undefined) frame.cur = cur
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const unsub: Check<"unsub"> = (o) => ({ t: "unsub", id: F.u(o.id, "id"), sid: F.u(o.sid, "sid") })

const pub: Check<"pub"> = (o) => {
  const id = F.optU(o.id, "id")
  const b = F.bin(o.b, "b")
  const s = F.binN(o.s, "s", signatureBytes)
  const frame: Mutable<Frame.Pub> = id === undefined ? { t: "pub", b, s } : { t: "pub", id, b, s }
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const event: Check<"event"> = (o) => {
  const frame: Mutable<Frame.Event> = {
    t: "event",
    sid: F.listU(o.sid, "sid"),
    b: F.bin(o.b, "b"),
    s: F.binN(o.s, "s", signatureBytes)
  }
  const cur = F.optU(o.cur, "cur")
  if (cur !== undefined) frame.cur = cur
  return frame
}

const ack: Check<"ack"> = (o) => ({ t: "ack", sid: F.u(o.sid, "sid"), cur: F.u(o.cur, "cur") })

const gap: Check<"gap"> = (o) => ({
  t: "gap",
  sid: F.u(o.sid, "sid"),
  from: F.u(o.from, "from"),
  to: F.u(o.to, "to"),
  why: F.oneOf(o.why, "why", gapReasons)
})

const fwd: Check<"fwd"> = (o) => ({ t: "fwd", b: F.bin(o.b, "b"), s: F.binN(o.s, "s", signatureBytes) })

const interestSync: Check<"interest.sync"> = (o) => ({
  t: "interest.sync",
  id: F.u(o.id, "id"),
  gen: F.u(o.gen, "gen"),
  e: F.listInterest(o.e, "e"),
  more: F.bool(o.more, "more")
})

const interestAdd: Check<"interest.add"> = (o) => {
  const id = F.optU(o.id, "id")
  const gen = F.u(o.gen, "gen")
  const e = F.listInterest(o.e, "e")
  return id === undefined ? { t: "interest.add", gen, e } : { t: "interest.add", id, gen, e }
}

const interestDel: Check<"interest.del"> = (o) => {
  const id = F.optU(o.id, "id")
  const gen = F.u(o.gen, "gen")
  const e = F.listInterest(o.e, "e")
  return id === undefined ? { t: "interest.del", gen, e } : { t: "interest.del", id, gen, e }
}

const adv: Check<"adv"> = (o) => {
  const frame: Mutable<Frame.Adv> = {
    t: "adv",
    id: F.u(o.id, "id"),
    realm: F.binN(o.realm, "realm", keyBytes),
    proc: F.str(o.proc, "proc"),
    modes: F.listOneOf(o.modes, "modes", callModes),
    rec: F.signed(o.rec, "rec")
  }
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const unadv: Check<"unadv"> = (o) => ({
  t: "unadv",
  id: F.u(o.id, "id"),
  realm: F.binN(o.realm, "realm", keyBytes),
  proc: F.str(o.proc, "proc"),
  rec: F.signed(o.rec, "rec")
})

const call: Check<"call"> = (o) => {
  const frame: Mutable<Frame.Call> = {
    t: "call",
    id: F.u(o.id, "id"),
    cid: F.binN(o.cid, "cid", callIdBytes),
    realm: F.binN(o.realm, "realm", keyBytes),
    proc: F.str(o.proc, "proc"),
    a: F.any(o.a, "a"),
    ttl: F.u(o.ttl, "ttl"),
    idem: F.bool(o.idem, "idem"),
    hop: F.u(o.hop, "hop")
  }
  const mode = F.optOneOf(o.mode, "mode", callModes)
  if (mode !== undefined) frame.mode = mode
  const to = F.optBinN(o.to, "to", keyBytes)
  if (to !== undefined) frame.to = to
  const from = F.optBinN(o.from, "from", keyBytes)
  if (from !== undefined) frame.from = from
  const cr = F.optU(o.cr, "cr")
  if (cr !== undefined) frame.cr = cr
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  const ucan = F.optAuthority(o.ucan, "ucan")
  if (ucan !== undefined) frame.ucan = ucan
  return frame
}

const callError = (x: F.WireMap): Frame.CallError => {
  const c = x["c"]
  if (typeof c !== "string" || !rpcErrorCodes.has(c)) {
    F.fail("e.c", c === undefined ? "missing" : "expected an RPC error name (§9.4)")
  }
  const e: Mutable<Frame.CallError> = { c: c as Frame.RpcErrorCode }
  const m = x["m"]
  if (typeof m === "string") e.m = m
  else if (m !== undefined && m !== null) F.fail("e.m", "expected str")
  const d = x["d"]
  if (d !== undefined && d !== null) e.d = d as Frame.Any
  const by = x["by"]
  if (by instanceof Uint8Array && by.length === keyBytes) e.by = by
  else if (by !== undefined && by !== null) F.fail("e.by", "expected bin32")
  return e
}

const reply: Check<"reply"> = (o) => {
  const frame: Mutable<Frame.Reply> = { t: "reply", id: F.u(o.id, "id") }
  const r = F.optAny(o.r)
  if (r !== undefined) frame.r = r
  const e = o["e"]
  if (F.isMap(e)) frame.e = callError(e)
  else if (e !== undefined && e !== null) F.fail("e", "expected {c, m?, d?, by?}")
  return frame
}

const cancel: Check<"cancel"> = (o) => ({ t: "cancel", id: F.u(o.id, "id") })

const streamData: Check<"s.data"> = (o) => ({ t: "s.data", q: F.u(o.q, "q"), d: F.any(o.d, "d") })

const streamEnd: Check<"s.end"> = () => ({ t: "s.end" })

const streamCredit: Check<"s.credit"> = (o) => ({ t: "s.credit", n: F.u(o.n, "n") })

const wantEntries = (o: F.WireMap): ReadonlyArray<Frame.WantEntry> => {
  const xs = o["w"]
  if (!Array.isArray(xs)) {
    F.fail("w", xs === undefined ? "missing" : "expected array")
    return []
  }
  const out = new Array<Frame.WantEntry>(xs.length)
  for (let i = 0; i < xs.length; i++) {
    const x: unknown = xs[i]
    if (!F.isMap(x)) {
      F.fail(`w[${i}]`, "expected {m, k, p?}")
      return []
    }
    const m = x["m"]
    const k = x["k"]
    const p = x["p"]
    if (!(m instanceof Uint8Array) || m.length !== mcidBytes) {
      F.fail(`w[${i}].m`, m === undefined ? "missing" : "expected bin34")
      return []
    }
    if (typeof k !== "string" || !F.isOneOf(k, wantKinds)) {
      F.fail(`w[${i}].k`, k === undefined ? "missing" : "expected block | have")
      return []
    }
    if (p === undefined || p === null) {
      out[i] = { m, k: k as Frame.WantKind }
    } else if (F.isU(p) && p <= maxWantPriority) {
      out[i] = { m, k: k as Frame.WantKind, p }
    } else {
      F.fail(`w[${i}].p`, "expected u 0..255")
      return []
    }
  }
  return out
}

const contentWant: Check<"content.want"> = (o) => {
  const frame: Mutable<Frame.ContentWant> = { t: "content.want", w: wantEntries(o) }
  const full = F.optBool(o.full, "full")
  if (full !== undefined) frame.full = full
  const to = F.optBinN(o.to, "to", keyBytes)
  if (to !== undefined) frame.to = to
  const from = F.optBinN(o.from, "from", keyBytes)
  if (from !== undefined) frame.from = from
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const haveEntries = (o: F.WireMap): ReadonlyArray<Frame.HaveEntry> => {
  const xs = o["h"]
  if (!Array.isArray(xs)) {
    F.fail("h", xs === undefined ? "missing" : "expected array")
    return []
  }
  const out = new Array<Frame.HaveEntry>(xs.length)
  for (let i = 0; i < xs.length; i++) {
    const x: unknown = xs[i]
    if (!F.isMap(x)) {
      F.fail(`h[${i}]`, "expected {m, y, sz?}")
      return []
    }
    const m = x["m"]
    const y = x["y"]
    const sz = x["sz"]
    if (!(m instanceof Uint8Array) || m.length !== mcidBytes) {
      F.fail(`h[${i}].m`, m === undefined ? "missing" : "expected bin34")
      return []
    }
    if (typeof y !== "boolean") {
      F.fail(`h[${i}].y`, y === undefined ? "missing" : "expected bool")
      return []
    }
    if (sz === undefined || sz === null) {
      out[i] = { m, y }
    } else if (F.isU(sz)) {
      out[i] = { m, y, sz }
    } else {
      F.fail(`h[${i}].sz`, "expected u (0..2^53-1)")
      return []
    }
  }
  return out
}

const contentHave: Check<"content.have"> = (o) => {
  const frame: Mutable<Frame.ContentHave> = { t: "content.have", h: haveEntries(o) }
  const to = F.optBinN(o.to, "to", keyBytes)
  if (to !== undefined) frame.to = to
  const from = F.optBinN(o.from, "from", keyBytes)
  if (from !== undefined) frame.from = from
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const contentBlock: Check<"content.block"> = (o) => ({
  t: "content.block",
  m: F.binN(o.m, "m", mcidBytes),
  d: F.binMax(o.d, "d", chunkSizeBytes)
})

const contentManifestReq: Check<"content.manifest_req"> = (o) => {
  const frame: Mutable<Frame.ContentManifestReq> = {
    t: "content.manifest_req",
    id: F.u(o.id, "id"),
    m: F.binN(o.m, "m", mcidBytes)
  }
  const to = F.optBinN(o.to, "to", keyBytes)
  if (to !== undefined) frame.to = to
  const from = F.optBinN(o.from, "from", keyBytes)
  if (from !== undefined) frame.from = from
  const au = F.optAuthority(o.au, "au")
  if (au !== undefined) frame.au = au
  return frame
}

const contentManifestRes: Check<"content.manifest_res"> = (o) => {
  const frame: Mutable<Frame.ContentManifestRes> = {
    t: "content.manifest_res",
    id: F.u(o.id, "id"),
    m: F.binN(o.m, "m", mcidBytes)
  }
  const man = F.optBin(o.man, "man")
  if (man !== undefined) frame.man = man
  const nf = F.optTrue(o.nf, "nf")
  if (nf !== undefined) frame.nf = nf
  return frame
}

const contentCancel: Check<"content.cancel"> = (o) => ({ t: "content.cancel", c: F.listBinN(o.c, "c", mcidBytes) })

/**
 * The check of every frame type; a record over `FrameType`, so a type without a check does
 * not compile.
 *
 * @since 0.1.0
 * @category catalogue
 */
export const checks: { readonly [T in Frame.FrameType]: Check<T> } = {
  "hello": hello,
  "ping": ping,
  "pong": pong,
  "goodbye": goodbye,
  "resync": resync,
  "ok": ok,
  "err": err,
  "swim.ping": swimPing,
  "swim.ping_req": swimPingReq,
  "swim.ack": swimAck,
  "swim.nack": swimNack,
  "swim.sync": swimSync,
  "dht.find_node": dhtFindNode,
  "dht.nodes": dhtNodes,
  "dht.find_value": dhtFindValue,
  "dht.value": dhtValue,
  "dht.store": dhtStore,
  "dht.store_ack": dhtStoreAck,
  "dht.get": dhtGet,
  "dht.put": dhtPut,
  "sub": sub,
  "unsub": unsub,
  "pub": pub,
  "event": event,
  "ack": ack,
  "gap": gap,
  "fwd": fwd,
  "interest.sync": interestSync,
  "interest.add": interestAdd,
  "interest.del": interestDel,
  "adv": adv,
  "unadv": unadv,
  "call": call,
  "reply": reply,
  "cancel": cancel,
  "s.data": streamData,
  "s.end": streamEnd,
  "s.credit": streamCredit,
  "content.want": contentWant,
  "content.have": contentHave,
  "content.block": contentBlock,
  "content.manifest_req": contentManifestReq,
  "content.manifest_res": contentManifestRes,
  "content.cancel": contentCancel
}

const byType: ReadonlyMap<string, (o: F.WireMap) => Frame.Frame> = new Map(Object.entries(checks))

/**
 * The check for a `t` read off the wire; `undefined` for an unknown type. Safe for any string
 * (`"__proto__"`, `"constructor"` are simply unknown).
 *
 * @since 0.1.0
 * @category catalogue
 */
export const checkFor = (t: string): ((o: F.WireMap) => Frame.Frame) | undefined => byType.get(t)
