/**
 * The bodies of the three signed objects (PROTOCOL.md §5): publisher envelopes (§8.1), DHT
 * records (§10.3) and SWIM claims (§11.1), as typed values with field-by-field checks.
 *
 * Key invariant: like the frame catalogue, each check returns a fresh value holding exactly
 * the fields its type defines and records the first problem through `Fields`; unknown fields
 * are ignored. A body is only ever checked here; whether it may be acted on is decided by
 * `Signed.open*`, which verifies the signature over the exact received bytes first.
 *
 * It does not apply policy: record key derivation, time bounds, TTLs, size caps, topic
 * grammar, proof of work and precedence rules belong to the DHT, pub/sub and SWIM cores.
 *
 * @since 0.1.0
 */
import { keyBytes, mcidBytes, sessionIdBytes } from "./Constants.ts"
import * as F from "./Fields.ts"
import type { Any, Bin32, Bin34, Bin8, CallMode, U } from "./Frame.ts"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * A publisher envelope (§8.1), signed with the `event` domain by `pk`.
 *
 * @since 0.1.0
 * @category envelopes
 */
export interface EnvelopeBody {
  /** Realm id (the zero realm for system topics). */
  readonly realm: Bin32
  /** A topic, never a pattern. */
  readonly topic: string
  /** Publisher key; the signer. */
  readonly pk: Bin32
  /** Random per node start. */
  readonly sess: Bin8
  /** Per-session counter over all topics, from 1; with `pk`, `sess` the dedup key. */
  readonly seq: U
  /** Per-(session, topic) counter, from 1; the ordering key. */
  readonly tseq: U
  /** Publisher wall clock, unix ms. */
  readonly ts: U
  /** The payload. */
  readonly p: Any
}

/**
 * Fields every DHT record body has (§10.3); signed with the `record` domain by `pk`.
 *
 * @since 0.1.0
 * @category records
 */
export interface RecordHeader {
  /** Record key (SHA-256 of the type's derivation). */
  readonly key: Bin32
  /** Signer. */
  readonly pk: Bin32
  /** Strictly increasing per (key, signer). */
  readonly seq: U
  /** Issued at, unix ms. */
  readonly iat: U
  /** Expires at, unix ms. */
  readonly exp: U
}

/**
 * A provider record: `pk` serves `proc` in `realm` through station `st`.
 *
 * @since 0.1.0
 * @category records
 */
export interface ProviderRecordBody extends RecordHeader {
  readonly ty: "provider"
  readonly d: {
    readonly realm: Bin32
    readonly proc: string
    /** Serving station. */
    readonly st: Bin32
    readonly modes: ReadonlyArray<CallMode>
    /** Callers must present an invocation (§13.4). */
    readonly req: boolean
    /** A withdrawal. */
    readonly gone?: boolean
  }
}

/**
 * An endpoint record: where node `pk` can be reached.
 *
 * @since 0.1.0
 * @category records
 */
export interface EndpointRecordBody extends RecordHeader {
  readonly ty: "endpoint"
  readonly d: {
    /** Its stations. */
    readonly st: ReadonlyArray<Bin32>
    /** Its addresses. */
    readonly a: ReadonlyArray<string>
  }
}

/**
 * A station record.
 *
 * @since 0.1.0
 * @category records
 */
export interface StationRecordBody extends RecordHeader {
  readonly ty: "station"
  readonly d: {
    readonly a: ReadonlyArray<string>
    readonly realms: ReadonlyArray<Bin32>
    readonly feat: ReadonlyArray<string>
  }
}

/**
 * A content provider record: `pk` holds content `m`.
 *
 * @since 0.1.0
 * @category records
 */
export interface ContentProviderRecordBody extends RecordHeader {
  readonly ty: "content-provider"
  readonly d: {
    /** The MCID. */
    readonly m: Bin34
    /** Size in bytes. */
    readonly sz: U
    /** Number of chunks. */
    readonly n: U
    /** Home station, or the provider itself. */
    readonly st: Bin32
    readonly a: ReadonlyArray<string>
  }
}

/**
 * A revocation record (§13.6).
 *
 * @since 0.1.0
 * @category records
 */
export interface RevocationRecordBody extends RecordHeader {
  readonly ty: "revocation"
  readonly d: {
    /** CID bytes of the revoked delegation. */
    readonly cid: Uint8Array
    /** The revocation invocation. */
    readonly inv: Uint8Array
    /** Its proofs, root first. */
    readonly prf: ReadonlyArray<Uint8Array>
  }
}

/**
 * A realm descriptor record (§13.5).
 *
 * @since 0.1.0
 * @category records
 */
export interface RealmRecordBody extends RecordHeader {
  readonly ty: "realm"
  readonly d: {
    readonly name: string
    /** Authority DID. */
    readonly auth: string
    readonly pol: RealmPolicy
  }
}

/**
 * Who may act in a realm: anyone authenticated, or members holding a delegation.
 *
 * @since 0.1.0
 * @category records
 */
export type RealmPolicy = "open" | "members"

/**
 * Any DHT record body, tagged by `ty`.
 *
 * @since 0.1.0
 * @category records
 */
