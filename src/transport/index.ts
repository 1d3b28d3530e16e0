export type { BlockRequest, PeerEvent, PeerEventHandler, PeerKind, PeerLink, PeerSocketAddress } from './peer-link.js';
export { TransportError, type TransportErrorCode } from './errors.js';
export type { WirePeerLink, WirePeerOptions, WirePeerStats, WireTorrent } from './wire-peer.js';
// The wire protocol's code loads at its first dial or incoming connection (wire-lazy.ts).
export { acceptWirePeer, connectWirePeer, MAX_RUN_REQUEST_BYTES, WIRE_CONNECT_DEFAULTS, WIRE_PEER_DEFAULTS } from './wire-lazy.js';
export type { AcceptOptions, ConnectOptions } from './wire-connect.js';
export { createWebSeed, WEB_SEED_DEFAULTS, type WebSeedOptions } from './web-seed.js';
export { webSeedFileUrl } from './web-seed-url.js';
export { hostPort, parseHostPort } from './peer-address.js';
export { HttpDialer, MAX_PLAIN_PEERS, WireDialer, type HttpDialerOptions, type WireDialerOptions } from './peer-dialer.js';
export { PEER_LISTENER_DEFAULTS, PeerListener, type IncomingPeer, type IncomingPeerHandler, type PeerListenerOptions } from './peer-listener.js';
export {
  FailureBackoff,
  interimSkippingConnector,
  loadUndici,
  loadUndiciCore,
  parseRetryAfter,
  readContentRange,
  retryAfterDelay,
  RunQueue,
  type BlockRun,
  type ContentRange,
  type Undici,
} from './http-fetch.js';
export { createHttpPeer, HTTP_PEER_DEFAULTS, PEER_ID_HEADER, type HttpPeerOptions } from './http-peer.js';
export { acquireHttp1, Http1Pool, HTTP1_POOL_DEFAULTS, openHttp1Origins, type Http1Exchange, type Http1Lease, type Http1PoolOptions, type Http1Request } from './http1-pool.js';
export { spareReadBuffers } from './http1-reads.js';
export { Http1ResponseDecoder, HTTP1_LIMITS, type Http1Limits, type Http1Listener, type ResponseHead as Http1ResponseHead } from './http1-response.js';
// A magnet's metadata connections load their code (and the wire codecs) at the first one (wire-lazy.ts).
export { connectMetadataPeer, METADATA_PEER_DEFAULTS } from './wire-lazy.js';
export type { MetadataPeer, MetadataPeerEvent, MetadataPeerOptions } from './metadata-peer.js';
export { ENCRYPTION_POLICIES, type EncryptionPolicy, type LinkEncryption } from './encryption-policy.js';
export { copyBytes } from './cipher-protocol.js';
