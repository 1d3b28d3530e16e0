/** The BitTorrent metainfo media type (what `Accept` asks for and a `.torrent` is served as). */
export const BITTORRENT_MEDIA_TYPE = 'application/x-bittorrent';
/**
 * Response header of `serve`'s torrent and metainfo answers naming its own seed of that torrent,
 * as BEP 9's `x.pe`: `host:port` or `[v6]:port`, at the address the client reached the server on.
 * `torrenttp get` dials it at once, before any tracker answers (docs/serve.md).
 */
export const SEED_HEADER = 'torrenttp-seed';
/**
 * Request header of a client about to join the torrent's swarm (`torrenttp get`'s negotiating
 * GET), value `1`: `serve` answers the torrent with `SWARM_PEERS_HEADER`, and counts the client
 * as a peer for a moment when it was alone.
 */
export const JOIN_HEADER = 'torrenttp-join';
/**
 * Response header beside `SEED_HEADER`, to a request with `JOIN_HEADER`: how many peers besides
 * that seed the server's tracker knows for the torrent, counting a joining client it answered `0`
 * a moment ago (gateway.ts `LONE_RESERVE_MS`) as one. `0`: alone, and a lone get streams the file
 * at once instead of waiting for its first tracker answer (lone-stream.ts). Absent, or anything
 * but `0`: it waits for that answer, as before.
 */
export const SWARM_PEERS_HEADER = 'torrenttp-swarm-peers';
/**
 * Response headers of `serve`'s torrent and metainfo answers for a file: what the plain `200` of
 * the same file at that moment carries as its `Content-Type`, `ETag` and `Last-Modified`, byte for
 * byte. A proxy that takes the torrent sends its program's head (those three and the torrent's
 * length) at once, without first asking the origin for the bytes' own head (proxy-offer.ts).
 */
export const FILE_TYPE_HEADER = 'torrenttp-file-type';
export const FILE_ETAG_HEADER = 'torrenttp-file-etag';
export const FILE_LAST_MODIFIED_HEADER = 'torrenttp-file-last-modified';
/**
 * Request header of a client fetching a file's bytes as its swarm's web seed (BEP 19): the
 * info-hash (hex) it verifies them against. A lone `torrenttp get` sends it on its one-GET stream
 * (lone-stream.ts); `serve` counts a range that names the file's current torrent as sent in the
 * swarm (status `webSeedBytes`), not as plain HTTP. It changes nothing in the answer.
 */
export const WEB_SEED_HEADER = 'torrenttp-web-seed';

export { ttpTorrentUrlInfoHash } from '../metainfo/media-type.js';
