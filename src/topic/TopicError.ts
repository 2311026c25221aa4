/**
 * The one error of the Topic library: a topic, pattern or builder argument that breaks the
 * naming rules of PROTOCOL.md §7.
 *
 * Key invariant: `reason` is one of the eight {@link TopicErrorReason}s, fixed by the protocol
 * (stations send it as `r` in an `invalid_topic` / `invalid_pattern` error); `detail` says which
 * part failed and is meant for people and tests, not for branching. `message` is
 * `"<reason> (<detail>): <explanation>"`.
 *
 * It does not validate anything itself; `Topic.ts` decides when to raise it.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Why a topic, pattern or builder call was refused (PROTOCOL.md §7.2–7.3).
 *
 * - `invalid_structure`: not a string, a leading `_` where a five-segment topic is expected,
 *   more than 256 bytes, not exactly five `/`-separated segments, or a system topic outside
 *   its grammar.
 * - `missing_version_suffix`: the last segment does not end in `_v<digits>`.
 * - `invalid_version`: the version is outside 1..999 999 999 or has a leading zero.
 * - `invalid_segment`: a realm, org, app, domain or name segment breaks `^[a-z0-9][a-z0-9._-]*$`.
 * - `invalid_tier_combination`: builders only, the org/app slots form no tier.
 * - `mismatched_realm_sentinel`: `_realm` in one publisher slot but not the other.
 * - `misplaced_org_sentinel`: `_org` in the org slot.
 * - `invalid_pattern`: a pattern with wildcards that breaks §7.3.
 *
 * @since 0.1.0
 * @category models
 */
export type TopicErrorReason =
  | "invalid_segment"
  | "invalid_tier_combination"
  | "invalid_structure"
  | "missing_version_suffix"
  | "mismatched_realm_sentinel"
  | "misplaced_org_sentinel"
  | "invalid_version"
  | "invalid_pattern"

/**
 * Every {@link TopicErrorReason}, in the order of the type.
 *
 * @since 0.1.0
 * @category models
 */
export const topicErrorReasons: ReadonlyArray<TopicErrorReason> = [
  "invalid_segment",
  "invalid_tier_combination",
  "invalid_structure",
  "missing_version_suffix",
  "mismatched_realm_sentinel",
  "misplaced_org_sentinel",
  "invalid_version",
  "invalid_pattern"
]

const explanations: Readonly<Record<TopicErrorReason, string>> = {
  invalid_structure:
    "a topic is five '/'-separated segments of at most 256 bytes in all; a leading '_' marks a system topic, " +
    "which must match ^_[a-z0-9._@-]{1,255}$",
  missing_version_suffix: "the last segment must end in _v<N>, as in name_v1",
  invalid_version: "the version must be a decimal number from 1 to 999999999 without leading zeros",
  invalid_segment: "a realm, org, app, domain or name must match ^[a-z0-9][a-z0-9._-]*$",
  invalid_tier_combination:
    "the org and app slots must be _realm/_realm (realm tier), {org}/_org (org tier) or {org}/{app} (app tier)",
  mismatched_realm_sentinel: "_realm must fill both the org and the app slot, or neither",
  misplaced_org_sentinel: "_org may only fill the app slot",
  invalid_pattern:
    "a pattern is a topic whose segments after the realm may be '*' (exactly one segment) or, as the last " +
    "segment, '#' (one or more); its literal segments follow the topic rules"
}

/**
 * A topic, pattern or builder argument broke the rules of PROTOCOL.md §7.
 *
 * An expected failure: catch it by `_tag` (or `instanceof TopicError`) and branch on `reason`.
 *
 * @example
 * ```ts
 * try {
 *   Topic.parse("a/b/c/d")
 * } catch (e) {
 *   if (e instanceof Topic.TopicError) e.reason // "invalid_structure", e.detail === "segments:4"
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TopicError extends Data.TaggedError("TopicError")<{
  /** Which rule failed; one of the protocol's fixed reasons. */
  readonly reason: TopicErrorReason
  /** Which part failed, such as `realm:IO.Macula` or `app_must_be_realm_too`. */
  readonly detail: string
}> {
  constructor(args: { readonly reason: TopicErrorReason; readonly detail: string }) {
    // Passed as a separate object so the base class sets `message` as well.
    const fields = { reason: args.reason, detail: args.detail, message: messageOf(args.reason, args.detail) }
    super(fields)
  }
}

const messageOf = (reason: TopicErrorReason, detail: string): string =>
  `${reason} (${detail}): ${explanations[reason]}`
