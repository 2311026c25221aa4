/**
 * A station's own `station` record and the resolution of direct-mode calls (PROTOCOL.md §9.2,
 * §10.3): pure functions over record bodies, with the wall clock and any randomness as inputs.
 *
 * - **Publishing.** A station says where it listens in a `station` record signed with its key:
 *   `d = {a, realms, feat}`, key = SHA-256(`station` 0x00 ‖ pk), TTL `stationRecordTtlMs`.
 *   `body` builds it; `sameContent` tells whether a published record still says what the station
 *   would say now (its addresses may change), so the owner knows when to publish again at once
 *   rather than at the renewal time (`Records.republishAt`).
 * - **Resolving.** A direct-mode caller turns the provider records of a procedure into the
 *   station that serves it (`servingStation`: valid, non-withdrawn, latest per provider; a
 *   provider at the caller's own station first, then a random pick weighted by inverse RTT), and
 *   that station's records into addresses it can dial (`stationAddresses`: the station's own
 *   latest valid record, each address pinned with its DID).
 *
 * @since 0.1.0
 */
import type { UnixMillis } from "../../core/Millis.ts"
import type { ProviderRecordBody, RecordBody, StationRecordBody } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Records from "./Records.ts"
import * as Xor from "./Xor.ts"

/**
 * What a station record says: the addresses to dial it at (`a`), the realms it serves (`realms`,
 * realm ids; empty = all) and its features (`feat`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Content {
  readonly a: ReadonlyArray<string>
  readonly realms: ReadonlyArray<Uint8Array>
  readonly feat: ReadonlyArray<string>
}

/**
 * The unsigned `station` record of `pk` saying `content`, issued at `wallNow` for
 * `stationRecordTtlMs` with sequence number `seq`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const body = (
  config: Pick<Config, "sha256" | "stationRecordTtlMs">,
  pk: Uint8Array,
  content: Content,
  seq: number,
  wallNow: UnixMillis
): StationRecordBody => {
  const d = { a: [...content.a], realms: [...content.realms], feat: [...content.feat] }
  const draft: StationRecordBody = { ty: "station", key: new Uint8Array(32), pk, seq, iat: wallNow, exp: wallNow + config.stationRecordTtlMs, d }
  return { ...draft, key: Records.expectedKey(config, draft) }
}

/**
 * The DHT key of `pk`'s station record: SHA-256(`station` 0x00 ‖ pk).
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (config: Pick<Config, "sha256">, pk: Uint8Array): Uint8Array =>
  Records.expectedKey(config, { ty: "station", key: pk, pk, seq: 0, iat: 0, exp: 0, d: { a: [], realms: [], feat: [] } })

/**
 * The next `seq` of an own record: the signing time in ms, strictly above the last one used.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nextSeq = (last: number, wallNow: UnixMillis): number => Math.max(last + 1, wallNow)

const sameStrings = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Whether a published station record says exactly `content` (same addresses, realms and
 * features, in order). `false` for any other record type.
 *
 * @since 0.1.0
 * @category predicates
 */
export const sameContent = (published: RecordBody, content: Content): boolean =>
  published.ty === "station" &&
  sameStrings(published.d.a, content.a) &&
  sameStrings(published.d.feat, content.feat) &&
  published.d.realms.length === content.realms.length &&
  published.d.realms.every((r, i) => Xor.equals(r, content.realms[i]!))

/**
 * Addresses a station record may carry: a wildcard host (`0.0.0.0`, `::`) names no interface
 * anyone can dial, so a station listening on one publishes none of it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPublishable = (address: string): boolean => !/^[a-z]+:\/\/(0\.0\.0\.0|\[::\]|::)(:\d+)?(#.*)?$/.test(address)

const live = (config: Pick<Config, "clockSkewLeewayMs">, body: RecordBody, wallNow: UnixMillis): boolean =>
  body.exp > wallNow && body.iat <= wallNow + config.clockSkewLeewayMs

/**
 * The latest live record of each signer among `bodies` (highest `seq`).
 *
 * @since 0.1.0
 * @category getters
 */
