/**
 * The tracker layer without its server: the packet codecs and the tracker clients. A public
 * surface beside `index.ts` (which re-exports all of it) for the engine and the transport, so a
 * downloading process (`torrenttp get`, `download`) does not compile the tracker server, its
 * stores and Redis client (~12 ms of a get's start-up, before its first announce). Nor the UDP
 * codecs and client (BEP 15, in `index.ts`): the announcer loads those at a udp:// tracker's first
 * announce (a torrent from `serve` lists its UDP tracker in a tier after the HTTP one).
 */
export { TrackerError, TtpError, type TrackerErrorCode, type TtpErrorCode } from './errors.js';
export { ANNOUNCE_EVENTS, type AnnounceEvent, type AnnounceRequest } from './announce-types.js';
export { bytesEqual, percentDecode, percentEncode } from './bytes.js';
export {
  decodeCompactPeers,
  encodeCompactPeer,
  encodeCompactPeers,
  formatIp,
  ipScope,
  parseIp,
  parseIpNormalized,
  type IpFamily,
  type IpScope,
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
export {
  checkTorrentUrl,
  jsonAnnounceUrlOf,
  MAX_PIECE_COUNT,
  parseTtpTarget,
  torrentUrlAt,
  TTP_PREFIX,
  ttpUrl,
  type TtpRoute,
  type TtpSubresource,
} from './ttp-path.js';
export {
  applyHaveDocument,
  BoundedBody,
  decodeHaveDocument,
  encodeHaveDocument,
  formatHaveQuery,
  HAVE_MEDIA_TYPE,
  HAVE_VERSION,
  haveEtag,
  isCursor,
  MAX_HAVE_BYTES,
  MAX_WAIT_SEC,
  parseHaveQuery,
  type HaveDocument,
  type HaveExpectation,
  type HaveQuery,
} from './ttp-have.js';
export {
  checkPieceResponse,
  classifyStatus,
  DEFAULT_RETRY_AFTER_MS,
  formatContentRange,
  formatRange,
  formatUnsatisfiedRange,
  MAX_REQUEST_BYTES,
  MAX_RETRY_AFTER_MS,
  parseContentRange,
  parsePieceRange,
  retryAfterMs,
  PIECE_CACHE_CONTROL,
  PIECE_MEDIA_TYPE,
  pieceEtag,
  PieceBlocks,
  type ByteSpan,
  type CheckedPieceResponse,
  type PeerStatusClass,
  type PieceRangeDecision,
  type PieceRangeOptions,
  type PieceResponseHead,
} from './ttp-piece.js';
export * from './client/index.js';
