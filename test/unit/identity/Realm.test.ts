/** Realm ids: SHA-256 of the UTF-8 name (PROTOCOL.md §1). */
import { describe, expect, it } from "vitest"
import * as Realm from "../../../src/identity/Realm.ts"

describe("Realm", () => {
  it("computes the §1 vector for io.macula", () => {
    const expected = "abb81b5a614b63551b400b810648c0c8a78efad845442630c94b46cc95d2fcd1"
    expect(Realm.idHex("io.macula")).toBe(expected)
    expect(Realm.toHex(Realm.id("io.macula"))).toBe(expected)
    expect(Realm.id("io.macula").length).toBe(32)
  })

  it("hashes the UTF-8 bytes of non-ASCII names", () => {
    expect(Realm.idHex("réalm.ü")).toBe("bc5eeb434c2265072571ef1ada7edf0018c13a5a98716e4bbc179a7fbbc61220")
  })

  it("has a zero realm of 32 zero bytes, fresh on every call", () => {
    const zero = Realm.zero()
    expect(zero).toEqual(new Uint8Array(32))
    zero[0] = 1
    expect(Realm.zero()[0]).toBe(0)
  })

  it("parses exactly 64 hex digits back into an id", () => {
    const id = Realm.id("io.macula")
    expect(Realm.fromHex(Realm.toHex(id))).toEqual(id)
    expect(Realm.fromHex(Realm.toHex(id).toUpperCase())).toEqual(id)
    for (const bad of ["", "ab", "zz".repeat(32), "a".repeat(63), "a".repeat(65)]) {
      expect(Realm.fromHex(bad), bad).toBeUndefined()
    }
  })
})
