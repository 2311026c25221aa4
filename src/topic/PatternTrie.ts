/**
 * A segment trie over subscription patterns (PROTOCOL.md §7.3): many patterns, each holding a
 * set of values, matched against one topic in a single walk. A station keeps one per realm;
 * one `match` yields every local subscription and every interested peer station.
 *
 * Key invariant: `matchPatterns(topic)` is exactly the stored patterns `p` with
 * `Topic.matches(p, topic)`, and `match(topic)` is the union of their values. Each node has
 * exact children by segment, at most one `*` child, and a `#` terminal; a walk follows at most
 * two children per segment, so its cost depends on the topic's five segments, not on how many
 * patterns are stored.
 *
 * It is a mutable index owned by one caller: a pure core that keeps it in its state must not
 * hand the same instance to two states it wants to keep (take a {@link PatternTrie.copy}).
 * It holds no limits of its own: the caller caps entries per peer and per client. It does not
 * authorise anything.
 *
 * @since 0.1.0
 */
import { validatePattern } from "./Topic.ts"

/** The values stored under one pattern. */
interface Entry<V> {
  readonly pattern: string
  readonly values: Set<V>
}

/** One position between segments. Children and terminals are created on demand. */
interface Node<V> {
  exact: Map<string, Node<V>> | undefined
  star: Node<V> | undefined
  /** Patterns ending in `#` right after this node's segment. */
  hash: Entry<V> | undefined
  /** Patterns whose last literal or `*` segment is this node's. */
  end: Entry<V> | undefined
}

const emptyNode = <V>(): Node<V> => ({ exact: undefined, star: undefined, hash: undefined, end: undefined })

const isBare = <V>(node: Node<V>): boolean =>
  node.exact === undefined && node.star === undefined && node.hash === undefined && node.end === undefined

