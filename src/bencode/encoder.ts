import { BencodeError } from './errors.js';
import { BencodeRaw, type Encodable } from './types.js';

/**
 * BEP 3 encoder. Dictionary keys are written in raw-byte order whatever order the caller used.
 *
 * Accepted shapes (see `Encodable`): numbers must be safe integers (use bigint beyond), booleans
 * encode as `i1e`/`i0e`, JS strings encode as UTF-8 byte strings. `Map` keys are binary strings
 * (one char per byte, exactly what `decode` returns); plain-object keys are text and are
 * encoded as UTF-8. `undefined` object properties are skipped; `null` is rejected.
 */
export function encode(value: Encodable): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.finish();
}

const MAX_ENCODE_DEPTH = 1000; // cycles and absurd nesting end in a typed error, not a stack overflow

const textEncoder = new TextEncoder();

/**
 * A lone surrogate has no UTF-8 form: TextEncoder would silently write U+FFFD, changing the value,
 * and two distinct object keys ('\uD800', '\uDC00') would collide into a duplicate key that our
 * own strict decoder rejects. In a `u` regex a valid pair is one code point, so this matches only
 * lone halves.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

function utf8(s: string, what: string): Uint8Array {
  if (LONE_SURROGATE.test(s)) {
    throw new BencodeError('BENCODE_UNENCODABLE', { detail: `${what} ${JSON.stringify(s)} has a lone surrogate (not UTF-8)` });
  }
  return textEncoder.encode(s);
}

class Writer {
  buf = new Uint8Array(256);
  len = 0;

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  ascii(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }

  bytes(b: Uint8Array): void {
    this.ascii(`${b.length}:`);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function write(w: Writer, v: Encodable, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) throw new BencodeError('BENCODE_UNENCODABLE', { detail: 'nested too deeply (a cycle?)' });
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) {
        throw new BencodeError('BENCODE_UNENCODABLE', { detail: `${v} is not a safe integer (use bigint)` });
      }
      w.ascii(`i${v === 0 ? 0 : v}e`); // `-0` would print as 0 anyway; be explicit
      return;
    case 'bigint':
      w.ascii(`i${v}e`);
      return;
    case 'boolean':
      w.ascii(v ? 'i1e' : 'i0e');
      return;
    case 'string':
      w.bytes(utf8(v, 'string'));
      return;
    case 'object':
      break;
    default:
      throw new BencodeError('BENCODE_UNENCODABLE', { detail: `type ${typeof v}` });
  }
  if (v === null) throw new BencodeError('BENCODE_UNENCODABLE', { detail: 'null' });
  if (v instanceof Uint8Array) {
    w.bytes(v);
  } else if (v instanceof BencodeRaw) {
    w.reserve(v.bytes.length);
    w.buf.set(v.bytes, w.len);
    w.len += v.bytes.length;
  } else if (Array.isArray(v)) {
    w.byte(0x6c);
    for (const item of v as readonly Encodable[]) write(w, item, depth + 1);
    w.byte(0x65);
  } else if (v instanceof Map) {
    const keys = [...(v as ReadonlyMap<string, Encodable>).keys()];
    for (const k of keys) {
      if (typeof k !== 'string') throw new BencodeError('BENCODE_UNENCODABLE', { detail: 'Map key is not a string' });
      for (let i = 0; i < k.length; i++) {
        if (k.charCodeAt(i) > 0xff) {
          throw new BencodeError('BENCODE_UNENCODABLE', { detail: `Map key ${JSON.stringify(k)} is not a binary string` });
        }
      }
    }
    keys.sort(); // code-unit order == raw byte order for binary strings
    w.byte(0x64);
    for (const k of keys) {
      w.ascii(`${k.length}:`);
      w.ascii(k);
      write(w, (v as ReadonlyMap<string, Encodable>).get(k)!, depth + 1);
    }
    w.byte(0x65);
  } else {
    // Only plain objects are dicts. Anything else (Uint16Array, ArrayBuffer, Date, Set, class
    // instances) would go through Object.entries and come out as `de` or as a dict of indices:
    // data lost or reshaped without a word.
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
      throw new BencodeError('BENCODE_UNENCODABLE', { detail: `${typeof name === 'string' ? name : 'object'} is not a plain object` });
    }
    const entries: [Uint8Array, Encodable][] = [];
    for (const [k, item] of Object.entries(v as { readonly [key: string]: Encodable | undefined })) {
      if (item !== undefined) entries.push([utf8(k, 'object key'), item]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    w.byte(0x64);
    for (const [k, item] of entries) {
      w.bytes(k);
      write(w, item, depth + 1);
    }
    w.byte(0x65);
  }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
