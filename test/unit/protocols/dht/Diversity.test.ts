import { describe, expect, it } from "vitest"
import * as Diversity from "../../../../src/protocols/dht/Diversity.ts"

const strict: Diversity.Limits = { diversityPrefixV4Bits: 16, diversityPrefixV6Bits: 32, acceptPrivateAddrs: false }
const lenient: Diversity.Limits = { ...strict, acceptPrivateAddrs: true }

describe("Diversity", () => {
  it.each([
    ["203.0.113.7", "4:cb00/16"],
    ["203.0.200.1", "4:cb00/16"],
    ["198.51.100.1", "4:c633/16"],
    ["2001:db8::1", "6:20010db8/32"],
    ["2001:db8:ffff::1", "6:20010db8/32"],
    ["[2001:db8::1%eth0]", "6:20010db8/32"],
    ["::ffff:203.0.113.7", "4:cb00/16"],
    ["not an ip", "invalid"],
    ["1.2.3.256", "invalid"],
    ["1:2:3:4:5:6:7:8:9", "invalid"]
  ])("classes %s as %s", (ip, expected) => {
    expect(Diversity.classOf(strict, ip)).toBe(expected)
  })

  it("uses the configured prefix lengths", () => {
    expect(Diversity.classOf({ ...strict, diversityPrefixV4Bits: 24 }, "203.0.113.7")).toBe("4:cb0071/24")
    expect(Diversity.classOf({ ...strict, diversityPrefixV4Bits: 12 }, "203.15.113.7")).toBe("4:cb00/12")
  })

  it.each(["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1", "fe80::1"])(
    "exempts private %s only when private addresses are accepted",
    (ip) => {
      expect(Diversity.classOf(lenient, ip)).toBeUndefined()
      expect(Diversity.classOf(strict, ip)).toBeDefined()
    }
  )

  it("parses IPv6 forms", () => {
    expect(Diversity.parseV6("::")).toEqual(new Uint8Array(16))
    expect(Diversity.parseV6("1::")?.[1]).toBe(1)
    expect(Diversity.parseV6("::1.2.3.4")?.slice(12)).toEqual(Uint8Array.of(1, 2, 3, 4))
    expect(Diversity.parseV6("1:2:3:4:5:6:7:8")?.[15]).toBe(8)
    expect(Diversity.parseV6("1::2::3")).toBeUndefined()
    expect(Diversity.parseV6("12345::")).toBeUndefined()
    expect(Diversity.parseV4("01.2.3.4")).toBeUndefined()
  })

  it("picks at most perClass items per class, in order, up to max", () => {
    const items = ["a1", "a2", "a3", "b1", "x", "b2", "b3"]
    const cls = (s: string) => (s === "x" ? undefined : s[0])
    expect(Diversity.pickDiverse(items, cls, 2, 10)).toEqual(["a1", "a2", "b1", "x", "b2"])
    expect(Diversity.pickDiverse(items, cls, 1, 2)).toEqual(["a1", "b1"])
  })
})
