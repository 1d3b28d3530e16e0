import { BencodeError, decode, type BencodeDict, type BencodeValue } from '../bencode/index.js';
import { utf8 } from './bytes.js';
import { TrackerError } from './errors.js';

/**
 * Reading a tracker's bencoded reply: the size limit, the bencode decode (lenient on key order,
 * which some trackers get wrong, strict on everything else) and typed field getters whose errors
 * say which field was wrong.
 */

/** Largest reply read. 1 MiB: libtorrent's `tracker_maximum_response_length` default. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export function decodeReplyDict(bytes: Uint8Array, maxResponseBytes: number): BencodeDict {
  if (bytes.length > maxResponseBytes) {
    throw new TrackerError('TRACKER_RESPONSE_TOO_LARGE', { detail: `${bytes.length} > ${maxResponseBytes} bytes`, offset: maxResponseBytes });
  }
  let v: BencodeValue;
  try {
    v = decode(bytes, { strict: false, maxInputBytes: maxResponseBytes });
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new TrackerError('TRACKER_BAD_RESPONSE', err.offset === undefined ? { cause: err, detail: err.message } : { cause: err, detail: err.message, offset: err.offset });
    }
    throw err;
  }
  if (!(v instanceof Map)) throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: 'not a dictionary', offset: 0 });
  return v;
}

export function bad(detail: string): never {
  throw new TrackerError('TRACKER_BAD_RESPONSE', { detail });
}

export function optUint(d: BencodeDict, key: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${key} is not a non-negative integer`);
  return v;
}

export function optBytes(d: BencodeDict, key: string): Uint8Array | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) bad(`${key} is not a byte string`);
  return v;
}

export function optText(d: BencodeDict, key: string): string | undefined {
  const b = optBytes(d, key);
  return b === undefined ? undefined : utf8(b);
}
