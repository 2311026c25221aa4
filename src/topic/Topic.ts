/**
 * Topic names, procedure names and subscription patterns (PROTOCOL.md §7): the five-segment
 * grammar `{realm}/{org}/{app}/{domain}/{name}_v{N}`, its three tiers, system topics and the
 * `*` / `#` wildcards.
 *
 * Key invariant: every topic has exactly one spelling. `parse` accepts a string only if the
 * builders would produce that same string from its parts, so `build(parse(t)) === t` and
 * `parse(build(...))` gives the parts back. Checks run in the order of §7.2 and the first
 * failure wins, so a given bad string always yields the same `reason` and `detail`.
 *
 * It does not check authoring conventions (past-tense facts, present-tense hopes, no IDs in
 * topics, no CRUD verbs), does not resolve realms to realm ids, and does not decide who may
 * publish or subscribe. `matches` and `covers` do not validate their inputs: callers validate
 * once, at the edge, and then match on the hot path. Pure and synchronous: no clock, no
 * randomness, no I/O.
 *
 * @since 0.1.0
 */
import { TopicError } from "./TopicError.ts"
import type { TopicErrorReason } from "./TopicError.ts"

// ---------------------------------------------------------------------------------------------
// Models and constants
// ---------------------------------------------------------------------------------------------

/**
 * Who publishes under a topic, read from its org and app slots: `realm` (`_realm/_realm`),
 * `org` (`{org}/_org`) or `app` (`{org}/{app}`).
 *
 * @since 0.1.0
 * @category models
 */
export type Tier = "realm" | "org" | "app"

/**
 * A parsed five-segment topic. `org` is present for the org and app tiers only, `app` for the
 * app tier only; the keys are absent otherwise (never `undefined`). `topic` is the input string.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedTopic {
  readonly tier: Tier
  readonly realm: string
  readonly org?: string
  readonly app?: string
  readonly domain: string
  readonly name: string
  readonly version: number
  readonly topic: string
}

/**
 * The sentinel that fills both publisher slots of a realm-tier topic. Never a real name.
 *
 * @since 0.1.0
 * @category constants
 */
export const realmSentinel = "_realm"

/**
 * The sentinel that fills the app slot of an org-tier topic. Never a real name.
 *
 * @since 0.1.0
 * @category constants
 */
export const orgSentinel = "_org"

/**
 * The longest topic, system topic or pattern, in UTF-8 bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxTopicBytes = 256

/**
 * The highest version a topic may carry; the lowest is 1.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxVersion = 999_999_999

// ---------------------------------------------------------------------------------------------
// Character-level helpers (char loops rather than regular expressions: these run per event)
// ---------------------------------------------------------------------------------------------

const SLASH = 47
const UNDERSCORE = 95
const STAR = 42
const HASH = 35

/** A refusal before it becomes a `TopicError`: checks stay allocation-light and throw-free. */
class Failure {
  constructor(readonly reason: TopicErrorReason, readonly detail: string) {}
}

const raise = (failure: Failure): never => {
  throw new TopicError({ reason: failure.reason, detail: failure.detail })
}

const isLowerOrDigit = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57)

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** The characters JavaScript's `.` refuses without the `s` flag: LF, CR, LS, PS. */
const isLineTerminator = (c: number): boolean => c === 10 || c === 13 || c === 0x2028 || c === 0x2029

/** `^[a-z0-9][a-z0-9._-]*$`, and a string at all (builders receive arguments from JavaScript). */
const isSegment = (s: unknown): s is string => {
  if (typeof s !== "string" || s.length === 0 || !isLowerOrDigit(s.charCodeAt(0))) return false
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (!(isLowerOrDigit(c) || c === 46 || c === UNDERSCORE || c === 45)) return false
  }
  return true
}

/** The system-topic alphabet after the leading `_`: `[a-z0-9._@-]`. */
const isSystemChar = (c: number): boolean =>
  isLowerOrDigit(c) || c === 46 || c === UNDERSCORE || c === 64 || c === 45

/**
 * Length in UTF-8 bytes, as the wire encodes the string. A lone surrogate counts 3 bytes, the
 * size of the replacement character an encoder writes for it.
 */
