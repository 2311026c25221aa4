/**
 * RPC knobs and the §9.4 table: the presets are valid, `problems` names what is wrong, and
 * the retry / "handler ran" columns match PROTOCOL.md.
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"

describe("Rpc config", () => {
  it("accepts both presets", () => {
    expect(Rpc.problems(Rpc.defaults)).toEqual([])
    expect(Rpc.problems(Rpc.local)).toEqual([])
  })
  it("names each problem in words", () => {
    expect(Rpc.problems({ ...Rpc.defaults, callMaxAttempts: 0, republishFraction: 1, callTimeoutMs: 400_000 })).toEqual([
      "callMaxAttempts must be a positive integer",
      "republishFraction must lie in (0, 1)",
      "callTimeoutMs must not exceed maxCallTtlMs"
    ])
  })
})

describe("Rpc §9.4 table", () => {
  const table: ReadonlyArray<[Frame.RpcErrorCode, boolean, boolean]> = [
    // code, handler may have run, retryable
    ["no_provider", false, true],
    ["relay_failed", true, true],
    ["relay_refused", false, true],
    ["provider_gone", false, true],
    ["realm_refused", false, false],
    ["loop_detected", false, true],
    ["deadline_exceeded", true, false],
    ["overloaded", false, true],
    ["bad_request", false, false],
    ["identity_rejected", false, false],
    ["wrong_station", false, true],
    ["withdrawn", false, true],
    ["payload_too_large", false, false],
    ["bad_signature", false, false],
    ["handler_error", true, false],
    ["unauthorized", false, false]
  ]
  it.each(table)("%s: handler ran %s, retry %s", (code, ran, retry) => {
    expect(Rpc.Outcomes.handlerMayHaveRun(code)).toBe(ran)
    expect(Rpc.Outcomes.retryable(code)).toBe(retry)
    expect(Rpc.Outcomes.isErrorCode(code)).toBe(true)
  })
})
