/**
 * Which stream each frame type may travel on (PROTOCOL.md §3.5), as data.
 *
 * Key invariant: the tables below are the whole rule. A stream's kind is fixed by its first
 * frame (`opens`); afterwards a frame is allowed iff its type belongs to that kind, and on a
 * lane iff it is of the lane's family or is `ok`/`err` (`allows`). The connection layer calls
 * `check` on every decoded frame and resets the stream with `wrong_stream` on a refusal.
 *
 * It does not track connection state: frames before the hellos, a second lane of one family
 * per opener, or a second control stream are the connection layer's to refuse (they are also
 * `wrong_stream`, §4.4).
 *
 * @since 0.1.0
 */
import * as DecodeError from "./DecodeError.ts"
import type { Frame, FrameType } from "./Frame.ts"

/**
 * Lane families (§3.5).
 *
 * @since 0.1.0
 * @category models
 */
export type Family = "swim" | "dht" | "pubsub" | "rpc"

/**
 * Stream kinds (§3.5): the control stream, per-family lanes, streaming-call streams and
 * content sessions.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamKind = "control" | "lane" | "call" | "content"

/**
 * A stream as the connection layer knows it: its kind and, for a lane, its family.
 *
 * @since 0.1.0
 * @category models
 */
export type Stream =
  | { readonly kind: "control" }
  | { readonly kind: "lane"; readonly family: Family }
  | { readonly kind: "call" }
  | { readonly kind: "content" }

/**
 * Where a frame type may appear.
 *
 * @since 0.1.0
 * @category models
 */
export interface Placement {
  /** Stream kinds that may carry it. */
  readonly kinds: ReadonlyArray<StreamKind>
  /** Its lane family; absent for `ok`/`err` (any lane) and non-lane frames. */
  readonly family?: Family
  /** Whether it may be the first frame of a stream (and so fix the stream's kind). */
  readonly opens: boolean
}

const control: Placement = { kinds: ["control"], opens: false }
const lane = (family: Family): Placement => ({ kinds: ["lane"], family, opens: true })
const rpcAndCall: Placement = { kinds: ["lane", "call"], family: "rpc", opens: true }
const callOnly: Placement = { kinds: ["call"], opens: false }
const content: Placement = { kinds: ["content"], opens: true }

/**
 * The placement of every frame type.
 *
 * @since 0.1.0
 * @category tables
 */
export const placements: { readonly [T in FrameType]: Placement } = {
  "hello": { kinds: ["control"], opens: true },
  "ping": control,
  "pong": control,
  "goodbye": control,
  "resync": control,
  "ok": { kinds: ["lane"], opens: false },
  "err": { kinds: ["lane", "content"], opens: false },
  "swim.ping": lane("swim"),
  "swim.ping_req": lane("swim"),
  "swim.ack": lane("swim"),
  "swim.nack": lane("swim"),
  "swim.sync": lane("swim"),
  "dht.find_node": lane("dht"),
  "dht.nodes": lane("dht"),
  "dht.find_value": lane("dht"),
  "dht.value": lane("dht"),
  "dht.store": lane("dht"),
  "dht.store_ack": lane("dht"),
  "dht.get": lane("dht"),
  "dht.put": lane("dht"),
  "sub": lane("pubsub"),
  "unsub": lane("pubsub"),
  "pub": lane("pubsub"),
  "event": lane("pubsub"),
  "ack": lane("pubsub"),
  "gap": lane("pubsub"),
  "fwd": lane("pubsub"),
  "interest.sync": lane("pubsub"),
  "interest.add": lane("pubsub"),
  "interest.del": lane("pubsub"),
  "adv": lane("rpc"),
  "unadv": lane("rpc"),
  "call": rpcAndCall,
  "reply": rpcAndCall,
  "cancel": rpcAndCall,
  "s.data": callOnly,
  "s.end": callOnly,
  "s.credit": callOnly,
  "content.want": content,
  "content.have": content,
  "content.block": content,
  "content.manifest_req": content,
  "content.manifest_res": content,
  "content.cancel": content
}

/**
 * The lane family of a frame type; `undefined` for control, call-stream-only and content
 * frames, and for `ok`/`err`, which may appear on any lane.
 *
 * @since 0.1.0
 * @category getters
 */
export const familyOf = (t: FrameType): Family | undefined => placements[t].family

/**
 * The stream kinds that may carry a frame type.
 *
 * @since 0.1.0
 * @category getters
 */
export const kindsOf = (t: FrameType): ReadonlyArray<StreamKind> => placements[t].kinds

const controlStream: Stream = { kind: "control" }
const callStream: Stream = { kind: "call" }
const contentStream: Stream = { kind: "content" }
const lanes: { readonly [F in Family]: Stream } = {
  swim: { kind: "lane", family: "swim" },
  dht: { kind: "lane", family: "dht" },
  pubsub: { kind: "lane", family: "pubsub" },
  rpc: { kind: "lane", family: "rpc" }
}

/**
 * The stream a first frame opens: `hello` the control stream, a `call` with a streaming
 * `mode` a call stream, a `content.*` frame a content session, any other family frame a lane
 * of its family. `undefined` when the frame cannot open a stream (`wrong_stream`).
 *
 * @since 0.1.0
 * @category streams
 */
export const opens = (first: Frame): Stream | undefined => {
  const placement = placements[first.t]
  if (!placement.opens) return undefined
  if (first.t === "hello") return controlStream
  if (first.t === "call" && first.mode !== undefined && first.mode !== "unary") return callStream
  if (placement.family !== undefined) return lanes[placement.family]
  return contentStream
}

/**
 * Whether a frame type may travel on a stream (after its first frame).
 *
 * @since 0.1.0
 * @category streams
 */
export const allows = (stream: Stream, t: FrameType): boolean => {
  const placement = placements[t]
  if (!placement.kinds.includes(stream.kind)) return false
  return stream.kind !== "lane" || placement.family === undefined || placement.family === stream.family
}

/**
 * `wrong_stream` if a frame may not travel on `stream`, else `undefined`.
 *
 * @since 0.1.0
 * @category streams
 */
export const check = (stream: Stream, frame: Frame): DecodeError.DecodeError | undefined =>
  allows(stream, frame.t)
    ? undefined
    : DecodeError.make("wrong_stream", `${frame.t} on a ${describeStream(stream)}`)

const describeStream = (stream: Stream): string =>
  stream.kind === "lane" ? `${stream.family} lane` : `${stream.kind} stream`

/**
 * The stream a first frame opens, or `wrong_stream` if it cannot open one.
 *
 * @since 0.1.0
 * @category streams
 */
export const checkFirst = (first: Frame): Stream | DecodeError.DecodeError =>
  opens(first) ?? DecodeError.make("wrong_stream", `${first.t} cannot open a stream`)
