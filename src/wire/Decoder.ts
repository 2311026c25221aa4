/**
 * The fused body decoder: one pass over a frame body that enforces every rule of the
 * pre-scan (PROTOCOL.md §4.2) and builds the decoded value as it goes (§4.3).
 *
 * Key invariant: for every body, `decode` returns exactly what `PreScan.scan` followed by the
 * shared msgpackr packer's `unpack` would produce: the same scan result (`ok`,
 * `okWideInteger` or the same failure code, hence the same `describe` words), and for a body
 * that passes, a value equal to msgpackr's (plain objects for maps, arrays, strings, numbers,
 * booleans, `null`, a `Uint8Array` *copy* for each bin (a view only when asked), a key `__proto__` stored as
 * `__proto_`, int64 read as the nearest number). The checks run in the order the pre-scan
 * runs them, so the first failure found is the pre-scan's. Nothing is allocated in
 * proportion to a declared length before that length is checked against the bytes actually
 * remaining, and a collection is checked against `maxDepth` and `maxEntries` before its
 * object or array exists.
 *
 * How it is fast: plain functions over module state (the body, a cursor, the limits), no
 * closure per value, no exceptions on the normal path; failures return `undefined` (no
 * decoded value is ever `undefined`) with the code kept aside. Short ASCII map keys (and
 * short ASCII strings) come from a small cache keyed by their bytes, so the same key is the
 * same string every time; other short strings are built with `String.fromCharCode`, long ones
 * with a shared `TextDecoder` once the bytes are known to be valid UTF-8; floats go through a
 * shared `DataView` over an 8-byte scratch buffer. A map's values are gathered first and its
 * object built at the end: maps whose key sequence is frequent (a frame type's) are built in
 * one step by a function made for that sequence, and their keys are recognised by comparing
 * bytes with those of the last such sequence of the same length (see "Map shapes" below).
 *
 * Recursion is bounded by `maxDepth` (checked before descending). Should a caller pass a
 * depth limit so large that the call stack runs out first, the throw is caught and the body
 * is judged by the iterative `PreScan.scan` instead, so decoding stays total.
 *
 * It does not check fields: that is the catalogue's job (`Catalogue.ts`, `Fields.ts`).
 *
 * @since 0.1.0
 */
import type { WireMap } from "./Fields.ts"
import * as PreScan from "./PreScan.ts"

const TRUNCATED = PreScan.failures.truncated
const TRAILING = PreScan.failures.trailingBytes
const TOO_DEEP = PreScan.failures.tooDeep
const TOO_MANY_ENTRIES = PreScan.failures.tooManyEntries
const LENGTH_EXCEEDS = PreScan.failures.lengthExceeds
const NEVER_USED = PreScan.failures.neverUsed
const EXTENSION = PreScan.failures.extension
const KEY_NOT_STR = PreScan.failures.keyNotStr
const DUPLICATE_KEY = PreScan.failures.duplicateKey
const BAD_UTF8 = PreScan.failures.badUtf8

const NO_BYTES = new Uint8Array(0)

// The body being decoded and the cursor; reset by every `decode`, released when it returns.
let src: Uint8Array = NO_BYTES
let pos = 0
let end = 0
let maxDepth = 0
let maxEntries = 0
// Bins of at least this many bytes are views of the body instead of copies (see `decode`).
let viewFrom = Infinity
let failure: PreScan.ScanResult = PreScan.ok
let wide = false
let last: PreScan.ScanResult = PreScan.ok

// Keys of every map still open, innermost last, for the duplicate check at each map's end,
// and their values at the same indices: a map's object is built only once all its entries are
// read. A map clears its values once built (and `release` those of maps a failure left open),
// so nothing of a frame stays reachable from here.
let keys: Array<string> = []
let vals: Array<unknown> = [undefined]
let keyTop = 0
const KEEP_KEYS = 4_096
// A hash of the bytes of the key `readKey` read last, for the shape hash of its map; −1 for a
// key longer than CACHE_BYTES.
let keyHash = 0

