/**
 * Bencode values (BEP 3).
 *
 * - Byte strings are `Uint8Array`. A decoder returns views into its input (no copy): keep the
 *   input alive and unmodified while you use them, or copy with `.slice()`.
 * - Integers are `number` while they are safe integers and `bigint` beyond ±(2^53 − 1), so no
 *   value ever loses precision silently.
 * - Dictionaries are `Map`s whose keys are *binary strings*: one UTF-16 code unit per byte
 *   (latin1), so any key round-trips exactly and JS string order is raw byte order. ASCII keys
 *   such as `'info'` read naturally; use `keyFromBytes`/`keyToBytes` for others.
 */
export type BencodeValue = number | bigint | Uint8Array | BencodeList | BencodeDict;
export type BencodeList = BencodeValue[];
export type BencodeDict = Map<string, BencodeValue>;

/** Anything `encode` accepts: values plus conveniences that encode as strings/dicts. */
export type Encodable =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | BencodeRaw
  | readonly Encodable[]
  | ReadonlyMap<string, Encodable>
  | { readonly [key: string]: Encodable | undefined };

/**
 * Already-encoded bencode written verbatim by `encode`: how a `.torrent` embeds the original
 * info dict bytes so the info-hash can never change. The caller vouches that `bytes` is one
 * valid bencode value.
 */
export class BencodeRaw {
  constructor(readonly bytes: Uint8Array) {}
}

/** A value's exact byte range in the decoded input: `input.subarray(start, end)`. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export function keyToBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

export function keyFromBytes(bytes: Uint8Array): string {
  return latin1(bytes, 0, bytes.length);
}

export function latin1(bytes: Uint8Array, start: number, end: number): string {
  // String.fromCharCode over chunks: keys are short, so this is the fast path in practice.
  let s = '';
  for (let i = start; i < end; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return s;
}
