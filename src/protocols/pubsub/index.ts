/**
 * Pub/sub (PROTOCOL.md §8) as two sans-IO cores: the station's `Router` (subscriptions by
 * topic and wildcard pattern, validation, dedup, at-least-once replay buffers with explicit
 * gaps, interest exchange and forwarding, bounded per-client queues) and the client's
 * `Session` (subscription replay, publish numbering, dedup, per-publisher ordering, handler
 * mailboxes, cumulative acknowledgements).
 *
 * Key invariant: pure and bounded; no clock, randomness, I/O or Effect runtime; every table
 * capped by `Config`; bad or stale remote input is refused, ignored or counted, never thrown.
 *
 * It does not sign or verify envelopes, check UCANs, decode frames or hold connections; the
 * actors do, and pass the results in events.
 *
 * @since 0.1.0
 */

/**
 * The pub/sub cores: `PubSub.makeRouterStep`, `PubSub.makeSessionStep`, their events,
 * commands, states and knobs.
 *
 * @since 0.1.0
 * @category modules
 */
export * as PubSub from "./PubSub.ts"
