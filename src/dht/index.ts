/**
 * DHT layer (BEP 5, IPv6 BEP 32, read-only BEP 43): a Kademlia node over UDP that finds peers for an
 * info-hash without a tracker. Between transport and engine: the engine feeds its peers to torrents.
 */
export { ManualClock, systemClock, type DhtClock, type DhtTimer } from './clock.js';
export { compareDistance, commonPrefixBits } from './distance.js';
export { DhtError, type DhtErrorCode } from './errors.js';
export {
  COMPACT_NODE6_BYTES,
  decodeCompactNodes,
  decodeCompactNodes6,
  decodeKrpc,
  encodeCompactNodes,
  encodeCompactNodes6,
  encodePeer,
  ipFamily,
  encodeError,
  encodeQuery,
  encodeResponse,
  KRPC_DEFAULTS,
  KRPC_ERROR,
  type CompactNode,
  type DhtFamily,
  type KrpcLimits,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponse,
  type PeerAddr,
} from './krpc.js';
export { lookup, type LookupOptions, type LookupResult } from './lookup.js';
export { DhtNode, type DhtNodeEvents, type DhtNodeOptions, type DhtStats } from './node.js';
export { PeerStore, type PeerStoreOptions } from './peer-store.js';
export { hostKey, RateLimiter, type RateLimitOptions } from './rate-limit.js';
export { RoutingTable, type AddResult, type RoutingNode, type RoutingTableOptions } from './routing-table.js';
export { Rpc, type RpcOptions } from './rpc.js';
export { decodeState, encodeState, loadState, lockState, MAX_SAVED_NODES, saveState, type DhtState, type StateLock } from './state.js';
export { TokenStore } from './tokens.js';