// Map shapes: frames of one type carry the same keys in the same order, and writing the keys
// one by one into `{}` goes through the engine's generic property stores, the costliest step
// of a decode. So the key sequences seen often get a builder, a function made once per shape
// whose object literal has exactly those keys, and an object of that shape is built in one
// step from the values. The table is direct-mapped by a hash of the key bytes; a hit is
// confirmed key by key. A slot's `shapeHits` counts its shape's hits and goes down on each
// miss; a slot at 0 takes the next shape. Only a shape hit SHAPE_HOT times gets a builder,
// so a peer sending ever new shapes causes at most one build per SHAPE_HOT maps, and never
// evicts a busy shape with a few maps.
//
// The last shape with a builder used for `n` keys is also the guess for the next map of `n`
// entries: its keys are compared with the guess's encodings byte by byte as they come (much as
// the engine's JSON.parse expects the keys of a hidden class it has built before), which skips
// the string cache and the shape lookup. Bytes equal to a key already read are that key, valid.
// From the first key that differs, the map is read key by key as usual.
const SHAPE_BITS = 8
const SHAPE_SLOTS = 1 << SHAPE_BITS
const SHAPE_HOT = 16
/** Shapes with more keys, or a key longer than CACHE_BYTES, are always built key by key. */
const SHAPE_KEYS = 32
type Builder = (values: Array<unknown>, base: number) => WireMap

/** The keys of a map shape, in order, and once it is hot its builder. */
interface Shape {
  readonly names: ReadonlyArray<string>
  /** Each key's `keyHash`, for a guess that stops matching part way. */
  readonly hashes: Int32Array
  /** The keys as fixstr, back to back, and where each one ends; for guessing. */
  readonly encoded: Uint8Array
  readonly ends: Int32Array
  build: Builder | undefined
}
const shapes: Array<Shape | undefined> = new Array<Shape | undefined>(SHAPE_SLOTS).fill(undefined)
const shapeHits = new Int32Array(SHAPE_SLOTS)
const guesses: Array<Shape | undefined> = new Array<Shape | undefined>(SHAPE_KEYS + 1).fill(undefined)
// Builders are made with `new Function`; where the engine forbids code from strings, every
// map is built key by key.
const canBuild = ((): boolean => {
  try {
    return new Function("return 1")() === 1
  } catch {
    return false
  }
})()
const utf8Encoder = new TextEncoder()

// Floats: copied into a scratch buffer, read big-endian through a shared view.
const scratch = new Uint8Array(8)
const view = new DataView(scratch.buffer)

// Strings: a UTF-8 decoder for long strings (the bytes are validated first; `ignoreBOM` keeps a
// leading U+FEFF, as msgpackr does).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const fromCharCode = String.fromCharCode
/** Strings up to this many bytes are built in JS; longer ones by `utf8`. */
const SHORT_STRING = 64

// The string cache: two-way set-associative, keyed by a hash of the length and a few bytes,
// each slot holding the bytes (at most CACHE_BYTES) and the string. A hit is compared byte by
// byte, so a collision only costs a rebuild.
const CACHE_SET_BITS = 10
const CACHE_SLOTS = 2 << CACHE_SET_BITS
const CACHE_BYTES = 16
const cacheLength = new Uint8Array(CACHE_SLOTS)
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_BYTES)
const cacheStrings: Array<string> = new Array<string>(CACHE_SLOTS).fill("")
// Strings of 1 to SMALL_BYTES bytes (most keys) have their own cache, the bytes packed with
// the length into two words (an empty slot holds length 0, which no lookup has).
const SMALL_BYTES = 7
const SMALL_SET_BITS = 10
const SMALL_SLOTS = 2 << SMALL_SET_BITS
const smallLow = new Int32Array(SMALL_SLOTS)
const smallHigh = new Int32Array(SMALL_SLOTS)
const smallStrings: Array<string> = new Array<string>(SMALL_SLOTS).fill("")

const fail = (code: PreScan.ScanResult): undefined => {
  failure = code
  return undefined
}

