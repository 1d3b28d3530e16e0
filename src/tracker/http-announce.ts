import { quoted } from '../errors/index.js';
import { ANNOUNCE_EVENTS, type AnnounceEvent, type AnnounceRequest } from './announce-types.js';
import { percentEncode } from './bytes.js';
import { TrackerError } from './errors.js';
import { checkPort, parseIp } from './ip.js';
import { asciiOf, MAX_QUERY_BYTES, splitQuery, uintOf, type QueryParam } from './query.js';

/**
 * BEP 3 HTTP announce query: `GET /announce?info_hash=…&peer_id=…&port=…`.
 *
 * The client side (`encodeAnnounceQuery`) percent-encodes `info_hash`, `peer_id` and `trackerid`
 * as raw bytes. The server side (`parseAnnounceQuery`) is strict about the fields it uses and
 * ignores the ones it does not know (clients add `supportcrypto`, `corrupt`, `redundant`, …).
 */
export interface AnnounceQueryLimits {
  /** Default `MAX_QUERY_BYTES` (8 KiB). */
  readonly maxQueryBytes?: number;
  /** Largest `numwant` accepted; above it is an error, not a clamp. Default 1000: libtorrent asks
   *  for 200 and no client in the wild for more than a few hundred. Servers cap replies lower. */
  readonly maxNumwant?: number;
  /** Longest `key`. Default 64: clients send 8 hex digits (libtorrent) or 8 raw bytes (aria2). */
  readonly maxKeyBytes?: number;
  /** Longest `trackerid`. Default 256. */
  readonly maxTrackerIdBytes?: number;
}

export const ANNOUNCE_QUERY_DEFAULTS = {
  maxQueryBytes: MAX_QUERY_BYTES,
  maxNumwant: 1000,
  maxKeyBytes: 64,
  maxTrackerIdBytes: 256,
} as const;

export function encodeAnnounceQuery(r: AnnounceRequest): string {
  const parts = [
    `info_hash=${percentEncode(r.infoHash)}`,
    `peer_id=${percentEncode(r.peerId)}`,
    `port=${r.port}`,
    `uploaded=${r.uploaded}`,
    `downloaded=${r.downloaded}`,
    `left=${r.left}`,
  ];
  if (r.event !== undefined) parts.push(`event=${r.event}`);
  if (r.compact !== undefined) parts.push(`compact=${r.compact ? 1 : 0}`);
  if (r.noPeerId !== undefined) parts.push(`no_peer_id=${r.noPeerId ? 1 : 0}`);
  if (r.numwant !== undefined) parts.push(`numwant=${r.numwant}`);
  if (r.key !== undefined) parts.push(`key=${percentEncode(r.key)}`);
  if (r.trackerId !== undefined) parts.push(`trackerid=${percentEncode(r.trackerId)}`);
  if (r.ip !== undefined) parts.push(`ip=${percentEncode(new TextEncoder().encode(r.ip))}`);
  return parts.join('&');
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function parseAnnounceQuery(query: string, limits: AnnounceQueryLimits = {}): AnnounceRequest {
  const maxNumwant = limits.maxNumwant ?? ANNOUNCE_QUERY_DEFAULTS.maxNumwant;
  const maxKey = limits.maxKeyBytes ?? ANNOUNCE_QUERY_DEFAULTS.maxKeyBytes;
  const maxTrackerId = limits.maxTrackerIdBytes ?? ANNOUNCE_QUERY_DEFAULTS.maxTrackerIdBytes;
  const params = splitQuery(query, limits.maxQueryBytes ?? ANNOUNCE_QUERY_DEFAULTS.maxQueryBytes);
  const seen = new Map<string, QueryParam>();
  for (const p of params) {
    if (!KNOWN.has(p.name)) continue;
    if (seen.has(p.name)) throw new TrackerError('TRACKER_BAD_QUERY', { offset: p.offset, detail: `${p.name} given twice` });
    seen.set(p.name, p);
  }
  const need = (name: string): QueryParam => {
    const p = seen.get(name);
    if (p === undefined) throw new TrackerError('TRACKER_MISSING_PARAM', { detail: name });
    return p;
  };
  const infoHash = need('info_hash');
  if (infoHash.value.length !== 20) {
    throw new TrackerError('TRACKER_BAD_INFO_HASH', { offset: infoHash.offset, detail: `info_hash is ${infoHash.value.length} bytes, not 20` });
  }
  const peerId = need('peer_id');
  if (peerId.value.length !== 20) {
    throw new TrackerError('TRACKER_BAD_PEER_ID', { offset: peerId.offset, detail: `${peerId.value.length} bytes` });
  }
  const out: Mutable<AnnounceRequest> = {
    infoHash: infoHash.value,
    peerId: peerId.value,
    port: 0,
    uploaded: uintOf(need('uploaded')),
    downloaded: uintOf(need('downloaded')),
    left: uintOf(need('left')),
  };
  const event = seen.get('event');
  if (event !== undefined && event.value.length > 0) {
    const e = asciiOf(event);
    if (!(ANNOUNCE_EVENTS as readonly string[]).includes(e)) {
      throw new TrackerError('TRACKER_BAD_EVENT', { offset: event.offset, detail: quoted(e, 16) });
    }
    out.event = e as AnnounceEvent;
  }
  const port = need('port');
  const portNumber = uintOf(port, 65535);
  // A stopping client may send port 0 (it no longer listens); anywhere else 0 is unusable.
  out.port = portNumber === 0 && out.event === 'stopped' ? 0 : checkPort(portNumber, port.offset);
  const compact = seen.get('compact');
  if (compact !== undefined) out.compact = flagOf(compact);
  const noPeerId = seen.get('no_peer_id');
  if (noPeerId !== undefined) out.noPeerId = flagOf(noPeerId);
  const numwant = seen.get('numwant');
  // `-1` means "the tracker's default", as in BEP 15; some HTTP clients mirror it.
  if (numwant !== undefined && asciiOf(numwant) !== '-1') out.numwant = uintOf(numwant, maxNumwant);
  const key = seen.get('key');
  if (key !== undefined) {
    if (key.value.length > maxKey) throw new TrackerError('TRACKER_BAD_QUERY', { offset: key.offset, detail: `key longer than ${maxKey} bytes` });
    out.key = key.value;
  }
  const trackerId = seen.get('trackerid');
  if (trackerId !== undefined) {
    if (trackerId.value.length > maxTrackerId) {
      throw new TrackerError('TRACKER_BAD_QUERY', { offset: trackerId.offset, detail: `trackerid longer than ${maxTrackerId} bytes` });
    }
    out.trackerId = trackerId.value;
  }
  const ip = seen.get('ip');
  if (ip !== undefined) {
    const text = asciiOf(ip);
    // BEP 3 also allows a DNS name here; a tracker cannot vouch for one, so only literals pass.
    if (parseIp(text) === undefined) throw new TrackerError('TRACKER_BAD_IP', { offset: ip.offset, detail: quoted(text, 64) });
    out.ip = text;
  }
  return out;
}

const KNOWN = new Set([
  'info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'compact', 'no_peer_id', 'numwant', 'key',
  'trackerid', 'ip',
]);

function flagOf(p: QueryParam): boolean {
  const s = asciiOf(p);
  if (s === '1') return true;
  if (s === '0') return false;
  throw new TrackerError('TRACKER_BAD_QUERY', { offset: p.offset, detail: `${p.name} must be 0 or 1` });
}
