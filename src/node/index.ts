/**
 * The node: `MaculaNode` (the Promise facade), the `Mesh` service and its layer (the Effect
 * API), the configuration with its knobs, the node's typed errors, and supervision snapshots.
 *
 * Key invariant: a node is its supervision tree; `start` returns once the tree runs (and, for
 * a client, once it is attached to a station), `stop` shuts the tree down in reverse order.
 *
 * Pub/sub and RPC run on client nodes (`publish`, `subscribe`, `advertise`, `call`). Not here
 * yet: content transfer, whose operations fail with `NotImplemented`.
 *
 * @since 0.1.0
 */
export {
  /**
   * Parsing and checking node configurations.
   *
   * @since 0.1.0
   * @category config
   */
  defaultKnobs,
  /**
   * @since 0.1.0
   * @category config
   */
  resolve as resolveConfig
} from "./Config.ts"
export type {
  /**
   * @since 0.1.0
   * @category config
   */
  Knobs,
  /**
   * @since 0.1.0
   * @category config
   */
  NodeConfig
} from "./Config.ts"
export {
  /**
   * @since 0.1.0
   * @category errors
   */
  CallTimeout,
  /**
   * @since 0.1.0
   * @category errors
   */
  ConfigError,
  /**
   * @since 0.1.0
   * @category errors
   */
  ConnectionLost,
  /**
   * @since 0.1.0
   * @category errors
   */
  ContentNotFound,
  /**
   * @since 0.1.0
   * @category errors
   */
  IntegrityError,
  /**
   * @since 0.1.0
   * @category errors
   */
  NodeStopped,
  /**
   * @since 0.1.0
   * @category errors
   */
  NoProvider,
  /**
   * @since 0.1.0
   * @category errors
   */
  NotImplemented,
  /**
   * @since 0.1.0
   * @category errors
   */
  RemoteError,
  /**
   * @since 0.1.0
   * @category errors
   */
  Unauthorized
} from "./Errors.ts"
export type {
  /**
   * @since 0.1.0
   * @category errors
   */
  MeshError
} from "./Errors.ts"
export {
  /**
   * @since 0.1.0
   * @category constructors
   */
  MaculaNode
} from "./MaculaNode.ts"
export {
  /**
   * A push (`pushContent`, PROTOCOL.md §12.6) declined by its recipient or unanswered in time.
   *
   * @since 0.1.0
   * @category errors
   */
  PushFailed,
  /**
   * The home station did not take a client's upload (`putContent`).
   *
   * @since 0.1.0
   * @category errors
   */
  UploadFailed
} from "./Content.ts"
export type {
  /**
   * @since 0.1.0
   * @category models
   */
  PushContentOptions,
  /**
   * @since 0.1.0
   * @category errors
   */
  PushContentError,
  /**
   * @since 0.1.0
   * @category models
   */
  PushedContent
} from "./Content.ts"
export type {
  /**
   * @since 0.1.0
   * @category models
   */
  Hooks,
  /**
   * @since 0.1.0
   * @category models
   */
  NodeEvent
} from "./MaculaNode.ts"
export {
  /**
   * @since 0.1.0
   * @category services
   */
  Mesh
} from "./Mesh.ts"
export type {
  /**
   * @since 0.1.0
   * @category models
   */
  Advertisement,
  /**
   * @since 0.1.0
   * @category models
   */
  AdvertiseOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  CallContext,
  /**
   * @since 0.1.0
   * @category models
   */
  CallError,
  /**
   * @since 0.1.0
   * @category models
   */
  CallOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  Gap,
  /**
   * @since 0.1.0
   * @category models
   */
  Handler,
  /**
   * @since 0.1.0
   * @category models
   */
  PublishError,
  /**
   * @since 0.1.0
   * @category models
   */
  SubscribeError,
  /**
   * @since 0.1.0
   * @category models
   */
  SubscribeOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  Subscription,
  /**
   * @since 0.1.0
   * @category models
   */
  SubscriptionEvent,
  /**
   * @since 0.1.0
   * @category models
   */
  DhtSummary,
  /**
   * @since 0.1.0
   * @category models
   */
  HomeStation,
  /**
   * @since 0.1.0
   * @category models
   */
  MembershipView,
  /**
   * @since 0.1.0
   * @category models
   */
  MeshApi,
  /**
   * @since 0.1.0
   * @category models
   */
  PeerConnection,
  /**
   * @since 0.1.0
   * @category models
   */
  SpawnOptions
} from "./Mesh.ts"
export * as Supervision from "./Supervision.ts"
export type { SupervisionNode, SupervisionTree } from "./Supervision.ts"
export type {
  /**
   * @since 0.1.0
   * @category models
   */
  StreamCall,
  /**
   * @since 0.1.0
   * @category models
   */
  StreamCallOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  StreamChannel,
  /**
   * @since 0.1.0
   * @category models
   */
  StreamHandler,
  /**
   * @since 0.1.0
   * @category models
   */
  StreamMode
} from "./RpcStream.ts"