const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/**
 * Where `_v<digits>` starts in a last segment, or -1. Equivalent to `^(.+)_v([0-9]+)$` without
 * flags: the digits are the maximal digit run at the very end (a trailing newline defeats it),
 * at least one character precedes `_v`, and none of those is a line terminator. Greedy `(.+)`
 * means the split is at the last `_v`: `event_v_v1` is name `event_v`, version 1.
 */
const suffixStart = (last: string): number => {
  let i = last.length
  while (i > 0 && isDigit(last.charCodeAt(i - 1))) i--
  if (i === last.length || i < 3) return -1
  if (last.charCodeAt(i - 1) !== 118 || last.charCodeAt(i - 2) !== UNDERSCORE) return -1
  for (let k = 0; k < i - 2; k++) if (isLineTerminator(last.charCodeAt(k))) return -1
  return i - 2
}

/** The version the digits spell, or -1: no leading zero, 1..999 999 999. */
const versionOf = (digits: string): number => {
  if (digits.length > 9 || digits.charCodeAt(0) === 48) return -1 // "0", "01", or too many digits
  return Number(digits)
}

type SlotReasons = readonly [
  realmAlone: Failure, // `_realm` in the org slot only
  realmInAppOnly: Failure, // `_realm` in the app slot only
  orgInOrgSlot: Failure // `_org` in the org slot
]

const topicSlotReasons: SlotReasons = [
  new Failure("mismatched_realm_sentinel", "app_must_be_realm_too"),
  new Failure("mismatched_realm_sentinel", "org_must_be_realm_too"),
  new Failure("misplaced_org_sentinel", "only_in_app_slot")
]

const builderSlotReasons: SlotReasons = [
  new Failure("invalid_tier_combination", "app_must_be_realm_when_org_realm"),
  new Failure("invalid_tier_combination", "org_must_be_realm_when_app_realm"),
  new Failure("invalid_tier_combination", "org_sentinel_only_in_app_slot")
]

/** §7.2 step 5: the tier the two publisher slots select, checked in the order the spec lists. */
const tierOf = (org: unknown, app: unknown, reasons: SlotReasons): Tier | Failure => {
  if (org === realmSentinel) return app === realmSentinel ? "realm" : reasons[0]
  if (app === realmSentinel) return reasons[1]
  if (org === orgSentinel) return reasons[2]
  return app === orgSentinel ? "org" : "app"
}

const makeParsed = (
  tier: Tier,
  realm: string,
  org: string,
  app: string,
  domain: string,
  name: string,
  version: number,
  topic: string
): ParsedTopic =>
  tier === "app"
    ? { tier, realm, org, app, domain, name, version, topic }
    : tier === "org"
    ? { tier, realm, org, domain, name, version, topic }
    : { tier, realm, domain, name, version, topic }

// ---------------------------------------------------------------------------------------------
// Parsing and validation
// ---------------------------------------------------------------------------------------------

/** §7.2 in order; never throws. */
const parseTopic = (topic: unknown): ParsedTopic | Failure => {
  if (typeof topic !== "string") return new Failure("invalid_structure", "not_a_string")
  // 1. structure: leading `_`, length, exactly five parts
  if (topic.charCodeAt(0) === UNDERSCORE) return new Failure("invalid_structure", "leading_underscore")
  const bytes = utf8Length(topic)
  if (bytes > maxTopicBytes) return new Failure("invalid_structure", `too_long:${bytes}`)
  const s1 = topic.indexOf("/")
  const s2 = s1 < 0 ? -1 : topic.indexOf("/", s1 + 1)
  const s3 = s2 < 0 ? -1 : topic.indexOf("/", s2 + 1)
  const s4 = s3 < 0 ? -1 : topic.indexOf("/", s3 + 1)
  if (s4 < 0 || topic.indexOf("/", s4 + 1) >= 0) {
    let parts = 1
    for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === SLASH) parts++
    return new Failure("invalid_structure", `segments:${parts}`)
  }
  const realm = topic.slice(0, s1)
  const org = topic.slice(s1 + 1, s2)
  const app = topic.slice(s2 + 1, s3)
  const domain = topic.slice(s3 + 1, s4)
  const last = topic.slice(s4 + 1)
  // 2. version suffix
  const cut = suffixStart(last)
  if (cut < 0) return new Failure("missing_version_suffix", `last:${last}`)
  // 3. version number
  const digits = last.slice(cut + 2)
  const version = versionOf(digits)
  if (version < 1) return new Failure("invalid_version", `version:${digits}`)
  // 4. realm
  if (!isSegment(realm)) return new Failure("invalid_segment", `realm:${realm}`)
  // 5. publisher slots
  const tier = tierOf(org, app, topicSlotReasons)
  if (tier instanceof Failure) return tier
  // 6. real org, real app, domain, name
  if (tier !== "realm" && !isSegment(org)) return new Failure("invalid_segment", `org:${org}`)
  if (tier === "app" && !isSegment(app)) return new Failure("invalid_segment", `app:${app}`)
  if (!isSegment(domain)) return new Failure("invalid_segment", `domain:${domain}`)
  const name = last.slice(0, cut)
  if (!isSegment(name)) return new Failure("invalid_segment", `name:${name}`)
  return makeParsed(tier, realm, org, app, domain, name, version, topic)
}