/**
 * Decodes the msgpack body `src[start..end)` with the limits of the pre-scan. Returns the
 * top-level map, or `undefined` when the body breaks a §4.2 rule; `result()` then gives the
 * scan result (the same as `PreScan.scan` gives for these bytes). Never throws.
 *
 * Bins are copies, unless `viewFromBytes` is given: a bin of at least that many bytes is then
 * a view of `body` (no copy), which keeps all of `body` alive as long as the bin is. Only a
 * caller that owns `body` outright, and whose bins are most of it, should ask for views.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (
  body: Uint8Array,
  start: number,
  stop: number,
  depthLimit: number,
  entryLimit: number,
  viewFromBytes: number = Infinity
): WireMap | undefined => {
  if (start >= stop || stop - start > 0x7fff_ffff) return verdict(body, start, stop, depthLimit, entryLimit)
  const first = body[start]!
  if ((first & 0xf0) !== 0x80 && first !== 0xde && first !== 0xdf) {
    return verdict(body, start, stop, depthLimit, entryLimit)
  }
  src = body.constructor === Uint8Array ? body : new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  pos = start
  end = stop
  maxDepth = depthLimit
  maxEntries = entryLimit
  viewFrom = viewFromBytes
  failure = PreScan.ok
  wide = false
  keyTop = 0
  let value: unknown
  try {
    value = readValue(0)
  } catch {
    // Only a call stack exhausted by a depth limit far above any valid config can land here.
    // The throw may have cut a cache update short: start the cache afresh.
    cacheLength.fill(0)
    smallHigh.fill(0)
    shapes.fill(undefined)
    shapeHits.fill(0)
    guesses.fill(undefined)
    release()
    return verdict(body, start, stop, depthLimit, entryLimit)
  }
  if (value !== undefined && pos !== end) value = fail(TRAILING)
  last = value === undefined ? failure : wide ? PreScan.okWideInteger : PreScan.ok
  release()
  return value as WireMap | undefined
}

/**
 * The scan result of the last `decode`: `PreScan.ok`, `PreScan.okWideInteger` (the value
 * holds an int64 outside ±(2^53−1), read as the nearest number) or a failure code.
 *
 * @since 0.1.0
 * @category decoding
 */
export const result = (): PreScan.ScanResult => last

/** Lets the pre-scan judge bodies this decoder does not walk itself; always `undefined`. */
const verdict = (body: Uint8Array, start: number, stop: number, depthLimit: number, entryLimit: number): undefined => {
  const scanned = PreScan.scan(body, start, stop, depthLimit, entryLimit)
  last = PreScan.isOk(scanned) ? PreScan.failures.tooDeep : scanned
  return undefined
}

const release = (): void => {
  src = NO_BYTES // hold no reference to the body once done
  for (let i = 0; i < keyTop; i++) vals[i] = undefined // the values of maps a failure left open
  if (vals.length > KEEP_KEYS) {
    // a map with very many keys grew them (`vals` first); let that go
    keys = []
    vals = [undefined]
  }
  keyTop = 0
}

/** One value at `pos`, inside `depth` open containers. */
const readValue = (depth: number): unknown => {
  const p = pos
  if (p >= end) return fail(TRUNCATED)
  const tag = src[p]!
  if (tag < 0x80) {
    pos = p + 1
    return tag
  }
  if (tag >= 0xe0) {
    pos = p + 1
    return tag - 0x100
  }
  if (tag < 0x90) return readMap(tag & 0x0f, p + 1, depth)
  if (tag < 0xa0) return readArray(tag & 0x0f, p + 1, depth)
  if (tag < 0xc0) return readStr(tag & 0x1f, p + 1)
  return readTagged(tag, p, depth)
}

