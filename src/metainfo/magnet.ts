import { MetainfoError } from './errors.js';
import { infoHashFromBytes, infoHashFromHex, type InfoHash } from './info-hash.js';
import type { Metainfo } from './torrent.js';

/**
 * Magnet URIs for BitTorrent (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=…&tr=…&ws=…&xl=…`.
 * The info-hash is 40 hex digits or 32 base32 characters (RFC 4648, either case). Parameters
 * may carry a numeric suffix (`tr.1`, `xt.2`), as some generators write; unknown ones are ignored.
 */
export interface Magnet {
  readonly infoHash: InfoHash;
  /** `dn`: display name. */
  readonly name?: string;
  /** `tr`: tracker URLs, in order. */
  readonly trackers: readonly string[];
  /** `ws`: web seed URLs (BEP 19). */
  readonly webSeeds: readonly string[];
  /** `xl`: exact length in bytes. */
  readonly length?: number;
  /** `x.pe`: peer addresses `host:port` (BEP 9). */
  readonly peers: readonly string[];
}

/** Longest magnet URI we read: far beyond any real one, and a bound on hostile input. */
export const MAX_MAGNET_CHARS = 64 * 1024;

export function parseMagnet(uri: string): Magnet {
  if (uri.length > MAX_MAGNET_CHARS) throw new MetainfoError('MAGNET_BAD_URI', { detail: `longer than ${MAX_MAGNET_CHARS} characters` });
  if (!/^magnet:\?/i.test(uri)) throw new MetainfoError('MAGNET_BAD_URI', { detail: 'must start with magnet:?' });
  let infoHash: InfoHash | undefined;
  let name: string | undefined;
  let length: number | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  const peers: string[] = [];
  for (const part of uri.slice(8).split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).toLowerCase().replace(/\.\d+$/, '');
    const raw = part.slice(eq + 1);
    const value = percentDecode(key === 'dn' ? raw.replace(/\+/g, ' ') : raw, key);
    switch (key) {
      case 'xt': {
        const m = /^urn:btih:(.*)$/i.exec(value);
        if (m !== null && infoHash === undefined) infoHash = parseBtih(m[1]!);
        break;
      }
      case 'dn':
        name ??= value;
        break;
      case 'tr':
        if (!trackers.includes(value)) trackers.push(value);
        break;
      case 'ws':
        if (!webSeeds.includes(value)) webSeeds.push(value);
        break;
      case 'xl':
        if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
          throw new MetainfoError('MAGNET_BAD_URI', { detail: `xl=${JSON.stringify(value)} is not a length` });
        }
        length = Number(value);
        break;
      case 'x.pe':
        peers.push(value);
        break;
      default:
        break;
    }
  }
  if (infoHash === undefined) throw new MetainfoError('MAGNET_NO_INFO_HASH');
  const out: { -readonly [K in keyof Magnet]: Magnet[K] } = { infoHash, trackers, webSeeds, peers };
  if (name !== undefined) out.name = name;
  if (length !== undefined) out.length = length;
  return out;
}

export interface MagnetFields {
  readonly infoHash: InfoHash;
  readonly name?: string;
  readonly trackers?: readonly string[];
  readonly webSeeds?: readonly string[];
  readonly length?: number;
  readonly peers?: readonly string[];
}

export function encodeMagnet(m: MagnetFields): string {
  let s = `magnet:?xt=urn:btih:${m.infoHash}`;
  if (m.name !== undefined) s += `&dn=${encodeURIComponent(m.name)}`;
  if (m.length !== undefined) s += `&xl=${m.length}`;
  for (const t of m.trackers ?? []) s += `&tr=${encodeURIComponent(t)}`;
  for (const w of m.webSeeds ?? []) s += `&ws=${encodeURIComponent(w)}`;
  for (const p of m.peers ?? []) s += `&x.pe=${encodeURIComponent(p)}`;
  return s;
}

export function magnetOf(m: Metainfo): string {
  return encodeMagnet({
    infoHash: m.infoHash,
    name: m.name,
    length: m.length,
    trackers: [...new Set(m.announceList.flat())],
    webSeeds: m.urlList,
  });
}

function percentDecode(s: string, key: string): string {
  try {
    return decodeURIComponent(s);
  } catch (cause) {
    throw new MetainfoError('MAGNET_BAD_URI', { detail: `bad percent-encoding in ${key}`, cause });
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function parseBtih(s: string): InfoHash {
  if (/^[0-9a-f]{40}$/i.test(s)) return infoHashFromHex(s);
  if (/^[a-z2-7]{32}$/i.test(s)) {
    // 32 characters × 5 bits = 160 bits = 20 bytes exactly.
    const out = new Uint8Array(20);
    let bits = 0;
    let acc = 0;
    let o = 0;
    for (const ch of s.toUpperCase()) {
      acc = (acc << 5) | BASE32.indexOf(ch);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >> bits) & 0xff;
      }
    }
    return infoHashFromBytes(out);
  }
  throw new MetainfoError('MAGNET_BAD_INFO_HASH', { detail: JSON.stringify(s) });
}
