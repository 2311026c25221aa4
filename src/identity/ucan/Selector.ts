/**
 * Policy selectors: the jq-like paths of the UCAN 1.0 policy language that pick a value out of an
 * invocation's `args`.
 *
 * Grammar (the features the specification allows, nothing more):
 *
 * | form | meaning |
 * |---|---|
 * | `.` | identity: the whole value |
 * | `.field` | map entry; the name is `[A-Za-z_][A-Za-z0-9_]*` |
 * | `["any key"]`, `.["any key"]` | map entry by a JSON-quoted key |
 * | `[2]`, `[-1]` | list (or bytes) element, negative from the end |
 * | `[1:3]`, `[2:]`, `[:-1]` | list (or bytes) slice, clamped like jq |
 * | `[]` | iteration: the list itself, a map's values or a byte string's bytes, fed to the rest of the path |
 * | `?` after a segment | optional: `null` (or, for `[]`, nothing) where the segment would fail |
 *
 * A selector starts with `.`; `..` never appears. Semantics follow the specification: a missing
 * key of a map selects `null`, while stepping into something that is not a map or list, or past the
 * end of a list, *fails* unless the segment is optional. After an iteration the result is the list of
 * what the remaining path selected from each element.
 *
 * Pure; `resolve` never throws on any input.
 *
 * @since 0.1.0
 */
import { isLink } from "./Cid.ts"
import type { Ipld, IpldMap } from "./DagCbor.ts"

/**
 * One step of a parsed selector.
 *
 * @since 0.1.0
 * @category models
 */
export type Segment =
  | { readonly kind: "field"; readonly name: string; readonly optional: boolean }
  | { readonly kind: "index"; readonly index: number; readonly optional: boolean }
  | { readonly kind: "slice"; readonly from: number | undefined; readonly to: number | undefined; readonly optional: boolean }
  | { readonly kind: "iterate"; readonly optional: boolean }

/**
 * A parsed selector with its source text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selector {
  readonly source: string
  readonly segments: ReadonlyArray<Segment>
}

/**
 * What {@link resolve} found: a value, or `undefined` when the path cannot be resolved.
 *
 * @since 0.1.0
 * @category models
 */
export type Resolution = { readonly value: Ipld } | undefined

const IDENT_START = /[A-Za-z_]/
const IDENT_PART = /[A-Za-z0-9_]/
const INTEGER = /^-?(0|[1-9][0-9]*)$/

/**
 * Parses a selector; returns the reason in words when the text is not one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (source: string): Selector | string => {
  if (!source.startsWith(".")) return "a selector begins with ."
  if (source === ".") return { source, segments: [] }
  const segments: Array<Segment> = []
  let at = 0
  while (at < source.length) {
    let segment: Segment | string
    const c = source[at]
    if (c === "." && source[at + 1] === "[") {
      at += 1 // `.[0]` and `.a.[0]` spell the same step as `[0]`
      continue
    } else if (c === ".") {
      const start = at + 1
      let end = start
      if (end >= source.length || !IDENT_START.test(source[end]!)) {
        return source[end] === "." ? "a selector never contains .." : `expected a field name at ${start}`
      }
      while (end < source.length && IDENT_PART.test(source[end]!)) end++
      segment = { kind: "field", name: source.slice(start, end), optional: false }
      at = end
    } else if (c === "[") {
      const parsed = bracket(source, at)
      if (typeof parsed === "string") return parsed
      segment = parsed.segment
      at = parsed.end
    } else {
      return `unexpected ${JSON.stringify(c)} at ${at}`
    }
    let optional = false
    while (source[at] === "?") {
      optional = true // `?` is idempotent: `.a???` is `.a?`
      at++
    }
    segments.push(optional ? { ...segment, optional } : segment)
  }
  return { source, segments }
}

/** A `[...]` segment starting at `open`; returns the segment and the index after `]`. */
const bracket = (source: string, open: number): { segment: Segment; end: number } | string => {
  if (source[open + 1] === '"') {
    // A JSON string literal, then `]`.
    let i = open + 2
    while (i < source.length && source[i] !== '"') i += source[i] === "\\" ? 2 : 1
    if (i >= source.length || source[i + 1] !== "]") return `unterminated quoted key at ${open}`
    let name: unknown
    try {
      name = JSON.parse(source.slice(open + 1, i + 1))
    } catch {
      return `invalid quoted key at ${open}`
    }
    return typeof name === "string"
      ? { segment: { kind: "field", name, optional: false }, end: i + 2 }
      : `invalid quoted key at ${open}`
  }
  const close = source.indexOf("]", open)
  if (close < 0) return `unterminated [ at ${open}`
  const inner = source.slice(open + 1, close)
  const end = close + 1
  if (inner === "") return { segment: { kind: "iterate", optional: false }, end }
  const colon = inner.indexOf(":")
  if (colon < 0) {
    if (!INTEGER.test(inner) || inner === "-0") return `invalid index ${JSON.stringify(inner)}`
    const index = Number(inner)
    if (!Number.isSafeInteger(index)) return `index out of range ${inner}`
    return { segment: { kind: "index", index, optional: false }, end }
  }
  const bound = (text: string): number | undefined | string => {
    if (text === "") return undefined
    if (!INTEGER.test(text) || text === "-0" || !Number.isSafeInteger(Number(text))) return `invalid slice bound ${JSON.stringify(text)}`
    return Number(text)
  }
  const from = bound(inner.slice(0, colon))
  const to = bound(inner.slice(colon + 1))
  if (typeof from === "string") return from
  if (typeof to === "string") return to
  return { segment: { kind: "slice", from, to, optional: false }, end }
}