/** `^_[a-z0-9._@-]{1,255}$`, for a string known to start with `_`. */
const checkSystem = (topic: string): Failure | undefined => {
  const bytes = utf8Length(topic)
  if (bytes > maxTopicBytes) return new Failure("invalid_structure", `too_long:${bytes}`)
  if (topic.length < 2) return new Failure("invalid_structure", `system:${topic}`)
  for (let i = 1; i < topic.length; i++) {
    if (!isSystemChar(topic.charCodeAt(i))) return new Failure("invalid_structure", `system:${topic}`)
  }
  return undefined
}

/**
 * Topics that passed `checkTopic`, oldest first. Routing checks the topic of every event, and
 * a mesh uses few distinct topics: a hit skips the parse. Bounded (the oldest is dropped), and
 * only successes are kept, so bad input from a peer cannot fill it with junk.
 */
const validTopics = new Set<string>()
const validTopicsMax = 1_024

const checkTopic = (topic: unknown): Failure | undefined => {
  if (typeof topic !== "string") return new Failure("invalid_structure", "not_a_string")
  if (validTopics.has(topic)) return undefined
  const failure = topic.charCodeAt(0) === UNDERSCORE ? checkSystem(topic) : parseTopic(topic)
  if (failure instanceof Failure) return failure
  if (validTopics.size >= validTopicsMax) validTopics.delete(validTopics.values().next().value!)
  validTopics.add(topic)
  return undefined
}

/**
 * Parses a five-segment topic or procedure name, checking PROTOCOL.md §7.2 in order; the
 * first failure wins:
 *
 * 1. a leading `_`, more than 256 bytes, or not exactly five `/`-separated segments →
 *    `invalid_structure` (`leading_underscore`, `too_long:<bytes>`, `segments:<count>`);
 * 2. the last segment not ending in `_v<digits>` → `missing_version_suffix` (`last:<segment>`);
 * 3. a version outside 1..999 999 999 or with a leading zero → `invalid_version`
 *    (`version:<digits>`);
 * 4. a bad realm → `invalid_segment` (`realm:<segment>`);
 * 5. the publisher slots: `_realm/_realm` realm tier, `_realm/X` → `mismatched_realm_sentinel`
 *    (`app_must_be_realm_too`), `X/_realm` → `mismatched_realm_sentinel`
 *    (`org_must_be_realm_too`), `_org/X` → `misplaced_org_sentinel` (`only_in_app_slot`),
 *    `X/_org` org tier, anything else app tier;
 * 6. the real org, real app, domain and name, in that order → `invalid_segment`
 *    (`org:…`, `app:…`, `domain:…`, `name:…`).
 *
 * The name is everything before the last `_v<digits>`, so `event_v_v1` is name `event_v`.
 * System topics (`_…`) are not five-segment topics and fail step 1; use {@link validate} for
 * strings that may be either.
 *
 * @example
 * ```ts
 * Topic.parse("io.macula/beam-campus/hecate/mpong/lobby_opened_v1")
 * // { tier: "app", realm: "io.macula", org: "beam-campus", app: "hecate",
 * //   domain: "mpong", name: "lobby_opened", version: 1, topic: "io.macula/…_v1" }
 * ```
 *
 * @throws TopicError
 * @since 0.1.0
 * @category parsing
 */
