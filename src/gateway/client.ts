/**
 * The client half of the gateway layer (`torrenttp get`, the proxy): negotiation and `getUrl`,
 * without the web server, its tracker, hasher and seed. A second public surface beside
 * `index.ts` only so that a client process does not compile the server: `index.ts` re-exports
 * all of this. The engine is loaded only when a download goes to the swarm (`get-url.ts`).
 */
export { getUrl, nameFromUrl, type GetEvent, type GetMode, type GetOutput, type GetResult, type GetSources, type GetUrlOptions } from './get-url.js';
export { describedBy, GET_ACCEPT, negotiate, seedPeers, type NegotiateOptions, type Offer, type OpenResponse, type ResponseHead } from './negotiate-client.js';
export { BITTORRENT_MEDIA_TYPE, SEED_HEADER, ttpTorrentUrlInfoHash } from './media-type.js';
export { setClientTls, TLS_HANDSHAKE_FAILED, type ClientTls } from '../transport/http-fetch.js';
export { causeCodes, getFailureOf, GetFailure, TLS_FAILURE, type GetFailureCode } from './get-io.js';
