/**
 * IP-prefix diversity (PROTOCOL.md §10.1, §10.4): the prefix class of an observed remote
 * address, so that a routing-table bucket, the whole table and a store set each hold at most
 * a few contacts from one /16 (IPv4) or /32 (IPv6) by default.
 *
 * Key invariant: two addresses in the same /`diversityPrefixV4Bits` (or /`V6Bits`) network get
 * the same class string, and addresses in different ones get different strings. IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`) is classed as the IPv4 address. An address that does not parse gets
 * the single class `"invalid"`, so garbage shares one cap instead of escaping all caps.
 *
 * Loopback, private, link-local and CGNAT addresses are exempt (class `undefined`) only when
 * `acceptPrivateAddrs` admits them; otherwise they are classed like any other address.
 *
 * @see Baumgart & Mies, "S/Kademlia" §4 (Sybil and eclipse resistance); the "IP diversity
 *   filter" of libp2p's kad-dht follows the same idea
 * @since 0.1.0
 */

/**
 * The knobs this module reads (a subset of `Config`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly diversityPrefixV4Bits: number
  readonly diversityPrefixV6Bits: number
  readonly acceptPrivateAddrs: boolean
}

/**
 * Parses dotted-quad IPv4 (`a.b.c.d`, decimal, no leading zeros beyond `0`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseV4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

/**
 * Parses textual IPv6 (RFC 4291 §2.2: `::` compression, an embedded IPv4 tail); a zone id
 * (`%eth0`) and surrounding brackets are ignored.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseV6 = (input: string): Uint8Array | undefined => {
  let text = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input
  const zone = text.indexOf("%")
  if (zone >= 0) text = text.slice(0, zone)
  if (text.length === 0 || text.split("::").length > 2) return undefined
  const groups: Array<number> = []
  const parseSide = (side: string): Array<number> | undefined => {
    if (side === "") return []
    const out: Array<number> = []
    const pieces = side.split(":")
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseV4(piece)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined
        out.push(parseInt(piece, 16))
      }
    }
    return out
  }
  const [head, tail] = text.split("::") as [string, string | undefined]
  const left = parseSide(head)
  if (left === undefined) return undefined
  if (tail === undefined) {
    if (left.length !== 8) return undefined
    groups.push(...left)
  } else {
    const right = parseSide(tail)
    if (right === undefined || left.length + right.length > 7) return undefined
    groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right)
  }
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >>> 8
    out[2 * i + 1] = groups[i]! & 255
  }
  return out
}

const isV4Mapped = (v6: Uint8Array): boolean => {
  for (let i = 0; i < 10; i++) if (v6[i] !== 0) return false
  return v6[10] === 0xff && v6[11] === 0xff
}

/**
 * Whether an IPv4 address is loopback, RFC 1918 private, link-local, CGNAT or unspecified.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPrivateV4 = (a: Uint8Array): boolean => {
  const [x = 0, y = 0] = a
  return x === 127 || x === 10 || x === 0 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) ||
    (x === 169 && y === 254) || (x === 100 && y >= 64 && y <= 127)
}

/**
 * Whether an IPv6 address is loopback, unspecified, unique-local (fc00::/7) or link-local
 * (fe80::/10).
 *
 * @since 0.1.0
 * @category guards
 */
export const isPrivateV6 = (a: Uint8Array): boolean => {
  let zeroUpTo15 = true
  for (let i = 0; i < 15; i++) if (a[i] !== 0) zeroUpTo15 = false
  const first = a[0] ?? 0
  const second = a[1] ?? 0
  return (zeroUpTo15 && (a[15] === 1 || a[15] === 0)) || (first & 0xfe) === 0xfc || (first === 0xfe && (second & 0xc0) === 0x80)
}

const prefixHex = (bytes: Uint8Array, bits: number): string => {
  const clamped = Math.max(0, Math.min(bits, bytes.length * 8))
  let out = ""
  for (let i = 0; i * 8 < clamped; i++) {
    const keep = Math.min(8, clamped - i * 8)
    const mask = (0xff << (8 - keep)) & 0xff
    out += ((bytes[i] ?? 0) & mask).toString(16).padStart(2, "0")
  }
  return `${out}/${clamped}`
}

/**
 * The diversity class of an observed remote IP: `"4:<hex>/<bits>"`, `"6:<hex>/<bits>"`,
 * `"invalid"`, or `undefined` for an exempt private address.
 *
 * @example
 * ```ts
 * Diversity.classOf(limits, "203.0.113.7") // "4:cb00/16" with the default 16 bits
 * ```
 *
 * @since 0.1.0
 * @category classification
 */
export const classOf = (limits: Limits, ip: string): string | undefined => {
  const v4 = parseV4(ip)
  if (v4 !== undefined) {
    if (limits.acceptPrivateAddrs && isPrivateV4(v4)) return undefined
    return `4:${prefixHex(v4, limits.diversityPrefixV4Bits)}`
  }
  const v6 = parseV6(ip)
  if (v6 === undefined) return "invalid"
  if (isV4Mapped(v6)) return classOf(limits, `${v6[12]}.${v6[13]}.${v6[14]}.${v6[15]}`)
  if (limits.acceptPrivateAddrs && isPrivateV6(v6)) return undefined
  return `6:${prefixHex(v6, limits.diversityPrefixV6Bits)}`
}

/**
 * Picks, in order, up to `max` items of which at most `perClass` share a diversity class
 * (exempt items are unlimited): the store set of §10.4.
 *
 * @since 0.1.0
 * @category classification
 */
export const pickDiverse = <A>(
  items: ReadonlyArray<A>,
  classOfItem: (a: A) => string | undefined,
  perClass: number,
  max: number
): ReadonlyArray<A> => {
  const counts = new Map<string, number>()
  const out: Array<A> = []
  for (const item of items) {
    if (out.length >= max) break
    const c = classOfItem(item)
    if (c !== undefined) {
      const n = counts.get(c) ?? 0
      if (n >= perClass) continue
      counts.set(c, n + 1)
    }
    out.push(item)
  }
  return out
}
