/**
 * The test files under `test/unit` that start real nodes or QUIC endpoints in-process. Each runs
 * in a fresh worker (`vitest.config.ts`, project `integration`): nothing one leaves running (a
 * socket, a node's fibers, a timer) can reach another file. Every other file under `test/unit`
 * shares one worker. `test/unit/TestIsolation.test.ts` fails when a file that starts a node or
 * an endpoint is missing here.
 */
export const realNetwork: ReadonlyArray<string> = [
  "test/unit/node/ApplicationActors.test.ts",
  "test/unit/node/ClientCapabilitiesRouting.test.ts",
  "test/unit/node/Content.test.ts",
  "test/unit/node/ContentPushMemory.test.ts",
  "test/unit/node/ContentRelay.test.ts",
  "test/unit/node/ContentStationPins.test.ts",
  "test/unit/node/DhtPersistence.test.ts",
  "test/unit/node/MaculaNode.test.ts",
  "test/unit/node/Messaging.test.ts",
  "test/unit/node/NodeSupervisor.test.ts",
  "test/unit/node/RpcStreamGuide.test.ts",
  "test/unit/node/StationLink.test.ts",
  "test/unit/node/StationLinkRealm.test.ts"
]

/** What marks a file as starting real nodes or QUIC endpoints. */
export const startsRealNetwork = /\bQuic\.make\(|\bMaculaNode\.start\(|\bnodeSet\(/
