import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECODE_DEFAULTS, decode, encode, type BencodeDict, type BencodeErrorCode, type DecodeOptions } from '../../src/bencode/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { assertRejects, bin } from './helpers.js';

type Case = readonly [input: string, code: BencodeErrorCode, offset: number, opts?: DecodeOptions];

/** Every rejection rule with the code and byte offset it must report. Inputs are binary strings. */
const REJECTS: readonly Case[] = [
  // integers
  ['i-0e', 'BENCODE_NEGATIVE_ZERO', 0],
  ['li1ei-0ee', 'BENCODE_NEGATIVE_ZERO', 4],
  ['i03e', 'BENCODE_LEADING_ZERO', 1],
  ['i00e', 'BENCODE_LEADING_ZERO', 1],
  ['i-03e', 'BENCODE_LEADING_ZERO', 2],
  ['i-00e', 'BENCODE_LEADING_ZERO', 2],
  ['ie', 'BENCODE_INVALID_INTEGER', 1],
  ['i-e', 'BENCODE_INVALID_INTEGER', 2],
  ['i1.5e', 'BENCODE_INVALID_INTEGER', 2],
  ['i+1e', 'BENCODE_INVALID_INTEGER', 1],
  ['i--1e', 'BENCODE_INVALID_INTEGER', 2],
  ['i 1e', 'BENCODE_INVALID_INTEGER', 1],
  ['i1 e', 'BENCODE_INVALID_INTEGER', 2],
  ['i1e3e', 'BENCODE_TRAILING_DATA', 3],
  ['i0x10e', 'BENCODE_INVALID_INTEGER', 2],
  ['i1-e', 'BENCODE_INVALID_INTEGER', 2],
  ['i' + '9'.repeat(257) + 'e', 'BENCODE_INTEGER_TOO_LONG', 1],
  ['i-' + '9'.repeat(257) + 'e', 'BENCODE_INTEGER_TOO_LONG', 2],
  ['i12345e', 'BENCODE_INTEGER_TOO_LONG', 1, { maxIntegerDigits: 4 }],
  ['li1ei-12345ee', 'BENCODE_INTEGER_TOO_LONG', 6, { maxIntegerDigits: 4 }],
  // string lengths
  ['03:abc', 'BENCODE_LEADING_ZERO', 0],
  ['00:', 'BENCODE_LEADING_ZERO', 0],
  ['d03:abci1ee', 'BENCODE_LEADING_ZERO', 1],
  ['3abc', 'BENCODE_EXPECTED_COLON', 1],
  ['d3abci1ee', 'BENCODE_EXPECTED_COLON', 2],
  ['1-:a', 'BENCODE_EXPECTED_COLON', 1],
  ['5:abc', 'BENCODE_UNEXPECTED_EOF', 5],
  ['l10:abce', 'BENCODE_UNEXPECTED_EOF', 8],
  ['4:abcd', 'BENCODE_STRING_TOO_LONG', 0, { maxStringBytes: 3 }],
  ['d4:abcdi1ee', 'BENCODE_STRING_TOO_LONG', 1, { maxStringBytes: 3 }],
  ['l0:4:abcde', 'BENCODE_STRING_TOO_LONG', 3, { maxStringBytes: 3 }],
  ['99999999999999999999999:x', 'BENCODE_STRING_TOO_LONG', 0], // caught while parsing the length
  ['4:abcd', 'BENCODE_STRING_TOO_LONG', 0, { maxInputBytes: 100, maxStringBytes: 3 }],
  // dictionaries
  ['d1:bi1e1:ai2ee', 'BENCODE_UNSORTED_KEYS', 7],
  ['d2:abi1e1:ai2ee', 'BENCODE_UNSORTED_KEYS', 8], // 'a' < 'ab': shorter prefix sorts first
  ['d1:\xffi1e1:\x80i2ee', 'BENCODE_UNSORTED_KEYS', 7], // raw byte order, not signed or UTF-8
  ['d1:ai1e1:ai2ee', 'BENCODE_DUPLICATE_KEY', 7],
  ['d1:ai1e1:ai2ee', 'BENCODE_DUPLICATE_KEY', 7, { strict: false }],
  ['d1:ci1e1:ai2e1:ci3ee', 'BENCODE_DUPLICATE_KEY', 13, { strict: false }], // not adjacent
  ['d1:ci1e1:ai2e1:bi3e1:ai4ee', 'BENCODE_DUPLICATE_KEY', 19, { strict: false }], // below the max key
  ['d1:ai1e1:bi2e1:ai3ee', 'BENCODE_DUPLICATE_KEY', 13], // strict: reported as duplicate, not unsorted
  ['di1ei2ee', 'BENCODE_KEY_NOT_STRING', 1],
  ['dlei1ee', 'BENCODE_KEY_NOT_STRING', 1],
  ['ddei1ee', 'BENCODE_KEY_NOT_STRING', 1],
  ['d1:ai1ei2ei3ee', 'BENCODE_KEY_NOT_STRING', 7],
  ['d-1:ai1ee', 'BENCODE_KEY_NOT_STRING', 1],
  ['d1:ae', 'BENCODE_UNEXPECTED_BYTE', 4], // key without a value
  // structure
  ['', 'BENCODE_UNEXPECTED_EOF', 0],
  ['i1ei2e', 'BENCODE_TRAILING_DATA', 3],
  ['lee', 'BENCODE_TRAILING_DATA', 2],
  ['0:x', 'BENCODE_TRAILING_DATA', 2],
  ['dei0e', 'BENCODE_TRAILING_DATA', 2],
  ['i1e\n', 'BENCODE_TRAILING_DATA', 3],
  ['x', 'BENCODE_UNEXPECTED_BYTE', 0],
  ['e', 'BENCODE_UNEXPECTED_BYTE', 0],
  ['-1:a', 'BENCODE_UNEXPECTED_BYTE', 0],
  [' i1e', 'BENCODE_UNEXPECTED_BYTE', 0],
  ['lxe', 'BENCODE_UNEXPECTED_BYTE', 1],
  ['l', 'BENCODE_UNEXPECTED_EOF', 1],
  ['d', 'BENCODE_UNEXPECTED_EOF', 1],
  ['i', 'BENCODE_UNEXPECTED_EOF', 1],
  ['d1:a', 'BENCODE_UNEXPECTED_EOF', 4],
  // limits
  ['lllleeee', 'BENCODE_DEPTH_EXCEEDED', 3, { maxDepth: 3 }],
  ['ld1:ald1:aleeeee', 'BENCODE_DEPTH_EXCEEDED', 10, { maxDepth: 4 }],
  ['le', 'BENCODE_DEPTH_EXCEEDED', 0, { maxDepth: 0 }],
  ['l'.repeat(101) + 'e'.repeat(101), 'BENCODE_DEPTH_EXCEEDED', 100],
  ['li1ei2ee', 'BENCODE_TOKEN_LIMIT', 4, { maxTokens: 2 }],
  ['d1:ai1ee', 'BENCODE_TOKEN_LIMIT', 4, { maxTokens: 2 }], // keys count as tokens
  ['d1:ai1ee', 'BENCODE_TOKEN_LIMIT', 1, { maxTokens: 1 }],
  ['i1e', 'BENCODE_TOKEN_LIMIT', 0, { maxTokens: 0 }],
  // the `e` closing a list or dict is a token too, as in libtorrent's bdecode
  ['li1ei2ee', 'BENCODE_TOKEN_LIMIT', 7, { maxTokens: 3 }],
  ['d1:ai1ee', 'BENCODE_TOKEN_LIMIT', 7, { maxTokens: 3 }],
  ['ldedee', 'BENCODE_TOKEN_LIMIT', 4, { maxTokens: 4 }],
  ['4:abcd', 'BENCODE_INPUT_TOO_LARGE', 5, { maxInputBytes: 5 }],
];

