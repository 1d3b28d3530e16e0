import { BencodeError, type BencodeErrorCode } from './errors.js';
import { latin1, type BencodeDict, type BencodeList, type BencodeValue, type Span } from './types.js';

/**
 * Strict BEP 3 decoder over a whole buffer.
 *
 * Rules (strict mode, the default): integers have no leading zeros and no `-0`; string lengths
 * have no leading zeros; dictionary keys are byte strings in strictly increasing raw-byte order
 * (so no duplicates); nothing may follow the top-level value. Lenient mode (`strict: false`)
 * accepts unsorted keys, which real torrents have, and still rejects duplicates and everything
 * else. Every rejection is a `BencodeError` with a stable code and the byte offset.
 *
 * Byte strings are views into the input, so decoding a 10 MB torrent does not copy its
 * `pieces`. Recursion depth is bounded by `maxDepth`, so hostile nesting cannot exhaust the stack.
 */
export interface DecodeOptions {
  /** Reject unsorted dictionary keys. Default true. */
  readonly strict?: boolean;
  /** Deepest nesting of lists/dicts. Default 100 (libtorrent's bdecode `depth_limit`). */
  readonly maxDepth?: number;
  /**
   * Most tokens in one input, counted as libtorrent's bdecode counts them: every value, every
   * dict key and the `e` that closes each list or dict (so `de` is two). Default 3,000,000:
   * libtorrent's `load_torrent_limits::max_decode_tokens` (since 2020; its plain `bdecode`
   * default is 2,000,000, 1,000,000 before 2018), so every torrent libtorrent loads decodes here.
   * Decoding is linear in tokens; a token costs far more here than libtorrent's 8 bytes (an empty
   * dict is a `Map`), so the limit is what bounds time and heap for hostile inputs: the worst
   * case, 1.5 M empty dicts, decodes in about a second.
   */
  readonly maxTokens?: number;
  /** Largest input in bytes. Default 64 MiB: far above any real torrent (10 MB is already huge). */
  readonly maxInputBytes?: number;
  /** Longest single byte string. Default: `maxInputBytes`. */
  readonly maxStringBytes?: number;
  /** Most digits in an integer. Default 256: room for any 64-bit value and far beyond. */
  readonly maxIntegerDigits?: number;
}

export const DECODE_DEFAULTS = {
  strict: true,
  maxDepth: 100,
  maxTokens: 3_000_000,
  maxInputBytes: 64 * 1024 * 1024,
  maxIntegerDigits: 256,
} as const;

const I = 0x69; // 'i'
const L = 0x6c; // 'l'
const D = 0x64; // 'd'
const E = 0x65; // 'e'
const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** A decoded document: the value plus the exact input span of any list, dict or string in it. */
export interface BencodeDocument {
  readonly value: BencodeValue;
  readonly input: Uint8Array;
  /** Span of a container or byte string taken from `value`; undefined for anything else. */
  spanOf(node: BencodeValue): Span | undefined;
  /** The raw input bytes of a node (a view, not a copy): hash these, never a re-encoding. */
  rawBytesOf(node: BencodeValue): Uint8Array | undefined;
}

export function decode(input: Uint8Array, opts: DecodeOptions = {}): BencodeValue {
  return new Decoder(input, opts).run();
}

export function decodeDocument(input: Uint8Array, opts: DecodeOptions = {}): BencodeDocument {
  const value = new Decoder(input, opts).run();
  const found = new Map<object, Span | undefined>();
  const spanOf = (node: BencodeValue): Span | undefined => {
    if (node instanceof Uint8Array) {
      // A string is a view of the input: its span follows from where the view starts.
      if (node.buffer !== input.buffer) return undefined;
      const bodyStart = node.byteOffset - input.byteOffset;
      const start = bodyStart - String(node.length).length - 1;
      if (start < 0 || bodyStart + node.length > input.length || input[bodyStart - 1] !== COLON) return undefined;
      return { start, end: bodyStart + node.length };
    }
    if (typeof node !== 'object') return undefined;
    if (node === value) return { start: 0, end: input.length };
    if (!found.has(node)) found.set(node, locate(value, node, input));
    return found.get(node);
  };
  return {
    value,
    input,
    spanOf,
    rawBytesOf(node) {
      const s = spanOf(node);
      return s === undefined ? undefined : input.subarray(s.start, s.end);
    },
  };
}

