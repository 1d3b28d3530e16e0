import { clip } from '../errors/index.js';
import { Bitfield, fromBase64, toBase64 } from '../metainfo/index.js';
import { TtpError } from './errors.js';
import { MAX_PIECE_COUNT } from './ttp-path.js';

/**
 * The have-set document of TorrentTTP v1 (docs/torrenttp.md §5): which pieces a peer holds, the
 * HTTP form of BEP 3's `bitfield` (full document) and `have` messages (delta document), pure.
 *
 * Rules:
 * - `have` is base64 (RFC 4648 §4, strict) of the BEP 3 bitfield: piece 0 is the high bit of
 *   byte 0, exactly ceil(pieceCount / 8) bytes, spare bits zero. Anything else is rejected, so
 *   one have-set has exactly one text form.
 * - `cursor` names a state of the have-set. The server sends it as the ETag (`"cursor"`) and
 *   accepts it back in `If-None-Match` and `?since=`. It is opaque to clients.
 * - A delta lists only additions, strictly ascending: a BitTorrent peer's pieces only grow (BEP 3
 *   has no "lost a piece" message). A server whose set shrank sends a full document instead.
 * - `version` must be 1; unknown fields are ignored.
 */

export const HAVE_MEDIA_TYPE = 'application/vnd.torrenttp.have+json';
export const HAVE_VERSION = 1;
/** Longest long-poll a server honours; larger `wait` values are clamped to it (§5.3). */
export const MAX_WAIT_SEC = 60;
/**
 * Largest have-set document a client reads. The full document of MAX_PIECE_COUNT pieces is
 * ~700 KB of base64; a delta is never sent when it would be larger than the full document.
 */
export const MAX_HAVE_BYTES = 1024 * 1024;

const CURSOR = /^[A-Za-z0-9._~-]{1,64}$/;
const HEX40_LOWER = /^[0-9a-f]{40}$/;

export type HaveDocument =
  | {
      readonly type: 'full';
      readonly infoHash: string;
      readonly pieceCount: number;
      readonly cursor: string;
      readonly bitfield: Bitfield;
    }
  | {
      readonly type: 'delta';
      readonly infoHash: string;
      readonly pieceCount: number;
      readonly cursor: string;
      /** The cursor the delta starts from (the client's `since`). */
      readonly since: string;
      /** Pieces gained since `since`, strictly ascending. */
      readonly added: readonly number[];
    };

export interface HaveQuery {
  /** `since=`: answer a delta from this cursor if the server still can. */
  readonly since?: string;
  /** `wait=`: seconds to hold the request while nothing changed, 0 … MAX_WAIT_SEC (clamped). */
  readonly waitSec: number;
}

export function isCursor(s: string): boolean {
  return CURSOR.test(s);
}

/** The ETag of a have-set state. */
export function haveEtag(cursor: string): string {
  if (!CURSOR.test(cursor)) throw new TtpError('TTP_BAD_HAVE', { detail: 'cursor must be 1–64 of A-Z a-z 0-9 . _ ~ -' });
  return `"${cursor}"`;
}

function bad(detail: string): never {
  throw new TtpError('TTP_BAD_HAVE', { detail });
}

export function encodeHaveDocument(d: HaveDocument): string {
  haveEtag(d.cursor);
  if (!HEX40_LOWER.test(d.infoHash)) bad('infoHash must be 40 lowercase hex');
  if (!Number.isSafeInteger(d.pieceCount) || d.pieceCount < 1 || d.pieceCount > MAX_PIECE_COUNT) bad(`pieceCount ${d.pieceCount}`);
  const head = { version: HAVE_VERSION, infoHash: d.infoHash, pieceCount: d.pieceCount, cursor: d.cursor };
  if (d.type === 'full') {
    if (d.bitfield.pieceCount !== d.pieceCount) bad('bitfield is for another piece count');
    return JSON.stringify({ ...head, have: toBase64(d.bitfield.toBytes()) });
  }
  haveEtag(d.since);
  checkAdded(d.added, d.pieceCount);
  return JSON.stringify({ ...head, since: d.since, added: d.added });
}

function checkAdded(added: readonly unknown[], pieceCount: number): asserts added is readonly number[] {
  if (added.length > pieceCount) bad('added lists more pieces than the torrent has');
  let prev = -1;
  for (const i of added) {
    if (typeof i !== 'number' || !Number.isSafeInteger(i) || i <= prev || i >= pieceCount) bad('added must be strictly ascending piece indices below pieceCount');
    prev = i;
  }
}

export interface HaveExpectation {
  /** The torrent asked about: a document for another is refused. */
  readonly infoHash: string;
  /** From the metainfo: a document for another piece count is refused. */
  readonly pieceCount: number;
  /** Default MAX_HAVE_BYTES. */
  readonly maxBodyBytes?: number;
}

