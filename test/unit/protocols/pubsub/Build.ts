/**
 * Builders for the pub/sub core tests: keys, realms, envelopes and frames, plus small
 * drivers that feed events and pick commands apart.
 */
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import type { EnvelopeBody } from "../../../../src/wire/SignedBody.ts"

/** 32 bytes all equal to `n`. */
export const bytes32 = (n: number): Uint8Array => new Uint8Array(32).fill(n)

/** The hex id of the key `bytes32(n)`. */
export const id = (n: number): string => PubSub.Keys.hex(bytes32(n))

/** A realm id used by most tests, and the zero realm. */
export const realm = bytes32(0xaa)
export const zeroRealm = new Uint8Array(32)

/** Topics and patterns of the test realm (realm name `io.macula`). */
export const topic = (name = "lobby_opened", version = 1): string => `io.macula/beam-campus/hecate/mpong/${name}_v${version}`
export const allMpong = "io.macula/beam-campus/hecate/mpong/*"
export const everything = "io.macula/#"

/** An 8-byte session id. */
export const sess = (n: number): Uint8Array => new Uint8Array(8).fill(n)

/** An envelope from publisher `pub` (key `bytes32(pub)`). */
export const envelope = (opts: {
  readonly pub: number
  readonly seq: number
  readonly tseq?: number
  readonly topic?: string
  readonly sess?: number
  readonly ts?: number
  readonly realm?: Uint8Array
}): EnvelopeBody => ({
  realm: opts.realm ?? realm,
  topic: opts.topic ?? topic(),
  pk: bytes32(opts.pub),
  sess: sess(opts.sess ?? 1),
  seq: opts.seq,
  tseq: opts.tseq ?? opts.seq,
  ts: opts.ts ?? 1_000_000,
  p: { n: opts.seq }
})

/** Stand-in signed bytes for an envelope (the core never looks inside). */
export const signedOf = (e: EnvelopeBody): Frame.Signed => ({
  b: new TextEncoder().encode(`${PubSub.Keys.hex(e.pk)}/${PubSub.Keys.hex(e.sess)}/${e.seq}/${e.tseq}/${e.topic}`),
  s: new Uint8Array(64)
})

/** The commands of a given tag. */
export const ofTag = <C extends { readonly _tag: string }, T extends C["_tag"]>(
  commands: ReadonlyArray<C>,
  tag: T
): Array<Extract<C, { _tag: T }>> => commands.filter((c): c is Extract<C, { _tag: T }> => c._tag === tag)

/** Frames sent, optionally only those to `to` and of type `t`. */
export const frames = (
  commands: ReadonlyArray<PubSub.RouterCommand>,
  to?: string,
  t?: Frame.FrameType
): Array<Frame.Frame> =>
  ofTag(commands, "Send").filter((c) => (to === undefined || c.to === to) && (t === undefined || c.frame.t === t)).map((c) =>
    c.frame
  )
