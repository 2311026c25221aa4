import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { ConnectionLost, StreamReset } from "../../../src/platform/transport/Errors.ts"
import * as Frame from "../../../src/platform/transport/Frame.ts"
import { type BytePort, FramedStream } from "../../../src/platform/transport/FramedStream.ts"
import { DecodeError } from "../../../src/wire/DecodeError.ts"

/** One direction of an in-memory byte pipe with a write counter and a switch to stall writes. */
const pipe = () => {
  const chunks: Array<Uint8Array> = []
  let readers: Array<() => void> = []
  let ended = false
  let stalled = false
  const writes = { count: 0 }
  const stallers: Array<() => void> = []
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => {
      writes.count++
      chunks.push(chunk)
      for (const r of readers.splice(0)) r()
      return stalled ? new Promise<void>((resolve) => stallers.push(resolve)) : undefined
    },
    close: () => {
      ended = true
      for (const r of readers.splice(0)) r()
    }
  })
  const readable = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      while (chunks.length === 0 && !ended) await new Promise<void>((r) => readers.push(r))
      const next = chunks.shift()
      if (next !== undefined) controller.enqueue(next)
      else controller.close()
    }
  })
  return {
    writable,
    readable,
    writes,
    stall: () => (stalled = true),
    release: () => {
      stalled = false
      for (const s of stallers.splice(0)) s()
    },
    inject: (bytes: Uint8Array) => {
      chunks.push(bytes)
      for (const r of readers.splice(0)) r()
    }
  }
}

const pair = (options = { maxFrameBytes: 1024, sendBufferBytes: 4096 }) => {
  const ab = pipe()
  const ba = pipe()
  const resets: Array<number> = []
  const port = (readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): BytePort => ({
    id: 0,
    openedLocally: true,
    readable,
    writable,
    reset: (code) => resets.push(code),
    classify: (cause) =>
      cause instanceof StreamReset ? cause : new ConnectionLost({ peerDid: "x", by: "transport", code: "x", message: "" })
  })
  return {
    a: new FramedStream(port(ba.readable, ab.writable), options),
    b: new FramedStream(port(ab.readable, ba.writable), options),
    ab,
    resets
  }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("FramedStream", () => {
  it("coalesces every frame queued in one turn into one write, in order", async () => {
    const { a, b, ab } = pair()
    await run(Effect.gen(function*() {
      for (let i = 0; i < 300; i++) yield* a.send(Uint8Array.of(i & 0xff, i >> 8))
      const got: Array<number> = []
      while (got.length < 300) {
        for (const body of yield* b.receiveMany) got.push(body[0]! | (body[1]! << 8))
      }
      expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i))
    }))
    expect(ab.writes.count).toBe(1)
  })

  it("writes large bodies as they are, between batches of small ones, in order", async () => {
    const { a, b, ab } = pair({ maxFrameBytes: 100_000, sendBufferBytes: 1_000_000 })
    const big = (seed: number) => Uint8Array.from({ length: 40_000 }, (_, i) => (i * seed) & 0xff)
    const bodies = [Uint8Array.of(1), big(3), big(5), Uint8Array.of(2), Uint8Array.of(3), big(7)]
    await run(Effect.gen(function*() {
      yield* a.sendAll(bodies)
      const got: Array<Uint8Array> = []
      while (got.length < bodies.length) got.push(...(yield* b.receiveMany))
      expect(got.map((x) => Buffer.from(x).toString("hex"))).toEqual(bodies.map((x) => Buffer.from(x).toString("hex")))
    }))
    // [1 + prefix of big 3], big 3, [prefix of big 5], big 5, [2, 3 + prefix of big 7], big 7
    expect(ab.writes.count).toBe(6)
  })

  it("makes send wait while more than sendBufferBytes are queued, and resumes when drained", async () => {
    const { a, b, ab } = pair({ maxFrameBytes: 1024, sendBufferBytes: 2048 })
    ab.stall()
    await run(Effect.gen(function*() {
      // Under the limit: immediate.
      yield* a.send(new Uint8Array(1000))
      yield* a.send(new Uint8Array(1000))
      // Over it: waits while the transport does not take the bytes.
      const blocked = yield* Effect.timeoutOption(a.send(new Uint8Array(1000)), 50)
      expect(Option.isNone(blocked)).toBe(true)
      ab.release()
      yield* a.send(new Uint8Array(10))
      let frames = 0
      while (frames < 4) frames += (yield* b.receiveMany).length
    }))
  })

  it("refuses bodies above the send limit without queueing, and empty bodies as a defect", async () => {
    const { a } = pair()
    const error = await run(Effect.flip(a.send(new Uint8Array(1025))))
    expect(error).toMatchObject({ _tag: "PayloadTooLarge", size: 1025, limit: 1024 })
    a.setSendLimit(10)
    expect(await run(Effect.flip(a.send(new Uint8Array(11))))).toMatchObject({ limit: 10 })
    await expect(run(a.send(new Uint8Array(0)))).rejects.toThrow(/empty/)
  })

  it("delivers the frames before a framing fault, then resets with its code", async () => {
    const { b, ab, resets } = pair()
    ab.inject(Frame.encode(Uint8Array.of(42)))
    ab.inject(Uint8Array.of(0x7f, 0, 0, 0))
    const first = await run(b.receive)
    expect(Array.from(first)).toEqual([42])
    const error = await run(Effect.flip(b.receive))
    expect(error).toMatchObject({ _tag: "DecodeError", code: "frame_too_large", streamId: b.id })
    // One DecodeError class for the codec and the framing: the wire's public one.
    expect(error).toBeInstanceOf(DecodeError)
    expect(error.message).toBe("frame_too_large: length prefix above maxFrameBytes")
    expect(resets).toEqual([0x01])
  })

  it("ends cleanly after the queued frames: the peer sees them, then StreamEnded", async () => {
    const { a, b } = pair()
    await run(Effect.gen(function*() {
      yield* a.sendAll([Uint8Array.of(1), Uint8Array.of(2)])
      yield* a.end
      expect(Array.from(yield* b.receive)).toEqual([1])
      expect(Array.from(yield* b.receive)).toEqual([2])
      expect((yield* Effect.flip(b.receive))._tag).toBe("StreamEnded")
    }))
  })

  it("reports truncated_frame when the peer ends inside a frame", async () => {
    const { a, b, ab } = pair()
    ab.inject(Uint8Array.of(0, 0, 0, 5, 1, 2))
    await run(a.end)
    expect(await run(Effect.flip(b.receive))).toMatchObject({ _tag: "DecodeError", code: "truncated_frame" })
  })

  it("reset is local, idempotent and fails later sends", async () => {
    const { a, resets } = pair()
    await run(a.reset("cancelled"))
    await run(a.reset("internal"))
    expect(resets).toEqual([0x09])
    expect(await run(Effect.flip(a.send(Uint8Array.of(1))))).toMatchObject({ _tag: "StreamReset", by: "local", code: "cancelled" })
  })
})
