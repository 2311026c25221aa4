/**
 * `macula-node`: a Macula mesh node for Node.js, built as an OTP-style actor runtime on Effect.
 *
 * This entry holds the mesh's public names: `Topic` (strict five-segment topics and wildcard
 * patterns), `Identity` and `Did` (Ed25519 did:key identities), `Ucan` (UCAN 1.0
 * capabilities), `Realm`, the wire codec (`Wire`, `DecodeError`), the pieces protocol cores are
 * written with (`Step`, `Prng`), and their typed errors. The actor runtime is `macula-node/runtime`;
 * chaos tools, the simulator and fast-check arbitraries are `macula-node/testkit`.
 *
 * @since 0.1.0
 */
export * as Topic from "./topic/index.ts"
export { TopicError } from "./topic/index.ts"
export type { ParsedTopic, TopicErrorReason } from "./topic/index.ts"
export { Did, DidError, Identity, NodeId, Realm } from "./identity/index.ts"
export type { DidErrorCode } from "./identity/index.ts"
export * as Ucan from "./identity/ucan/index.ts"
export { UcanError } from "./identity/ucan/index.ts"
export type { UcanErrorName } from "./identity/ucan/index.ts"
export * as Wire from "./wire/index.ts"
export { DecodeError, EncodeError } from "./wire/index.ts"
export type { DecodeErrorCode, EncodeErrorCode } from "./wire/index.ts"
export * as Prng from "./core/Prng.ts"
export * as Step from "./core/Step.ts"
export { McidError, Mcid } from "./content/index.ts"
export type { McidErrorReason } from "./content/index.ts"
export { MaculaNode, Mesh, Supervision } from "./node/index.ts"
export { CallTimeout, ConfigError, ConnectionLost, ContentNotFound, IntegrityError, NodeStopped, NoProvider } from "./node/index.ts"
export { NotImplemented, RemoteError, Unauthorized } from "./node/index.ts"
export { PushFailed, UploadFailed } from "./node/index.ts"
export type { PushContentError, PushContentOptions, PushedContent } from "./node/index.ts"
export type { DhtSummary, HomeStation, Hooks, Knobs, MembershipView, MeshApi, MeshError, NodeConfig, NodeEvent } from "./node/index.ts"
export type { PeerConnection, SpawnOptions, SupervisionNode, SupervisionTree } from "./node/index.ts"
export type { Advertisement, AdvertiseOptions, CallContext, CallError, CallOptions, Gap, Handler, PublishError } from "./node/index.ts"
export type { SubscribeError, SubscribeOptions, Subscription, SubscriptionEvent } from "./node/index.ts"
export type { StreamCall, StreamCallOptions, StreamChannel, StreamHandler, StreamMode } from "./node/index.ts"