/** Reads a have-set document (a whole body; use `BoundedBody` to collect it under the limit). */
export function decodeHaveDocument(body: Uint8Array | string, expect: HaveExpectation): HaveDocument {
  const max = expect.maxBodyBytes ?? MAX_HAVE_BYTES;
  if (body.length > max) throw new TtpError('TTP_RESPONSE_TOO_LARGE', { detail: `${body.length} > ${max} bytes`, offset: max });
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (err) {
    throw new TtpError('TTP_BAD_HAVE', { detail: 'not UTF-8 JSON', cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not an object');
  const o = value as Record<string, unknown>;
  if (o['version'] !== HAVE_VERSION) throw new TtpError('TTP_UNSUPPORTED_VERSION', { detail: `have-set version ${clip(JSON.stringify(o['version']) ?? 'undefined', 16)}` });
  if (o['infoHash'] !== expect.infoHash) bad('infoHash is not the torrent asked about');
  if (o['pieceCount'] !== expect.pieceCount) bad(`pieceCount is not ${expect.pieceCount}`);
  const cursor = o['cursor'];
  if (typeof cursor !== 'string' || !CURSOR.test(cursor)) bad('cursor must be 1–64 of A-Z a-z 0-9 . _ ~ -');
  const head = { infoHash: expect.infoHash, pieceCount: expect.pieceCount, cursor };
  const have = o['have'];
  const added = o['added'];
  if ((have === undefined) === (added === undefined)) bad('exactly one of have and added');
  if (have !== undefined) {
    const bytes = typeof have === 'string' ? fromBase64(have) : undefined;
    if (bytes === undefined) bad('have must be strict base64');
    if (bytes.length !== Math.ceil(expect.pieceCount / 8)) bad(`have is ${bytes.length} bytes, not ${Math.ceil(expect.pieceCount / 8)}`);
    const spare = bytes.length * 8 - expect.pieceCount;
    if (spare > 0 && (bytes[bytes.length - 1]! & ((1 << spare) - 1)) !== 0) bad('have has spare bits set');
    return { type: 'full', ...head, bitfield: Bitfield.fromBytes(bytes, expect.pieceCount) };
  }
  const since = o['since'];
  if (typeof since !== 'string' || !CURSOR.test(since)) bad('a delta needs since, a cursor');
  if (!Array.isArray(added)) bad('added must be an array');
  checkAdded(added, expect.pieceCount);
  return { type: 'delta', ...head, since, added: added.slice() };
}

/** Applies a document to what a client knows of the peer: a full one replaces, a delta adds. */
export function applyHaveDocument(known: Bitfield, d: HaveDocument): Bitfield {
  if (d.type === 'full') return d.bitfield.clone();
  const next = known.clone();
  for (const i of d.added) next.set(i);
  return next;
}

/**
 * `?since=…&wait=…` of a have request. Unknown parameters are ignored (§12); a known one that is
 * repeated or malformed is `TTP_BAD_QUERY`. `wait` is one or more decimal digits; any value above
 * MAX_WAIT_SEC, however many digits it has, is clamped, not refused, as servers clamp long-poll
 * timeouts, so a client written for a more patient server still works. The query is at most 1024
 * characters, and the digits are never converted past the third significant one.
 */
export function parseHaveQuery(query: string | undefined): HaveQuery {
  let since: string | undefined;
  let waitSec: number | undefined;
  if (query !== undefined && query !== '') {
    if (query.length > 1024) throw new TtpError('TTP_BAD_QUERY', { detail: 'query longer than 1024 characters' });
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      if (key === 'since') {
        if (since !== undefined || !CURSOR.test(value)) throw new TtpError('TTP_BAD_QUERY', { detail: 'since must be one cursor' });
        since = value;
      } else if (key === 'wait') {
        if (waitSec !== undefined || !/^[0-9]+$/.test(value)) throw new TtpError('TTP_BAD_QUERY', { detail: 'wait must be one integer of seconds' });
        waitSec = clampWait(value);
      }
    }
  }
  return since === undefined ? { waitSec: waitSec ?? 0 } : { since, waitSec: waitSec ?? 0 };
}

/** Seconds of a `wait` of decimal digits, clamped to MAX_WAIT_SEC without reading a long run. */
function clampWait(digits: string): number {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i++; // leading zeros
  return digits.length - i > 3 ? MAX_WAIT_SEC : Math.min(Number(digits.slice(i)), MAX_WAIT_SEC);
}

export function formatHaveQuery(q: Partial<HaveQuery>): string {
  const parts: string[] = [];
  if (q.since !== undefined) {
    haveEtag(q.since);
    parts.push(`since=${q.since}`);
  }
  if (q.waitSec !== undefined && q.waitSec > 0) {
    if (!Number.isSafeInteger(q.waitSec)) throw new TtpError('TTP_BAD_QUERY', { detail: 'wait must be an integer' });
    parts.push(`wait=${Math.min(q.waitSec, MAX_WAIT_SEC)}`);
  }
  return parts.join('&');
}

/**
 * Collects a response body under a byte limit, failing as soon as it is passed (so a client can
 * abort the request) with the offset of the first byte too many.
 */
export class BoundedBody {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  constructor(readonly maxBytes: number) {}

  push(chunk: Uint8Array): void {
    if (this.size + chunk.length > this.maxBytes) {
      throw new TtpError('TTP_RESPONSE_TOO_LARGE', { detail: `more than ${this.maxBytes} bytes`, offset: this.maxBytes });
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