export const parse = (topic: string): ParsedTopic => {
  const result = parseTopic(topic)
  return result instanceof Failure ? raise(result) : result
}

/**
 * Checks a topic or procedure name: a string starting with `_` must be a system topic
 * (`^_[a-z0-9._@-]{1,255}$`, else `invalid_structure` with `system:<topic>` or
 * `too_long:<bytes>`); anything else must {@link parse}.
 *
 * @throws TopicError
 * @since 0.1.0
 * @category validation
 */
export const validate = (topic: string): void => {
  const failure = checkTopic(topic)
  if (failure !== undefined) raise(failure)
}

/**
 * Whether {@link validate} would accept the string. Never throws, allocates no error: use it
 * on remote input, where a bad topic is data rather than an exception.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValid = (topic: string): boolean => checkTopic(topic) === undefined

/**
 * Whether the string is meant as a system topic: it starts with `_`. Says nothing about
 * validity; system topics are exact-match only, live in the zero realm and are published by
 * stations only.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSystem = (topic: string): boolean => topic.charCodeAt(0) === UNDERSCORE

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/**
 * Builder checks (§7.2): realm, the slot combination, then org, app, domain, name, version,
 * and finally the total length. `want` is the tier a tier builder promises; a sentinel that
 * would silently change it (an app builder given `_org` as app) is an invalid segment, because
 * sentinels are never real names.
 */
const buildTopic = (
  realm: string,
  org: string,
  app: string,
  domain: string,
  name: string,
  version: number,
  want: Tier | undefined
): string => {
  if (!isSegment(realm)) return raise(new Failure("invalid_segment", `realm:${String(realm)}`))
  const tier = tierOf(org, app, builderSlotReasons)
  if (tier instanceof Failure) return raise(tier)
  if ((tier !== "realm" || want === "app") && !isSegment(org)) {
    return raise(new Failure("invalid_segment", `org:${String(org)}`))
  }
  if ((tier === "app" || want === "app") && !isSegment(app)) {
    return raise(new Failure("invalid_segment", `app:${String(app)}`))
  }
  if (!isSegment(domain)) return raise(new Failure("invalid_segment", `domain:${String(domain)}`))
  if (!isSegment(name)) return raise(new Failure("invalid_segment", `name:${String(name)}`))
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > maxVersion) {
    return raise(new Failure("invalid_version", `version:${String(version)}`))
  }
  const topic = `${realm}/${org}/${app}/${domain}/${name}_v${version}`
  // Every character is ASCII by now, so length is the byte count.
  if (topic.length > maxTopicBytes) return raise(new Failure("invalid_structure", `too_long:${topic.length}`))
  return topic
}