/**
 * The span of container `target` inside `root`, found by walking the decoded tree. Spans are not
 * recorded while decoding: a WeakMap entry per container made hostile documents of millions of
 * empty dicts super-linear (issue 18: 6 MB took 72 s), and nearly every caller wants one span (the
 * info dict). Walking is exact because a decoded value has one spelling: integers and lengths
 * have no leading zeros, and dict keys keep their input order. Costs one pass over the nodes
 * before `target`; its recursion is shallower than the decoder's, which already succeeded.
 */
function locate(root: BencodeValue, target: object, input: Uint8Array): Span | undefined {
  let span: Span | undefined;
  const walk = (node: BencodeValue, pos: number): number => {
    if (node instanceof Uint8Array) return pos + String(node.length).length + 1 + node.length;
    if (typeof node !== 'object') return pos + String(node).length + 2;
    let p = pos + 1;
    if (Array.isArray(node)) {
      for (const v of node) {
        p = walk(v, p);
        if (span !== undefined) return p;
      }
    } else {
      for (const [k, v] of node) {
        p = walk(v, p + String(k.length).length + 1 + k.length);
        if (span !== undefined) return p;
      }
    }
    p++;
    if (node === target) span = { start: pos, end: p };
    return p;
  };
  walk(root, 0);
  // A tree changed after decoding no longer matches its input: say so rather than mis-slice.
  if (span === undefined || span.end > input.length || input[span.end - 1] !== E) return undefined;
  const open = input[span.start];
  return (open === L && Array.isArray(target)) || (open === D && target instanceof Map) ? span : undefined;
}

class Decoder {
  private pos = 0;
  private tokens = 0;
  private readonly strict: boolean;
  private readonly maxDepth: number;
  private readonly maxTokens: number;
  private readonly maxStringBytes: number;
  private readonly maxIntegerDigits: number;

  constructor(
    private readonly buf: Uint8Array,
    opts: DecodeOptions,
  ) {
    this.strict = opts.strict ?? DECODE_DEFAULTS.strict;
    this.maxDepth = opts.maxDepth ?? DECODE_DEFAULTS.maxDepth;
    this.maxTokens = opts.maxTokens ?? DECODE_DEFAULTS.maxTokens;
    const maxInput = opts.maxInputBytes ?? DECODE_DEFAULTS.maxInputBytes;
    this.maxStringBytes = opts.maxStringBytes ?? maxInput;
    this.maxIntegerDigits = opts.maxIntegerDigits ?? DECODE_DEFAULTS.maxIntegerDigits;
    if (buf.length > maxInput) {
      throw new BencodeError('BENCODE_INPUT_TOO_LARGE', { detail: `${buf.length} > ${maxInput} bytes`, offset: maxInput });
    }
  }

  run(): BencodeValue {
    if (this.buf.length === 0) this.fail('BENCODE_UNEXPECTED_EOF', 0);
    let v: BencodeValue;
    try {
      v = this.value(0);
    } catch (err) {
      // `maxDepth` is the caller's to raise, and the JS stack may run out first (some thousands of
      // levels in V8): that is still hostile nesting, so it gets the typed error, not a RangeError.
      // Nothing else in the decoder throws RangeError at sane limits.
      if (err instanceof RangeError) {
        throw new BencodeError('BENCODE_DEPTH_EXCEEDED', { offset: this.pos, detail: 'the JS stack ran out before maxDepth', cause: err });
      }
      throw err;
    }
    if (this.pos !== this.buf.length) this.fail('BENCODE_TRAILING_DATA', this.pos);
    return v;
  }

  private fail(code: BencodeErrorCode, offset: number, detail?: string): never {
    throw new BencodeError(code, detail === undefined ? { offset } : { offset, detail });
  }

