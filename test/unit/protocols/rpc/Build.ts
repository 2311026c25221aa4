/**
 * Builders for the RPC core tests: keys, provider records and small drivers.
 */
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import type { ProviderRecordBody } from "../../../../src/wire/SignedBody.ts"

/** 32 bytes all equal to `n`, and its hex id. */
export const bytes32 = (n: number): Uint8Array => new Uint8Array(32).fill(n)
export const id = (n: number): string => Array.from(bytes32(n), (b) => b.toString(16).padStart(2, "0")).join("")

export const realm = bytes32(0xaa)
export const proc = "io.macula/beam-campus/hecate/math/add_numbers_v1"

/** A provider record for `proc` by `provider` served at `station`. */
export const record = (
  provider: number,
  station: number,
  extra: Partial<ProviderRecordBody["d"]> = {},
  seq = 1
): ProviderRecordBody => ({
  ty: "provider",
  key: bytes32(0),
  pk: bytes32(provider),
  seq,
  iat: 0,
  exp: 10_000_000,
  d: { realm, proc, st: bytes32(station), modes: ["unary"], req: false, ...extra }
})

export const signed: Frame.Signed = { b: new Uint8Array([1]), s: new Uint8Array(64) }

/** The commands of a given tag. */
export const ofTag = <C extends { readonly _tag: string }, T extends C["_tag"]>(
  commands: ReadonlyArray<C>,
  tag: T
): Array<Extract<C, { _tag: T }>> => commands.filter((c): c is Extract<C, { _tag: T }> => c._tag === tag)

/** `Send` commands of a dispatcher, optionally to one peer and of one frame type. */
export const sends = (cs: ReadonlyArray<Rpc.DispatcherCommand>, to?: string, t?: Frame.FrameType) =>
  ofTag(cs, "Send").filter((c) => (to === undefined || c.to === to) && (t === undefined || c.frame.t === t))

/** A call frame from a client. */
export const callFrame = (callId: number, extra: Partial<Frame.Call> = {}): Frame.Call => ({
  t: "call",
  id: callId,
  cid: new Uint8Array(16),
  realm,
  proc,
  a: { q: 1 },
  ttl: 1_000,
  idem: false,
  hop: 0,
  ...extra
})

/** An endpoint core stepped by `run`, which returns each event's commands; `state` is the latest. */
export const endpointDriver = (seed: number, config: Rpc.Config = Rpc.local) => {
  const step = Rpc.makeEndpointStep(config)
  let state = Rpc.initialEndpoint({ seed })
  return {
    run: (event: Rpc.EndpointEvent): ReadonlyArray<Rpc.EndpointCommand> => {
      const [after, commands] = step(state, event)
      state = after
      return commands
    },
    get state() {
      return state
    }
  }
}