/** Everything from 0xc0 to 0xdf. */
const readTagged = (tag: number, p: number, depth: number): unknown => {
  const s = src
  const left = end - p
  switch (tag) {
    case 0xc0:
      pos = p + 1
      return null
    case 0xc2:
      pos = p + 1
      return false
    case 0xc3:
      pos = p + 1
      return true
    case 0xc4:
      if (left < 2) return fail(TRUNCATED)
      return readBin(s[p + 1]!, p + 2)
    case 0xc5:
      if (left < 3) return fail(TRUNCATED)
      return readBin((s[p + 1]! << 8) | s[p + 2]!, p + 3)
    case 0xc6:
      if (left < 5) return fail(TRUNCATED)
      return readBin(u32At(s, p + 1), p + 5)
    case 0xca:
      if (left < 5) return fail(TRUNCATED)
      scratch[0] = s[p + 1]!
      scratch[1] = s[p + 2]!
      scratch[2] = s[p + 3]!
      scratch[3] = s[p + 4]!
      pos = p + 5
      return view.getFloat32(0)
    case 0xcb:
      if (left < 9) return fail(TRUNCATED)
      for (let i = 0; i < 8; i++) scratch[i] = s[p + 1 + i]!
      pos = p + 9
      return view.getFloat64(0)
    case 0xcc:
      if (left < 2) return fail(TRUNCATED)
      pos = p + 2
      return s[p + 1]!
    case 0xcd:
      if (left < 3) return fail(TRUNCATED)
      pos = p + 3
      return (s[p + 1]! << 8) | s[p + 2]!
    case 0xce:
      if (left < 5) return fail(TRUNCATED)
      pos = p + 5
      return u32At(s, p + 1)
    case 0xcf: {
      if (left < 9) return fail(TRUNCATED)
      const high = u32At(s, p + 1)
      // 2^53−1 is 0x001F_FFFF_FFFF_FFFF: the high word decides.
      if (high > 0x1f_ffff) wide = true
      pos = p + 9
      return high * 0x1_0000_0000 + u32At(s, p + 5)
    }
    case 0xd0:
      if (left < 2) return fail(TRUNCATED)
      pos = p + 2
      return (s[p + 1]! << 24) >> 24
    case 0xd1:
      if (left < 3) return fail(TRUNCATED)
      pos = p + 3
      return (((s[p + 1]! << 8) | s[p + 2]!) << 16) >> 16
    case 0xd2:
      if (left < 5) return fail(TRUNCATED)
      pos = p + 5
      return i32At(s, p + 1)
    case 0xd3: {
      if (left < 9) return fail(TRUNCATED)
      const high = i32At(s, p + 1)
      const low = u32At(s, p + 5)
      // Beyond ±(2^53−1), −2^53 itself included.
      if (high > 0x1f_ffff || high < -0x20_0000 || (high === -0x20_0000 && low === 0)) wide = true
      pos = p + 9
      return high * 0x1_0000_0000 + low
    }
    case 0xd9:
      if (left < 2) return fail(TRUNCATED)
      return readStr(s[p + 1]!, p + 2)
    case 0xda:
      if (left < 3) return fail(TRUNCATED)
      return readStr((s[p + 1]! << 8) | s[p + 2]!, p + 3)
    case 0xdb:
      if (left < 5) return fail(TRUNCATED)
      return readStr(u32At(s, p + 1), p + 5)
    case 0xdc:
      if (left < 3) return fail(TRUNCATED)
      return readArray((s[p + 1]! << 8) | s[p + 2]!, p + 3, depth)
    case 0xdd:
      if (left < 5) return fail(TRUNCATED)
      return readArray(u32At(s, p + 1), p + 5, depth)
    case 0xde:
      if (left < 3) return fail(TRUNCATED)
      return readMap((s[p + 1]! << 8) | s[p + 2]!, p + 3, depth)
    case 0xdf:
      if (left < 5) return fail(TRUNCATED)
      return readMap(u32At(s, p + 1), p + 5, depth)
    case 0xc1:
      return fail(NEVER_USED)
    default:
      // 0xc7–0xc9 ext 8/16/32 and 0xd4–0xd8 fixext: no extension types on this wire.
      return fail(EXTENSION)
  }
}

