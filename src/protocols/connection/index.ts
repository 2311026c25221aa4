/**
 * One connection's protocol as a sans-IO core (PROTOCOL.md §3.4–§3.7, §4.4, §14 rows 7–14):
 * the HELLO exchange with version, role and proof-of-work checks, the stream placement rules
 * (control stream, one lane per family and opener), application liveness, graceful goodbye and
 * the peer score; plus the node-wide connection book (admission, duplicates, bans).
 *
 * Key invariant: `step(state, event)` is total, reads no clock, draws no randomness and does no
 * I/O; time arrives as `now` and timers leave as commands with generations. Bad remote input is
 * a reset, a penalty or a close, never an exception.
 *
 * It does not open sockets, decode bytes or route frames to subsystems: `actors/ConnectionActor.ts`
 * does, and `src/wire` decodes.
 *
 * @since 0.1.0
 */

/**
 * The connection core and its pure rules.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Connection from "./Connection.ts"
