/**
 * A persistent map for protocol states (the SWIM membership table and broadcast queue, the DHT
 * routing table): `set` and `delete` return a new version and leave the old one intact, like
 * copying a `Map`, but in O(√n) amortised instead of O(n).
 *
 * Why: cores' states are values, and copying the whole SWIM table for every changed row made
 * one `swim.sync` of n claims cost O(n²) (about 3 s of one step at 4,095 members, longer than
 * a probe period, which stalls the very station whose health Lifeguard tracks) and made
 * every rumour cost O(n) per member.
 *
 * How: a frozen `base` map shared by many versions, plus a small `delta` of the rows changed
 * since, copied on each update; once the delta outgrows √(base size) (at least 16), the next
 * update folds it into a fresh base. Reads look in the delta first.
 *
 * Key invariant: a `Table` behaves exactly as a `Map` copied before each update, iteration
 * order included (insertion order; overwriting keeps a key's place; deleting and adding it
 * again moves it to the end), so iteration-driven choices (probe order, helpers) and the PRNG
 * draws they make are unchanged. A plain `Map` handed to `from` becomes a base and must not
 * be mutated afterwards.
 *
 * @since 0.1.0
 */

const REMOVED: unique symbol = Symbol("removed")

/** A changed row: its value, and whether it is iterated after the base (added or re-added). */
interface Slot<V> {
  readonly value: V
  readonly appended: boolean
}

type Delta<K, V> = ReadonlyMap<K, Slot<V> | typeof REMOVED>

const noDelta: ReadonlyMap<unknown, never> = new Map<unknown, never>()

/**
 * A persistent, insertion-ordered map. Read it as a `ReadonlyMap`; update it with `set` and
 * `delete`, which return new versions.
 *
 * @since 0.1.0
 * @category models
 */
export class Table<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>
  readonly #delta: Delta<K, V>
  readonly #size: number

  private constructor(base: ReadonlyMap<K, V>, delta: Delta<K, V>, size: number) {
    this.#base = base
    this.#delta = delta
    this.#size = size
  }

  /**
   * `map` as a table: itself if it is one, else a table over it (not copied; never mutate it
   * afterwards).
   */
  static from<K, V>(map: ReadonlyMap<K, V>): Table<K, V> {
    return map instanceof Table ? (map as Table<K, V>) : new Table(map, noDelta as Delta<K, V>, map.size)
  }

  get size(): number {
    return this.#size
  }

  /** Rows changed since the last fold (for tests: it stays O(√n)). */
  get pending(): number {
    return this.#delta.size
  }

  get(key: K): V | undefined {
    const d = this.#delta.get(key)
    if (d === undefined) return this.#base.get(key)
    return d === REMOVED ? undefined : d.value
  }

  has(key: K): boolean {
    const d = this.#delta.get(key)
    return d === undefined ? this.#base.has(key) : d !== REMOVED
  }

  /** A new version with `key` set to `value` (an existing key keeps its place). */
  set(key: K, value: V): Table<K, V> {
    const delta = new Map(this.#delta)
    const d = delta.get(key)
    let size = this.#size
    if (d === REMOVED) {
      // Deleted from the base, now back: a Map would put it at the end.
      delta.delete(key)
      delta.set(key, { value, appended: true })
      size++
    } else if (d !== undefined) {
      delta.set(key, { value, appended: d.appended })
    } else if (this.#base.has(key)) {
      delta.set(key, { value, appended: false })
    } else {
      delta.set(key, { value, appended: true })
      size++
    }
    return this.#fold(delta, size)
  }

  /** A new version without `key` (this one if it is absent). */
  delete(key: K): Table<K, V> {
    if (!this.has(key)) return this
    const delta = new Map(this.#delta)
    if (this.#base.has(key)) {
      delta.delete(key)
      delta.set(key, REMOVED)
    } else delta.delete(key)
    return this.#fold(delta, this.#size - 1)
  }

  #fold(delta: Map<K, Slot<V> | typeof REMOVED>, size: number): Table<K, V> {
    if (delta.size <= Math.max(16, Math.sqrt(this.#base.size))) return new Table(this.#base, delta, size)
    const base = new Map<K, V>()
    for (const [k, v] of this.#iterate(delta)) base.set(k, v)
    return new Table(base, noDelta as Delta<K, V>, size)
  }

  *#iterate(delta: Delta<K, V>): Generator<[K, V], undefined, unknown> {
    for (const [k, v] of this.#base) {
      const d = delta.get(k)
      if (d === undefined) yield [k, v]
      else if (d !== REMOVED && !d.appended) yield [k, d.value]
    }
    for (const [k, d] of delta) if (d !== REMOVED && d.appended) yield [k, d.value]
    return undefined
  }

  // With no pending rows, iterate the base itself: the common case after a fold, and cheaper.
  entries(): MapIterator<[K, V]> {
    return this.#delta.size === 0 ? this.#base.entries() : this.#iterate(this.#delta)
  }

  keys(): MapIterator<K> {
    return this.#delta.size === 0 ? this.#base.keys() : this.#project(0)
  }

  values(): MapIterator<V> {
    return this.#delta.size === 0 ? this.#base.values() : this.#project(1)
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries()
  }

  *#project<I extends 0 | 1>(i: I): Generator<[K, V][I], undefined, unknown> {
    for (const entry of this.#iterate(this.#delta)) yield entry[i]
    return undefined
  }

  forEach(callbackfn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.#iterate(this.#delta)) callbackfn.call(thisArg, v, k, this)
  }
}

/**
 * `map` with `key` set to `value`, as a new version; `map` is left as it was.
 *
 * @since 0.1.0
 * @category combinators
 */
export const set = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Table<K, V> => Table.from(map).set(key, value)

/**
 * `map` without `key`, as a new version; `map` is left as it was.
 *
 * @since 0.1.0
 * @category combinators
 */
export const remove = <K, V>(map: ReadonlyMap<K, V>, key: K): Table<K, V> => Table.from(map).delete(key)
