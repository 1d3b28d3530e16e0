/**
 * The tracker server: HTTP + UDP on one port over a pluggable swarm store. For embedding in
 * another web server: `TrackerCore` (the policy over a store) and `httpHandler(core)` (a node:http
 * request handler for the `TRACKER_HTTP_PATHS`).
 */
export { parseInfoHashList } from './access-list.js';
export { CONNECTION_ID_BUCKET_MS, ConnectionIds } from './connection-id.js';
export type { EmbeddedPeer } from './embedded-peer.js';
export { POLICY_DEFAULTS, silentLogger, TrackerCore, type TrackerLogger, type TrackerPolicyOptions, type TrackerProtocol, type TrackerStats } from './core.js';
export { httpHandler, TRACKER_HTTP_PATHS, type HttpLimits } from './http-endpoints.js';
export { MEMORY_STORE_DEFAULTS, MemorySwarmStore, type MemorySwarmStoreOptions } from './memory-store.js';
export { closeRedisClient, connectRedisClient, REDIS_STORE_DEFAULTS, RedisSwarmStore, redactUrl, type RedisClient, type RedisSwarmStoreOptions } from './redis-store.js';
export type { ReplyShape, SwarmAnnounce, SwarmAnnounceCounts, SwarmAnnounceResult, SwarmPeer, SwarmStats, SwarmStore } from './swarm-store.js';
export { TrackerServer, trackerHttpOptions, type TrackerAddress, type TrackerServerOptions } from './tracker-server.js';
export { tuneProcessForTracker } from './tune.js';
