import { clip, quoted } from '../errors/index.js';
import { TrackerError, TtpError } from './errors.js';

/**
 * TorrentTTP v1 resource paths and URLs (docs/torrenttp.md §3), pure. Both sides use it: a
 * server routes a request target with `parseTtpTarget`, a client builds sub-resource URLs from a
 * peer's torrent URL with `ttpUrl`.
 *
 * Rules:
 * - Every resource has exactly one path, so an HTTP cache keys one piece once: the info-hash is
 *   40 *lowercase* hex, a piece index is decimal without leading zeros, nothing is
 *   percent-encoded, and there is no trailing slash.
 * - A target outside the prefix is not ours (`undefined`): `serve` then treats it as a file.
 *   Inside the prefix, anything unknown is `TTP_NOT_FOUND`.
 * - The query string is handed back raw; only `have` reads one (ttp-have.ts). Unknown query
 *   parameters are ignored everywhere (extension rule, §12).
 */

export const TTP_PREFIX = '/ttp/v1';

/** Largest piece count v1 serves a have-set for: 2^22 pieces, a 512 KiB bitfield (§11). */
export const MAX_PIECE_COUNT = 1 << 22;

export type TtpRoute =
  | { readonly resource: 'announce' }
  | { readonly resource: 'scrape' }
  /** The torrent URL itself: metainfo, JSON or `.torrent` by `Accept`. */
  | { readonly resource: 'torrent'; readonly infoHash: string }
  | { readonly resource: 'metainfo.json'; readonly infoHash: string }
  | { readonly resource: 'metainfo.torrent'; readonly infoHash: string }
  | { readonly resource: 'have'; readonly infoHash: string; readonly query: string | undefined }
  | { readonly resource: 'piece'; readonly infoHash: string; readonly index: number };

const HEX40_LOWER = /^[0-9a-f]{40}$/;
const INDEX = /^(?:0|[1-9][0-9]{0,15})$/;

/** Routes an origin-form request target; `undefined` when it is not under `prefix`. */
export function parseTtpTarget(target: string, prefix: string = TTP_PREFIX): TtpRoute | undefined {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : target.slice(q + 1);
  if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined;
  const rest = path.slice(prefix.length + 1).split('/');
  const notFound = (): never => {
    throw new TtpError('TTP_NOT_FOUND', { detail: quoted(path, 120) });
  };
  if (rest.length === 1 && rest[0] === 'announce') return { resource: 'announce' };
  if (rest.length === 1 && rest[0] === 'scrape') return { resource: 'scrape' };
  if (rest[0] !== 'torrents' || rest.length < 2 || rest.length > 4) return notFound();
  const infoHash = rest[1]!;
  if (!HEX40_LOWER.test(infoHash)) {
    throw new TrackerError('TRACKER_BAD_INFO_HASH', { detail: 'the path needs the info-hash as 40 lowercase hex digits' });
  }
  if (rest.length === 2) return { resource: 'torrent', infoHash };
  const sub = rest[2]!;
  if (rest.length === 3) {
    if (sub === 'metainfo.json' || sub === 'metainfo.torrent') return { resource: sub, infoHash };
    if (sub === 'have') return { resource: 'have', infoHash, query };
    return notFound();
  }
  if (sub !== 'pieces' || !INDEX.test(rest[3]!)) return notFound();
  const index = Number(rest[3]);
  if (index >= MAX_PIECE_COUNT) throw new TtpError('TTP_NO_SUCH_PIECE', { detail: `${clip(rest[3]!, 20)} ≥ ${MAX_PIECE_COUNT}` });
  return { resource: 'piece', infoHash, index };
}

/**
 * Checks a peer's torrent URL (from an announce `url`, `--peer`, or typed by a user): absolute
 * http(s), no credentials, query or fragment, and no trailing slash, since sub-resources are made
 * by appending `/have`, `/pieces/N`. Returns it unchanged.
 */
export function checkTorrentUrl(url: string, maxLength = 2048): string {
  let ok = url.length <= maxLength && !url.endsWith('/');
  if (ok) {
    try {
      const u = new URL(url);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.search === '' && u.hash === '' && !url.includes('?') && !url.includes('#');
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new TtpError('TTP_BAD_URL', { detail: quoted(url, 64) });
  return url;
}

export type TtpSubresource =
  | { readonly resource: 'metainfo.json' | 'metainfo.torrent' }
  | { readonly resource: 'have'; readonly query?: string }
  | { readonly resource: 'piece'; readonly index: number };

/** The URL of a sub-resource of the torrent at `torrentUrl` (checked with `checkTorrentUrl`). */
export function ttpUrl(torrentUrl: string, r: TtpSubresource): string {
  switch (r.resource) {
    case 'piece':
      if (!Number.isSafeInteger(r.index) || r.index < 0 || r.index >= MAX_PIECE_COUNT) throw new TtpError('TTP_NO_SUCH_PIECE', { detail: String(r.index) });
      return `${torrentUrl}/pieces/${r.index}`;
    case 'have':
      return r.query === undefined || r.query === '' ? `${torrentUrl}/have` : `${torrentUrl}/have?${r.query}`;
    default:
      return `${torrentUrl}/${r.resource}`;
  }
}

/** The torrent URL at an origin (`https://host:port`), for the default mount. */
export function torrentUrlAt(origin: string, infoHash: string, prefix: string = TTP_PREFIX): string {
  if (!HEX40_LOWER.test(infoHash)) throw new TrackerError('TRACKER_BAD_INFO_HASH', { detail: 'info-hash must be 40 lowercase hex digits' });
  return `${origin.replace(/\/+$/, '')}${prefix}/torrents/${infoHash}`;
}

/**
 * The JSON announce URL of an http(s) tracker URL, by the BEP 48 scrape convention: a last path
 * segment exactly `announce` becomes `ttp/v1/announce`, the query kept. `undefined` when the URL
 * does not follow the convention (then the tracker has no known JSON side).
 */
export function jsonAnnounceUrlOf(trackerUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(trackerUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const slash = u.pathname.lastIndexOf('/');
  if (u.pathname.slice(slash + 1) !== 'announce') return undefined;
  u.pathname = `${u.pathname.slice(0, slash + 1)}ttp/v1/announce`;
  return u.toString();
}
