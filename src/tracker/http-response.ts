import { quoted } from '../errors/index.js';
import { encode, type BencodeDict, type Encodable } from '../bencode/index.js';
import { bad, decodeReplyDict, MAX_RESPONSE_BYTES, optBytes, optText, optUint } from './bdict.js';
import { utf8 } from './bytes.js';
import { TrackerError } from './errors.js';
import { checkPort, decodeCompactPeers, parseIp } from './ip.js';

/**
 * BEP 3 announce replies: bencoded dictionaries with `interval` and `peers`, where `peers` is
 * either compact (BEP 23: 6 bytes per IPv4 peer) or a list of `{peer id, ip, port}`
 * dictionaries, plus `peers6` (BEP 7: 18 bytes per IPv6 peer). A failure is
 * `{failure reason}` (and BEP 31 `retry in`).
 */

export interface TrackerPeer {
  /** An IP literal; a dictionary reply may also carry a DNS name (BEP 3). */
  readonly ip: string;
  readonly port: number;
  /** Only in dictionary replies, and not with `no_peer_id`. */
  readonly peerId?: Uint8Array;
}

export interface AnnounceReplyFields {
  readonly intervalSec: number;
  readonly minIntervalSec?: number;
  /** Seeders. */
  readonly complete?: number;
  /** Leechers. */
  readonly incomplete?: number;
  readonly trackerId?: Uint8Array;
  readonly warningMessage?: string;
}

export interface AnnounceResponseInit extends AnnounceReplyFields {
  /** Compact IPv4 peers (6 bytes each, already concatenated), or a BEP 3 dictionary list. */
  readonly peers: Uint8Array | readonly TrackerPeer[];
  /** Compact IPv6 peers (18 bytes each), BEP 7. */
  readonly peers6?: Uint8Array;
}

export interface AnnounceOk extends AnnounceReplyFields {
  readonly type: 'ok';
  /** `peers` then `peers6`, in reply order. */
  readonly peers: TrackerPeer[];
}

export interface AnnounceFailure {
  readonly type: 'failure';
  readonly reason: string;
  /** BEP 31 `retry in` minutes; undefined when absent, `'never'` is kept as Infinity. */
  readonly retryInMin?: number;
}

export type AnnounceResponse = AnnounceOk | AnnounceFailure;

export interface AnnounceResponseLimits {
  /** Default `MAX_RESPONSE_BYTES` (1 MiB, libtorrent's limit). */
  readonly maxResponseBytes?: number;
}

export function encodeAnnounceResponse(r: AnnounceResponseInit): Uint8Array {
  const d = new Map<string, Encodable>();
  d.set('interval', r.intervalSec);
  if (r.minIntervalSec !== undefined) d.set('min interval', r.minIntervalSec);
  if (r.complete !== undefined) d.set('complete', r.complete);
  if (r.incomplete !== undefined) d.set('incomplete', r.incomplete);
  if (r.trackerId !== undefined) d.set('tracker id', r.trackerId);
  if (r.warningMessage !== undefined) d.set('warning message', r.warningMessage);
  if (r.peers instanceof Uint8Array) {
    if (r.peers.length % 6 !== 0) throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: 'compact peers not a multiple of 6 bytes' });
    d.set('peers', r.peers);
  } else {
    d.set('peers', r.peers.map((p) => {
      const e = new Map<string, Encodable>([['ip', p.ip], ['port', checkPort(p.port)]]);
      if (p.peerId !== undefined) e.set('peer id', p.peerId);
      return e;
    }));
  }
  if (r.peers6 !== undefined) {
    if (r.peers6.length % 18 !== 0) throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: 'compact peers6 not a multiple of 18 bytes' });
    d.set('peers6', r.peers6);
  }
  return encode(d);
}

export function encodeFailure(reason: string, retryInMin?: number): Uint8Array {
  const d = new Map<string, Encodable>([['failure reason', reason]]);
  if (retryInMin !== undefined) d.set('retry in', Number.isFinite(retryInMin) ? retryInMin : 'never');
  return encode(d);
}

/** Longest dictionary-peer `ip` (a DNS name is at most 253 characters). */
const MAX_HOST_LENGTH = 253;

export function decodeAnnounceResponse(bytes: Uint8Array, limits: AnnounceResponseLimits = {}): AnnounceResponse {
  const d = decodeReplyDict(bytes, limits.maxResponseBytes ?? MAX_RESPONSE_BYTES);
  const failure = optBytes(d, 'failure reason');
  if (failure !== undefined) {
    const retry = d.get('retry in');
    let retryInMin: number | undefined;
    if (retry instanceof Uint8Array && utf8(retry) === 'never') retryInMin = Infinity;
    else if (retry !== undefined) retryInMin = optUint(d, 'retry in');
    return retryInMin === undefined ? { type: 'failure', reason: utf8(failure) } : { type: 'failure', reason: utf8(failure), retryInMin };
  }
  const intervalSec = optUint(d, 'interval');
  if (intervalSec === undefined) bad('no interval');
  // Compact lists are concatenated by a loop, never `push(...list)`: spreading 100,000+ peers into
  // arguments overflows the stack (issue 18: a 750,000-byte `peers` threw a RangeError).
  const v4 = d.get('peers');
  let peers: TrackerPeer[] = [];
  if (v4 instanceof Uint8Array) peers = decodeCompactPeers(v4, 6);
  else if (Array.isArray(v4)) for (const e of v4) peers.push(dictPeer(e));
  else if (v4 !== undefined) bad('peers is neither a string nor a list');
  const v6 = optBytes(d, 'peers6');
  if (v6 !== undefined) for (const p of decodeCompactPeers(v6, 18)) peers.push(p);
  const out: { -readonly [K in keyof AnnounceOk]: AnnounceOk[K] } = { type: 'ok', intervalSec, peers };
  const minInterval = optUint(d, 'min interval');
  if (minInterval !== undefined) out.minIntervalSec = minInterval;
  const complete = optUint(d, 'complete');
  if (complete !== undefined) out.complete = complete;
  const incomplete = optUint(d, 'incomplete');
  if (incomplete !== undefined) out.incomplete = incomplete;
  const trackerId = optBytes(d, 'tracker id');
  if (trackerId !== undefined) out.trackerId = trackerId;
  const warning = optText(d, 'warning message');
  if (warning !== undefined) out.warningMessage = warning;
  return out;
}

function dictPeer(e: unknown): TrackerPeer {
  if (!(e instanceof Map)) bad('peer entry is not a dictionary');
  const d = e as BencodeDict;
  const ip = optText(d, 'ip');
  const port = optUint(d, 'port');
  if (ip === undefined || port === undefined) bad('peer entry lacks ip or port');
  if (port < 1 || port > 65535) bad(`peer port ${port}`);
  if (parseIp(ip) === undefined && !(ip.length <= MAX_HOST_LENGTH && /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(ip))) {
    bad(`peer ip ${quoted(ip, 64)}`);
  }
  const peerId = optBytes(d, 'peer id');
  if (peerId !== undefined && peerId.length !== 20) bad('peer id is not 20 bytes');
  return peerId === undefined ? { ip, port } : { ip, port, peerId };
}