export const latestPerSigner = <B extends RecordBody>(
  config: Pick<Config, "clockSkewLeewayMs">,
  bodies: ReadonlyArray<B>,
  wallNow: UnixMillis
): ReadonlyArray<B> => {
  const latest = new Map<string, B>()
  for (const b of bodies) {
    if (!live(config, b, wallNow)) continue
    const signer = Xor.toHex(b.pk)
    const held = latest.get(signer)
    if (held === undefined || b.seq > held.seq) latest.set(signer, b)
  }
  return [...latest.values()]
}

/**
 * How a caller picks the station serving a procedure.
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice {
  readonly wallNow: UnixMillis
  /** The caller's home station (its key): a provider there is preferred (§9.2 "local"). */
  readonly home?: Uint8Array
  /** The round trip to a station (its key) when the caller knows it, ms. */
  readonly rttMs?: (station: Uint8Array) => number | undefined
  /** A uniform draw in [0, 1): the random pick among the rest. */
  readonly random: number
  /** Stations to leave out (their calls just failed). */
  readonly exclude?: (station: Uint8Array) => boolean
}

/** The RTT assumed for a station the caller has never measured, ms. */
const unknownRttMs = 100

/**
 * The station to send a direct call to, from the provider records of (realm, proc) (§9.2): keeps
 * the latest live record per provider that names this procedure and is not a withdrawal (a
 * provider whose latest record is a withdrawal is out, whatever older records say), prefers a
 * provider at the caller's home station, else picks among the stations at random weighted by
 * inverse RTT. `req`: whether the chosen record requires an invocation from the caller.
 * `undefined` when no provider is left.
 *
 * @since 0.1.0
 * @category resolution
 */
export const servingStation = (
  config: Pick<Config, "clockSkewLeewayMs">,
  bodies: ReadonlyArray<RecordBody>,
  realm: Uint8Array,
  proc: string,
  choice: Choice
): { readonly station: Uint8Array; readonly provider: Uint8Array; readonly req: boolean } | undefined => {
  const providers = bodies.filter((b): b is ProviderRecordBody =>
    b.ty === "provider" && b.d.proc === proc && Xor.equals(b.d.realm, realm)
  )
  const usable = latestPerSigner(config, providers, choice.wallNow)
    .filter((b) => b.d.gone !== true && b.d.st.length === 32 && choice.exclude?.(b.d.st) !== true)
    .sort((a, b) => Xor.compareBytes(a.pk, b.pk)) // the draw alone decides, not the reply order
  if (usable.length === 0) return undefined
  const home = choice.home
  const local = home === undefined ? undefined : usable.find((b) => Xor.equals(b.d.st, home))
  const chosen = (b: ProviderRecordBody) => ({ station: b.d.st, provider: b.pk, req: b.d.req })
  if (local !== undefined) return chosen(local)
  const weights = usable.map((b) => 1 / Math.max(1, choice.rttMs?.(b.d.st) ?? unknownRttMs))
  const total = weights.reduce((s, w) => s + w, 0)
  let point = Math.min(Math.max(choice.random, 0), 1 - Number.EPSILON) * total
  for (let i = 0; i < usable.length; i++) {
    point -= weights[i]!
    if (point < 0) return chosen(usable[i]!)
  }
  return chosen(usable[usable.length - 1]!)
}

/**
 * The addresses to dial `station` at, from the records found under its station key: those of
 * its own latest live record, each pinned with its DID (`quic://host:port#did:key:…`) so the
 * dial proves whom it reached. Empty when there is no such record or it names no address.
 *
 * @since 0.1.0
 * @category resolution
 */
export const stationAddresses = (
  config: Pick<Config, "clockSkewLeewayMs">,
  bodies: ReadonlyArray<RecordBody>,
  station: Uint8Array,
  wallNow: UnixMillis
): ReadonlyArray<string> => {
  const own = bodies.filter((b): b is StationRecordBody => b.ty === "station" && Xor.equals(b.pk, station))
  const latest = latestPerSigner(config, own, wallNow)[0]
  if (latest === undefined) return []
  const did = Records.didKeyOf(station)
  return latest.d.a.filter(isPublishable).map((a) => `${a.split("#")[0]}#${did}`)
}
