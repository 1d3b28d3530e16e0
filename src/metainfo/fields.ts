import type { BencodeDict, BencodeValue } from '../bencode/index.js';
import { MetainfoError } from './errors.js';

/** Typed reads from decoded dicts: each failure names the field (`where`) and has a stable code. */

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** UTF-8 text, or undefined when the bytes are not valid UTF-8. */
export function strictText(bytes: Uint8Array): string | undefined {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return undefined;
  }
}

export function isDict(v: BencodeValue | undefined): v is BencodeDict {
  return v instanceof Map;
}

export function bad(where: string, expected: string): MetainfoError {
  return new MetainfoError('METAINFO_BAD_FIELD', { detail: `${where} must be ${expected}` });
}

export function requireField(d: BencodeDict, key: string, where: string): BencodeValue {
  const v = d.get(key);
  if (v === undefined) throw new MetainfoError('METAINFO_MISSING_FIELD', { detail: `${where}${key}` });
  return v;
}

export function asBytes(v: BencodeValue, where: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(where, 'a byte string');
  return v;
}

export function asInt(v: BencodeValue, where: string): number {
  if (typeof v !== 'number') throw bad(where, typeof v === 'bigint' ? 'a safe integer' : 'an integer');
  return v;
}

export function asList(v: BencodeValue, where: string): BencodeValue[] {
  if (!Array.isArray(v)) throw bad(where, 'a list');
  return v;
}

export function asDict(v: BencodeValue, where: string): BencodeDict {
  if (!isDict(v)) throw bad(where, 'a dictionary');
  return v;
}
