/**
 * The policy language as a table: every operator, selectors on present, missing and unresolvable
 * data, quantifiers on empty collections, `like` escapes, and the parse errors that make a policy
 * malformed. Rows follow the specification's worked examples where it has them.
 */
import { describe, expect, it } from "vitest"
import { Link } from "../../../../src/identity/ucan/Cid.ts"
import type { Ipld } from "../../../../src/identity/ucan/DagCbor.ts"
import * as Policy from "../../../../src/identity/ucan/Policy.ts"
import * as Selector from "../../../../src/identity/ucan/Selector.ts"

const holds = (statement: Ipld, args: Ipld): boolean => Policy.matches([statement], args)

const mail: Ipld = {
  from: "alice@example.com",
  to: ["bob@example.com", "carol@not.example.com", "dan@example.com"],
  cc: ["fraud@example.com"],
  title: "Meeting Confirmation",
  n: 5,
  big: 9007199254740993n,
  f: 2.5,
  nothing: null,
  bytes: Uint8Array.of(0xd6, 0xa9, 0xc1, 0x8c, 0xf8, 0xc4),
  nested: { list: [{ b: 1 }, { b: 2 }, { z: [7, 8, 9] }], empty: [], emptyMap: {} },
  "odd key": "yes"
}

describe("selectors", () => {
  const sel = (source: string): Selector.Selector => {
    const parsed = Selector.parse(source)
    if (typeof parsed === "string") throw new Error(parsed)
    return parsed
  }

  it.each<[string, Ipld | "fails"]>([
    [".", mail],
    [".title", "Meeting Confirmation"],
    [".cc", ["fraud@example.com"]],
    [".to[1]", "carol@not.example.com"],
    [".to[-1]", "dan@example.com"],
    [".to.[0]", "bob@example.com"],
    [".[\"odd key\"]", "yes"],
    [".to[99]?", null],
    [".to[99]", "fails"],
    [".to[-4]", "fails"],
    [".missing", null], // a missing key of a map selects null
    [".missing?", null],
    [".missing.deeper", "fails"], // …and stepping further without `?` fails
    [".missing.deeper?", null],
    [".title.length", "fails"], // not a map
    [".title.length?", null],
    [".nothing.x", "fails"],
    [".to[1:]", ["carol@not.example.com", "dan@example.com"]],
    [".to[:-1]", ["bob@example.com", "carol@not.example.com"]],
    [".to[5:9]", []],
    [".bytes[3]", 0x8c],
    [".bytes[1:3]", Uint8Array.of(0xa9, 0xc1)],
    [".to[]", ["bob@example.com", "carol@not.example.com", "dan@example.com"]],
    [".nested.list[].b", [1, 2, null]], // `{z: …}` lacks b: a missing key selects null
    [".nested.list[].z", [null, null, [7, 8, 9]]],
    [".nested.list[].z[0]", "fails"],
    [".nested.list[].z[0]?", [null, null, 7]],
    [".nested.emptyMap[]", []],
    [".bytes[]", [0xd6, 0xa9, 0xc1, 0x8c, 0xf8, 0xc4]],
    [".title[]", "fails"],
    [".title[]?", []],
    [".a???", null]
  ])("%s", (source, expected) => {
    const result = Selector.resolve(sel(source), mail)
    expect(result === undefined ? "fails" : result.value).toEqual(expected)
  })

  it.each(["", "a", '["a"]', "[0]", "..", ".a..b", ".a.", ".[", ".[1", ".[x]", ".[01]", ".[-0]", ".[1.5]", '.["a]', ".[\"a\"", ".a-b", ".?", ". a", ".[1:2:3]", ".[\"\\x\"]"])(
    "rejects %j",
    (source) => {
      expect(typeof Selector.parse(source)).toBe("string")
    }
  )
})

