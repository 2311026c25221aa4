/**
 * The UCAN 1.0 policy language: predicates a delegation places on the `args` of any invocation it
 * proves. A policy is a list of statements that must all hold:
 *
 * | statement | holds when |
 * |---|---|
 * | `["==", sel, value]` / `["!=", sel, value]` | the selected value deep-equals / does not equal `value` |
 * | `["<", sel, n]`, `["<=", …]`, `[">", …]`, `[">=", …]` | the selected value is a number in that relation to `n` |
 * | `["like", sel, glob]` | the selected value is a string matching `glob` (`*` = any run, `\*` = a literal star) |
 * | `["not", st]` | `st` does not hold |
 * | `["and", [st…]]` / `["or", [st…]]` | every / some `st` holds; both are `true` for an empty list |
 * | `["all", sel, st]` / `["any", sel, st]` | `st` holds for every / some element of the selected list or map values |
 *
 * Semantics, per the specification and fixed here where it is silent:
 * - numbers compare by value whatever their encoding (`1 == 1.0`, integers beyond 2^53 exactly);
 * - an inequality on a non-number, a `like` on a non-string and a quantifier over a non-collection are
 *   false, never an exception;
 * - `all` over an empty collection is true, `any` over an empty collection is false;
 * - a missing map key selects `null`; a selector that cannot be resolved at all (`.a.b` where `.a`
 *   is not a map, an index past the end) makes its statement fail, and that failure is not undone by
 *   an enclosing `not` (or `!=`): the policy then does not hold. Unresolvable data never grants.
 *
 * Parsing is strict: an unknown operator, a wrong arity, a malformed selector or glob, or a
 * non-number after an inequality is a malformed policy.
 *
 * Pure; evaluation never throws.
 *
 * @since 0.1.0
 */
import { isLink } from "./Cid.ts"
import type { Ipld, IpldMap } from "./DagCbor.ts"
import * as Selector from "./Selector.ts"

/**
 * One policy statement in its wire (and literal) form.
 *
 * @since 0.1.0
 * @category models
 */
export type Statement =
  | readonly ["==" | "!=", string, Ipld]
  | readonly ["<" | "<=" | ">" | ">=", string, number | bigint]
  | readonly ["like", string, string]
  | readonly ["not", Statement]
  | readonly ["and" | "or", ReadonlyArray<Statement>]
  | readonly ["all" | "any", string, Statement]

/**
 * A policy: statements that must all hold. `[]` places no constraint.
 *
 * @example
 * ```ts
 * const policy: Policy = [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]]
 * ```
 * @since 0.1.0
 * @category models
 */
export type Policy = ReadonlyArray<Statement>

/** A `like` pattern split at its wildcards: `chunks.length - 1` wildcards between literal chunks. */
interface Glob {
  readonly source: string
  readonly chunks: ReadonlyArray<string>
}

type Node =
  | { readonly op: "==" | "!="; readonly sel: Selector.Selector; readonly value: Ipld }
  | { readonly op: "<" | "<=" | ">" | ">="; readonly sel: Selector.Selector; readonly value: number | bigint }
  | { readonly op: "like"; readonly sel: Selector.Selector; readonly glob: Glob }
  | { readonly op: "not"; readonly inner: Node }
  | { readonly op: "and" | "or"; readonly inner: ReadonlyArray<Node> }
  | { readonly op: "all" | "any"; readonly sel: Selector.Selector; readonly inner: Node }

/**
 * A policy checked and compiled for evaluation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Compiled {
  readonly policy: Policy
  readonly nodes: ReadonlyArray<Node>
}

/**
 * Splits a glob into literal chunks: `*` separates chunks, `\*` is a literal star, any other
 * character (a lone backslash included) is literal. `\*` is the only escape, as the specification
 * names no other; hence a literal backslash directly followed by a wildcard cannot be written.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseGlob = (source: string): Glob => {
  const chunks: Array<string> = []
  let current = ""
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === "\\" && source[i + 1] === "*") {
      current += "*"
      i++
    } else if (c === "*") {
      chunks.push(current)
      current = ""
    } else {
      current += c
    }
  }
  chunks.push(current)
  return { source, chunks }
}

/**
 * Whether a string matches a glob (see {@link parseGlob}). Linear in the input, no backtracking:
 * the first chunk anchors the start, the last the end, and the middle chunks are found leftmost.
 *
 * @example
 * ```ts
 * globMatches("Alice\\*, Bob*, Carol.", "Alice*, Bob, Dan, Erin, Carol.") // true
 * globMatches("io.example/acme/*", "io.example/acme/app/d/n_v1")          // true
 * ```
 * @since 0.1.0
 * @category evaluation
 */
export const globMatches = (pattern: string, text: string): boolean => matchGlob(parseGlob(pattern), text)

