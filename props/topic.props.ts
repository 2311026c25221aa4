/**
 * Properties of the Topic library (PROTOCOL.md §7):
 * - parse ∘ build is the identity on parts for every tier and builder, and build ∘ parse on
 *   strings;
 * - the version-suffix split agrees with the spec's regular expression `^(.+)_v([0-9]+)$`;
 * - any string whatever makes `validate`, `parse` and `validatePattern` either pass or throw a
 *   `TopicError` with a known reason, and the `is…` guards agree with them;
 * - `matches` agrees with a naive list-based matcher written here;
 * - the trie returns exactly the stored patterns that `matches`, across insert/remove sequences;
 * - `covers(p, q)` implies that every topic matching `q` matches `p`.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Topic from "../src/topic/index.ts"

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** A real name: `^[a-z0-9][a-z0-9._-]*$`, kept short so topics stay under 256 bytes. */
const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/)

/** Names, including ones that themselves end in `_v<digits>` or `_v`, to exercise the greedy split. */
const name = fc.oneof(
  segment,
  fc.tuple(segment, fc.nat({ max: 99_999 })).map(([s, n]) => `${s}_v${n}`),
  segment.map((s) => `${s}_v`),
  fc.constant("event_v")
)

const version = fc.oneof(fc.integer({ min: 1, max: 999_999_999 }), fc.constantFrom(1, 9, 10, 999_999_999))

/** Small pools, so that patterns and topics drawn independently often meet. */
const realmPool = fc.constantFrom("r1", "r2")
const slotsPool = fc.constantFrom(
  ["_realm", "_realm"] as const,
  ["o1", "_org"] as const,
  ["o2", "_org"] as const,
  ["o1", "a1"] as const,
  ["o1", "a2"] as const,
  ["o2", "a1"] as const
)
const domainPool = fc.constantFrom("d1", "d2")
const lastPool = fc.constantFrom("n_v1", "n_v2", "m_v1")

const smallTopic = fc
  .tuple(realmPool, slotsPool, domainPool, lastPool)
  .map(([realm, [org, app], domain, last]) => `${realm}/${org}/${app}/${domain}/${last}`)

/**
 * A pattern derived from a topic or pattern: `*` in the masked slots 2–5 (a `#` stays), then
 * everything from position `hashAt` (2–5; anything else: no cut) replaced by `#`.
 */
const generalize = (source: string, stars: ReadonlyArray<boolean>, hashAt: number): string => {
  const segments = source.split("/").map((s, i) => (i > 0 && s !== "#" && stars[i - 1] === true ? "*" : s))
  return hashAt >= 2 && hashAt - 1 < segments.length
    ? [...segments.slice(0, hashAt - 1), "#"].join("/")
    : segments.join("/")
}

const mask = fc.array(fc.boolean(), { minLength: 4, maxLength: 4 })
const cut = fc.integer({ min: 1, max: 6 })

const smallPattern = fc.tuple(smallTopic, mask, cut).map(([t, stars, hashAt]) => generalize(t, stars, hashAt))

/** Strings near the grammar: bits of segments, sentinels, suffixes, wildcards and bad characters. */
const token = fc.constantFrom(
  "a", "z", "0", "9", "-", ".", "_", "v", "_v", "_v1", "_v0", "_v01", "_realm", "_org",
  "*", "#", "A", " ", "@", "\n", "\r", "\u2028", "é", "😀", "\ud800", "/"
)
const nearMiss = fc
  .array(fc.array(token, { maxLength: 6 }).map((ts) => ts.join("")), { minLength: 1, maxLength: 7 })
  .map((parts) => parts.join("/"))

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ minLength: 240, maxLength: 280 }),
  nearMiss,
  smallTopic,
  smallPattern
)

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Runs `f`; `undefined` if it returned, the error if it threw a well-formed `TopicError`. */
const outcome = (f: () => unknown): Topic.TopicError | undefined => {
  try {
    f()
    return undefined
  } catch (e) {
    expect(e).toBeInstanceOf(Topic.TopicError)
    const error = e as Topic.TopicError
    expect(error).toBeInstanceOf(Error)
    expect(error._tag).toBe("TopicError")
    expect(Topic.topicErrorReasons).toContain(error.reason)
    expect(typeof error.detail).toBe("string")
    expect(error.detail.length).toBeGreaterThan(0)
    expect(error.message).toContain(error.reason)
    return error
  }
}

