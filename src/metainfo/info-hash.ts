import { createHash } from 'node:crypto';
import { MetainfoError } from './errors.js';

/** A v1 info-hash as 40 lowercase hex digits. Minted only by the functions below. */
export type InfoHash = string & { readonly __brand: 'InfoHash' };

const HEX40 = /^[0-9a-f]{40}$/;

export function sha1(data: Uint8Array): Uint8Array {
  const d = createHash('sha1').update(data).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** `SHA-1` of the *raw* info dict bytes, never of a re-encoding (anacrolix `HashInfoBytes`). */
export function infoHashOf(infoBytes: Uint8Array): InfoHash {
  return createHash('sha1').update(infoBytes).digest('hex') as InfoHash;
}

export function infoHashFromHex(hex: string): InfoHash {
  const lower = hex.toLowerCase();
  if (!HEX40.test(lower)) throw new MetainfoError('METAINFO_BAD_FIELD', { detail: `info-hash ${JSON.stringify(hex)} is not 40 hex digits` });
  return lower as InfoHash;
}

export function infoHashFromBytes(bytes: Uint8Array): InfoHash {
  if (bytes.length !== 20) throw new MetainfoError('METAINFO_BAD_FIELD', { detail: `info-hash has ${bytes.length} bytes, not 20` });
  return toHex(bytes) as InfoHash;
}

export function infoHashToBytes(hash: InfoHash): Uint8Array {
  return fromHex(hash)!; // an InfoHash is 40 hex digits by construction
}

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

/** The value of one hex digit's char code, or −1. */
export function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Hex (either case) to bytes; undefined unless every character is a hex digit and the length is even. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(s.charCodeAt(2 * i));
    const lo = hexNibble(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
}
