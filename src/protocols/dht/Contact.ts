/**
 * DHT contacts: a station's public key, its node id and the addresses it announced.
 *
 * Key invariant: a `Contact`'s `id` is SHA-256 of its `pk`, derived by the core with the hash
 * from `Config` (`fromInfo`), never taken from the wire. Contacts learnt from `dht.nodes` are
 * only candidates to dial (PROTOCOL.md §10.1); a contact enters a routing table only through
 * `PeerConnected`, after the transport authenticated the key.
 *
 * It does not check Ed25519 key validity (§2.1): an invalid key cannot complete the TLS
 * handshake, so such a candidate never becomes a table member.
 *
 * @since 0.1.0
 */
import * as Xor from "./Xor.ts"

/**
 * What a peer says about a station: its key and addresses (the `contact` of §6).
 *
 * @since 0.1.0
 * @category models
 */
export interface Info {
  /** The station's Ed25519 public key, 32 bytes. */
  readonly pk: Uint8Array
  /** Its addresses, `quic://…`. */
  readonly addrs: ReadonlyArray<string>
}

/**
 * A contact with its derived node id.
 *
 * @since 0.1.0
 * @category models
 */
export interface Contact extends Info {
  /** SHA-256(pk). */
  readonly id: Xor.NodeId
}

/**
 * A pure SHA-256: bytes in, 32 bytes out. Injected through `Config` so the core never imports
 * a crypto module; the actor passes the platform's, tests pass a JavaScript one.
 *
 * @since 0.1.0
 * @category models
 */
export type Sha256 = (bytes: Uint8Array) => Uint8Array

/**
 * A contact from a key and addresses; `undefined` when the key is not 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromInfo = (sha256: Sha256, info: Info): Contact | undefined =>
  info.pk instanceof Uint8Array && info.pk.length === Xor.idBytes
    ? { id: sha256(info.pk), pk: info.pk, addrs: info.addrs }
    : undefined

/**
 * Whether a node id carries `bits` of station proof of work: SHA-256(id) has at least `bits`
 * leading zero bits (§2.4). `bits` ≤ 0 disables the check.
 *
 * @see Baumgart & Mies, "S/Kademlia: A Practicable Approach Towards Secure Key-Based
 *   Routing" (2007), §4.1 (crypto puzzles on node ids)
 * @since 0.1.0
 * @category guards
 */
export const meetsPow = (sha256: Sha256, id: Xor.NodeId, bits: number): boolean =>
  bits <= 0 || Xor.leadingZeroBits(sha256(id)) >= bits

/**
 * The map key of a contact: hex of its id.
 *
 * @since 0.1.0
 * @category getters
 */
export const key = (contact: { readonly id: Xor.NodeId }): string => Xor.toHex(contact.id)
