/**
 * The reviewed patch of `@matrixai/quic` (patches/, docs/transport.md) must be applied: the
 * transport is ten times slower without it. This fails when `npm ci` did not run the postinstall
 * step, or when the patch no longer matches the installed version.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"

const require = createRequire(import.meta.url)
const dist = (name: string) => dirname(require.resolve(`${name}/package.json`)) + "/dist"
const source = (name: string, file: string) => readFileSync(join(dist(name), file), "utf8")

describe("the @matrixai/quic patch", () => {
  it("is applied to @matrixai/quic and exports its marker", async () => {
    const patched = (await import("@matrixai/quic")) as Record<string, unknown>
    expect(patched["maculaPatch"]).toBe("macula-node/quic-perf/1")
  })

  it("is absent from the stock copy installed for baselines", async () => {
    const stock = (await import("@matrixai/quic-stock")) as Record<string, unknown>
    expect(stock["maculaPatch"]).toBeUndefined()
  })

  it("carries each of the six fixes", () => {
    const connection = source("@matrixai/quic", "QUICConnection.js")
    // 1: no per-datagram lock around recv.
    expect(connection).not.toContain("recvLock.withF")
    // 2: datagrams cut from a slab, one plain timer for the quiche timeout.
    expect(connection).toContain("sendSlabOffset += sendLength")
    expect(connection).toContain("setTimeout(this.handleConnTimeout")
    // 3 and 4: one flush per event-loop turn.
    expect(connection).toContain("setImmediate(this.runFlush)")
    expect(source("@matrixai/quic", "QUICStream.js")).not.toContain("new events.EventQUICStreamSend()")
    // 5: datagrams straight to the socket.
    expect(connection).toContain("this.socket.sendDatagram(")
    expect(source("@matrixai/quic", "QUICSocket.js")).toContain("sendDatagram(msg, length, port, address, callback)")
    // 6: a peer stream arriving while the connection is still starting is accepted.
    expect(connection).toContain("this[startStop.status] !== 'starting'")
    // The stock copy has none of it.
    expect(source("@matrixai/quic-stock", "QUICConnection.js")).toContain("recvLock.withF")
  })
})
