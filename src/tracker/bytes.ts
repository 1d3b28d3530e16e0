import { TrackerError } from './errors.js';

/** Small byte helpers shared by the tracker codecs. Pure: no `Buffer`, so they run in browsers too. */

import { hexNibble } from '../metainfo/index.js';

const HEX_UPPER = '0123456789ABCDEF';

/** RFC 3986 unreserved characters stay literal; every other byte becomes `%XX` (what libtorrent sends). */
export function percentEncode(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const unreserved =
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    s += unreserved ? String.fromCharCode(b) : `%${HEX_UPPER[b >> 4]!}${HEX_UPPER[b & 15]!}`;
  }
  return s;
}

/**
 * Decodes a query component to raw bytes. `%XX` is a byte; any other character must be printable
 * ASCII and stands for itself. `+` is a literal `+` (0x2B), not a space: announce values are binary,
 * and a client that means a space byte writes `%20`. `offset` places errors in the whole query.
 */
export function percentDecode(s: string, offset = 0): Uint8Array {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x25) i += 2;
    n++;
  }
  const out = new Uint8Array(n);
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = i + 2 < s.length ? hexNibble(s.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < s.length ? hexNibble(s.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) throw new TrackerError('TRACKER_BAD_PERCENT_ENCODING', { offset: offset + i });
      out[j++] = (hi << 4) | lo;
      i += 2;
    } else if (c > 0x20 && c < 0x7f) {
      out[j++] = c;
    } else {
      throw new TrackerError('TRACKER_BAD_PERCENT_ENCODING', { offset: offset + i, detail: 'character must be escaped' });
    }
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
export function utf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}