/**
 * Builds `{realm}/{org}/{app}/{domain}/{name}_v{version}` for any tier: `org` and `app` may be
 * the sentinels (`_realm`, `_realm` for the realm tier; `{org}`, `_org` for the org tier).
 *
 * Checks, first failure wins: the realm (`invalid_segment`, `realm:…`); the slot combination
 * (`invalid_tier_combination`: `app_must_be_realm_when_org_realm`,
 * `org_must_be_realm_when_app_realm`, `org_sentinel_only_in_app_slot`); the real org and app,
 * the domain and the name (`invalid_segment`); the version, an integer 1..999 999 999
 * (`invalid_version`, `version:…`); the whole topic at most 256 bytes (`invalid_structure`,
 * `too_long:<bytes>`). The result always {@link parse}s back to the same parts.
 *
 * @example
 * ```ts
 * Topic.build("io.macula", "beam-campus", "_org", "licenses", "issued_batch", 1)
 * // "io.macula/beam-campus/_org/licenses/issued_batch_v1"
 * ```
 *
 * @throws TopicError
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  realm: string,
  org: string,
  app: string,
  domain: string,
  name: string,
  version: number
): string => buildTopic(realm, org, app, domain, name, version, undefined)

/**
 * A realm-tier **fact**: something that happened, announced on behalf of the whole realm
 * (`{realm}/_realm/_realm/{domain}/{name}_v{N}`). By convention the name is past tense
 * (`membership/revoked`). The protocol does not check tense: this builds exactly what
 * {@link realmHope} builds, and exists so the call site says what the topic is for.
 *
 * @example
 * ```ts
 * Topic.realmFact("io.macula", "membership", "revoked", 1) // "io.macula/_realm/_realm/membership/revoked_v1"
 * ```
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const realmFact = (realm: string, domain: string, name: string, version: number): string =>
  buildTopic(realm, realmSentinel, realmSentinel, domain, name, version, "realm")

/**
 * A realm-tier **hope**: a request or intention addressed to the realm as a whole; by
 * convention the name is present tense (`membership/revoke`). Same shape and checks as
 * {@link realmFact}.
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const realmHope = (realm: string, domain: string, name: string, version: number): string =>
  buildTopic(realm, realmSentinel, realmSentinel, domain, name, version, "realm")

/**
 * An org-tier **fact**: something that happened in one organisation, not tied to one app
 * (`{realm}/{org}/_org/{domain}/{name}_v{N}`); past-tense name by convention. `org` must be a
 * real org: `_realm` or `_org` fail as in {@link build}.
 *
 * @example
 * ```ts
 * Topic.orgFact("io.macula", "beam-campus", "licenses", "issued_batch", 1)
 * // "io.macula/beam-campus/_org/licenses/issued_batch_v1"
 * ```
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const orgFact = (realm: string, org: string, domain: string, name: string, version: number): string =>
  buildTopic(realm, org, orgSentinel, domain, name, version, "org")

/**
 * An org-tier **hope**: a request addressed to one organisation; present-tense name by
 * convention. Same shape and checks as {@link orgFact}.
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const orgHope = (realm: string, org: string, domain: string, name: string, version: number): string =>
  buildTopic(realm, org, orgSentinel, domain, name, version, "org")

/**
 * An app-tier **fact**: something that happened in one app of one organisation
 * (`{realm}/{org}/{app}/{domain}/{name}_v{N}`); past-tense name by convention. Both `org` and
 * `app` must be real names: a sentinel combination `build` rejects fails the same way here,
 * and one `build` would accept but that changes the tier (`app` = `_org`, or both `_realm`)
 * fails as `invalid_segment` (`app:_org`, `org:_realm`).
 *
 * @example
 * ```ts
 * Topic.appFact("io.macula", "beam-campus", "hecate", "mpong", "lobby_opened", 1)
 * // "io.macula/beam-campus/hecate/mpong/lobby_opened_v1"
 * ```
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const appFact = (
  realm: string,
  org: string,
  app: string,
  domain: string,
  name: string,
  version: number
): string => buildTopic(realm, org, app, domain, name, version, "app")

/**
 * An app-tier **hope**: a request addressed to one app (`mpong/open_lobby`); present-tense
 * name by convention. Same shape and checks as {@link appFact}.
 *
 * @throws TopicError as {@link build}
 * @since 0.1.0
 * @category constructors
 */
export const appHope = (
  realm: string,
  org: string,
  app: string,
  domain: string,
  name: string,
  version: number
): string => buildTopic(realm, org, app, domain, name, version, "app")

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/**
 * Whether the string contains a wildcard character (`*` or `#`) anywhere, and so is checked
 * by {@link validatePattern} as a pattern rather than as a topic. Says nothing about validity.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPattern = (s: string): boolean => s.indexOf("*") >= 0 || s.indexOf("#") >= 0

const isWildcard = (segment: string): boolean => segment === "*" || segment === "#"

/** A literal slot failing §7.2 inside a wildcard pattern: `invalid_pattern`, `<reason>:<detail>`. */
const literal = (reason: TopicErrorReason, detail: string): Failure =>
  new Failure("invalid_pattern", `${reason}:${detail}`)

