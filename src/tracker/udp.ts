import type { AnnounceEvent, AnnounceRequest } from './announce-types.js';
import { utf8 } from './bytes.js';
import { TorrenttpError } from '../errors/index.js';
import { TrackerError } from './errors.js';
import { checkPort, decodeCompactPeers, formatIPv4, parseIPv4, type IpFamily, type PeerAddress } from './ip.js';

/**
 * BEP 15 UDP tracker packets, both directions. All integers are big-endian.
 *
 *   connect  req: i64 protocol_id=0x41727101980, i32 action=0, i32 transaction_id       (16)
 *            res: i32 action=0, i32 transaction_id, i64 connection_id                   (16)
 *   announce req: i64 connection_id, i32 action=1, i32 transaction_id, 20 info_hash,
 *                 20 peer_id, i64 downloaded, i64 left, i64 uploaded, i32 event,
 *                 u32 ip, u32 key, i32 num_want, u16 port                               (98 + BEP 41 options)
 *            res: i32 action=1, i32 transaction_id, i32 interval, i32 leechers,
 *                 i32 seeders, then 6-byte (IPv4) or 18-byte (IPv6) peers            (20 + 6n | 18n)
 *   scrape   req: i64 connection_id, i32 action=2, i32 transaction_id, 20 × n info_hash (16 + 20n)
 *            res: i32 action=2, i32 transaction_id, (i32 seeders, completed, leechers) × n
 *   error    res: i32 action=3, i32 transaction_id, message
 *
 * The IPv6 variant (BEP 15, "IPv6") is the same 98-byte request sent over IPv6; only the reply's
 * peer size changes, so the response decoder takes the address family the request went over.
 */

export const UDP_PROTOCOL_ID = 0x41727101980n;

/** Largest request accepted. 1500 bytes: an Ethernet MTU, the bound behind BEP 15's 74-hash scrape
 *  (16 + 74 × 20 = 1496) and room for 98 bytes of announce plus BEP 41 options. */
export const MAX_UDP_REQUEST_BYTES = 1500;
/** Most hashes in one UDP scrape (BEP 15). */
export const MAX_UDP_SCRAPE_HASHES = 74;
/** Largest reply read: the largest UDP payload (65,535 − 8 UDP − 20 IPv4 header bytes). */
export const MAX_UDP_RESPONSE_BYTES = 65507;

const EVENT_CODES: readonly (AnnounceEvent | undefined)[] = [undefined, 'completed', 'started', 'stopped'];

export type UdpEvent = Exclude<AnnounceEvent, 'paused'>;

export interface UdpConnectRequest {
  readonly type: 'connect';
  readonly transactionId: number;
}

export interface UdpAnnounceRequest {
  readonly type: 'announce';
  readonly connectionId: bigint;
  readonly transactionId: number;
  /** The u32 `key`. */
  readonly key: number;
  /** `ip` is set only for a non-zero IP field; `numwant` only when not -1. BEP 15 has no
   *  `paused` event: it is sent as 0 (none). `compact`, `noPeerId`, `key`, `trackerId` are unused. */
  readonly announce: AnnounceRequest;
}

export interface UdpScrapeRequest {
  readonly type: 'scrape';
  readonly connectionId: bigint;
  readonly transactionId: number;
  readonly infoHashes: readonly Uint8Array[];
}

export type UdpRequest = UdpConnectRequest | UdpAnnounceRequest | UdpScrapeRequest;

export interface UdpConnectResponse {
  readonly type: 'connect';
  readonly transactionId: number;
  readonly connectionId: bigint;
}

export interface UdpAnnounceResponse {
  readonly type: 'announce';
  readonly transactionId: number;
  readonly intervalSec: number;
  readonly leechers: number;
  readonly seeders: number;
  readonly peers: PeerAddress[];
}

export interface UdpScrapeStats {
  readonly seeders: number;
  readonly completed: number;
  readonly leechers: number;
}