describe("statements", () => {
  it.each<[string, Ipld, boolean]>([
    // equality: deep, numeric-agnostic
    ["== on a string", ["==", ".from", "alice@example.com"], true],
    ["== deep list", ["==", ".cc", ["fraud@example.com"]], true],
    ["== deep map", ["==", ".nested.list[0]", { b: 1 }], true],
    ["== deep map, extra key", ["==", ".nested.list[0]", { b: 1, c: 2 }], false],
    ["== int and float", ["==", ".n", 5.0], true],
    ["== bigint beyond 2^53", ["==", ".big", 9007199254740993n], true],
    ["== bigint differs by one", ["==", ".big", 9007199254740992n], false],
    ["== bytes", ["==", ".bytes", Uint8Array.of(0xd6, 0xa9, 0xc1, 0x8c, 0xf8, 0xc4)], true],
    ["== null on a null", ["==", ".nothing", null], true],
    ["== null on a missing key", ["==", ".missing", null], true],
    ["== on an unresolvable path", ["==", ".missing.deeper", null], false],
    ["!= different", ["!=", ".from", "bob@example.com"], true],
    ["!= same", ["!=", ".from", "alice@example.com"], false],
    ["!= string vs number", ["!=", ".n", "5"], true],
    ["!= on a missing key (null ≠ 1)", ["!=", ".missing", 1], true],
    ["!= on an unresolvable path fails", ["!=", ".missing.deeper", 1], false],
    // inequalities: numbers only
    ["< int", ["<", ".n", 6], true],
    ["< equal", ["<", ".n", 5], false],
    ["<= equal", ["<=", ".n", 5], true],
    ["> float", [">", ".f", 2], true],
    [">= float", [">=", ".f", 2.5], true],
    ["> bigint vs number", [">", ".big", 9007199254740992], true],
    ["< number vs bigint", ["<", ".f", 3n], true],
    ["< on a string is false", ["<", ".title", 10], false],
    ["> on null is false", [">", ".nothing", 0], false],
    ["> on a missing key is false", [">", ".missing", 0], false],
    // like: * any run, \* a literal star
    ["like suffix", ["like", ".from", "*@example.com"], true],
    ["like prefix", ["like", ".from", "alice@*"], true],
    ["like infix", ["like", ".from", "a*e@ex*.com"], true],
    ["like exact without star", ["like", ".from", "alice@example.com"], true],
    ["like only star", ["like", ".from", "*"], true],
    ["like star matches empty", ["like", ".title", "Meeting* Confirmation"], true],
    ["like mismatch", ["like", ".from", "*@example.org"], false],
    ["like escaped star is literal", ["like", ".title", "Meeting\\*"], false],
    ["like on a non-string", ["like", ".n", "*"], false],
    ["like on null", ["like", ".nothing", "*"], false],
    // connectives
    ["and empty", ["and", []], true],
    ["or empty", ["or", []], true],
    ["and all true", ["and", [["==", ".n", 5], ["like", ".from", "alice*"]]], true],
    ["and one false", ["and", [["==", ".n", 5], ["==", ".n", 6]]], false],
    ["or one true", ["or", [["==", ".n", 6], ["==", ".n", 5]]], true],
    ["or all false", ["or", [["==", ".n", 6], ["==", ".n", 7]]], false],
    ["not false", ["not", ["==", ".n", 6]], true],
    ["not true", ["not", ["==", ".n", 5]], false],
    ["not of an unresolvable path still fails", ["not", ["==", ".missing.deeper", 1]], false],
    ["or: a true branch outweighs an unresolvable one", ["or", [["==", ".missing.deeper", 1], ["==", ".n", 5]]], true],
    ["and: a false branch decides before an unresolvable one", ["not", ["and", [["==", ".n", 6], ["==", ".x.y", 1]]]], true],
    // quantifiers
    ["all on a list", ["all", ".to", ["like", ".", "*@*"]], true],
    ["all with a failing element", ["all", ".to", ["like", ".", "*@example.com"]], false],
    ["any on a list", ["any", ".to", ["like", ".", "*@not.example.com"]], true],
    ["any without a match", ["any", ".to", ["==", ".", "eve@example.com"]], false],
    ["all over a map's values", ["all", ".nested", ["!=", ".", null]], true],
    ["all on an empty list", ["all", ".nested.empty", ["==", ".", 1]], true],
    ["any on an empty list", ["any", ".nested.empty", ["==", ".", 1]], false],
    ["all on an empty map", ["all", ".nested.emptyMap", ["==", ".", 1]], true],
    ["any on an empty map", ["any", ".nested.emptyMap", ["==", ".", 1]], false],
    ["all on a non-collection", ["all", ".title", ["==", ".", 1]], false],
    ["any on null", ["any", ".nothing", ["==", ".", 1]], false],
    ["any on a missing key", ["any", ".missing", ["==", ".", 1]], false],
    ["spec: all with a missing .b is false", ["all", ".nested.list", [">", ".b", 0]], false],
    ["spec: any with .b == 2 is true", ["any", ".nested.list", ["==", ".b", 2]], true],
    ["nested quantifiers", ["all", ".nested.list[0:2]", ["any", ".", ["==", ".", 1]]], false],
    ["links compare by bytes", ["==", ".", new Link(Uint8Array.of(1, 0x71, 0x12, 0x20, ...new Uint8Array(32)))], false]
  ])("%s", (_name, statement, expected) => {
    expect(holds(statement, mail)).toBe(expected)
  })

  it("a policy is the conjunction of its statements; [] holds on anything", () => {
    expect(Policy.matches([], null)).toBe(true)
    expect(Policy.matches([["==", ".n", 5], ["==", ".from", "alice@example.com"]], mail)).toBe(true)
    expect(Policy.matches([["==", ".n", 5], ["==", ".from", "bob@example.com"]], mail)).toBe(false)
  })

  it("firstFailure names the statement that does not hold", () => {
    const compiled = Policy.compile([["==", ".n", 5], ["like", ".title", "x*"]])
    if (typeof compiled === "string") throw new Error(compiled)
    expect(Policy.firstFailure(compiled, mail)).toEqual(["like", ".title", "x*"])
  })
})

