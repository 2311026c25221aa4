import { describe, expect, it } from "vitest"
import * as Address from "../../../src/platform/transport/Address.ts"

const did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

describe("Address (§3.2)", () => {
  it.each([
    ["quic://127.0.0.1:4433", { scheme: "quic", host: "127.0.0.1", port: 4433 }],
    ["quic://example.org", { scheme: "quic", host: "example.org", port: 4433 }],
    ["quic://[::1]:9000", { scheme: "quic", host: "::1", port: 9000 }],
    ["tls://10.0.0.1:443", { scheme: "tls", host: "10.0.0.1", port: 443 }],
    [`quic://127.0.0.1:1#${did}`, { scheme: "quic", host: "127.0.0.1", port: 1, did }]
  ])("parses %s", (text, expected) => {
    expect(Address.parse(text)).toEqual(expected)
    expect(Address.format(Address.parse(text)!)).toBe(text.includes(":", 7) || text.includes("[") ? text : `${text}:4433`)
  })

  it.each([
    "http://127.0.0.1:1", "quic://", "quic://127.0.0.1:0", "quic://127.0.0.1:65536", "quic://::1:80",
    "quic://a b:1", "quic://127.0.0.1:1#did:web:x", "quic://127.0.0.1:1/path", "127.0.0.1:4433"
  ])("refuses %s", (text) => {
    expect(Address.parse(text)).toBeUndefined()
  })
})
