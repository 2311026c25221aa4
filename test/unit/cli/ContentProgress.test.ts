/**
 * The progress display of `macula get` (src/cli/Progress.ts): byte and rate formatting, the
 * plain line and the bar, and when the reporter writes on a terminal and elsewhere.
 */
import { describe, expect, it } from "vitest"
import * as Progress from "../../../src/cli/Progress.ts"

const MiB = 1024 * 1024
const snap = (storedBytes: number, totalBytes: number | undefined, bytesPerSecond = 12.34 * MiB, providers = 1): Progress.Snapshot => ({
  storedBytes, totalBytes, bytesPerSecond, providers
})

describe("formatting", () => {
  it.each([
    [0, "0 B"],
    [512, "512 B"],
    [1536, "1.50 KiB"],
    [3 * MiB, "3.00 MiB"],
    [5 * 1024 * MiB, "5.00 GiB"]
  ])("bytes(%d) is %s", (n, text) => expect(Progress.bytes(n)).toBe(text))

  it("gives rates with one decimal", () => {
    expect(Progress.rate(12.34 * MiB)).toBe("12.3 MiB/s")
    expect(Progress.rate(100)).toBe("100 B/s")
  })

  it("writes a plain line with amounts, percent, rate and providers", () => {
    expect(Progress.line(snap(1.5 * MiB, 3 * MiB, 12.34 * MiB, 2))).toBe("progress 1.50 MiB / 3.00 MiB (50%) 12.3 MiB/s providers 2")
    expect(Progress.line(snap(0, undefined, 0, 1))).toBe("progress 0 B / ? 0 B/s providers 1")
    expect(Progress.line(snap(0, 0, 0, 1))).toContain("(100%)")
  })

  it("draws a bar filled in proportion", () => {
    expect(Progress.bar(snap(1.5 * MiB, 3 * MiB), 10)).toBe("[#####·····]  50% 1.50 MiB / 3.00 MiB 12.3 MiB/s providers 1")
    expect(Progress.bar(snap(3 * MiB, 3 * MiB), 4)).toMatch(/^\[####\] 100% /)
    expect(Progress.bar(snap(0, undefined), 4)).toMatch(/^\[····\]   \?% /)
  })
})

describe("reporter", () => {
  const harness = (tty: boolean) => {
    let t = 0
    const written: Array<string> = []
    const reporter = Progress.reporter({ tty, write: (s) => void written.push(s), now: () => t })
    return { reporter, written, advance: (ms: number) => void (t += ms) }
  }

  it("prints plain lines at most once a second, and the final state on done", () => {
    const { reporter, written, advance } = harness(false)
    reporter.update(snap(MiB, 3 * MiB))
    advance(200)
    reporter.update(snap(2 * MiB, 3 * MiB))
    advance(900)
    reporter.update(snap(2.5 * MiB, 3 * MiB))
    advance(10)
    reporter.update(snap(3 * MiB, 3 * MiB))
    reporter.done()
    expect(written).toEqual([
      "progress 1.00 MiB / 3.00 MiB (33%) 12.3 MiB/s providers 1\n",
      "progress 2.50 MiB / 3.00 MiB (83%) 12.3 MiB/s providers 1\n",
      "progress 3.00 MiB / 3.00 MiB (100%) 12.3 MiB/s providers 1\n"
    ])
    expect(written.join("")).not.toMatch(/[\r\x1b]/)
  })

  it("redraws a bar in place on a terminal and ends its line on done", () => {
    const { reporter, written, advance } = harness(true)
    reporter.update(snap(MiB, 3 * MiB))
    advance(150)
    reporter.update(snap(3 * MiB, 3 * MiB))
    reporter.done()
    expect(written).toHaveLength(3)
    expect(written[0]).toMatch(/^\r\[#+·+\]  33% .*\x1b\[K$/)
    expect(written[1]).toMatch(/^\r\[#+\] 100% 3\.00 MiB \/ 3\.00 MiB .*\x1b\[K$/)
    expect(written[2]).toBe("\n")
  })

  it("writes nothing when no progress came", () => {
    const { reporter, written } = harness(true)
    reporter.done()
    expect(written).toEqual([])
  })
})
