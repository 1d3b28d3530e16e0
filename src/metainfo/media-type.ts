/**
 * What a client negotiating a metainfo needs before it has one: the media type of the JSON form
 * (docs/torrenttp.md) and the size limit of either form. Its own module, a public surface beside
 * `index.ts` (see test/layers.test.ts), so that a client that only names the type in `Accept`
 * (`torrenttp get` before it knows whether a torrent comes back) does not compile the rest of
 * this layer.
 */
export const METAINFO_JSON_MEDIA_TYPE = 'application/vnd.torrenttp.metainfo+json';

/**
 * Largest metainfo read, as a `.torrent` or as its JSON document, from a file or a URL: 64 MiB of
 * bencode or its JSON form (base64 inflates by 4/3). One limit for `info`, `download` and `get`.
 */
export const MAX_METAINFO_BYTES = 96 * 1024 * 1024;

/** A TorrentTTP torrent URL (docs/torrenttp.md §1): no query or fragment, the info-hash its last path segment. */
const TTP_TORRENT_URL = /^https?:\/\/[^?#]*\/torrents\/([0-9a-fA-F]{40})$/;

/**
 * The info-hash a TorrentTTP torrent URL names (lowercased), undefined for any other URL. Such a
 * URL is a peer as well as where the metainfo came from: `download URL` and `get URL` then take
 * pieces from it too.
 */
export function ttpTorrentUrlInfoHash(url: string): string | undefined {
  return TTP_TORRENT_URL.exec(url)?.[1]!.toLowerCase();
}