for (const [input, code, offset, opts] of REJECTS) {
  test(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}${opts ? ` ${JSON.stringify(opts)}` : ''} with ${code} at ${offset}`, () => {
    assertRejects(input, code, offset, opts);
  });
}

test('every BENCODE_* code in the registry has a rejection case', () => {
  const registry = Object.keys(ERROR_CODES).filter((c) => c.startsWith('BENCODE_')).sort();
  // BENCODE_UNENCODABLE is the encoder's; test/bencode/encoder.test.ts covers it.
  const covered = new Set<string>([...REJECTS.map((c) => c[1]), 'BENCODE_UNENCODABLE']);
  assert.deepEqual([...covered].sort(), registry);
});

test('accepts exactly at each limit', () => {
  assert.deepEqual(decode(bin('llleee'), { maxDepth: 3 }), [[[]]]);
  assert.equal((decode(bin('l'.repeat(100) + 'e'.repeat(100))) as unknown[]).length, 1); // default depth 100
  assert.deepEqual(decode(bin('li1ei2ee'), { maxTokens: 4 }), [1, 2]);
  assert.deepEqual(decode(bin('d1:ai1ee'), { maxTokens: 4 }), new Map([['a', 1]]));
  assert.deepEqual(decode(bin('ldedee'), { maxTokens: 6 }), [new Map(), new Map()]);
  assert.deepEqual(decode(bin('4:abcd'), { maxInputBytes: 6 }), bin('abcd'));
  assert.deepEqual(decode(bin('4:abcd'), { maxStringBytes: 4 }), bin('abcd'));
  assert.equal(decode(bin('i-1234e'), { maxIntegerDigits: 4 }), -1234);
  assert.equal(decode(bin('i' + '9'.repeat(256) + 'e')), 10n ** 256n - 1n);
  assert.equal(DECODE_DEFAULTS.maxDepth, 100);
});

test('100,000 nested lists throw BENCODE_DEPTH_EXCEEDED, not a RangeError', () => {
  assertRejects('l'.repeat(100_000), 'BENCODE_DEPTH_EXCEEDED', 100);
  assertRejects('d1:a'.repeat(100_000), 'BENCODE_DEPTH_EXCEEDED', 400);
  assertRejects('l'.repeat(100_000) + 'e'.repeat(100_000), 'BENCODE_DEPTH_EXCEEDED', 100, { strict: false });
});

test('decodes the basic shapes', () => {
  assert.equal(decode(bin('i0e')), 0);
  assert.ok(Object.is(decode(bin('i0e')), 0));
  assert.equal(decode(bin('i-42e')), -42);
  assert.deepEqual(decode(bin('0:')), new Uint8Array(0));
  assert.deepEqual(decode(bin('3:a:e')), bin('a:e'));
  assert.deepEqual(decode(bin('le')), []);
  assert.deepEqual(decode(bin('de')), new Map());
  assert.deepEqual(decode(bin('l4:spami42ee')), [bin('spam'), 42]);
  const d = decode(bin('d0:i1e3:bar4:spam3:fooi42e1:\x80i2e1:\xffi3ee')) as BencodeDict;
  assert.deepEqual([...d.keys()], ['', 'bar', 'foo', '\x80', '\xff']);
  assert.deepEqual(d.get('bar'), bin('spam'));
  // nested dicts sort their keys independently of the enclosing dict
  assert.deepEqual(decode(bin('d1:bd1:ai1ee1:ci1ee')), new Map<string, unknown>([['b', new Map([['a', 1]])], ['c', 1]]));
});

test('safe integers are numbers; beyond ±(2^53 − 1) they are exact bigints', () => {
  const cases: readonly [string, number | bigint][] = [
    ['i999999999999999e', 999_999_999_999_999], // 15 digits: the fast path
    ['i1000000000000000e', 1_000_000_000_000_000], // 16 digits, still safe
    ['i9007199254740991e', Number.MAX_SAFE_INTEGER],
    ['i-9007199254740991e', Number.MIN_SAFE_INTEGER],
    ['i9007199254740992e', 9007199254740992n],
    ['i9007199254740993e', 9007199254740993n], // a double would round this to ...992
    ['i-9007199254740992e', -9007199254740992n],
    ['i-9007199254740993e', -9007199254740993n],
    ['i18446744073709551615e', 18446744073709551615n],
    ['i-9223372036854775808e', -9223372036854775808n],
  ];
  for (const [input, want] of cases) {
    const got = decode(bin(input));
    assert.equal(typeof got, typeof want, input);
    assert.equal(got, want, input);
    assert.deepEqual(encode(got), bin(input), `${input} re-encodes`);
  }
});

test('200-digit integers round-trip exactly', () => {
  const digits = '1234567890'.repeat(20);
  for (const s of [digits, `-${digits}`, '9'.repeat(200), `-1${'0'.repeat(199)}`]) {
    const input = bin(`i${s}e`);
    const got = decode(input);
    assert.equal(got, BigInt(s));
    assert.deepEqual(encode(got), input);
  }
});

test('lenient mode accepts unsorted keys and keeps their order; strict rejects them', () => {
  const input = bin('d1:bi1e1:ai2e1:ci3ee');
  assertRejects(input, 'BENCODE_UNSORTED_KEYS', 7);
  const d = decode(input, { strict: false }) as BencodeDict;
  assert.deepEqual([...d.keys()], ['b', 'a', 'c']);
  assert.deepEqual([...d.values()], [1, 2, 3]);
  // re-encoding canonicalises
  assert.deepEqual(encode(d), bin('d1:ai2e1:bi1e1:ci3ee'));
  // nested, unsorted at every level
  const nested = decode(bin('d1:zd1:yi1e1:xi2ee1:ai3ee'), { strict: false }) as BencodeDict;
  assert.deepEqual([...(nested.get('z') as BencodeDict).keys()], ['y', 'x']);
});

test('every proper prefix of a valid encoding is UNEXPECTED_EOF at its length', () => {
  const valid = [
    'i0e',
    'i-1234567890123456789012e',
    '0:',
    '12:hello world!',
    'le',
    'de',
    'l4:spami42eli-1eed0:0:ee',
    'd8:announce3:url4:infod6:lengthi10e4:name3:abc12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee',
    'd1:\x80li0e1:\xffe1:\xffdee',
  ];
  for (const s of valid) {
    const bytes = bin(s);
    decode(bytes); // the whole is valid
    for (let n = 0; n < bytes.length; n++) {
      assertRejects(bytes.subarray(0, n), 'BENCODE_UNEXPECTED_EOF', n);
      assertRejects(bytes.subarray(0, n), 'BENCODE_UNEXPECTED_EOF', n, { strict: false });
    }
  }
});

test('decoded byte strings are views into the input (zero-copy)', () => {
  const backing = bin('xxxxd6:pieces8:ABCDEFGH4:tags' + 'l1:a2:bbee' + 'yyyy');
  const input = backing.subarray(4, backing.length - 4); // a view with a non-zero byteOffset
  const d = decode(input) as BencodeDict;
  const pieces = d.get('pieces') as Uint8Array;
  assert.equal(pieces.buffer, backing.buffer);
  assert.equal(pieces.byteOffset, 4 + 11);
  assert.equal(pieces.length, 8);
  const tags = d.get('tags') as Uint8Array[];
  assert.equal(tags[1]!.buffer, backing.buffer);
  input[11] = 0x5a; // 'Z': writing the input shows through the decoded view
  assert.equal(pieces[0], 0x5a);
});

test('inputs that are views of a larger buffer decode only the view', () => {
  const backing = bin('i1ei2e');
  assert.equal(decode(backing.subarray(3)), 2);
  assertRejects(backing.subarray(3, 5), 'BENCODE_UNEXPECTED_EOF', 2);
});