export interface UdpScrapeResponse {
  readonly type: 'scrape';
  readonly transactionId: number;
  /** In request order. */
  readonly entries: UdpScrapeStats[];
}

export interface UdpErrorResponse {
  readonly type: 'error';
  readonly transactionId: number;
  readonly message: string;
  /** An 8-byte announce reply (action 1, no body): opentracker's way to refuse a torrent not on
   *  its list. Decoded as an error with an empty message rather than thrown. */
  readonly refusedAnnounce?: boolean;
}

export type UdpResponse = UdpConnectResponse | UdpAnnounceResponse | UdpScrapeResponse | UdpErrorResponse;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u32(n: number): number {
  return n >>> 0;
}

// ── client → server ─────────────────────────────────────────────────────────────────────

export function encodeUdpConnectRequest(transactionId: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = view(out);
  v.setBigUint64(0, UDP_PROTOCOL_ID);
  v.setUint32(8, 0);
  v.setUint32(12, u32(transactionId));
  return out;
}

export function encodeUdpAnnounceRequest(r: Omit<UdpAnnounceRequest, 'type'>): Uint8Array {
  const a = r.announce;
  const out = new Uint8Array(98);
  const v = view(out);
  v.setBigUint64(0, r.connectionId);
  v.setUint32(8, 1);
  v.setUint32(12, u32(r.transactionId));
  out.set(a.infoHash.subarray(0, 20), 16);
  out.set(a.peerId.subarray(0, 20), 36);
  v.setBigUint64(56, BigInt(a.downloaded));
  v.setBigUint64(64, BigInt(a.left));
  v.setBigUint64(72, BigInt(a.uploaded));
  const ev = a.event === undefined || a.event === 'paused' ? 0 : EVENT_CODES.indexOf(a.event);
  v.setUint32(80, ev);
  if (a.ip !== undefined) {
    const ip = parseIPv4(a.ip);
    if (ip === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: 'the UDP IP field holds IPv4 only' });
    out.set(ip, 84);
  }
  v.setUint32(88, u32(r.key));
  v.setInt32(92, a.numwant ?? -1);
  v.setUint16(96, a.port);
  return out;
}

export function encodeUdpScrapeRequest(r: Omit<UdpScrapeRequest, 'type'>): Uint8Array {
  if (r.infoHashes.length > MAX_UDP_SCRAPE_HASHES) {
    throw new TrackerError('TRACKER_TOO_MANY_HASHES', { detail: `limit ${MAX_UDP_SCRAPE_HASHES}` });
  }
  const out = new Uint8Array(16 + 20 * r.infoHashes.length);
  const v = view(out);
  v.setBigUint64(0, r.connectionId);
  v.setUint32(8, 2);
  v.setUint32(12, u32(r.transactionId));
  r.infoHashes.forEach((h, i) => out.set(h.subarray(0, 20), 16 + 20 * i));
  return out;
}

export interface UdpRequestLimits {
  /** Default `MAX_UDP_REQUEST_BYTES` (1500). */
  readonly maxPacketBytes?: number;
  /** Default `MAX_UDP_SCRAPE_HASHES` (74). */
  readonly maxScrapeHashes?: number;
  /** Default 1000, as for HTTP. */
  readonly maxNumwant?: number;
}

function truncated(action: string, need: number, got: number): never {
  throw new TrackerError('TRACKER_UDP_TRUNCATED', { detail: `${action} needs ${need} bytes, got ${got}`, offset: got });
}

/** An i64 counter as a number; no BigInt on the way (one per counter per packet was measurable). */
function counter(v: DataView, at: number, name: string): number {
  const hi = v.getInt32(at);
  // 0 ≤ n ≤ 2^53 − 1 exactly when the high word is in [0, 2^21).
  if (hi < 0 || hi > 0x1fffff) throw new TrackerError('TRACKER_BAD_NUMBER', { offset: at, detail: `${name}=${v.getBigInt64(at)}` });
  return hi * 0x1_0000_0000 + v.getUint32(at + 4);
}

