/**
 * Builders for the connection core's tests and properties: configs with the wire's stream
 * rules, hellos, and cores driven to a given phase.
 */
import * as Step from "../../../../src/core/Step.ts"
import { Connection } from "../../../../src/protocols/connection/index.ts"
import type { Command } from "../../../../src/protocols/connection/Command.ts"
import type { State } from "../../../../src/protocols/connection/State.ts"
import type { Frame, Hello } from "../../../../src/wire/Frame.ts"
import * as Streams from "../../../../src/wire/Streams.ts"

export const Event = Connection.Event
export const placement = { opens: Streams.opens, allows: Streams.allows }

export const config = (
  role: "station" | "client",
  overrides: Partial<Omit<Connection.Config.Config, "role" | "placement">> = {}
): Connection.Config.Config => Connection.Config.make(role, placement, { stationPowBits: 8, ...overrides })

export const hello = (role: "station" | "client", overrides: Partial<Hello> = {}): Hello => ({
  t: "hello",
  role,
  vers: [1],
  feat: [],
  realms: [],
  addrs: [],
  lim: { f: 65_536 },
  ts: 1_700_000_000_000,
  ...overrides
})

/** Wall clock at monotonic 0 in these tests. */
export const wall0 = 1_700_000_000_000
export const CONTROL = 0
export const pow = 8

export const tags = (commands: ReadonlyArray<Command>): ReadonlyArray<string> =>
  commands.map((c) => (c._tag === "Emit" ? `Emit:${c.notice._tag}` : c._tag))

export const sent = (commands: ReadonlyArray<Command>): ReadonlyArray<Frame> =>
  commands.flatMap((c) => (c._tag === "Send" ? [c.frame] : []))

export const closeCode = (commands: ReadonlyArray<Command>): string | undefined =>
  commands.flatMap((c) => (c._tag === "CloseConnection" ? [c.code] : []))[0]

export const timerSet = (commands: ReadonlyArray<Command>, timer: string) =>
  commands.flatMap((c) => (c._tag === "SetTimer" && c.timer === timer ? [c] : []))[0]

/** A listener core that accepted a hello from `peerRole` on stream 0 at t = 10: ready. */
export const readyListener = (
  cfg = config("station"),
  peerRole: "station" | "client" = "client"
): readonly [State, ReadonlyArray<Command>] => {
  const step = Connection.makeStep(cfg)
  return Step.run(step, Connection.initial(cfg, "inbound"), [
    Event.Started({ now: 0, wallNow: wall0, peerPowBits: pow }),
    Event.FrameReceived({ now: 10, stream: CONTROL, frame: hello(peerRole) })
  ])
}

/** A dialer core whose control stream is 0, hello sent, answered by a station at t = 10: ready. */
export const readyDialer = (cfg = config("client")): readonly [State, ReadonlyArray<Command>] => {
  const step = Connection.makeStep(cfg)
  return Step.run(step, Connection.initial(cfg, "outbound"), [
    Event.Started({ now: 0, wallNow: wall0, peerPowBits: pow }),
    Event.StreamOpened({ now: 1, stream: CONTROL, as: { kind: "control" } }),
    Event.FrameReceived({ now: 10, stream: CONTROL, frame: hello("station") })
  ])
}