describe("globs", () => {
  it.each<[string, string, boolean]>([
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob, Carol.", true],
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob, Dan, Erin, Carol.", true],
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob  , Carol.", true],
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob*, Carol.", true],
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob, Carol", false],
    ["Alice\\*, Bob*, Carol.", "Alice*, Bob*, Carol!", false],
    ["Alice\\*, Bob*, Carol.", "Alice, Bob, Carol.", false],
    ["Alice\\*, Bob*, Carol.", "Alice Cooper, Bob, Carol.", false],
    ["Alice\\*, Bob*, Carol.", " Alice*, Bob, Carol. ", false],
    ["", "", true],
    ["", "x", false],
    ["**", "", true],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["*ab*ab*", "abab", true],
    ["*ab*ab*", "aba", false],
    ["\\", "\\", true], // a lone backslash is literal
    ["a\\b", "a\\b", true],
    ["\\\\*", "\\*", true], // backslash, then an escaped star
    ["io.example/acme/*", "io.example/acme/app/d/n_v1", true], // globs cross `/`
    ["io.example/acme/*", "io.example/acme/#", true], // …and absorb a pattern's wildcard
    ["io.example/acme/*", "io.example/#", false],
    ["io.example/acme/*", "io.example/acmeX/a/d/n_v1", false]
  ])("%j ~ %j is %s", (pattern, text, expected) => {
    expect(Policy.globMatches(pattern, text)).toBe(expected)
  })
})

describe("malformed policies", () => {
  it.each<[string, Ipld]>([
    ["not a list", { a: 1 }],
    ["a statement that is not a list", ["==", ".a", 1]],
    ["unknown operator", [["===", ".a", 1]]],
    ["old spelling `match`", [["match", ".a", "*"]]],
    ["old spelling `every`", [["every", ".a", ["==", ".", 1]]]],
    ["== without value", [["==", ".a"]]],
    ["== with extra", [["==", ".a", 1, 2]]],
    ["bad selector", [["==", "a", 1]]],
    ["selector not a string", [["==", 1, 1]]],
    ["< with a string", [["<", ".a", "1"]]],
    ["< with null", [["<", ".a", null]]],
    ["like with a number", [["like", ".a", 1]]],
    ["not with a list of statements", [["not", [["==", ".a", 1]]]]],
    ["not without argument", [["not"]]],
    ["and with a statement instead of a list", [["and", ["==", ".a", 1]]]],
    ["and with a malformed member", [["and", [["==", ".a"]]]]],
    ["all without statement", [["all", ".a"]]],
    ["any with a bad inner statement", [["any", ".a", ["<", ".", "x"]]]],
    ["operator not a string", [[1, ".a", 1]]],
    ["empty statement", [[]]]
  ])("%s", (_name, raw) => {
    expect(typeof Policy.compile(raw)).toBe("string")
    expect(Policy.matches(raw, {})).toBe(false)
  })
})