const matchGlob = (glob: Glob, text: string): boolean => {
  const { chunks } = glob
  const first = chunks[0]!
  if (chunks.length === 1) return text === first
  const last = chunks[chunks.length - 1]!
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false
  let at = first.length
  const end = text.length - last.length
  for (let i = 1; i < chunks.length - 1; i++) {
    const chunk = chunks[i]!
    const found = text.indexOf(chunk, at)
    if (found < 0 || found + chunk.length > end) return false
    at = found + chunk.length
  }
  return true
}

const isNumber = (v: Ipld): v is number | bigint => typeof v === "number" || typeof v === "bigint"

const isMap = (v: Ipld): v is IpldMap =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) && !isLink(v)

/** Numeric order across `number` and `bigint`, exact for integers of any size. */
const compareNumbers = (a: number | bigint, b: number | bigint): number => {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "number") return -compareNumbers(b, a)
  // a: bigint, b: number
  const n = b as number
  if (Number.isInteger(n)) {
    const nb = BigInt(n)
    return a < nb ? -1 : a > nb ? 1 : 0
  }
  const floor = BigInt(Math.floor(n))
  return a <= floor ? -1 : 1 // floor < n < floor + 1
}

/**
 * Deep equality of IPLD values: numbers by value, bytes and links by bytes, lists element-wise,
 * maps by their key sets and values.
 *
 * @since 0.1.0
 * @category evaluation
 */
export const deepEquals = (a: Ipld, b: Ipld): boolean => {
  if (isNumber(a) || isNumber(b)) return isNumber(a) && isNumber(b) && compareNumbers(a, b) === 0
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
  }
  if (isLink(a) || isLink(b)) return isLink(a) && isLink(b) && a.equals(b)
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    const bs = b as ReadonlyArray<Ipld>
    return (a as ReadonlyArray<Ipld>).every((x, i) => deepEquals(x, bs[i]!))
  }
  const am = a as IpldMap
  const bm = b as IpldMap
  const keys = Object.keys(am)
  if (keys.length !== Object.keys(bm).length) return false
  return keys.every((k) => Object.hasOwn(bm, k) && deepEquals(am[k]!, bm[k]!))
}

const compileStatement = (raw: Ipld, path: string, depth: number): Node | string => {
  if (depth > 64) return `${path}: policy nested too deeply`
  if (!Array.isArray(raw)) return `${path}: a statement is a list`
  const items = raw as ReadonlyArray<Ipld>
  const op = items[0]
  if (typeof op !== "string") return `${path}: a statement starts with its operator`
  const arity = (n: number): string | undefined =>
    items.length === n ? undefined : `${path}: ${JSON.stringify(op)} takes ${n - 1} argument(s)`
  const selector = (at: number): Selector.Selector | string => {
    const text = items[at]
    if (typeof text !== "string") return `${path}: a selector is a string`
    const parsed = Selector.parse(text)
    return typeof parsed === "string" ? `${path}: ${parsed} in ${JSON.stringify(text)}` : parsed
  }
  switch (op) {
    case "==":
    case "!=": {
      const bad = arity(3)
      if (bad !== undefined) return bad
      const sel = selector(1)
      return typeof sel === "string" ? sel : { op, sel, value: items[2]! }
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const bad = arity(3)
      if (bad !== undefined) return bad
      const sel = selector(1)
      if (typeof sel === "string") return sel
      const value = items[2]!
      return isNumber(value) ? { op, sel, value } : `${path}: ${op} compares with a number`
    }
    case "like": {
      const bad = arity(3)
      if (bad !== undefined) return bad
      const sel = selector(1)
      if (typeof sel === "string") return sel
      const pattern = items[2]
      return typeof pattern === "string" ? { op, sel, glob: parseGlob(pattern) } : `${path}: like takes a string pattern`
    }
    case "not": {
      const bad = arity(2)
      if (bad !== undefined) return bad
      const inner = compileStatement(items[1]!, `${path}[1]`, depth + 1)
      return typeof inner === "string" ? inner : { op, inner }
    }
    case "and":
    case "or": {
      const bad = arity(2)
      if (bad !== undefined) return bad
      const list = items[1]
      if (!Array.isArray(list)) return `${path}: ${op} takes a list of statements`
      const inner: Array<Node> = []
      for (const [i, st] of (list as ReadonlyArray<Ipld>).entries()) {
        const node = compileStatement(st, `${path}[1][${i}]`, depth + 1)
        if (typeof node === "string") return node
        inner.push(node)
      }
      return { op, inner }
    }
    case "all":
    case "any": {
      const bad = arity(3)
      if (bad !== undefined) return bad
      const sel = selector(1)
      if (typeof sel === "string") return sel
      const inner = compileStatement(items[2]!, `${path}[2]`, depth + 1)
      return typeof inner === "string" ? inner : { op, sel, inner }
    }
    default:
      return `${path}: unknown operator ${JSON.stringify(op)}`
  }
}

