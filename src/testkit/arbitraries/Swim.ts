/**
 * fast-check arbitraries for the SWIM core: member ids, incarnations, claims (well-formed and
 * hostile), SWIM packets, core events and valid configs.
 *
 * Key invariant: `claim` and `packet` produce only what the actor would let through after
 * verifying signatures (well-formed claims, each with its `signed` object attached: random
 * bytes the core never reads, only relays), while `hostileClaim` produces anything a careless or malicious sender
 * could put in a claim's fields. Ids come from a small alphabet so that claims about the same
 * subject collide often, which is where precedence rules matter.
 *
 * It does not sign anything: use the wire arbitraries for encoded, signed frames.
 *
 * @since 0.1.0
 */
import fc from "fast-check"
import type { Claim, Incarnation, Kind, MemberId } from "../../protocols/swim/Claims.ts"
import type { Config } from "../../protocols/swim/Config.ts"
import { local } from "../../protocols/swim/Config.ts"
import { Event } from "../../protocols/swim/Event.ts"
import { Packet } from "../../protocols/swim/Packet.ts"
import type { Signed } from "../../wire/Frame.ts"

/**
 * A member id from a small alphabet (`m0` … `m{size − 1}`), so that draws collide.
 *
 * @since 0.1.0
 * @category ids
 */
export const memberId = (size = 6): fc.Arbitrary<MemberId> => fc.nat({ max: size - 1 }).map((i) => `m${i}`)

/**
 * Distinct member ids, for building clusters.
 *
 * @since 0.1.0
 * @category ids
 */
export const memberIds = (min: number, max: number): fc.Arbitrary<ReadonlyArray<MemberId>> =>
  fc.integer({ min, max }).map((n) => Array.from({ length: n }, (_, i) => `n${i}`))

/**
 * An incarnation, mostly small (so claims tie and overtake each other), sometimes huge.
 *
 * @since 0.1.0
 * @category values
 */
export const incarnation: fc.Arbitrary<Incarnation> = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 6 }) },
  { weight: 1, arbitrary: fc.maxSafeNat() }
)

/**
 * A claim kind.
 *
 * @since 0.1.0
 * @category values
 */
export const kind: fc.Arbitrary<Kind> = fc.constantFrom("alive", "suspect", "dead")

/**
 * Opaque signed bytes standing in for a verified signature.
 *
 * @since 0.1.0
 * @category values
 */
export const signed: fc.Arbitrary<Signed> = fc.record({
  b: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  s: fc.uint8Array({ minLength: 64, maxLength: 64 })
})

/**
 * A well-formed, verified claim about `subject` (an alive claim is self-signed and carries
 * addresses; a suspect claim is signed by someone else; `signed` is always attached).
 *
 * @since 0.1.0
 * @category claims
 */
export const claimAbout = (subject: MemberId, ids: fc.Arbitrary<MemberId> = memberId()): fc.Arbitrary<Claim> =>
  fc.record({ kind, incarnation, by: ids, sig: signed }).map(({ kind, incarnation, by, sig }): Claim => {
    const accuser = by === subject ? `${subject}x` : by
    return kind === "alive"
      ? { kind, subject, incarnation, by: subject, addrs: [`quic://${subject}`], signed: sig }
      : kind === "suspect"
      ? { kind, subject, incarnation, by: accuser, signed: sig }
      : { kind, subject, incarnation, by, signed: sig }
  })

/**
 * A well-formed claim about any member of `ids`.
 *
 * @since 0.1.0
 * @category claims
 */
export const claim = (ids: fc.Arbitrary<MemberId> = memberId()): fc.Arbitrary<Claim> =>
  ids.chain((subject) => claimAbout(subject, ids))

/**
 * A claim with any field values a hostile sender could produce: forged alive claims,
 * self-accusations, incarnations out of range, empty ids.
 *
 * @since 0.1.0
 * @category claims
 */
export const hostileClaim: fc.Arbitrary<Claim> = fc.record({
  kind,
  subject: fc.oneof(memberId(), fc.constant("")),
  incarnation: fc.oneof(incarnation, fc.integer(), fc.double(), fc.constant(2 ** 53)),
  by: fc.oneof(memberId(), fc.constant("")),
  addrs: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })
}).map((c): Claim => c)

/**
 * A SWIM packet with up to `maxClaims` claims.
 *
 * @since 0.1.0
 * @category packets
 */
export const packet = (ids: fc.Arbitrary<MemberId> = memberId(), maxClaims = 4): fc.Arbitrary<Packet> => {
  const claims = fc.array(claim(ids), { maxLength: maxClaims })
  const seq = fc.nat({ max: 50 })
  return fc.oneof(
    fc.record({ seq, claims }).map((p) => Packet.Ping(p)),
    fc.record({ seq, target: ids, claims }).map((p) => Packet.PingReq(p)),
    fc.record({ seq, claims }).map((p) => Packet.Ack(p)),
    seq.map((s) => Packet.Nack({ seq: s })),
    fc.record({ seq, claims }).map((p) => Packet.Sync(p))
  )
}

/**
 * A core event at `now` (packets from `ids`, timers with guessed generations, local requests).
 *
 * @since 0.1.0
 * @category events
 */
export const event = (now: number, ids: fc.Arbitrary<MemberId> = memberId()): fc.Arbitrary<Event> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ from: ids, packet: packet(ids) }).map((e) => Event.PacketReceived({ now, ...e }))
    },
    { weight: 1, arbitrary: fc.record({ to: ids, packet: packet(ids) }).map((e) => Event.SendFailed({ now, ...e })) },
    {
      weight: 2,
      arbitrary: fc.record({
        timer: fc.oneof(
          fc.constantFrom("probe" as const, "probe-timeout" as const, "push-pull" as const),
          ids.map((id) => `suspicion/${id}` as const),
          fc.nat({ max: 50 }).map((n) => `relay/${n}` as const)
        ),
        generation: fc.nat({ max: 60 })
      }).map((e) => Event.TimerFired({ now, ...e }))
    },
    { weight: 1, arbitrary: fc.array(ids, { maxLength: 3 }).map((peers) => Event.Join({ now, peers })) },
    { weight: 1, arbitrary: fc.constant(Event.Start({ now })) }
  )

/**
 * A valid config near `local` with small caps, so that bounds are reached in short runs.
 *
 * @since 0.1.0
 * @category config
 */
export const config: fc.Arbitrary<Config> = fc.record({
  indirectProbes: fc.integer({ min: 0, max: 4 }),
  suspicionMult: fc.integer({ min: 1, max: 6 }),
  suspicionMaxTimeoutMult: fc.integer({ min: 1, max: 6 }),
  retransmitMult: fc.integer({ min: 1, max: 4 }),
  maxPiggybackClaims: fc.integer({ min: 1, max: 6 }),
  swimMaxMembers: fc.integer({ min: 1, max: 8 }),
  maxPendingRelays: fc.integer({ min: 1, max: 4 }),
  maxPendingSyncs: fc.integer({ min: 1, max: 3 }),
  lifeguard: fc.boolean()
}).map((patch) => ({ ...local, ...patch }))
