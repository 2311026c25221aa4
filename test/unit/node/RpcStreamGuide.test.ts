/**
 * The streaming example of docs/guides/rpc.md, run as written: the code between the markers
 * below must equal the guide's code block (apart from its import line), and running it over
 * loopback QUIC (a station and two clients in this process) must print what its comments say.
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import { MaculaNode } from "../../../src/node/index.ts"

const example = async (): Promise<void> => {
  // example:start
  const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0" })
  const seed = `${station.address}#${station.did}`
  const provider = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })
  const caller = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })

  // Server streaming: one request, many messages, then the result.
  await provider.advertiseStream("io.example/acme/calc/math/countdown_v1", "server", async (args, stream) => {
    for (let n = args as number; n > 0; n--) await stream.send(n) // waits while the caller's credit is used up
    return "liftoff"
  })
  // Bidirectional: answer each of the caller's messages as it comes.
  await provider.advertiseStream("io.example/acme/calc/math/square_v1", "bidi", async (_args, stream) => {
    let count = 0
    for await (const x of stream) {
      await stream.send((x as number) ** 2)
      count++
    }
    return count
  })

  const countdown = await caller.callStream("io.example/acme/calc/math/countdown_v1", 3, { mode: "server" })
  for await (const n of countdown) console.log(n) // 3, 2, 1
  console.log(await countdown.result) // liftoff

  const squares = await caller.callStream("io.example/acme/calc/math/square_v1", null, { mode: "bidi" })
  const answers = (async () => {
    const out: Array<unknown> = []
    for await (const y of squares) out.push(y)
    return out
  })()
  for (const x of [1, 2, 3]) await squares.send(x)
  await squares.end()
  console.log(await answers, await squares.result) // [ 1, 4, 9 ] 3

  await Promise.all([caller.stop(), provider.stop()])
  await station.stop()
  // example:end
}

const between = (text: string, start: string, end: string): string => text.slice(text.indexOf(start) + start.length, text.indexOf(end))
const normalise = (code: string): string =>
  code.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("import ") && !l.startsWith("```")).join("\n")

afterEach(() => void vi.restoreAllMocks())

describe("docs/guides/rpc.md: the streaming example", () => {
  it("is the code this test runs", () => {
    const guide = readFileSync(resolve(import.meta.dirname, "../../../docs/guides/rpc.md"), "utf8")
    const source = readFileSync(import.meta.filename, "utf8")
    const inGuide = between(guide, "<!-- stream-example:start -->", "<!-- stream-example:end -->")
    const inTest = between(source, "// example:" + "start", "// example:" + "end")
    expect(normalise(inGuide)).toBe(normalise(inTest))
  })

  it("prints what its comments say", async () => {
    const lines: Array<Array<unknown>> = []
    vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => void lines.push(args))
    await example()
    expect(lines).toEqual([[3], [2], [1], ["liftoff"], [[1, 4, 9], 3]])
  }, 60_000)
})
