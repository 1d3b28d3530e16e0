/**
 * fast-check properties for the codec (STYLE.md "Tests"): round trips both ways, canonical
 * output, lenient == strict on strict-valid input, and hostile bytes only ever end in a
 * `TorrenttpError`. Fixed seeds are not set: a failure prints its seed and path to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BencodeError,
  decode,
  decodeDocument,
  encode,
  keyFromBytes,
  keyToBytes,
  type BencodeDict,
  type BencodeValue,
} from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Safe bigints decode as numbers, so generate them as numbers. */
const normalize = (n: bigint): number | bigint => (n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n);

const integer: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2n ** 53n, -(2n ** 53n), 2n ** 53n + 1n, -(2n ** 53n) - 1n),
  fc.bigInt({ min: -(10n ** 200n), max: 10n ** 200n }).map(normalize),
);
const byteString = fc.uint8Array({ maxLength: 24 });
/** Binary-string keys (one char per byte), biased toward a small alphabet so keys collide and sort. */
const key = fc.oneof(
  fc.uint8Array({ maxLength: 6 }).map(keyFromBytes),
  fc.string({ unit: fc.constantFrom('a', 'b', '\x00', '\x7f', '\x80', '\xff'), maxLength: 3 }),
);

const { value: bencodeValue } = fc.letrec<{ value: BencodeValue; list: BencodeValue[]; dict: BencodeDict }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 8, withCrossShrink: true },
    integer,
    byteString,
    tie('list'),
    tie('dict'),
  ),
  list: fc.array(tie('value'), { maxLength: 5 }),
  dict: fc
    .uniqueArray(fc.tuple(key, tie('value')), { selector: (e) => e[0], maxLength: 5 })
    .map((entries) => new Map(entries)),
}));

const canonical = bencodeValue.map((v) => encode(v));

type Mutation = { kind: 'flip' | 'insert' | 'delete'; at: number; byte: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete'),
  at: fc.nat(),
  byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...'0123456789:-eildx'.split('').map((c) => c.charCodeAt(0)))),
});

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  const b = [...input];
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (m.kind === 'insert' ? b.length + 1 : b.length);
    if (m.kind === 'insert') b.splice(at, 0, m.byte);
    else if (b.length > 0 && m.kind === 'delete') b.splice(at, 1);
    else if (b.length > 0) b[at] = b[at]! ^ (1 << (m.byte & 7)); // flip one bit
  }
  return new Uint8Array(b);
}

/**
 * The contract for any input: decoding returns or throws a `BencodeError` (a `TorrenttpError`),
 * never a RangeError/TypeError. Whatever strict mode accepts is canonical, and lenient mode
 * agrees with it.
 */
function checkAnyInput(input: Uint8Array): void {
  let strictValue: BencodeValue | undefined;
  let lenientValue: BencodeValue | undefined;
  try {
    strictValue = decode(input);
  } catch (err) {
    assert.ok(err instanceof TorrenttpError && err instanceof BencodeError, `strict threw ${String(err)}`);
    assert.ok(typeof err.offset === 'number' && err.offset >= 0 && err.offset <= input.length, err.message);
  }
  try {
    lenientValue = decode(input, { strict: false });
  } catch (err) {
    assert.ok(err instanceof TorrenttpError && err instanceof BencodeError, `lenient threw ${String(err)}`);
    assert.ok(typeof err.offset === 'number' && err.offset >= 0 && err.offset <= input.length, err.message);
  }
  if (strictValue !== undefined) {
    assert.deepEqual(lenientValue, strictValue);
    assert.deepEqual(encode(strictValue), input, 'strict accepted a non-canonical input');
  }
  if (lenientValue !== undefined) {
    // lenient differs only in key order, so its value re-encodes and decodes strictly
    assert.deepEqual(decode(encode(lenientValue)), lenientValue);
  }
}

const opts = { numRuns: 1000 };

