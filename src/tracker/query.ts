import { clip } from '../errors/index.js';
import { percentDecode } from './bytes.js';
import { TrackerError } from './errors.js';

/**
 * Splitting and reading HTTP tracker query strings (`k=v&k=v`), shared by announce and scrape.
 * Names are ASCII and compared after percent-decoding; values stay raw bytes until a field reader
 * gives them a type. Every error carries the character offset in the query.
 */

/** Largest query string accepted. 8 KiB: nginx's `large_client_header_buffers` line size, and
 *  about 100 scrape hashes (71 characters each as `info_hash=%XX…&`). A real announce is ~400. */
export const MAX_QUERY_BYTES = 8192;

export interface QueryParam {
  readonly name: string;
  readonly value: Uint8Array;
  /** Offset of the value in the query, for errors. */
  readonly offset: number;
}

export function splitQuery(query: string, maxQueryBytes: number): QueryParam[] {
  let q = query;
  let base = 0;
  if (q.startsWith('?')) {
    q = q.slice(1);
    base = 1;
  }
  if (q.length > maxQueryBytes) {
    throw new TrackerError('TRACKER_QUERY_TOO_LARGE', { detail: `${q.length} > ${maxQueryBytes} characters`, offset: base + maxQueryBytes });
  }
  const out: QueryParam[] = [];
  let start = 0;
  while (start <= q.length) {
    let end = q.indexOf('&', start);
    if (end < 0) end = q.length;
    if (end > start) {
      const eq = q.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const nameEnd = hasValue ? eq : end;
      const nameBytes = percentDecode(q.slice(start, nameEnd), base + start);
      let name = '';
      for (const b of nameBytes) name += String.fromCharCode(b);
      const valueStart = hasValue ? eq + 1 : end;
      out.push({ name, value: percentDecode(q.slice(valueStart, end), base + valueStart), offset: base + valueStart });
    }
    start = end + 1;
  }
  return out;
}

export function asciiOf(p: QueryParam): string {
  let s = '';
  for (const b of p.value) {
    if (b < 0x20 || b > 0x7e) throw new TrackerError('TRACKER_BAD_QUERY', { offset: p.offset, detail: `${p.name} is not printable ASCII` });
    s += String.fromCharCode(b);
  }
  return s;
}

/** A non-negative decimal integer within `max` (default: the largest safe integer). */
export function uintOf(p: QueryParam, max = Number.MAX_SAFE_INTEGER): number {
  const s = asciiOf(p);
  if (!/^\d{1,16}$/.test(s)) throw new TrackerError('TRACKER_BAD_NUMBER', { offset: p.offset, detail: `${p.name}=${clip(s, 24)}` });
  const n = Number(s);
  if (n > max) throw new TrackerError('TRACKER_BAD_NUMBER', { offset: p.offset, detail: `${p.name}=${s} is above ${max}` });
  return n;
}
