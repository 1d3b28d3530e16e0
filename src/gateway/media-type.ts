/** The BitTorrent metainfo media type (what `Accept` asks for and a `.torrent` is served as). */
export const BITTORRENT_MEDIA_TYPE = 'application/x-bittorrent';
/**
 * Response header of `serve`'s torrent and metainfo answers naming its own seed of that torrent,
 * as BEP 9's `x.pe`: `host:port` or `[v6]:port`, at the address the client reached the server on.
 * `torrenttp get` dials it at once, before any tracker answers (docs/serve.md).
 */
export const SEED_HEADER = 'torrenttp-seed';
/**
 * Request header of a client fetching a file's bytes as its swarm's web seed (BEP 19): the
 * info-hash (hex) it verifies them against. A lone `torrenttp get` sends it on its one-GET stream
 * (lone-stream.ts); `serve` counts a range that names the file's current torrent as sent in the
 * swarm (status `webSeedBytes`), not as plain HTTP. It changes nothing in the answer.
 */
export const WEB_SEED_HEADER = 'torrenttp-web-seed';