/** The reference matcher: split both, walk the lists. */
const naiveMatches = (pattern: string, topic: string): boolean => {
  const walk = (ps: ReadonlyArray<string>, ts: ReadonlyArray<string>): boolean => {
    if (ps.length === 0) return ts.length === 0
    const [p, ...restP] = ps
    if (p === "#" && restP.length === 0) return ts.length > 0
    if (ts.length === 0) return false
    const [t, ...restT] = ts
    return (p === "*" || p === t) && walk(restP, restT)
  }
  return walk(pattern.split("/"), topic.split("/"))
}

const sorted = <A>(xs: Iterable<A>): Array<A> => [...xs].sort()

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe("build and parse", () => {
  it("parse(realmFact(…)) gives the parts back, and hopes build the same", () => {
    fc.assert(
      fc.property(segment, segment, name, version, (realm, domain, n, v) => {
        const topic = Topic.realmFact(realm, domain, n, v)
        expect(Topic.realmHope(realm, domain, n, v)).toBe(topic)
        expect(Topic.build(realm, "_realm", "_realm", domain, n, v)).toBe(topic)
        expect(Topic.parse(topic)).toStrictEqual({ tier: "realm", realm, domain, name: n, version: v, topic })
      }),
      { numRuns: 300 }
    )
  })

  it("parse(orgFact(…)) gives the parts back, and hopes build the same", () => {
    fc.assert(
      fc.property(segment, segment, segment, name, version, (realm, org, domain, n, v) => {
        const topic = Topic.orgFact(realm, org, domain, n, v)
        expect(Topic.orgHope(realm, org, domain, n, v)).toBe(topic)
        expect(Topic.build(realm, org, "_org", domain, n, v)).toBe(topic)
        expect(Topic.parse(topic)).toStrictEqual({ tier: "org", realm, org, domain, name: n, version: v, topic })
      }),
      { numRuns: 300 }
    )
  })

  it("parse(appFact(…)) gives the parts back, and hopes build the same", () => {
    fc.assert(
      fc.property(segment, segment, segment, segment, name, version, (realm, org, app, domain, n, v) => {
        const topic = Topic.appFact(realm, org, app, domain, n, v)
        expect(Topic.appHope(realm, org, app, domain, n, v)).toBe(topic)
        expect(Topic.build(realm, org, app, domain, n, v)).toBe(topic)
        expect(Topic.parse(topic)).toStrictEqual({ tier: "app", realm, org, app, domain, name: n, version: v, topic })
      }),
      { numRuns: 300 }
    )
  })

  it("build(parse(t)) is t for every topic parse accepts", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (!Topic.isValid(s) || Topic.isSystem(s)) return
        const p = Topic.parse(s)
        const org = p.org ?? "_realm"
        const app = p.app ?? (p.tier === "org" ? "_org" : "_realm")
        expect(Topic.build(p.realm, org, app, p.domain, p.name, p.version)).toBe(s)
      }),
      { numRuns: 500 }
    )
  })

  it("splits the last segment as ^(.+)_v([0-9]+)$ does", () => {
    const spec = /^(.+)_v([0-9]+)$/
    const last = fc.array(token.filter((t) => t !== "/"), { maxLength: 8 }).map((ts) => ts.join(""))
    fc.assert(
      fc.property(last, (l) => {
        const topic = `r/o/a/d/${l}`
        const m = spec.exec(l)
        const error = outcome(() => Topic.parse(topic))
        if (m === null) {
          expect(error?.reason).toBe("missing_version_suffix")
        } else if (error === undefined) {
          expect(Topic.parse(topic)).toMatchObject({ name: m[1], version: Number(m[2]) })
        } else {
          expect(error.reason).not.toBe("missing_version_suffix")
        }
      }),
      { numRuns: 1000 }
    )
  })
})

describe("totality: any string passes or fails with a TopicError", () => {
  it("validate, parse, isValid and isSystem", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const viaValidate = outcome(() => Topic.validate(s))
        const viaParse = outcome(() => Topic.parse(s))
        expect(Topic.isValid(s)).toBe(viaValidate === undefined)
        if (!Topic.isSystem(s)) expect(viaParse?.reason).toBe(viaValidate?.reason)
        else expect(viaParse?.detail).toBe("leading_underscore")
        if (viaValidate === undefined) expect(Topic.matches(s, s)).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })

  it("validatePattern and isValidPattern; wildcard-free patterns are topics", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const error = outcome(() => Topic.validatePattern(s))
        expect(Topic.isValidPattern(s)).toBe(error === undefined)
        if (!Topic.isPattern(s)) expect(error?.detail).toBe(outcome(() => Topic.validate(s))?.detail)
        else if (error !== undefined) expect(error.reason).toBe("invalid_pattern")
      }),
      { numRuns: 2000 }
    )
  })

  it("patterns derived from valid topics are valid", () => {
    fc.assert(
      fc.property(smallPattern, (p) => {
        expect(outcome(() => Topic.validatePattern(p))).toBeUndefined()
      })
    )
  })
})