export type RecordBody =
  | ProviderRecordBody
  | EndpointRecordBody
  | StationRecordBody
  | ContentProviderRecordBody
  | RevocationRecordBody
  | RealmRecordBody

/**
 * A record type, the value of `ty`.
 *
 * @since 0.1.0
 * @category records
 */
export type RecordType = RecordBody["ty"]

/**
 * A SWIM claim type.
 *
 * @since 0.1.0
 * @category claims
 */
export type ClaimType = "alive" | "suspect" | "dead"

/**
 * A SWIM claim (§11.1), signed with the `swim` domain by `by`.
 *
 * @since 0.1.0
 * @category claims
 */
export interface ClaimBody {
  readonly ty: ClaimType
  /** Subject. */
  readonly pk: Bin32
  /** Incarnation. */
  readonly inc: U
  /** Signer: the subject for `alive` (and a graceful `dead`), else the accuser. */
  readonly by: Bin32
  /** Addresses (alive claims). */
  readonly a?: ReadonlyArray<string>
  /** Signer wall clock, unix ms. */
  readonly ts: U
}

const callModes: ReadonlyArray<CallMode> = ["unary", "server", "client", "bidi"]
const realmPolicies: ReadonlyArray<RealmPolicy> = ["open", "members"]
const claimTypes: ReadonlyArray<ClaimType> = ["alive", "suspect", "dead"]

/**
 * Every record type (§10.3).
 *
 * @since 0.1.0
 * @category records
 */
export const recordTypes: ReadonlyArray<RecordType> = [
  "provider",
  "endpoint",
  "station",
  "content-provider",
  "revocation",
  "realm"
]

/**
 * Checks a decoded map as an envelope body; read `Fields.problem()` afterwards.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkEnvelope = (o: F.WireMap): EnvelopeBody => ({
  realm: F.binN(o.realm, "realm", keyBytes),
  topic: F.str(o.topic, "topic"),
  pk: F.binN(o.pk, "pk", keyBytes),
  sess: F.binN(o.sess, "sess", sessionIdBytes),
  seq: F.u(o.seq, "seq"),
  tseq: F.u(o.tseq, "tseq"),
  ts: F.u(o.ts, "ts"),
  p: F.any(o.p, "p")
})

const recordData = (ty: RecordType, d: F.WireMap): RecordBody["d"] => {
  switch (ty) {
    case "provider": {
      const data: Mutable<ProviderRecordBody["d"]> = {
        realm: F.binN(d.realm, "d.realm", keyBytes),
        proc: F.str(d.proc, "d.proc"),
        st: F.binN(d.st, "d.st", keyBytes),
        modes: F.listOneOf(d.modes, "d.modes", callModes),
        req: F.bool(d.req, "d.req")
      }
      const gone = F.optBool(d.gone, "d.gone")
      if (gone !== undefined) data.gone = gone
      return data
    }
    case "endpoint":
      return { st: F.listBinN(d.st, "d.st", keyBytes), a: F.listStr(d.a, "d.a") }
    case "station":
      return {
        a: F.listStr(d.a, "d.a"),
        realms: F.listBinN(d.realms, "d.realms", keyBytes),
        feat: F.listStr(d.feat, "d.feat")
      }
    case "content-provider":
      return {
        m: F.binN(d.m, "d.m", mcidBytes),
        sz: F.u(d.sz, "d.sz"),
        n: F.u(d.n, "d.n"),
        st: F.binN(d.st, "d.st", keyBytes),
        a: F.listStr(d.a, "d.a")
      }
    case "revocation":
      return { cid: F.bin(d.cid, "d.cid"), inv: F.bin(d.inv, "d.inv"), prf: F.listBin(d.prf, "d.prf") }
    case "realm":
      return {
        name: F.str(d.name, "d.name"),
        auth: F.str(d.auth, "d.auth"),
        pol: F.oneOf(d.pol, "d.pol", realmPolicies)
      }
  }
}

/**
 * Checks a decoded map as a record body; read `Fields.problem()` afterwards.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkRecord = (o: F.WireMap): RecordBody => {
  const ty = F.oneOf(o.ty, "ty", recordTypes)
  const header: RecordHeader = {
    key: F.binN(o.key, "key", keyBytes),
    pk: F.binN(o.pk, "pk", keyBytes),
    seq: F.u(o.seq, "seq"),
    iat: F.u(o.iat, "iat"),
    exp: F.u(o.exp, "exp")
  }
  const d = F.map(o.d, "d")
  const data = recordData(ty, d)
  return { ty, ...header, d: data } as RecordBody
}

/**
 * Checks a decoded map as a claim body; read `Fields.problem()` afterwards.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkClaim = (o: F.WireMap): ClaimBody => {
  const claim: Mutable<ClaimBody> = {
    ty: F.oneOf(o.ty, "ty", claimTypes),
    pk: F.binN(o.pk, "pk", keyBytes),
    inc: F.u(o.inc, "inc"),
    by: F.binN(o.by, "by", keyBytes),
    ts: F.u(o.ts, "ts")
  }
  const a = F.optListStr(o.a, "a")
  if (a !== undefined) claim.a = a
  return claim
}
