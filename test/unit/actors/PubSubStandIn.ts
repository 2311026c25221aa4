/**
 * A stand-in for a ready connection in actor tests (no transport): it records the frames sent
 * on its lanes, the answers written back on the peer's lane and the penalties, and injects
 * frames into whatever sink subscribed its channel.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { Handle, Inbound, Sink, Status } from "../../../src/platform/transport/ConnectionHandle.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/** A ready connection that records what is sent on its lanes, its answers and penalties. */
export const standIn = (peerDid: string, role: "client" | "station", channel: "pubsub" | "rpc") => {
  const sent: Array<Frame.Frame> = []
  const answers: Array<Frame.Frame> = []
  const penalties: Array<string> = []
  let sink: Sink | undefined
  const closed = Deferred.makeUnsafe<Status>()
  const status: Status = {
    connectionId: "conn-1", peerDid, direction: "inbound", remoteAddress: "quic://10.0.0.9:4433", phase: "ready",
    peerRole: role, version: 1, peerHello: undefined, skewMs: 0, rttMs: 1, score: 0, rejected: 0, undelivered: 0,
    ending: undefined
  }
  const handle: Handle = {
    connectionId: "conn-1",
    peerDid,
    direction: "inbound",
    remoteAddress: status.remoteAddress,
    status: () => status,
    watch: () => () => undefined,
    ready: Effect.succeed(status),
    closed: Deferred.await(closed),
    openLane: (family) =>
      Effect.succeed({
        family,
        stream: 1,
        send: (frame) => Effect.sync(() => void sent.push(frame)),
        sendAll: (frames) => Effect.sync(() => void sent.push(...frames))
      }),
    subscribe: (_channel, given) => {
      sink = given
      return () => undefined
    },
    close: () => Effect.void,
    penalize: (severity, reason) => Effect.sync(() => void penalties.push(`${severity}:${reason}`))
  }
  const inject = (frame: Frame.Frame) => {
    const inbound: Inbound = {
      frame, channel, opener: "peer", stream: 2, connectionId: "conn-1", peerDid,
      reply: (answer) => Effect.sync(() => void answers.push(answer))
    }
    return Effect.andThen(sink === undefined ? Effect.void : sink(inbound), settle)
  }
  return { handle, sent, answers, penalties, inject }
}