const isMap = (v: Ipld): v is IpldMap =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) && !isLink(v)

/** Python/jq clamping of a slice bound against a length. */
const clamp = (bound: number | undefined, length: number, fallback: number): number => {
  if (bound === undefined) return fallback
  const b = bound < 0 ? length + bound : bound
  return Math.min(Math.max(b, 0), length)
}

/**
 * Applies one segment to one value. Returns the produced values (several after an iteration,
 * none when an optional iteration met a non-collection) or `undefined` on failure.
 */
const step = (segment: Segment, value: Ipld): ReadonlyArray<Ipld> | undefined => {
  const orNull = segment.optional ? [null] : undefined
  switch (segment.kind) {
    case "field":
      if (!isMap(value)) return orNull
      // A missing key selects null (the specification's rule for maps).
      return [Object.hasOwn(value, segment.name) ? value[segment.name]! : null]
    case "index": {
      if (!Array.isArray(value) && !(value instanceof Uint8Array)) return orNull
      const list = value as ArrayLike<Ipld>
      const i = segment.index < 0 ? list.length + segment.index : segment.index
      if (i < 0 || i >= list.length) return orNull
      return [list[i]!]
    }
    case "slice": {
      if (!Array.isArray(value) && !(value instanceof Uint8Array)) return orNull
      const length = (value as ArrayLike<Ipld>).length
      const from = clamp(segment.from, length, 0)
      const to = Math.max(from, clamp(segment.to, length, length))
      return [value instanceof Uint8Array ? value.slice(from, to) : (value as ReadonlyArray<Ipld>).slice(from, to)]
    }
    case "iterate":
      if (Array.isArray(value)) return value as ReadonlyArray<Ipld>
      if (isMap(value)) return Object.values(value)
      if (value instanceof Uint8Array) return Array.from(value) // bytes select as a list of u8
      return segment.optional ? [] : undefined
  }
}

/**
 * Resolves a selector against a value. `undefined` means the path cannot be resolved (a policy
 * statement over it is then not satisfied); an optional segment yields `null` instead.
 *
 * @example
 * ```ts
 * resolve(parse(".to[-1]") as Selector, { to: ["a", "b"] }) // { value: "b" }
 * resolve(parse(".missing") as Selector, {})              // { value: null }
 * resolve(parse(".a.b") as Selector, { a: 1 })            // undefined
 * ```
 * @since 0.1.0
 * @category evaluation
 */
export const resolve = (selector: Selector, input: Ipld): Resolution => {
  let stream: ReadonlyArray<Ipld> = [input]
  let iterated = false
  for (const segment of selector.segments) {
    const next: Array<Ipld> = []
    for (const value of stream) {
      const produced = step(segment, value)
      if (produced === undefined) return undefined
      for (const p of produced) next.push(p)
    }
    if (segment.kind === "iterate") iterated = true
    stream = next
  }
  return iterated ? { value: stream } : { value: stream[0] ?? null }
}
