/**
 * Plain constructors for the tagged unions of the protocol cores (commands, events, notices).
 *
 * `Data.taggedEnum` builds each value through a `Proxy` trap, a fresh closure and an object
 * spread; these unions are built several times per routed message, so a core spells its
 * constructors out as plain object literals instead. The values are the same shape (`_tag`
 * plus the fields).
 *
 * @since 0.1.0
 */

/**
 * The fields of the `K` variant of the tagged union `A`, without `_tag`.
 *
 * @since 0.1.0
 * @category models
 */
export type Args<A extends { readonly _tag: string }, K extends A["_tag"]> = Omit<Extract<A, { readonly _tag: K }>, "_tag">

/**
 * The `K` variant of the tagged union `A`.
 *
 * @since 0.1.0
 * @category models
 */
export type Variant<A extends { readonly _tag: string }, K extends A["_tag"]> = Extract<A, { readonly _tag: K }>

/**
 * A constructor by spread, for the rarely built variants (and those with optional fields,
 * where an absent field must stay absent).
 *
 * @since 0.1.0
 * @category constructors
 */
export const spread = <A extends { readonly _tag: string }, K extends A["_tag"]>(tag: K) =>
(args: Args<A, K>): Variant<A, K> => ({ ...args, _tag: tag }) as unknown as Variant<A, K>
