/** Gateway layer: the Transparent BitTorrent web server (`torrenttp serve`). */
export { parseAccept, preferredOffer, qualityOf } from './accept.js';
export { evaluateConditionals, ifRangeHolds, type ConditionalHeaders, type Validators } from './conditional.js';
export { GatewayError, type GatewayErrorCode } from './errors.js';
export { BITTORRENT_MEDIA_TYPE, DEFAULT_GATEWAY_PORT, Gateway, type GatewayOptions } from './gateway.js';
export { silentGatewayLogger, type GatewayLogger } from './logger.js';
export { decideRange, type RangeDecision } from './range.js';
export { encodePath, MAX_TARGET_CHARS, parseRequestPath, type RequestPath } from './request-path.js';
export { DEFAULT_MIN_SIZE_BYTES, eligibility, type Eligibility, type EligibilityOptions } from './rules.js';
export type { FileIdentity, ReadyTorrent, TorrentState } from './swarm-files.js';
export { getUrl, nameFromUrl, type GetEvent, type GetMode, type GetOutput, type GetResult, type GetSources, type GetUrlOptions } from './get-url.js';
export { describedBy, GET_ACCEPT, negotiate, seedPeers, type NegotiateOptions, type Offer, type OpenResponse, type ResponseHead } from './negotiate-client.js';
export { SEED_HEADER, ttpTorrentUrlInfoHash } from './media-type.js';
export { CALLER_DEFAULTS, type CallerOptions } from './ttp-callers.js';
export { CORS_HEADERS, DEFAULT_MAX_LONG_POLLS, TtpRoutes, type TtpRoutesOptions, type TtpTorrentSource } from './ttp-routes.js';
export { TTP_SERVER_DEFAULTS, TtpServer, ttpServer, type TtpServerOptions } from './ttp-server.js';
export { DEFAULT_PROXY_CACHE_BYTES, DEFAULT_PROXY_FRESH_MS, DEFAULT_PROXY_PORT, DEFAULT_PROXY_STALL_MS, Proxy, type ProxyOptions, type ServedBy } from './proxy.js';
