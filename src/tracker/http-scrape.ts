import { encode, keyFromBytes, keyToBytes, type BencodeDict, type Encodable } from '../bencode/index.js';
import { bad, decodeReplyDict, MAX_RESPONSE_BYTES, optText, optUint } from './bdict.js';
import { percentEncode } from './bytes.js';
import { TrackerError } from './errors.js';
import { MAX_QUERY_BYTES, splitQuery } from './query.js';

/**
 * BEP 48 HTTP scrape: `GET /scrape?info_hash=…&info_hash=…` (none: a full scrape, if the tracker
 * allows it), answered by `{files: {<20-byte hash>: {complete, downloaded, incomplete}}}`.
 */

export interface ScrapeEntry {
  /** 20 bytes. */
  readonly infoHash: Uint8Array;
  /** Seeders. */
  readonly complete: number;
  /** Completed downloads ever reported (`event=completed`). */
  readonly downloaded: number;
  /** Leechers. */
  readonly incomplete: number;
}

export interface ScrapeQueryLimits {
  readonly maxQueryBytes?: number;
  /** Most hashes in one scrape. Default 100: fits the 8 KiB query limit; BEP 15 allows 74 per UDP packet. */
  readonly maxHashes?: number;
}

export const SCRAPE_QUERY_DEFAULTS = { maxQueryBytes: MAX_QUERY_BYTES, maxHashes: 100 } as const;

export function encodeScrapeQuery(infoHashes: readonly Uint8Array[]): string {
  return infoHashes.map((h) => `info_hash=${percentEncode(h)}`).join('&');
}

/** The info-hashes asked for; an empty list asks for a full scrape. */
export function parseScrapeQuery(query: string, limits: ScrapeQueryLimits = {}): Uint8Array[] {
  const maxHashes = limits.maxHashes ?? SCRAPE_QUERY_DEFAULTS.maxHashes;
  const out: Uint8Array[] = [];
  for (const p of splitQuery(query, limits.maxQueryBytes ?? SCRAPE_QUERY_DEFAULTS.maxQueryBytes)) {
    if (p.name !== 'info_hash') continue;
    if (p.value.length !== 20) throw new TrackerError('TRACKER_BAD_INFO_HASH', { offset: p.offset, detail: `info_hash is ${p.value.length} bytes, not 20` });
    if (out.length >= maxHashes) throw new TrackerError('TRACKER_TOO_MANY_HASHES', { offset: p.offset, detail: `limit ${maxHashes}` });
    out.push(p.value);
  }
  return out;
}

export function encodeScrapeResponse(files: readonly ScrapeEntry[], minRequestIntervalSec?: number): Uint8Array {
  const f = new Map<string, Encodable>();
  for (const e of files) {
    if (e.infoHash.length !== 20) throw new TrackerError('TRACKER_BAD_INFO_HASH', { detail: `${e.infoHash.length} bytes` });
    f.set(keyFromBytes(e.infoHash), new Map<string, Encodable>([
      ['complete', e.complete],
      ['downloaded', e.downloaded],
      ['incomplete', e.incomplete],
    ]));
  }
  const d = new Map<string, Encodable>([['files', f]]);
  if (minRequestIntervalSec !== undefined) d.set('flags', new Map([['min_request_interval', minRequestIntervalSec]]));
  return encode(d);
}

export interface ScrapeResponse {
  readonly files: ScrapeEntry[];
  /** BEP 48 `flags.min_request_interval`. */
  readonly minRequestIntervalSec?: number;
  /** Set when the tracker answered `failure reason` instead. */
  readonly failureReason?: string;
}

export function decodeScrapeResponse(bytes: Uint8Array, limits: { readonly maxResponseBytes?: number } = {}): ScrapeResponse {
  const d = decodeReplyDict(bytes, limits.maxResponseBytes ?? MAX_RESPONSE_BYTES);
  const failureReason = optText(d, 'failure reason');
  if (failureReason !== undefined) return { files: [], failureReason };
  const files = d.get('files');
  if (!(files instanceof Map)) bad('no files dictionary');
  const out: ScrapeEntry[] = [];
  for (const [key, v] of files) {
    if (key.length !== 20) bad('files key is not a 20-byte info-hash');
    if (!(v instanceof Map)) bad('files entry is not a dictionary');
    const e = v as BencodeDict;
    out.push({
      infoHash: keyToBytes(key),
      complete: optUint(e, 'complete') ?? 0,
      downloaded: optUint(e, 'downloaded') ?? 0,
      incomplete: optUint(e, 'incomplete') ?? 0,
    });
  }
  const flags = d.get('flags');
  const minRequestIntervalSec = flags instanceof Map ? optUint(flags as BencodeDict, 'min_request_interval') : undefined;
  return minRequestIntervalSec === undefined ? { files: out } : { files: out, minRequestIntervalSec };
}
