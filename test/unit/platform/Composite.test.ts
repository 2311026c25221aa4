/**
 * The composite transport over fake parts: `dial` by scheme, one merged `accept` over every
 * listener, and the checks at construction.
 */
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import * as Composite from "../../../src/platform/transport/Composite.ts"
import { ConnectionLost, DialFailed, ListenerClosed } from "../../../src/platform/transport/Errors.ts"
import { Inbox } from "../../../src/platform/transport/Inbox.ts"
import type { Connection, Transport } from "../../../src/platform/transport/Transport.ts"

const connection = (id: string): Connection => ({
  id,
  peerDid: "did:key:peer",
  peerPublicKey: new Uint8Array(32),
  remoteAddress: id,
  direction: "inbound",
  openStream: Effect.die("unused"),
  acceptStream: Effect.die("unused"),
  close: () => Effect.void,
  closed: Effect.succeed(new ConnectionLost({ peerDid: "did:key:peer", by: "local", code: "normal", message: "" })),
  isClosed: () => false
})

/** A part that records dials and accepts whatever the test offers to its inbox. */
const fake = (scheme: string, did = "did:key:self") => {
  const dialed: Array<string> = []
  const incoming = new Inbox<Connection, ListenerClosed>()
  const address = `${scheme}://127.0.0.1:4433`
  const service: Transport["Service"] = {
    localDid: did,
    localAddress: address,
    listen: Effect.as(
      Effect.addFinalizer(() => Effect.sync(() => incoming.fail(new ListenerClosed({ address })))),
      { address, accept: incoming.take }
    ),
    dial: (to) =>
      Effect.sync(() => {
        dialed.push(to)
        return connection(to)
      })
  }
  return { service, dialed, incoming }
}

describe("Composite transport", () => {
  it("dials by scheme and refuses schemes it has no part for", async () => {
    const quic = fake("quic")
    const tls = fake("tls")
    const both = await Effect.runPromise(Composite.make({ quic: quic.service, tls: tls.service }))
    await Effect.runPromise(both.dial("quic://10.0.0.1:4433"))
    await Effect.runPromise(both.dial("tls://[::1]:4433#did:key:z6Mkx"))
    expect([quic.dialed, tls.dialed]).toEqual([["quic://10.0.0.1:4433"], ["tls://[::1]:4433#did:key:z6Mkx"]])
    expect(await Effect.runPromise(Effect.flip(both.dial("udp://10.0.0.1:1")))).toMatchObject({ reason: "invalid_address" })
    expect(await Effect.runPromise(Effect.flip(both.dial("10.0.0.1:4433")))).toBeInstanceOf(DialFailed)
    const quicOnly = await Effect.runPromise(Composite.make({ quic: quic.service }))
    expect(await Effect.runPromise(Effect.flip(quicOnly.dial("tls://10.0.0.1:4433")))).toMatchObject({
      reason: "invalid_address",
      message: "this node has no tls transport"
    })
    expect([both.localDid, both.localAddress]).toEqual(["did:key:self", "quic://127.0.0.1:4433"])
  })

  it("refuses no parts, and parts on different keys", async () => {
    expect((await Effect.runPromise(Effect.flip(Composite.make({}))))._tag).toBe("TransportStartFailed")
    const mixed = Composite.make({ quic: fake("quic", "did:key:a").service, tls: fake("tls", "did:key:b").service })
    expect(await Effect.runPromise(Effect.flip(mixed))).toMatchObject({ message: "the transports run on different keys" })
  })

  it("listens on every part and merges their connections into one accept, until the scope closes", async () => {
    const quic = fake("quic")
    const tls = fake("tls")
    const both = await Effect.runPromise(Composite.make({ quic: quic.service, tls: tls.service }))
    const scope = await Effect.runPromise(Scope.make())
    const listener = await Effect.runPromise(Scope.provide(both.listen, scope))
    expect(listener.address).toBe("quic://127.0.0.1:4433")
    expect(listener.addresses).toEqual(["quic://127.0.0.1:4433", "tls://127.0.0.1:4433"])
    expect(Exit.isFailure(await Effect.runPromiseExit(Scope.provide(both.listen, scope)))).toBe(true)
    tls.incoming.offer(connection("t1"))
    quic.incoming.offer(connection("q1"))
    tls.incoming.offer(connection("t2"))
    const ids = new Set<string>()
    for (let i = 0; i < 3; i++) ids.add((await Effect.runPromise(listener.accept)).id)
    expect(ids).toEqual(new Set(["t1", "q1", "t2"]))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(await Effect.runPromise(Effect.flip(listener.accept))).toBeInstanceOf(ListenerClosed)
  })
})
