/**
 * The segment trie of PROTOCOL.md §7.3: exact children, one `*` child, a `#` terminal; one walk
 * yields every value whose pattern matches.
 */
import { describe, expect, it } from "vitest"
import * as Topic from "../../../src/topic/index.ts"

const sorted = <A>(xs: ReadonlyArray<A>): Array<A> => [...xs].sort()

const lobbyOpened = "io.macula/beam-campus/hecate/mpong/lobby_opened_v1"

describe("PatternTrie", () => {
  it("starts empty and matches nothing", () => {
    const trie = new Topic.PatternTrie<string>()
    expect(trie.size).toBe(0)
    expect(trie.patternCount).toBe(0)
    expect(trie.match(lobbyOpened)).toEqual([])
    expect(trie.matchPatterns(lobbyOpened)).toEqual([])
  })

  it("returns the values of every matching pattern: exact, *, # and mixes", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert(lobbyOpened, "exact")
    trie.insert("io.macula/#", "realm-wide")
    trie.insert("io.macula/beam-campus/#", "org-wide")
    trie.insert("io.macula/*/hecate/mpong/*", "stars")
    trie.insert("io.macula/beam-campus/*/*/lobby_opened_v1", "stars-then-literal")
    trie.insert("io.macula/beam-campus/hecate/mpong/#", "hash-for-last")
    trie.insert("io.macula/beam-campus/hecate/llm/#", "other-domain")
    trie.insert("io.macula/beam-campus/_org/#", "org-tier")
    trie.insert("other/#", "other-realm")
    trie.insert("io.macula/beam-campus/hecate/mpong/lobby_opened_v2", "other-version")
    expect(sorted(trie.match(lobbyOpened))).toEqual(
      sorted(["exact", "realm-wide", "org-wide", "stars", "stars-then-literal", "hash-for-last"])
    )
    expect(sorted(trie.match("io.macula/beam-campus/_org/licenses/issued_batch_v1"))).toEqual(
      sorted(["realm-wide", "org-wide", "org-tier"])
    )
    expect(trie.match("other/_realm/_realm/d/n_v1")).toEqual(["other-realm"])
    expect(trie.match("third/_realm/_realm/d/n_v1")).toEqual([])
  })

  it("needs one or more segments for #, like Topic.matches", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert("r/o/a/d/#", "last")
    trie.insert("r/#", "all")
    expect(sorted(trie.match("r/o/a/d/n_v1"))).toEqual(["all", "last"])
    expect(trie.match("r/o/a/d")).toEqual(["all"])
    expect(trie.match("r")).toEqual([])
  })

  it("matches a * with exactly one segment", () => {
    const trie = new Topic.PatternTrie<number>()
    trie.insert("r/*/*/*/*", 1)
    expect(trie.match("r/o/a/d/n_v1")).toEqual([1])
    expect(trie.match("r/o/a/d")).toEqual([])
    expect(trie.match("r/o/a/d/n_v1/x")).toEqual([])
  })

  it("keeps several values under one pattern and reports a value once per match", () => {
    const trie = new Topic.PatternTrie<string>()
    expect(trie.insert("r/#", "a")).toBe(true)
    expect(trie.insert("r/#", "b")).toBe(true)
    expect(trie.insert("r/#", "a")).toBe(false)
    expect(trie.insert("r/o/#", "a")).toBe(true)
    expect(trie.size).toBe(3)
    expect(trie.patternCount).toBe(2)
    expect(sorted(trie.match("r/o/a/d/n_v1"))).toEqual(["a", "b"])
    expect(sorted(trie.matchPatterns("r/o/a/d/n_v1"))).toEqual(["r/#", "r/o/#"])
    expect(trie.valuesOf("r/#")).toEqual(["a", "b"])
    expect(trie.valuesOf("r/x/#")).toEqual([])
  })

  it("removes one value at a time and forgets a pattern with its last value", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert("r/*/a/d/#", "x")
    trie.insert("r/*/a/d/#", "y")
    expect(trie.remove("r/*/a/d/#", "x")).toBe(true)
    expect(trie.remove("r/*/a/d/#", "x")).toBe(false)
    expect(trie.match("r/o/a/d/n_v1")).toEqual(["y"])
    expect(trie.has("r/*/a/d/#")).toBe(true)
    expect(trie.remove("r/*/a/d/#", "y")).toBe(true)
    expect(trie.has("r/*/a/d/#")).toBe(false)
    expect(trie.match("r/o/a/d/n_v1")).toEqual([])
    expect(trie.size).toBe(0)
    expect(trie.patternCount).toBe(0)
    expect(trie.remove("r/*/a/d/#", "y")).toBe(false)
    expect(trie.remove("not a pattern", "y")).toBe(false)
  })

  it("prunes emptied branches without disturbing patterns that share a prefix", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert("r/o/a/d/n_v1", "exact")
    trie.insert("r/o/a/d/#", "hash")
    trie.insert("r/o/a/*/n_v1", "star")
    trie.insert("r/o/#", "short")
    trie.removePattern("r/o/a/d/n_v1")
    expect(sorted(trie.match("r/o/a/d/n_v1"))).toEqual(["hash", "short", "star"])
    trie.removePattern("r/o/a/d/#")
    trie.removePattern("r/o/a/*/n_v1")
    expect(trie.match("r/o/a/d/n_v1")).toEqual(["short"])
    trie.insert("r/o/a/d/n_v1", "again")
    expect(sorted(trie.match("r/o/a/d/n_v1"))).toEqual(["again", "short"])
    expect(trie.removePattern("r/o/#")).toBe(1)
    expect(trie.removePattern("r/o/#")).toBe(0)
    expect(trie.match("r/o/a/d/n_v1")).toEqual(["again"])
    expect(trie.patterns()).toEqual(["r/o/a/d/n_v1"])
  })

  it("tells a pattern holding a value from one holding another", () => {
    const trie = new Topic.PatternTrie<string | undefined>()
    trie.insert("r/#", undefined)
    expect(trie.has("r/#")).toBe(true)
    expect(trie.has("r/#", undefined)).toBe(true)
    expect(trie.has("r/#", "x")).toBe(false)
    expect(trie.has("s/#")).toBe(false)
  })

  it("treats system topics as exact-match patterns", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert("_mesh.stations", "sys")
    trie.insert("r/#", "r")
    expect(trie.match("_mesh.stations")).toEqual(["sys"])
    expect(trie.match("_mesh.station")).toEqual([])
  })

  it("refuses an invalid pattern on insert with the reason validatePattern gives", () => {
    const trie = new Topic.PatternTrie<string>()
    const reasonOf = (pattern: string) => {
      try {
        trie.insert(pattern, "v")
      } catch (e) {
        return e instanceof Topic.TopicError ? [e.reason, e.detail] : e
      }
      return "inserted"
    }
    expect(reasonOf("r/#/x")).toEqual(["invalid_pattern", "hash_not_last"])
    expect(reasonOf("*/o/a/d/n_v1")).toEqual(["invalid_pattern", "wildcard_realm"])
    expect(reasonOf("a/b/c/d")).toEqual(["invalid_structure", "segments:4"])
    expect(trie.size).toBe(0)
    expect(trie.patterns()).toEqual([])
  })

  it("copies into an independent trie", () => {
    const trie = new Topic.PatternTrie<string>()
    trie.insert("r/#", "a")
    const copy = trie.copy()
    copy.insert("r/o/#", "b")
    trie.remove("r/#", "a")
    expect(trie.match("r/o/a/d/n_v1")).toEqual([])
    expect(sorted(copy.match("r/o/a/d/n_v1"))).toEqual(["a", "b"])
    expect(copy.size).toBe(2)
  })

  it("answers the same whatever the order of inserts", () => {
    const patterns = ["r/#", "r/o/#", "r/*/a/#", "r/o/a/d/n_v1", "r/*/*/*/*", "r/o/a/*/#"]
    const forward = new Topic.PatternTrie<string>()
    const backward = new Topic.PatternTrie<string>()
    for (const p of patterns) forward.insert(p, p)
    for (const p of [...patterns].reverse()) backward.insert(p, p)
    for (const topic of ["r/o/a/d/n_v1", "r/o/b/d/n_v1", "r/x/a/d/n_v2"]) {
      expect(sorted(forward.match(topic))).toEqual(sorted(backward.match(topic)))
      expect(sorted(forward.matchPatterns(topic))).toEqual(sorted(patterns.filter((p) => Topic.matches(p, topic))))
    }
  })
})