/** A map of `n` entries whose first key is at `at`. */
const readMap = (n: number, at: number, depth: number): WireMap | undefined => {
  if (depth >= maxDepth) return fail(TOO_DEEP)
  if (n > maxEntries) return fail(TOO_MANY_ENTRIES)
  // Every entry takes at least two bytes.
  if (n * 2 > end - at) return fail(LENGTH_EXCEEDS)
  pos = at
  if (n === 0) return {}
  const base = keyTop
  const top = base + n
  while (vals.length < top) vals.push(undefined) // so inner maps never leave holes below them
  const inner = depth + 1
  let i = base
  let hash = n
  const guess = n <= SHAPE_KEYS ? guesses[n] : undefined
  if (guess !== undefined) {
    keyTop = top // inner maps keep above this map's entries
    const encoded = guess.encoded
    const ends = guess.ends
    let from = 0
    for (; i < top; i++) {
      const to = ends[i - base]!
      if (!encodedAt(encoded, from, to)) break
      pos += to - from
      from = to
      const value = readValue(inner)
      if (value === undefined) return undefined
      vals[i] = value
    }
    if (i === top) return built(guess.build!, base, top)
    // Key i differs: the keys so far are the guess's; read the rest key by key.
    for (let k = base; k < i; k++) {
      keys[k] = guess.names[k - base]!
      hash = Math.imul(hash ^ guess.hashes[k - base]!, 0x9e37_79b1)
    }
    keyTop = i
  }
  let keepable = n <= SHAPE_KEYS
  for (; i < top; i++) {
    if (readKey() === undefined) return undefined
    if (keyHash < 0) keepable = false
    hash = Math.imul(hash ^ keyHash, 0x9e37_79b1)
    const value = readValue(inner)
    if (value === undefined) return undefined
    vals[i] = value
  }
  const slot = (hash ^ (hash >>> 15)) & (SHAPE_SLOTS - 1)
  const shape = shapes[slot]
  if (shape !== undefined && sameKeys(shape.names, base, n)) {
    // A known shape: its keys are distinct.
    if (shape.build !== undefined) {
      guesses[n] = shape
      return built(shape.build, base, top)
    }
    const hits = shapeHits[slot]! + 1
    shapeHits[slot] = hits
    if (hits >= SHAPE_HOT && canBuild) {
      shape.build = builder(shape.names)
      shapeHits[slot] = SHAPE_HOT
    }
  } else {
    if (n > 1 && !distinct(base, top)) return fail(DUPLICATE_KEY)
    const hits = shapeHits[slot]!
    if (hits > 0) shapeHits[slot] = hits - 1
    else if (keepable) {
      shapes[slot] = newShape(keys.slice(base, top))
      shapeHits[slot] = 1
    }
  }
  const object = assign(base, top)
  keyTop = base
  return object
}

/** Whether the bytes at `pos` are `encoded[from..to)`, with at least one byte after them. */
const encodedAt = (encoded: Uint8Array, from: number, to: number): boolean => {
  const s = src
  const at = pos - from
  if (at + to >= end) return false
  for (let k = from; k < to; k++) if (s[at + k] !== encoded[k]) return false
  return true
}

/** The map `vals[base..top)` built by `build`; clears the values and closes the map. */
const built = (build: Builder, base: number, top: number): WireMap => {
  const object = build(vals, base)
  for (let i = base; i < top; i++) vals[i] = undefined
  keyTop = base
  return object
}

/** Whether `keys[base..base + n)` are `names`, in order. */
const sameKeys = (names: ReadonlyArray<string>, base: number, n: number): boolean => {
  if (names.length !== n) return false
  for (let i = 0; i < n; i++) if (names[i] !== keys[base + i]) return false
  return true
}

/** A shape for the keys `names`, each at most CACHE_BYTES bytes, not hot yet. */
const newShape = (names: ReadonlyArray<string>): Shape => {
  const parts = names.map((name) => utf8Encoder.encode(name))
  const ends = new Int32Array(parts.length)
  const hashes = new Int32Array(parts.length)
  let length = 0
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    length += 1 + part.length
    ends[i] = length
    hashes[i] = hashKey(part, 0, part.length)
  }
  const encoded = new Uint8Array(length)
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const at = ends[i]! - part.length
    encoded[at - 1] = 0xa0 | part.length
    encoded.set(part, at)
  }
  return { names, hashes, encoded, ends, build: undefined }
}

/** The hash of a key's bytes `s[from..to)` used for map shapes. */
const hashKey = (s: Uint8Array, from: number, to: number): number =>
  from === to ? 0x5bd1_e995 : ((to - from) << 16) ^ (s[from]! << 8) ^ s[to - 1]!

/** The map `keys[from..to)` → `vals[from..to)` built key by key; clears the values. */
const assign = (from: number, to: number): WireMap => {
  const object: Record<string, unknown> = {}
  for (let i = from; i < to; i++) {
    const key = keys[i]!
    if (key === "__proto__") object["__proto_"] = vals[i] // as msgpackr does
    else object[key] = vals[i]
    vals[i] = undefined
  }
  return object
}