test('decode(encode(v)) deep-equals v', () => {
  fc.assert(
    fc.property(bencodeValue, (v) => {
      assert.deepEqual(decode(encode(v)), v);
    }),
    opts,
  );
});

test('encode(decode(b)) is b byte for byte for canonical b', () => {
  fc.assert(
    fc.property(canonical, (b) => {
      assert.deepEqual(encode(decode(b)), b);
      const doc = decodeDocument(b);
      assert.deepEqual(doc.rawBytesOf(doc.value) ?? b, b);
    }),
    opts,
  );
});

test('lenient decode of a strict-valid input equals strict decode', () => {
  fc.assert(
    fc.property(canonical, (b) => {
      assert.deepEqual(decode(b, { strict: false }), decode(b));
    }),
    opts,
  );
});

test('lenient decode accepts any key order and re-encodes canonically', () => {
  /** An encoder that writes dict entries in the given (unsorted) order. */
  const writeUnsorted = (v: BencodeValue, out: number[], flip: boolean): void => {
    if (typeof v === 'number' || typeof v === 'bigint') out.push(...keyToBytes(`i${v}e`));
    else if (v instanceof Uint8Array) out.push(...keyToBytes(`${v.length}:`), ...v);
    else if (Array.isArray(v)) {
      out.push(0x6c);
      for (const x of v) writeUnsorted(x, out, flip);
      out.push(0x65);
    } else {
      const entries = [...(v as BencodeDict).entries()].sort((a, b) => (a[0] < b[0] ? 1 : -1) * (flip ? 1 : -1));
      out.push(0x64);
      for (const [k, x] of entries) {
        out.push(...keyToBytes(`${k.length}:${k}`));
        writeUnsorted(x, out, flip);
      }
      out.push(0x65);
    }
  };
  fc.assert(
    fc.property(bencodeValue, fc.boolean(), (v, flip) => {
      const out: number[] = [];
      writeUnsorted(v, out, flip);
      const lenient = decode(new Uint8Array(out), { strict: false });
      assert.deepEqual(lenient, v);
      assert.deepEqual(encode(lenient), encode(v));
    }),
    opts,
  );
});

test('random bytes never hang and throw only TorrenttpError', { timeout: 120_000 }, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), checkAnyInput), { numRuns: 5000 });
  // bytes from the bencode alphabet reach deeper into the parser
  const alphabet = fc.constantFrom(...'0123456789:-eild'.split('').map((c) => c.charCodeAt(0)));
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 64 }), (b) => checkAnyInput(new Uint8Array(b))),
    { numRuns: 5000 },
  );
});

test('mutations of valid encodings never hang and throw only TorrenttpError', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(canonical, fc.array(mutation, { minLength: 1, maxLength: 4 }), (b, ms) => checkAnyInput(mutate(b, ms))),
    { numRuns: 5000 },
  );
});

test('text values encode to strict-valid bencode that decodes back to their UTF-8, or are rejected', () => {
  // any UTF-16 code unit, so lone surrogates occur
  const text = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), maxLength: 4 });
  const te = new TextEncoder();
  const td = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // a value may start with U+FEFF
  fc.assert(
    fc.property(fc.dictionary(text, text, { maxKeys: 6 }), (obj) => {
      let bytes: Uint8Array;
      try {
        bytes = encode(obj);
      } catch (err) {
        assert.ok(err instanceof BencodeError && err.code === 'BENCODE_UNENCODABLE', String(err));
        return;
      }
      const d = decode(bytes) as BencodeDict; // canonical: strict accepts it
      assert.equal(d.size, Object.keys(obj).length);
      for (const [k, v] of Object.entries(obj)) {
        const got = d.get(keyFromBytes(te.encode(k)));
        assert.ok(got instanceof Uint8Array, `key ${JSON.stringify(k)} missing`);
        assert.equal(td.decode(got), v, 'the value survived exactly');
      }
    }),
    opts,
  );
});
