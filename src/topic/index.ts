/**
 * The Topic library (PROTOCOL.md §7): builders, parsing and validation of the five-segment
 * topic and procedure names `{realm}/{org}/{app}/{domain}/{name}_v{N}`, system topics,
 * wildcard patterns (`*` one segment, final `#` one or more), pattern covering, and the
 * segment trie a station matches subscriptions with.
 *
 * Key invariant: one spelling per topic. What `validate` accepts on one node it accepts on
 * every node, and a bad string always fails with the same `reason` and `detail`.
 *
 * It does not touch the network, the clock or randomness, and it does not authorise: who may
 * publish or subscribe is decided by capabilities elsewhere. Import it as a namespace:
 *
 * ```ts
 * import * as Topic from "./topic/index.ts"
 * Topic.appFact("io.macula", "beam-campus", "hecate", "mpong", "lobby_opened", 1)
 * ```
 *
 * @since 0.1.0
 */
export {
  appFact,
  appHope,
  build,
  covers,
  isPattern,
  isSystem,
  isValid,
  isValidPattern,
  matches,
  maxTopicBytes,
  maxVersion,
  orgFact,
  orgHope,
  orgSentinel,
  parse,
  realmFact,
  realmHope,
  realmSentinel,
  validate,
  validatePattern
} from "./Topic.ts"
export type { ParsedTopic, Tier } from "./Topic.ts"
export { TopicError, topicErrorReasons } from "./TopicError.ts"
export type { TopicErrorReason } from "./TopicError.ts"
export { PatternTrie } from "./PatternTrie.ts"