/**
 * A builder for maps with the keys `names` (distinct), or `undefined` if the engine refuses
 * (only a call stack already near its end can make it). Each key enters the source as a JSON
 * string literal, which is also a valid JavaScript one, whatever the key holds; `__proto__`
 * is written `__proto_`, as `assign` does, because in a literal it would set the prototype.
 */
const builder = (names: ReadonlyArray<string>): Builder | undefined => {
  const fields = names.map((name, i) => `${JSON.stringify(name === "__proto__" ? "__proto_" : name)}: v[b + ${i}]`)
  try {
    return new Function("v", "b", `return { ${fields.join(", ")} }`) as Builder
  } catch {
    return undefined
  }
}

/** An array of `n` items whose first item is at `at`. */
const readArray = (n: number, at: number, depth: number): Array<unknown> | undefined => {
  if (depth >= maxDepth) return fail(TOO_DEEP)
  if (n > maxEntries) return fail(TOO_MANY_ENTRIES)
  // Every item takes at least one byte.
  if (n > end - at) return fail(LENGTH_EXCEEDS)
  pos = at
  const array = new Array<unknown>(n)
  const inner = depth + 1
  for (let i = 0; i < n; i++) {
    const value = readValue(inner)
    if (value === undefined) return undefined
    array[i] = value
  }
  return array
}

/** A map key at `pos`: a str, followed by at least one byte (its value); pushed on `keys`. */
const readKey = (): string | undefined => {
  const s = src
  const p = pos
  const left = end - p
  if (left <= 0) return fail(TRUNCATED)
  const tag = s[p]!
  let length: number
  let body: number
  if ((tag & 0xe0) === 0xa0) {
    length = tag & 0x1f
    body = p + 1
  } else if (tag === 0xd9) {
    if (left < 2) return fail(TRUNCATED)
    length = s[p + 1]!
    body = p + 2
  } else if (tag === 0xda) {
    if (left < 3) return fail(TRUNCATED)
    length = (s[p + 1]! << 8) | s[p + 2]!
    body = p + 3
  } else if (tag === 0xdb) {
    if (left < 5) return fail(TRUNCATED)
    length = u32At(s, p + 1)
    body = p + 5
  } else {
    return fail(KEY_NOT_STR)
  }
  if (length > end - body) return fail(LENGTH_EXCEEDS)
  const next = body + length
  if (next >= end) return fail(TRUNCATED) // no room for the value
  let key: string | undefined
  if (length <= CACHE_BYTES) {
    key = cached(s, body, next)
    keyHash = hashKey(s, body, next)
  } else {
    key = text(s, body, next)
    keyHash = -1 // a map with a long key never gets a builder
  }
  if (key === undefined) return undefined
  pos = next
  keys[keyTop++] = key
  return key
}

/** A str of `length` bytes at `at`, as a value. */
const readStr = (length: number, at: number): string | undefined => {
  if (length > end - at) return fail(LENGTH_EXCEEDS)
  const next = at + length
  const string = length <= CACHE_BYTES ? cached(src, at, next) : text(src, at, next)
  pos = next
  return string
}

/** A bin of `length` bytes at `at`: a fresh copy, or a view of the body from `viewFrom` bytes. */
const readBin = (length: number, at: number): Uint8Array | undefined => {
  if (length > end - at) return fail(LENGTH_EXCEEDS)
  pos = at + length
  return length >= viewFrom ? src.subarray(at, at + length) : src.slice(at, at + length)
}

/**
 * The string `s[from..to)` (at most CACHE_BYTES bytes), from the cache. A set of two slots is
 * chosen by the length and a few bytes, and a hit is confirmed byte by byte; a miss decodes
 * (and validates) the bytes, and only a valid string enters the cache, in the set's first
 * slot (the previous occupant moves to the second).
 */