describe("matches", () => {
  const wildcardAlphabet = fc.string({ unit: fc.constantFrom("a", "b", "/", "*", "#"), maxLength: 12 })

  it("agrees with the naive matcher on arbitrary strings", () => {
    fc.assert(
      fc.property(wildcardAlphabet, wildcardAlphabet, (p, t) => {
        expect(Topic.matches(p, t)).toBe(naiveMatches(p, t))
      }),
      { numRuns: 3000 }
    )
  })

  it("agrees with the naive matcher on valid patterns and topics", () => {
    fc.assert(
      fc.property(smallPattern, smallTopic, (p, t) => {
        expect(Topic.matches(p, t)).toBe(naiveMatches(p, t))
      }),
      { numRuns: 2000 }
    )
  })

  it("a pattern matches every topic it was derived from", () => {
    fc.assert(
      fc.property(smallTopic, mask, cut, (t, stars, hashAt) => {
        expect(Topic.matches(generalize(t, stars, hashAt), t)).toBe(true)
      })
    )
  })

  it("agrees with the naive matcher on the edge cases of its one-pass loop", () => {
    // Empty segments, a # that must see one more segment, patterns longer than topics. "#/"
    // against "" is the input that tells a # honoured anywhere from a # honoured only last.
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["a/#", "a/"], ["#", ""], ["#/", ""], ["*", ""], ["a/*", "a"], ["", ""], ["/", "/"], ["a/", "a"]
    ]
    for (const [p, t] of cases) {
      expect(Topic.matches(p, t)).toBe(naiveMatches(p, t))
    }
    expect(Topic.matches("#/", "")).toBe(false)
  })
})

describe("PatternTrie", () => {
  type Op =
    | { readonly kind: "insert"; readonly pattern: string; readonly value: number }
    | { readonly kind: "remove"; readonly pattern: string; readonly value: number }
    | { readonly kind: "removePattern"; readonly pattern: string }

  const value = fc.integer({ min: 0, max: 3 })
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("insert" as const), pattern: smallPattern, value }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), pattern: smallPattern, value }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("removePattern" as const), pattern: smallPattern }) }
  )

  it("returns exactly the patterns that match, after every insert and remove", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(smallTopic, { minLength: 1, maxLength: 4 }), (ops, topics) => {
        const trie = new Topic.PatternTrie<number>()
        const model = new Map<string, Set<number>>()
        for (const o of ops) {
          const values = model.get(o.pattern)
          if (o.kind === "insert") {
            expect(trie.insert(o.pattern, o.value)).toBe(!(values?.has(o.value) ?? false))
            model.set(o.pattern, (values ?? new Set()).add(o.value))
          } else if (o.kind === "remove") {
            expect(trie.remove(o.pattern, o.value)).toBe(values?.has(o.value) ?? false)
            values?.delete(o.value)
            if (values?.size === 0) model.delete(o.pattern)
          } else {
            expect(trie.removePattern(o.pattern)).toBe(values?.size ?? 0)
            model.delete(o.pattern)
          }
          for (const topic of topics) {
            const expected = [...model.keys()].filter((p) => Topic.matches(p, topic))
            expect(sorted(trie.matchPatterns(topic))).toEqual(sorted(expected))
            expect(sorted(trie.match(topic))).toEqual(sorted(new Set(expected.flatMap((p) => [...model.get(p)!]))))
          }
          expect(trie.patternCount).toBe(model.size)
          expect(trie.size).toBe([...model.values()].reduce((n, s) => n + s.size, 0))
        }
        expect(sorted(trie.patterns())).toEqual(sorted(model.keys()))
      }),
      { numRuns: 300 }
    )
  })

  it("finds an exact and a * pattern ending at the same depth (pinned case)", () => {
    // The smallest input on which a walk that tries `*` only when no exact child exists fails.
    const trie = new Topic.PatternTrie<number>()
    trie.insert("r2/_realm/_realm/d1/n_v1", 0)
    trie.insert("r2/_realm/_realm/d1/*", 0)
    expect(sorted(trie.matchPatterns("r2/_realm/_realm/d1/n_v1"))).toEqual(["r2/_realm/_realm/d1/*", "r2/_realm/_realm/d1/n_v1"])
    trie.removePattern("r2/_realm/_realm/d1/*")
    expect(trie.matchPatterns("r2/_realm/_realm/d1/n_v1")).toEqual(["r2/_realm/_realm/d1/n_v1"])
  })

  it("a copy answers like the original", () => {
    fc.assert(
      fc.property(fc.array(smallPattern, { maxLength: 20 }), smallTopic, (patterns, topic) => {
        const trie = new Topic.PatternTrie<string>()
        for (const p of patterns) trie.insert(p, p)
        expect(sorted(trie.copy().match(topic))).toEqual(sorted(trie.match(topic)))
      })
    )
  })
})