const checkPattern = (pattern: unknown): Failure | undefined => {
  if (typeof pattern !== "string" || !isPattern(pattern)) return checkTopic(pattern)
  if (pattern.charCodeAt(0) === UNDERSCORE) return new Failure("invalid_pattern", "system_topic")
  const bytes = utf8Length(pattern)
  if (bytes > maxTopicBytes) return new Failure("invalid_pattern", `too_long:${bytes}`)
  const segments = pattern.split("/")
  const n = segments.length
  if (n > 5) return new Failure("invalid_pattern", `too_many_segments:${n}`)
  for (let i = 0; i < n; i++) {
    if (segments[i] === "") return new Failure("invalid_pattern", `empty_segment:${i + 1}`)
  }
  for (const segment of segments) {
    if (!isWildcard(segment) && isPattern(segment)) return new Failure("invalid_pattern", `partial_wildcard:${segment}`)
  }
  if (isWildcard(segments[0]!)) return new Failure("invalid_pattern", "wildcard_realm")
  for (let i = 0; i < n - 1; i++) {
    if (segments[i] === "#") return new Failure("invalid_pattern", "hash_not_last")
  }
  if (n < 5 && segments[n - 1] !== "#") return new Failure("invalid_pattern", `too_few_segments:${n}`)
  // Literal slots obey §7.2, in the same order as a topic: suffix, version, realm, slots, names.
  const slot = (i: number): string | undefined => {
    const s = segments[i]
    return s === undefined || isWildcard(s) ? undefined : s
  }
  const last = slot(4)
  let name: string | undefined
  if (last !== undefined) {
    const cut = suffixStart(last)
    if (cut < 0) return literal("missing_version_suffix", `last:${last}`)
    const digits = last.slice(cut + 2)
    if (versionOf(digits) < 1) return literal("invalid_version", `version:${digits}`)
    name = last.slice(0, cut)
  }
  const realm = segments[0]!
  if (!isSegment(realm)) return literal("invalid_segment", `realm:${realm}`)
  const org = slot(1)
  const app = slot(2)
  if (org !== undefined && app !== undefined) {
    const tier = tierOf(org, app, topicSlotReasons)
    if (tier instanceof Failure) return literal(tier.reason, tier.detail)
  } else if (org === orgSentinel) {
    const [, , orgInOrgSlot] = topicSlotReasons
    return literal(orgInOrgSlot.reason, orgInOrgSlot.detail)
  }
  if (org !== undefined && org !== realmSentinel && !isSegment(org)) return literal("invalid_segment", `org:${org}`)
  if (app !== undefined && app !== realmSentinel && app !== orgSentinel && !isSegment(app)) {
    return literal("invalid_segment", `app:${app}`)
  }
  const domain = slot(3)
  if (domain !== undefined && !isSegment(domain)) return literal("invalid_segment", `domain:${domain}`)
  if (name !== undefined && !isSegment(name)) return literal("invalid_segment", `name:${name}`)
  return undefined
}

/**
 * Checks a subscription pattern (PROTOCOL.md §7.3).
 *
 * A string without `*` or `#` is a topic and is checked by {@link validate}, failing with
 * topic reasons (system topics pass: they are exact-match patterns). A string with a wildcard
 * character fails with `invalid_pattern` and a detail, first failure wins:
 *
 * 1. `system_topic`: a leading `_` (system topics are exact-match only);
 * 2. `too_long:<bytes>`: over 256 bytes;
 * 3. `too_many_segments:<n>`: more than 5 segments;
 * 4. `empty_segment:<position>`: an empty segment (positions count from 1);
 * 5. `partial_wildcard:<segment>`: `*` or `#` inside a longer segment, such as `a*`;
 * 6. `wildcard_realm`: the realm is `*` or `#`;
 * 7. `hash_not_last`: a `#` before the last segment;
 * 8. `too_few_segments:<n>`: fewer than 5 segments without a final `#`;
 * 9. a literal segment that breaks §7.2 for its slot, checked in topic order (last segment's
 *    suffix and version, realm, the sentinel rules when both publisher slots are literal and
 *    `_org` in the org slot always, real org, real app, domain, name): the topic reason and
 *    detail joined by `:`, such as `mismatched_realm_sentinel:app_must_be_realm_too` or
 *    `invalid_segment:org:BadOrg`.
 *
 * `*` stands for exactly one segment in slots 2–5; a final `#` for one or more remaining
 * segments, so a `#` pattern has 2 to 5 segments.
 *
 * @example
 * ```ts
 * Topic.validatePattern("io.macula/beam-campus/*\/llm/#") // ok
 * Topic.validatePattern("io.macula/#/x")                 // throws TopicError invalid_pattern, hash_not_last
 * ```
 *
 * @throws TopicError
 * @since 0.1.0
 * @category validation
 */