const cached = (s: Uint8Array, from: number, to: number): string | undefined => {
  const length = to - from
  if (length <= SMALL_BYTES) return length === 0 ? "" : cachedSmall(s, from, length)
  let hash = Math.imul(length ^ (s[from]! << 8) ^ (s[to - 1]! << 16) ^ (s[from + (length >> 1)]! << 24), 0x9e37_79b1)
  hash = Math.imul(hash ^ (hash >>> 15), 0x85eb_ca6b)
  const first = (hash >>> (32 - CACHE_SET_BITS)) << 1
  for (let slot = first; slot <= first + 1; slot++) {
    if (cacheLength[slot] !== length) continue
    let at = slot * CACHE_BYTES
    let i = from
    while (i < to && cacheBytes[at] === s[i]) {
      i++
      at++
    }
    if (i === to) return cacheStrings[slot]!
  }
  const decoded = text(s, from, to)
  if (decoded === undefined) return undefined
  const string = internalized(decoded)
  const at = first * CACHE_BYTES
  cacheBytes.copyWithin(at + CACHE_BYTES, at, at + CACHE_BYTES)
  cacheLength[first + 1] = cacheLength[first]!
  cacheStrings[first + 1] = cacheStrings[first]!
  cacheBytes.set(s.subarray(from, to), at)
  cacheLength[first] = length
  cacheStrings[first] = string
  return string
}

/**
 * Like `cached`, for 1 to SMALL_BYTES bytes: the bytes and the length are packed into two
 * 32-bit words, so a lookup is one hash and two comparisons.
 */
const cachedSmall = (s: Uint8Array, from: number, length: number): string | undefined => {
  let low = s[from]!
  let high = length << 24
  if (length > 1) low |= s[from + 1]! << 8
  if (length > 2) low |= s[from + 2]! << 16
  if (length > 3) low |= s[from + 3]! << 24
  if (length > 4) high |= s[from + 4]!
  if (length > 5) high |= s[from + 5]! << 8
  if (length > 6) high |= s[from + 6]! << 16
  const first = (Math.imul(low ^ Math.imul(high, 0x85eb_ca6b), 0x9e37_79b1) >>> (32 - SMALL_SET_BITS)) << 1
  if (smallLow[first] === low && smallHigh[first] === high) return smallStrings[first]!
  if (smallLow[first + 1] === low && smallHigh[first + 1] === high) return smallStrings[first + 1]!
  const decoded = text(s, from, from + length)
  if (decoded === undefined) return undefined
  const string = internalized(decoded)
  smallLow[first + 1] = smallLow[first]!
  smallHigh[first + 1] = smallHigh[first]!
  smallStrings[first + 1] = smallStrings[first]!
  smallLow[first] = low
  smallHigh[first] = high
  smallStrings[first] = string
  return string
}

/**
 * The engine's canonical copy of `string` (property names are kept canonical), so cached
 * strings compare by identity and need no lookup when used as property names.
 */
const internalized = (string: string): string => {
  const holder: Record<string, true> = {}
  holder[string] = true
  for (const name in holder) return name
  return string
}

/** The UTF-8 bytes `s[from..to)` as a string, or `undefined` (BAD_UTF8) if they are not valid. */
const text = (s: Uint8Array, from: number, to: number): string | undefined => {
  if (to - from > SHORT_STRING) {
    let i = from
    while (i < to && s[i]! < 0x80) i++
    if (i < to && !PreScan.validUtf8(s, i, to)) return fail(BAD_UTF8)
    return utf8.decode(s.subarray(from, to))
  }
  // Short: build as ASCII, eight bytes at a time, until a byte says otherwise.
  let string = ""
  let i = from
  for (; i + 8 <= to; i += 8) {
    const a = s[i]!
    const b = s[i + 1]!
    const c = s[i + 2]!
    const d = s[i + 3]!
    const e = s[i + 4]!
    const f = s[i + 5]!
    const g = s[i + 6]!
    const h = s[i + 7]!
    if ((a | b | c | d | e | f | g | h) >= 0x80) break
    string += fromCharCode(a, b, c, d, e, f, g, h)
  }
  if (to - i < 8) {
    const tail = tailAscii(s, i, to)
    if (tail !== undefined) return string + tail
  }
  for (; i < to && s[i]! < 0x80; i++) string += fromCharCode(s[i]!)
  if (!PreScan.validUtf8(s, i, to)) return fail(BAD_UTF8)
  return string + shortUtf8(s, i, to)
}