/**
 * Checks and compiles a policy given as IPLD (as decoded from a token, or written literally);
 * returns the reason in words when it is malformed.
 *
 * @since 0.1.0
 * @category parsing
 */
export const compile = (raw: Ipld): Compiled | string => {
  if (!Array.isArray(raw)) return "a policy is a list of statements"
  const nodes: Array<Node> = []
  for (const [i, st] of (raw as ReadonlyArray<Ipld>).entries()) {
    const node = compileStatement(st, `pol[${i}]`, 0)
    if (typeof node === "string") return node
    nodes.push(node)
  }
  return { policy: raw as unknown as Policy, nodes }
}

/** Three-valued truth: `nodata` is a statement whose selector could not be resolved. */
type Truth = "true" | "false" | "nodata"

const fromBool = (b: boolean): Truth => (b ? "true" : "false")

const evalNode = (node: Node, input: Ipld): Truth => {
  switch (node.op) {
    case "==":
    case "!=": {
      const r = Selector.resolve(node.sel, input)
      if (r === undefined) return "nodata"
      return fromBool(deepEquals(r.value, node.value) === (node.op === "=="))
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const r = Selector.resolve(node.sel, input)
      if (r === undefined) return "nodata"
      if (!isNumber(r.value)) return "false"
      const c = compareNumbers(r.value, node.value)
      return fromBool(node.op === "<" ? c < 0 : node.op === "<=" ? c <= 0 : node.op === ">" ? c > 0 : c >= 0)
    }
    case "like": {
      const r = Selector.resolve(node.sel, input)
      if (r === undefined) return "nodata"
      return fromBool(typeof r.value === "string" && matchGlob(node.glob, r.value))
    }
    case "not": {
      const inner = evalNode(node.inner, input)
      return inner === "nodata" ? "nodata" : inner === "true" ? "false" : "true"
    }
    case "and":
    case "or":
      return combine(node.op, node.inner.map((n) => () => evalNode(n, input)))
    case "all":
    case "any": {
      const r = Selector.resolve(node.sel, input)
      if (r === undefined) return "nodata"
      const v = r.value
      const elements = Array.isArray(v) ? (v as ReadonlyArray<Ipld>) : isMap(v) ? Object.values(v) : undefined
      if (elements === undefined) return "false"
      if (elements.length === 0) return fromBool(node.op === "all")
      return combine(node.op === "all" ? "and" : "or", elements.map((e) => () => evalNode(node.inner, e)))
    }
  }
}

/**
 * `and`: false if any is false, else nodata if any is, else true. `or`: true if any is true, else
 * nodata if any is, else false; an empty `or` is true, as the specification requires.
 */
const combine = (op: "and" | "or", parts: ReadonlyArray<() => Truth>): Truth => {
  if (parts.length === 0) return "true"
  const decisive: Truth = op === "and" ? "false" : "true"
  let missing = false
  for (const part of parts) {
    const t = part()
    if (t === decisive) return decisive
    if (t === "nodata") missing = true
  }
  return missing ? "nodata" : op === "and" ? "true" : "false"
}

/**
 * Evaluates a compiled policy against invocation arguments. Returns the source of the first
 * statement that does not hold, or `undefined` when all hold.
 *
 * @since 0.1.0
 * @category evaluation
 */
export const firstFailure = (compiled: Compiled, args: Ipld): Statement | undefined => {
  for (const [i, node] of compiled.nodes.entries()) {
    if (evalNode(node, args) !== "true") return compiled.policy[i]
  }
  return undefined
}

/**
 * Whether a policy holds on some arguments. A malformed policy never holds.
 *
 * @example
 * ```ts
 * matches([["any", ".to", ["like", ".", "*@example.com"]]], { to: ["bob@example.com"] }) // true
 * ```
 * @since 0.1.0
 * @category evaluation
 */
export const matches = (policy: Policy | Ipld, args: Ipld): boolean => {
  const compiled = compile(policy as Ipld)
  return typeof compiled !== "string" && firstFailure(compiled, args) === undefined
}

/**
 * Every `like` statement of a policy whose selector is exactly `selector`, with its pattern;
 * used by the realm checks to inspect topic globs.
 *
 * @since 0.1.0
 * @category getters
 */
export const likePatternsOn = (compiled: Compiled, selector: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (node: Node): void => {
    switch (node.op) {
      case "like":
        if (node.sel.source === selector) found.push(node.glob.source)
        return
      case "not":
        return walk(node.inner)
      case "and":
      case "or":
        return node.inner.forEach(walk)
      case "all":
      case "any":
        return walk(node.inner)
      default:
        return
    }
  }
  compiled.nodes.forEach(walk)
  return found
}
