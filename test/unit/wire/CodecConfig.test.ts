/**
 * Codec knobs: the §16 defaults and what makes a config invalid.
 */
import { describe, expect, it } from "vitest"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { streamResetCodes } from "../../../src/wire/DecodeError.ts"

describe("CodecConfig", () => {
  it("defaults to PROTOCOL.md §16", () => {
    expect(CodecConfig.defaults).toEqual({
      maxFrameBytes: 1_048_576,
      blockFrameOverheadBytes: 4_096,
      maxDecodeDepth: 32,
      maxCollectionEntries: 65_536
    })
    expect(CodecConfig.problems(CodecConfig.defaults)).toEqual([])
  })

  it("limits content.block bodies to min(maxFrameBytes, chunk + overhead)", () => {
    expect(CodecConfig.blockFrameLimit(CodecConfig.defaults)).toBe(262_144 + 4_096)
    expect(CodecConfig.blockFrameLimit(CodecConfig.make({ maxFrameBytes: 265_000 }))).toBe(265_000)
  })

  it.each([
    [{ maxFrameBytes: 0 }],
    [{ maxFrameBytes: 1.5 }],
    [{ maxFrameBytes: 2 ** 32 }],
    [{ maxFrameBytes: 100_000 }],
    [{ blockFrameOverheadBytes: -1 }],
    [{ maxDecodeDepth: 0 }],
    [{ maxDecodeDepth: 5_000 }],
    [{ maxCollectionEntries: 0 }]
  ])("reports a problem with %o", (overrides) => {
    expect(CodecConfig.problems(CodecConfig.make(overrides)).length).toBeGreaterThan(0)
  })

  it("maps reset names to the §3.7 QUIC codes", () => {
    expect(streamResetCodes).toEqual({
      frame_too_large: 1,
      truncated_frame: 2,
      malformed_frame: 3,
      unknown_type: 4,
      unsupported_version: 5,
      invalid_field: 6,
      wrong_stream: 7
    })
  })
})
