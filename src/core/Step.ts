/**
 * The shape of every sans-IO protocol core: a total function from a state and an event to
 * the next state and the commands the driving actor must carry out, in order.
 *
 * A step never performs I/O, reads a clock or draws randomness: time arrives in events,
 * timers leave as commands and randomness is a seeded `Prng` held in the state.
 *
 * @since 0.1.0
 */

/**
 * `step(state, event) -> [state, commands]`.
 *
 * @since 0.1.0
 * @category models
 */
export type Step<S, E, C> = (state: S, event: E) => readonly [S, ReadonlyArray<C>]

const none: ReadonlyArray<never> = Object.freeze([])

/**
 * The state stays as it is and nothing happens (a stale timer, an ignored packet).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unchanged = <S>(state: S): readonly [S, ReadonlyArray<never>] => [state, none]

/**
 * A new state and the commands that go with it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const next = <S, C>(state: S, commands: ReadonlyArray<C> = none): readonly [S, ReadonlyArray<C>] => [
  state,
  commands
]

/**
 * Feeds a sequence of events through a step, collecting every command in order. Handy in
 * tests and in the simulator.
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = <S, E, C>(
  step: Step<S, E, C>,
  initial: S,
  events: Iterable<E>
): readonly [S, ReadonlyArray<C>] => {
  let state = initial
  const commands: Array<C> = []
  for (const event of events) {
    const [after, emitted] = step(state, event)
    state = after
    for (const command of emitted) commands.push(command)
  }
  return [state, commands]
}
