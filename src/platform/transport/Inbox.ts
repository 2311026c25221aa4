/**
 * A small unbounded hand-off queue between callback-driven I/O code and Effect consumers:
 * `offer` from any callback, `take` as an interruptible Effect, `fail` to end it for good. Items
 * offered before `fail` are still taken first. Used for accepted connections and streams, whose
 * numbers the transport already bounds (`maxStreamsPerConnection`, handshake limits).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/**
 * The queue. `take` is the only consumer path; several fibers may take concurrently.
 *
 * @since 0.1.0
 * @category models
 */
export class Inbox<A, E> {
  #items: Array<A> = []
  #takers: Array<(effect: Effect.Effect<A, E>) => void> = []
  #failure: { readonly error: E } | undefined = undefined

  /** Delivers `item` to a waiting taker or queues it; `false` once the inbox has failed. */
  offer(item: A): boolean {
    if (this.#failure !== undefined) return false
    const taker = this.#takers.shift()
    if (taker !== undefined) taker(Effect.succeed(item))
    else this.#items.push(item)
    return true
  }

  /** Ends the inbox: waiting and later takers fail with `error` once the queued items are gone. */
  fail(error: E): void {
    if (this.#failure !== undefined) return
    this.#failure = { error }
    const takers = this.#takers
    this.#takers = []
    for (const taker of takers) taker(Effect.fail(error))
  }

  /** Whether `fail` was called. */
  get failed(): boolean {
    return this.#failure !== undefined
  }

  /** Items queued and not yet taken. */
  drain(): Array<A> {
    const items = this.#items
    this.#items = []
    return items
  }

  /** The next item, waiting if none; interruption withdraws the wait. */
  readonly take: Effect.Effect<A, E> = Effect.suspend(() => {
    if (this.#items.length > 0) return Effect.succeed(this.#items.shift()!)
    if (this.#failure !== undefined) return Effect.fail(this.#failure.error)
    return Effect.callback<A, E>((resume) => {
      this.#takers.push(resume)
      return Effect.sync(() => {
        const at = this.#takers.indexOf(resume)
        if (at >= 0) this.#takers.splice(at, 1)
      })
    })
  })
}
