/**
 * Starting the writers of an actor's per-peer outboxes once per burst.
 *
 * An actor that answers its messages with frames for several peers queues each frame on the
 * peer's outbox. Starting a writer fiber per frame costs a fiber per frame; instead the peers
 * with frames waiting are noted, and one writer per peer starts once the mailbox is empty (or
 * a burst has piled up): the frames of a burst leave together. A peer whose writer is still
 * running picks up new frames by itself and is not noted.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * What `Outboxes` needs of a peer: its queued frames and whether its writer runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writable {
  /** Set while the peer's writer runs; the writer clears it when the outbox is empty. */
  draining: boolean
  readonly outbox: { readonly length: number }
}

/**
 * The peers with frames waiting for a writer.
 *
 * @since 0.1.0
 * @category models
 */
export class Outboxes<P extends Writable> {
  readonly #waiting = new Set<P>()
  #frames = 0

  /** @param every frames queued after which writers start even while messages still wait */
  constructor(readonly every = 64) {}

  /** A frame was queued on `peer`'s outbox. */
  queued(peer: P): void {
    if (peer.draining) return
    this.#waiting.add(peer)
    this.#frames++
  }

  /**
   * Starts `write(peer)` for every peer with frames waiting (marking it `draining`), unless
   * `backlog` messages still wait and fewer than `every` frames piled up; `force` starts them
   * regardless.
   */
  flush(backlog: number, write: (peer: P) => Effect.Effect<void>, force = false): Effect.Effect<void> {
    if (this.#waiting.size === 0) return Effect.void
    if (!force && this.#frames < this.every && backlog > 0) return Effect.void
    const peers = Array.from(this.#waiting)
    this.#waiting.clear()
    this.#frames = 0
    return Effect.forEach(peers, (peer) => {
      if (peer.draining || peer.outbox.length === 0) return Effect.void
      peer.draining = true
      return write(peer)
    }, { discard: true })
  }
}

/**
 * The end of a `receive` that queues frames: runs `handled`, then `flush()` (which starts the
 * writers once the burst is over), and answers `state`. A message that needed no effect and
 * started no writer builds none: this runs for every message.
 *
 * @since 0.1.0
 * @category combinators
 */
export const thenFlush = <S>(handled: Effect.Effect<void>, flush: () => Effect.Effect<void>, state: S): Effect.Effect<S> => {
  if (handled !== Effect.void) return Effect.as(Effect.andThen(handled, Effect.suspend(flush)), state)
  const flushed = flush()
  return flushed === Effect.void ? Effect.succeed(state) : Effect.as(flushed, state)
}
