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
  return fromHex(hash);
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