  private value(depth: number): BencodeValue {
    if (++this.tokens > this.maxTokens) this.fail('BENCODE_TOKEN_LIMIT', this.pos);
    const buf = this.buf;
    if (this.pos >= buf.length) this.fail('BENCODE_UNEXPECTED_EOF', this.pos);
    const c = buf[this.pos]!;
    if (c >= ZERO && c <= NINE) return this.string();
    if (c === I) return this.integer();
    if (c === L || c === D) {
      if (depth >= this.maxDepth) this.fail('BENCODE_DEPTH_EXCEEDED', this.pos, `limit ${this.maxDepth}`);
      return c === L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return this.fail('BENCODE_UNEXPECTED_BYTE', this.pos, `0x${c.toString(16).padStart(2, '0')}`);
  }

  private string(): Uint8Array {
    const end = this.stringBodyEnd();
    const body = this.buf.subarray(end - this.lastLength, end);
    return body;
  }

  private lastLength = 0;

  /** Parses `<len>:` then skips the body; returns the body's end and leaves its length in `lastLength`. */
  private stringBodyEnd(): number {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    let len = 0;
    while (p < buf.length) {
      const c = buf[p]!;
      if (c < ZERO || c > NINE) break;
      len = len * 10 + (c - ZERO);
      if (len > this.maxStringBytes) this.fail('BENCODE_STRING_TOO_LONG', start, `limit ${this.maxStringBytes} bytes`);
      p++;
    }
    if (p >= buf.length) this.fail('BENCODE_UNEXPECTED_EOF', p);
    if (buf[p] !== COLON) this.fail('BENCODE_EXPECTED_COLON', p);
    if (p - start > 1 && buf[start] === ZERO) this.fail('BENCODE_LEADING_ZERO', start);
    p++; // colon
    if (len > buf.length - p) this.fail('BENCODE_UNEXPECTED_EOF', buf.length, `string of ${len} bytes at ${start} is truncated`);
    this.pos = p + len;
    this.lastLength = len;
    return this.pos;
  }

  private integer(): number | bigint {
    const buf = this.buf;
    const start = this.pos;
    let p = start + 1;
    let negative = false;
    if (p < buf.length && buf[p] === MINUS) {
      negative = true;
      p++;
    }
    const digitsStart = p;
    let n = 0;
    while (p < buf.length) {
      const c = buf[p]!;
      if (c < ZERO || c > NINE) break;
      n = n * 10 + (c - ZERO);
      p++;
    }
    const digits = p - digitsStart;
    if (p >= buf.length) this.fail('BENCODE_UNEXPECTED_EOF', p);
    if (buf[p] !== E) this.fail('BENCODE_INVALID_INTEGER', p, 'expected a digit or "e"');
    if (digits === 0) this.fail('BENCODE_INVALID_INTEGER', digitsStart, 'no digits');
    if (digits > this.maxIntegerDigits) this.fail('BENCODE_INTEGER_TOO_LONG', digitsStart, `limit ${this.maxIntegerDigits} digits`);
    if (buf[digitsStart] === ZERO) {
      if (digits > 1) this.fail('BENCODE_LEADING_ZERO', digitsStart);
      if (negative) this.fail('BENCODE_NEGATIVE_ZERO', start);
    }
    this.pos = p + 1;
    if (digits <= 15) return negative ? -n : n;
    // Beyond 15 digits a double may have rounded: redo it exactly.
    const big = BigInt(latin1(buf, digitsStart, p));
    const exact = negative ? -big : big;
    return exact >= BigInt(Number.MIN_SAFE_INTEGER) && exact <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(exact) : exact;
  }

  private list(depth: number): BencodeList {
    const buf = this.buf;
    this.pos++;
    const out: BencodeList = [];
    for (;;) {
      if (this.pos >= buf.length) this.fail('BENCODE_UNEXPECTED_EOF', this.pos);
      if (buf[this.pos] === E) break;
      out.push(this.value(depth));
    }
    if (++this.tokens > this.maxTokens) this.fail('BENCODE_TOKEN_LIMIT', this.pos);
    this.pos++;
    return out;
  }

  private dict(depth: number): BencodeDict {
    const buf = this.buf;
    this.pos++;
    const out: BencodeDict = new Map();
    let prevKey: string | undefined;
    for (;;) {
      if (this.pos >= buf.length) this.fail('BENCODE_UNEXPECTED_EOF', this.pos);
      const c = buf[this.pos]!;
      if (c === E) break;
      const keyPos = this.pos;
      if (c < ZERO || c > NINE) this.fail('BENCODE_KEY_NOT_STRING', keyPos);
      if (++this.tokens > this.maxTokens) this.fail('BENCODE_TOKEN_LIMIT', keyPos);
      const end = this.stringBodyEnd();
      const key = latin1(buf, end - this.lastLength, end);
      if (prevKey !== undefined && key <= prevKey) {
        if (key === prevKey || out.has(key)) this.fail('BENCODE_DUPLICATE_KEY', keyPos, JSON.stringify(key));
        if (this.strict) this.fail('BENCODE_UNSORTED_KEYS', keyPos, `${JSON.stringify(key)} after ${JSON.stringify(prevKey)}`);
      } else if (!this.strict && out.has(key)) {
        this.fail('BENCODE_DUPLICATE_KEY', keyPos, JSON.stringify(key));
      }
      out.set(key, this.value(depth));
      if (prevKey === undefined || key > prevKey) prevKey = key;
    }
    if (++this.tokens > this.maxTokens) this.fail('BENCODE_TOKEN_LIMIT', this.pos);
    this.pos++;
    return out;
  }
}