/** A copy of 20 bytes as a plain `Uint8Array` (small enough to live on V8's heap: cheap to make). */
function copy20(bytes: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(20);
  for (let i = 0; i < 20; i++) out[i] = bytes[at + i]!;
  return out;
}

/** Server side: one datagram to a request. Throws `TrackerError` for anything malformed. */
export function decodeUdpRequest(bytes: Uint8Array, limits: UdpRequestLimits = {}): UdpRequest {
  const maxBytes = limits.maxPacketBytes ?? MAX_UDP_REQUEST_BYTES;
  if (bytes.length > maxBytes) throw new TrackerError('TRACKER_UDP_TOO_LARGE', { detail: `${bytes.length} > ${maxBytes} bytes`, offset: maxBytes });
  if (bytes.length < 16) truncated('a request', 16, bytes.length);
  const v = view(bytes);
  const action = v.getUint32(8);
  const transactionId = v.getUint32(12);
  switch (action) {
    case 0:
      if (v.getBigUint64(0) !== UDP_PROTOCOL_ID) throw new TrackerError('TRACKER_UDP_BAD_PROTOCOL_ID', { offset: 0 });
      return { type: 'connect', transactionId };
    case 1: {
      if (bytes.length < 98) truncated('announce', 98, bytes.length);
      const evCode = v.getUint32(80);
      if (evCode > 3) throw new TrackerError('TRACKER_BAD_EVENT', { offset: 80, detail: String(evCode) });
      const event = EVENT_CODES[evCode];
      const numwant = v.getInt32(92);
      const maxNumwant = limits.maxNumwant ?? 1000;
      if (numwant < -1 || numwant > maxNumwant) throw new TrackerError('TRACKER_BAD_NUMBER', { offset: 92, detail: `num_want=${numwant}` });
      const port = v.getUint16(96);
      const announce: { -readonly [K in keyof AnnounceRequest]: AnnounceRequest[K] } = {
        infoHash: copy20(bytes, 16),
        peerId: copy20(bytes, 36),
        port: port === 0 && event === 'stopped' ? 0 : checkPort(port, 96),
        downloaded: counter(v, 56, 'downloaded'),
        left: counter(v, 64, 'left'),
        uploaded: counter(v, 72, 'uploaded'),
      };
      if (event !== undefined) announce.event = event;
      if (v.getUint32(84) !== 0) announce.ip = formatIPv4(bytes, 84);
      if (numwant !== -1) announce.numwant = numwant;
      return { type: 'announce', connectionId: v.getBigUint64(0), transactionId, key: v.getUint32(88), announce };
    }
    case 2: {
      const n = (bytes.length - 16) / 20;
      if (!Number.isInteger(n)) truncated('scrape', 16 + 20 * Math.ceil(n), bytes.length);
      if (n === 0) throw new TrackerError('TRACKER_MISSING_PARAM', { detail: 'scrape without info_hash', offset: 16 });
      const maxHashes = limits.maxScrapeHashes ?? MAX_UDP_SCRAPE_HASHES;
      if (n > maxHashes) throw new TrackerError('TRACKER_TOO_MANY_HASHES', { detail: `${n} > ${maxHashes}`, offset: 16 + 20 * maxHashes });
      const infoHashes: Uint8Array[] = [];
      for (let i = 0; i < n; i++) infoHashes.push(bytes.slice(16 + 20 * i, 36 + 20 * i));
      return { type: 'scrape', connectionId: v.getBigUint64(0), transactionId, infoHashes };
    }
    default:
      throw new TrackerError('TRACKER_UDP_BAD_ACTION', { offset: 8, detail: String(action) });
  }
}

