/**
 * Tracker layer: pure packet codecs for HTTP (BEP 3/7/23/48), UDP (BEP 15) and TorrentTTP JSON
 * announces, shared by clients and the server, and the tracker server itself (`server/`).
 */
export { TrackerError, type TrackerErrorCode } from './errors.js';
export { ANNOUNCE_EVENTS, type AnnounceEvent, type AnnounceRequest } from './announce-types.js';
export { bytesEqual, percentDecode, percentEncode } from './bytes.js';
export {
  decodeCompactPeers,
  encodeCompactPeer,
  encodeCompactPeers,
  formatIp,
  parseIp,
  parseIpNormalized,
  type IpFamily,
  type ParsedIp,
  type PeerAddress,
} from './ip.js';
export { MAX_QUERY_BYTES } from './query.js';
export { MAX_RESPONSE_BYTES } from './bdict.js';
export { ANNOUNCE_QUERY_DEFAULTS, encodeAnnounceQuery, parseAnnounceQuery, type AnnounceQueryLimits } from './http-announce.js';
export {
  decodeAnnounceResponse,
  encodeAnnounceResponse,
  encodeFailure,
  type AnnounceFailure,
  type AnnounceOk,
  type AnnounceReplyFields,
  type AnnounceResponse,
  type AnnounceResponseInit,
  type AnnounceResponseLimits,
  type TrackerPeer,
} from './http-response.js';
export {
  decodeScrapeResponse,
  encodeScrapeQuery,
  encodeScrapeResponse,
  parseScrapeQuery,
  SCRAPE_QUERY_DEFAULTS,
  type ScrapeEntry,
  type ScrapeQueryLimits,
  type ScrapeResponse,
} from './http-scrape.js';
export {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeUdpAnnounceRequest,
  encodeUdpAnnounceResponse,
  encodeUdpConnectRequest,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  encodeUdpScrapeRequest,
  encodeUdpScrapeResponse,
  MAX_UDP_REQUEST_BYTES,
  MAX_UDP_RESPONSE_BYTES,
  MAX_UDP_SCRAPE_HASHES,
  UDP_ANNOUNCE_HEADER_BYTES,
  UDP_PROTOCOL_ID,
  writeUdpAnnounceHeader,
  type UdpAnnounceHeader,
  type UdpAnnounceRequest,
  type UdpAnnounceResponse,
  type UdpConnectRequest,
  type UdpConnectResponse,
  type UdpErrorResponse,
  type UdpEvent,
  type UdpRequest,
  type UdpRequestLimits,
  type UdpResponse,
  type UdpResponseLimits,
  type UdpScrapeRequest,
  type UdpScrapeResponse,
  type UdpScrapeStats,
} from './udp.js';
export {
  decodeJsonAnnounceResponse,
  decodeJsonScrapeResponse,
  decodeProblem,
  encodeJsonAnnounceRequest,
  encodeJsonAnnounceResponse,
  encodeJsonScrapeRequest,
  encodeJsonScrapeResponse,
  encodeProblem,
  JSON_CONTENT_TYPE,
  JSON_DEFAULTS,
  parseJsonAnnounceRequest,
  parseJsonScrapeRequest,
  PROBLEM_CONTENT_TYPE,
  problemOf,
  type JsonAnnounce,
  type JsonAnnounceBody,
  type JsonAnnounceResponse,
  type TrackerJsonLimits,
  type JsonPeer,
  type JsonScrapeResponse,
  type ProblemDocument,
} from './ttp-json.js';
export * from './server/index.js';
export * from './client/index.js';