describe("covers", () => {
  /** Fills for slots 2–5 when turning a pattern into a topic: pool values and fresh names. */
  const fills = fc.tuple(
    fc.oneof(fc.constantFrom("_realm", "o1", "o2"), segment),
    fc.oneof(fc.constantFrom("_realm", "_org", "a1"), segment),
    fc.oneof(domainPool, segment),
    fc.oneof(lastPool, fc.tuple(name, version).map(([n, v]) => `${n}_v${v}`))
  )

  /** The topic `q` turns into when its wildcards take the fills (may break the tier rules). */
  const instantiate = (q: string, fill: ReadonlyArray<string>): string => {
    const segments = q.split("/")
    const hashAt = segments[segments.length - 1] === "#" ? segments.length - 1 : 5
    const out = [segments[0]!]
    for (let i = 1; i < 5; i++) out.push(i >= hashAt || segments[i] === "*" ? fill[i - 1]! : segments[i]!)
    return out.join("/")
  }

  it("covers(p, q) implies every topic matching q matches p", () => {
    const pair = fc.oneof(
      fc.tuple(smallPattern, smallPattern),
      fc.tuple(smallPattern, mask, cut).map(([q, stars, hashAt]) => [generalize(q, stars, hashAt), q] as const)
    )
    fc.assert(
      fc.property(pair, fills, ([p, q], fill) => {
        const t = instantiate(q, fill)
        if (!Topic.isValid(t)) return // not a topic: outside what covering speaks about
        expect(Topic.matches(q, t)).toBe(true)
        if (Topic.covers(p, q)) expect(Topic.matches(p, t)).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })

  it("covers(p, q) implies it for every topic of the small universe", () => {
    const universe: Array<string> = []
    for (const realm of ["r1", "r2"]) {
      for (const [org, app] of [["_realm", "_realm"], ["o1", "_org"], ["o2", "_org"], ["o1", "a1"], ["o1", "a2"], ["o2", "a1"]]) {
        for (const domain of ["d1", "d2"]) {
          for (const last of ["n_v1", "n_v2", "m_v1"]) universe.push(`${realm}/${org}/${app}/${domain}/${last}`)
        }
      }
    }
    fc.assert(
      fc.property(smallPattern, smallPattern, (p, q) => {
        if (!Topic.covers(p, q)) return
        for (const t of universe) if (Topic.matches(q, t)) expect(Topic.matches(p, t)).toBe(true)
      }),
      { numRuns: 1000 }
    )
  })

  it("does not let a * in q pass a literal in p (pinned cases)", () => {
    // The smallest inputs on which a covers that skips slots where q has `*` goes wrong.
    expect(Topic.covers("r1/_realm/_realm/d1/n_v1", "r1/_realm/_realm/*/n_v1")).toBe(false)
    expect(Topic.covers("r2/_realm/#", "r2/*/a1/d1/n_v1")).toBe(false)
    expect(Topic.matches("r2/*/a1/d1/n_v1", "r2/o1/a1/d1/n_v1")).toBe(true)
    expect(Topic.matches("r2/_realm/#", "r2/o1/a1/d1/n_v1")).toBe(false)
  })

  it("a pattern covers itself and everything derived from it by more wildcards", () => {
    fc.assert(
      fc.property(smallPattern, mask, cut, (q, stars, hashAt) => {
        expect(Topic.covers(q, q)).toBe(true)
        expect(Topic.covers(generalize(q, stars, hashAt), q)).toBe(true)
      })
    )
  })
})
