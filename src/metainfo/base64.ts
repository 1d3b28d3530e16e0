/**
 * Strict RFC 4648 §4 base64 (standard alphabet, `=` padding), the binary encoding of the JSON
 * metainfo form. Strict so that each byte string has exactly one text form: no whitespace,
 * no missing padding, no non-zero bits in the last character.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
    if (chunk.length >= 65536) {
      parts.push(chunk);
      chunk = '';
    }
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + (i + 1 < n ? ALPHABET[(v >> 6) & 63]! : '=') + '=';
  }
  parts.push(chunk);
  return parts.join('');
}

/** Decodes strict base64; returns undefined for anything that is not its one canonical form. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const tail = i + 4 === s.length ? pad : 0;
    const c0 = sextet(s, i);
    const c1 = sextet(s, i + 1);
    const c2 = tail === 2 ? 0 : sextet(s, i + 2);
    const c3 = tail >= 1 ? 0 : sextet(s, i + 3);
    if ((c0 | c1 | c2 | c3) < 0) return undefined;
    // The bits after the last byte must be zero, or two strings would decode alike.
    if ((tail === 2 && (c1 & 15) !== 0) || (tail === 1 && (c2 & 3) !== 0)) return undefined;
    const v = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = v >> 16;
    if (tail < 2) out[o++] = (v >> 8) & 0xff;
    if (tail < 1) out[o++] = v & 0xff;
  }
  return out;
}

function sextet(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? LOOKUP[c]! : -1;
}