/**
 * Patterns with values, matched against topics in one walk.
 *
 * Patterns are validated on insert ({@link validatePattern}); system topics are accepted and
 * match only themselves. Values are compared as `Set` members (`SameValueZero`), so one value
 * may sit under many patterns and is reported once per `match`.
 *
 * @example
 * ```ts
 * const trie = new Topic.PatternTrie<string>()
 * trie.insert("io.macula/beam-campus/#", "sid-1")
 * trie.insert("io.macula/*\/hecate/mpong/*", "sid-2")
 * trie.match("io.macula/beam-campus/hecate/mpong/lobby_opened_v1") // ["sid-1", "sid-2"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class PatternTrie<V> {
  private readonly root: Node<V> = emptyNode()
  private readonly entries = new Map<string, Entry<V>>()
  private pairs = 0

  /**
   * How many (pattern, value) pairs are stored.
   *
   * @since 0.1.0
   * @category getters
   */
  get size(): number {
    return this.pairs
  }

  /**
   * How many distinct patterns hold at least one value.
   *
   * @since 0.1.0
   * @category getters
   */
  get patternCount(): number {
    return this.entries.size
  }

  /**
   * Stores `value` under `pattern`. Returns `false` if that pair was already stored.
   *
   * @throws TopicError when the pattern fails {@link validatePattern}
   * @since 0.1.0
   * @category mutations
   */
  insert(pattern: string, value: V): boolean {
    const known = this.entries.get(pattern)
    if (known !== undefined) return this.add(known, value)
    validatePattern(pattern)
    const segments = pattern.split("/")
    let node = this.root
    const last = segments.length - 1
    for (let i = 0; i < last; i++) node = child(node, segments[i]!)
    const entry: Entry<V> = { pattern, values: new Set() }
    if (segments[last] === "#") node.hash = entry
    else child(node, segments[last]!).end = entry
    this.entries.set(pattern, entry)
    return this.add(entry, value)
  }

  /**
   * Removes `value` from `pattern`, dropping the pattern (and any trie nodes left empty) with
   * its last value. Returns `false` if the pair was not stored; never throws.
   *
   * @since 0.1.0
   * @category mutations
   */
  remove(pattern: string, value: V): boolean {
    const entry = this.entries.get(pattern)
    if (entry === undefined || !entry.values.delete(value)) return false
    this.pairs--
    if (entry.values.size === 0) this.drop(pattern)
    return true
  }

  /**
   * Removes `pattern` with all its values. Returns how many values it held (0 if none).
   *
   * @since 0.1.0
   * @category mutations
   */
  removePattern(pattern: string): number {
    const entry = this.entries.get(pattern)
    if (entry === undefined) return 0
    const count = entry.values.size
    this.pairs -= count
    this.drop(pattern)
    return count
  }

  /**
   * Whether `pattern` holds `value`, or with one argument any value at all. Patterns are
   * compared as strings: `r/a/b/c/#` and `r/a/b/c/*` are different patterns.
   *
   * @since 0.1.0
   * @category getters
   */
  has(pattern: string, ...value: [] | [V]): boolean {
    const entry = this.entries.get(pattern)
    if (entry === undefined) return false
    return value.length === 0 || entry.values.has(value[0])
  }

  /**
   * The values stored under exactly `pattern` (no matching involved), in insertion order.
   *
   * @since 0.1.0
   * @category getters
   */
  valuesOf(pattern: string): ReadonlyArray<V> {
    const entry = this.entries.get(pattern)
    return entry === undefined ? [] : Array.from(entry.values)
  }

  /**
   * Every stored pattern, in insertion order.
   *
   * @since 0.1.0
   * @category getters
   */
  patterns(): ReadonlyArray<string> {
    return Array.from(this.entries.keys())
  }

  /**
   * The distinct values of every pattern that matches `topic`. The order is deterministic for
   * a given sequence of inserts but otherwise unspecified. The topic is not validated: pass
   * topics that passed `Topic.validate`.
   *
   * @since 0.1.0
   * @category matching
   */
  match(topic: string): ReadonlyArray<V> {
    const found = this.collect(topic)
    if (found.length === 0) return []
    if (found.length === 1) return Array.from(found[0]!.values)
    const values = new Set<V>()
    for (const entry of found) for (const value of entry.values) values.add(value)
    return Array.from(values)
  }

  /**
   * The stored patterns that match `topic`, each once, in the same order as {@link match}.
   *
   * @since 0.1.0
   * @category matching
   */
  matchPatterns(topic: string): ReadonlyArray<string> {
    return this.collect(topic).map((entry) => entry.pattern)
  }

  /**
   * An independent trie with the same (pattern, value) pairs; later changes to either do not
   * reach the other. Values themselves are shared, not cloned.
   *
   * @since 0.1.0
   * @category constructors
   */
  copy(): PatternTrie<V> {
    const out = new PatternTrie<V>()
    for (const entry of this.entries.values()) for (const value of entry.values) out.insert(entry.pattern, value)
    return out
  }

  private add(entry: Entry<V>, value: V): boolean {
    if (entry.values.has(value)) return false
    entry.values.add(value)
    this.pairs++
    return true
  }

  /** Unhooks a pattern's entry and prunes the nodes that held nothing else. */
  private drop(pattern: string): void {
    this.entries.delete(pattern)
    const segments = pattern.split("/")
    const path: Array<Node<V>> = [this.root]
    let node = this.root
    const last = segments.length - 1
    const hash = segments[last] === "#"
    const depth = hash ? last : segments.length
    for (let i = 0; i < depth; i++) {
      const next = step(node, segments[i]!)
      if (next === undefined) return // cannot happen for a stored pattern
      node = next
      path.push(node)
    }
    if (hash) node.hash = undefined
    else node.end = undefined
    // Walk back up, unlinking nodes that no longer lead anywhere.
    for (let i = depth; i > 0 && isBare(path[i]!); i--) unlink(path[i - 1]!, segments[i - 1]!)
  }

  private collect(topic: string): Array<Entry<V>> {
    const found: Array<Entry<V>> = []
    visit(this.root, topic.split("/"), 0, found)
    return found
  }
}

const step = <V>(node: Node<V>, segment: string): Node<V> | undefined =>
  segment === "*" ? node.star : node.exact?.get(segment)

const child = <V>(node: Node<V>, segment: string): Node<V> => {
  const existing = step(node, segment)
  if (existing !== undefined) return existing
  const created = emptyNode<V>()
  if (segment === "*") node.star = created
  else (node.exact ??= new Map()).set(segment, created)
  return created
}

const unlink = <V>(parent: Node<V>, segment: string): void => {
  if (segment === "*") parent.star = undefined
  else if (parent.exact !== undefined) {
    parent.exact.delete(segment)
    if (parent.exact.size === 0) parent.exact = undefined
  }
}

/** Collects the entries matching `segments[k..]` below `node`; at most two branches per level. */
const visit = <V>(node: Node<V>, segments: ReadonlyArray<string>, k: number, found: Array<Entry<V>>): void => {
  // A `#` here needs one or more segments still to come.
  if (node.hash !== undefined && k < segments.length) found.push(node.hash)
  if (k === segments.length) {
    if (node.end !== undefined) found.push(node.end)
    return
  }
  const exact = node.exact?.get(segments[k]!)
  if (exact !== undefined) {
    if (k + 1 === segments.length) {
      if (exact.end !== undefined) found.push(exact.end)
    } else visit(exact, segments, k + 1, found)
  }
  if (node.star !== undefined) visit(node.star, segments, k + 1, found)
}