/** A big-endian u32 straight from the bytes: no DataView per packet. */
export function readU32BE(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * The server's fast path, for the announce nearly every packet is: true exactly when
 * `decodeUdpRequest` returns an announce for these bytes and the announce has no `ip` field and a
 * non-zero port. Then `readPlainUdpAnnounce` gives the same request; anything else, errors
 * included, is left to `decodeUdpRequest`. Byte tests only: no DataView, BigInt or object.
 */
export function isPlainUdpAnnounce(b: Uint8Array, limits: UdpRequestLimits = {}): boolean {
  const n = b.length;
  if (n < 98 || n > (limits.maxPacketBytes ?? MAX_UDP_REQUEST_BYTES)) return false;
  // action 1; event 0–3; ip 0; the three i64 counters in [0, 2^53) (high word < 2^21)
  if ((b[8]! | b[9]! | b[10]!) !== 0 || b[11] !== 1) return false;
  if ((b[80]! | b[81]! | b[82]!) !== 0 || b[83]! > 3) return false;
  if ((b[84]! | b[85]! | b[86]! | b[87]!) !== 0) return false;
  if (b[56] !== 0 || b[57]! > 0x1f || b[64] !== 0 || b[65]! > 0x1f || b[72] !== 0 || b[73]! > 0x1f) return false;
  const numwant = (b[92]! << 24) | (b[93]! << 16) | (b[94]! << 8) | b[95]!;
  if (numwant < -1 || numwant > (limits.maxNumwant ?? 1000)) return false;
  return (b[96]! | b[97]!) !== 0;
}

/** A counter `isPlainUdpAnnounce` has bounded: high word × 2^32 + low word. */
function plainCounter(b: Uint8Array, at: number): number {
  return readU32BE(b, at) * 0x1_0000_0000 + readU32BE(b, at + 4);
}

/**
 * The announce of bytes `isPlainUdpAnnounce` accepted, the info-hash and peer id copied into the
 * caller's 20-byte arrays (a server lends them to a store for one synchronous call, so no
 * allocation). Every key is always present, `undefined` where `decodeUdpRequest` leaves it out:
 * one object shape for the code after it. The connection and transaction ids are `readU32BE` at
 * 0, 4 and 12.
 */
export function readPlainUdpAnnounce(b: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): AnnounceRequest {
  for (let i = 0; i < 20; i++) {
    infoHash[i] = b[16 + i]!;
    peerId[i] = b[36 + i]!;
  }
  const numwant = (b[92]! << 24) | (b[93]! << 16) | (b[94]! << 8) | b[95]!;
  return {
    infoHash,
    peerId,
    port: (b[96]! << 8) | b[97]!,
    downloaded: plainCounter(b, 56),
    left: plainCounter(b, 64),
    uploaded: plainCounter(b, 72),
    event: EVENT_CODES[b[83]!],
    numwant: numwant === -1 ? undefined : numwant,
  };
}

// ── server → client ─────────────────────────────────────────────────────────────────────

export function encodeUdpConnectResponse(transactionId: number, connectionId: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const v = view(out);
  v.setUint32(0, 0);
  v.setUint32(4, u32(transactionId));
  v.setBigUint64(8, connectionId);
  return out;
}

/** The fixed part of an announce reply; compact peers follow it. */
export const UDP_ANNOUNCE_HEADER_BYTES = 20;

export interface UdpAnnounceHeader {
  readonly transactionId: number;
  readonly intervalSec: number;
  readonly leechers: number;
  readonly seeders: number;
}

/** `peers` is already compact: 6-byte entries for an IPv4 request, 18-byte for IPv6. */
export function encodeUdpAnnounceResponse(r: UdpAnnounceHeader & { readonly peers: Uint8Array }): Uint8Array {
  const out = new Uint8Array(UDP_ANNOUNCE_HEADER_BYTES + r.peers.length);
  writeUdpAnnounceHeader(out, r);
  out.set(r.peers, UDP_ANNOUNCE_HEADER_BYTES);
  return out;
}

/**
 * The first 20 bytes of an announce reply, written into the caller's buffer (at least that long):
 * for a server that takes reply buffers from a pool and has its swarm store write the compact
 * peers right after, instead of an allocation and a copy per packet.
 */
export function writeUdpAnnounceHeader(out: Uint8Array, r: UdpAnnounceHeader): void {
  if (out.length < UDP_ANNOUNCE_HEADER_BYTES) throw new TorrenttpError('INVALID_ARGUMENT', { detail: `an announce reply header needs 20 bytes, the buffer holds ${out.length}` });
  putU32(out, 0, 1);
  putU32(out, 4, r.transactionId);
  putU32(out, 8, clampI32(r.intervalSec));
  putU32(out, 12, clampI32(r.leechers));
  putU32(out, 16, clampI32(r.seeders));
}

/** Big-endian, without a DataView per packet. */
function putU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

export function encodeUdpScrapeResponse(transactionId: number, entries: readonly UdpScrapeStats[]): Uint8Array {
  const out = new Uint8Array(8 + 12 * entries.length);
  const v = view(out);
  v.setUint32(0, 2);
  v.setUint32(4, u32(transactionId));
  entries.forEach((e, i) => {
    v.setUint32(8 + 12 * i, clampI32(e.seeders));
    v.setUint32(12 + 12 * i, clampI32(e.completed));
    v.setUint32(16 + 12 * i, clampI32(e.leechers));
  });
  return out;
}

export function encodeUdpErrorResponse(transactionId: number, message: string): Uint8Array {
  const text = new TextEncoder().encode(message);
  const out = new Uint8Array(8 + text.length);
  const v = view(out);
  v.setUint32(0, 3);
  v.setUint32(4, u32(transactionId));
  out.set(text, 8);
  return out;
}

function clampI32(n: number): number {
  return Math.max(0, Math.min(0x7fffffff, Math.floor(n)));
}

export interface UdpResponseLimits {
  /** Default `MAX_UDP_RESPONSE_BYTES`. */
  readonly maxPacketBytes?: number;
}

/**
 * Client side: one datagram from the tracker. `family` is the family the request went over and
 * sets the announce peer size (BEP 15: 18-byte peers when the request came over IPv6).
 */
export function decodeUdpResponse(bytes: Uint8Array, family: IpFamily, limits: UdpResponseLimits = {}): UdpResponse {
  const maxBytes = limits.maxPacketBytes ?? MAX_UDP_RESPONSE_BYTES;
  if (bytes.length > maxBytes) throw new TrackerError('TRACKER_UDP_TOO_LARGE', { detail: `${bytes.length} > ${maxBytes} bytes`, offset: maxBytes });
  if (bytes.length < 8) truncated('a response', 8, bytes.length);
  const v = view(bytes);
  const action = v.getUint32(0);
  const transactionId = v.getUint32(4);
  switch (action) {
    case 0:
      if (bytes.length < 16) truncated('connect', 16, bytes.length);
      return { type: 'connect', transactionId, connectionId: v.getBigUint64(8) };
    case 1: {
      if (bytes.length === 8) return { type: 'error', transactionId, message: '', refusedAnnounce: true };
      if (bytes.length < 20) truncated('announce', 20, bytes.length);
      const peers = decodeCompactPeers(bytes.subarray(20), family === 6 ? 18 : 6, 20);
      return {
        type: 'announce',
        transactionId,
        intervalSec: v.getUint32(8),
        leechers: v.getUint32(12),
        seeders: v.getUint32(16),
        peers,
      };
    }
    case 2: {
      const n = (bytes.length - 8) / 12;
      if (!Number.isInteger(n)) truncated('scrape', 8 + 12 * Math.ceil(n), bytes.length);
      const entries: UdpScrapeStats[] = [];
      for (let i = 0; i < n; i++) {
        entries.push({ seeders: v.getUint32(8 + 12 * i), completed: v.getUint32(12 + 12 * i), leechers: v.getUint32(16 + 12 * i) });
      }
      return { type: 'scrape', transactionId, entries };
    }
    case 3:
      return { type: 'error', transactionId, message: utf8(bytes.subarray(8)) };
    default:
      throw new TrackerError('TRACKER_UDP_BAD_ACTION', { offset: 0, detail: String(action) });
  }
}