export const validatePattern = (pattern: string): void => {
  const failure = checkPattern(pattern)
  if (failure !== undefined) raise(failure)
}

/**
 * Whether {@link validatePattern} would accept the string. Never throws.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidPattern = (pattern: string): boolean => checkPattern(pattern) === undefined

/**
 * Whether `topic` matches `pattern`, segment by segment: `*` matches any one segment, a `#`
 * as the pattern's **last** segment matches one or more remaining segments, and any other
 * segment (a `#` elsewhere included) must be equal. A pattern without wildcards matches only
 * the identical string, which is how system topics match.
 *
 * Validates neither argument (validate once at the edge); on any strings the answer follows
 * the rule above. Runs in one pass over both strings without splitting them.
 *
 * @example
 * ```ts
 * Topic.matches("io.macula/beam-campus/*\/llm/#", "io.macula/beam-campus/hecate/llm/chat_to_model_v1") // true
 * Topic.matches("io.macula/#", "io.macula")                                                        // false
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const matches = (pattern: string, topic: string): boolean => {
  const pl = pattern.length
  const tl = topic.length
  let i = 0 // start of the current pattern segment
  let j = 0 // start of the current topic segment; j > tl once the topic has no segment left
  while (true) {
    let pe = pattern.indexOf("/", i)
    if (pe < 0) pe = pl
    if (j > tl) return false
    let te = topic.indexOf("/", j)
    if (te < 0) te = tl
    const width = pe - i
    if (width === 1 && pattern.charCodeAt(i) === HASH && pe === pl) return true // j <= tl: one or more left
    if (!(width === 1 && pattern.charCodeAt(i) === STAR)) {
      if (te - j !== width) return false
      for (let k = 0; k < width; k++) if (pattern.charCodeAt(i + k) !== topic.charCodeAt(j + k)) return false
    }
    if (pe === pl) return te === tl
    i = pe + 1
    j = te + 1
  }
}

/** Five segments with a final `#` spread into `*`s, or undefined when that is not possible. */
const fiveSlots = (pattern: string): ReadonlyArray<string> | undefined => {
  const segments = pattern.split("/")
  const n = segments.length
  if (n >= 2 && n <= 5 && segments[n - 1] === "#") {
    segments.length = n - 1
    while (segments.length < 5) segments.push("*")
  }
  return segments.length === 5 ? segments : undefined
}

/**
 * Whether `q` is covered by `p` (PROTOCOL.md §7.3): every topic matching `q` also matches `p`.
 * Both may be topics or patterns, and a topic is a pattern that matches itself.
 *
 * Decided segment-wise over five slots: a final `#` stands for `*` in every remaining slot
 * (topics always have five segments), and then each slot of `p` must be `*` or equal to the
 * same slot of `q`. Sound for every pair; it may answer `false` when only the sentinel rules
 * make two patterns equivalent (`r/_realm/*\/#` matches exactly what `r/_realm/_realm/#`
 * matches, yet is not reported as covered by it). Strings that do not spread to five slots
 * (system topics, malformed input) are covered only by themselves.
 *
 * Used to decide what a capability grants: `/mesh/subscribe` with pattern `p` allows a
 * subscription to `q` when `covers(p, q)`.
 *
 * @example
 * ```ts
 * Topic.covers("io.macula/beam-campus/#", "io.macula/beam-campus/*\/llm/#") // true
 * Topic.covers("io.macula/beam-campus/*\/llm/#", "io.macula/beam-campus/#") // false
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const covers = (p: string, q: string): boolean => {
  if (p === q) return true
  const ps = fiveSlots(p)
  const qs = fiveSlots(q)
  if (ps === undefined || qs === undefined) return false
  for (let i = 0; i < 5; i++) {
    if (ps[i] !== "*" && ps[i] !== qs[i]) return false
  }
  return true
}
