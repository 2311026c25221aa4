import { describe, expect, it } from "vitest"
import * as Codes from "../../../src/core/Codes.ts"
import * as CloseCode from "../../../src/platform/transport/CloseCode.ts"
import * as ConnectionCodes from "../../../src/protocols/connection/Codes.ts"
import { streamResetCodes } from "../../../src/wire/DecodeError.ts"

describe("Codes", () => {
  it("numbers the stream resets 0x00–0x0C and the connection closes 0x100–0x10B in PROTOCOL.md §3.7 order", () => {
    expect(Codes.streamResetNames).toEqual([
      "no_error", "frame_too_large", "truncated_frame", "malformed_frame", "unknown_type", "unsupported_version",
      "invalid_field", "wrong_stream", "flow_control", "cancelled", "deadline_exceeded", "overloaded", "internal"
    ])
    expect(Codes.streamResetNames.map((name) => Codes.streamReset[name])).toEqual([...Array(13).keys()])
    expect(Codes.connectionCloseNames).toEqual([
      "normal", "handshake_timeout", "identity_mismatch", "version_mismatch", "role_refused", "pow_insufficient",
      "replaced", "liveness_lost", "too_many_connections", "banned", "protocol_violation", "going_away"
    ])
    expect(Codes.connectionCloseNames.map((name) => Codes.connectionClose[name])).toEqual(
      [...Array(12).keys()].map((i) => 0x100 + i)
    )
  })

  it("maps every code back to its name, and an undefined code to undefined or its hex spelling", () => {
    for (const name of Codes.streamResetNames) expect(Codes.streamResetName(Codes.streamReset[name])).toBe(name)
    for (const name of Codes.connectionCloseNames) expect(Codes.connectionCloseName(Codes.connectionClose[name])).toBe(name)
    expect(Codes.streamResetName(0x0d)).toBeUndefined()
    expect(Codes.streamResetName(0x100)).toBeUndefined()
    expect(Codes.connectionCloseName(0x0c)).toBeUndefined()
    expect(Codes.streamResetLabel(0x0a)).toBe("deadline_exceeded")
    expect(Codes.streamResetLabel(0x1f)).toBe("0x1f")
    expect(Codes.connectionCloseLabel(0x10b)).toBe("going_away")
    expect(Codes.connectionCloseLabel(0x10c)).toBe("0x10c")
  })

  it("recognises names only, not inherited keys or other values", () => {
    expect(Codes.isConnectionCloseName("banned")).toBe(true)
    expect(Codes.isConnectionCloseName("internal")).toBe(false)
    expect(Codes.isConnectionCloseName("toString")).toBe(false)
    expect(Codes.isConnectionCloseName(0x109)).toBe(false)
    expect(Codes.isStreamResetName("wrong_stream")).toBe(true)
    expect(Codes.isStreamResetName("__proto__")).toBe(false)
  })

  it("is the table behind the transport's, the connection core's and the wire's names", () => {
    expect(CloseCode.streamReset).toBe(Codes.streamReset)
    expect(CloseCode.connectionClose).toBe(Codes.connectionClose)
    expect(ConnectionCodes.closeNames).toEqual(Codes.connectionCloseNames)
    expect(ConnectionCodes.isCloseName("replaced")).toBe(true)
    for (const [name, code] of Object.entries(streamResetCodes)) {
      expect(Codes.streamReset[name as Codes.StreamResetName]).toBe(code)
    }
  })
})