/** The at most 7 bytes `s[from..to)` as one string if they are all ASCII, else `undefined`. */
const tailAscii = (s: Uint8Array, from: number, to: number): string | undefined => {
  switch (to - from) {
    case 0:
      return ""
    case 1: {
      const a = s[from]!
      return a < 0x80 ? fromCharCode(a) : undefined
    }
    case 2: {
      const a = s[from]!
      const b = s[from + 1]!
      return (a | b) < 0x80 ? fromCharCode(a, b) : undefined
    }
    case 3: {
      const a = s[from]!
      const b = s[from + 1]!
      const c = s[from + 2]!
      return (a | b | c) < 0x80 ? fromCharCode(a, b, c) : undefined
    }
    case 4: {
      const a = s[from]!
      const b = s[from + 1]!
      const c = s[from + 2]!
      const d = s[from + 3]!
      return (a | b | c | d) < 0x80 ? fromCharCode(a, b, c, d) : undefined
    }
    case 5: {
      const a = s[from]!
      const b = s[from + 1]!
      const c = s[from + 2]!
      const d = s[from + 3]!
      const e = s[from + 4]!
      return (a | b | c | d | e) < 0x80 ? fromCharCode(a, b, c, d, e) : undefined
    }
    case 6: {
      const a = s[from]!
      const b = s[from + 1]!
      const c = s[from + 2]!
      const d = s[from + 3]!
      const e = s[from + 4]!
      const f = s[from + 5]!
      return (a | b | c | d | e | f) < 0x80 ? fromCharCode(a, b, c, d, e, f) : undefined
    }
    case 7: {
      const a = s[from]!
      const b = s[from + 1]!
      const c = s[from + 2]!
      const d = s[from + 3]!
      const e = s[from + 4]!
      const f = s[from + 5]!
      const g = s[from + 6]!
      return (a | b | c | d | e | f | g) < 0x80 ? fromCharCode(a, b, c, d, e, f, g) : undefined
    }
    default:
      return undefined
  }
}

/** Valid UTF-8 bytes `s[from..to)` (a short run) as a string. */
const shortUtf8 = (s: Uint8Array, from: number, to: number): string => {
  let string = ""
  let i = from
  while (i < to) {
    const c = s[i]!
    if (c < 0x80) {
      string += fromCharCode(c)
      i++
    } else if (c < 0xe0) {
      string += fromCharCode(((c & 0x1f) << 6) | (s[i + 1]! & 0x3f))
      i += 2
    } else if (c < 0xf0) {
      string += fromCharCode(((c & 0x0f) << 12) | ((s[i + 1]! & 0x3f) << 6) | (s[i + 2]! & 0x3f))
      i += 3
    } else {
      const point = (((c & 0x07) << 18) | ((s[i + 1]! & 0x3f) << 12) | ((s[i + 2]! & 0x3f) << 6) | (s[i + 3]! & 0x3f)) -
        0x1_0000
      string += fromCharCode(0xd800 | (point >>> 10), 0xdc00 | (point & 0x3ff))
      i += 4
    }
  }
  return string
}

/** Whether the keys `keys[from..to)` of one map are pairwise distinct. */
const distinct = (from: number, to: number): boolean => {
  const ks = keys
  if (to - from <= 16) {
    for (let i = from + 1; i < to; i++) {
      const key = ks[i]!
      for (let j = from; j < i; j++) if (ks[j] === key) return false
    }
    return true
  }
  // Valid UTF-8 maps one-to-one onto strings, so equal strings mean equal key bytes.
  const seen = new Set<string>()
  for (let i = from; i < to; i++) {
    const key = ks[i]!
    if (seen.has(key)) return false
    seen.add(key)
  }
  return true
}

const u32At = (s: Uint8Array, at: number): number =>
  s[at]! * 0x100_0000 + ((s[at + 1]! << 16) | (s[at + 2]! << 8) | s[at + 3]!)

const i32At = (s: Uint8Array, at: number): number =>
  (s[at]! << 24) | (s[at + 1]! << 16) | (s[at + 2]! << 8) | s[at + 3]!
