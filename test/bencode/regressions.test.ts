/**
 * Regression tests: every input that once broke the codec, kept as a fixture in
 * test/fixtures/bencode/ (anacrolix keeps its fuzz finds in testdata/fuzz/ the same way).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BencodeError, decode, encode, type Encodable } from '../../src/bencode/index.js';
import { assertBencodeError, fixture, latin1Text } from './helpers.js';

const json = (name: string): unknown => JSON.parse(new TextDecoder().decode(fixture(name)));

test('lone-surrogates.json: lone surrogates are BENCODE_UNENCODABLE, not U+FFFD', () => {
  const { objects, strings } = json('lone-surrogates.json') as { objects: Encodable[]; strings: string[] };
  for (const o of objects) assertBencodeError(() => encode(o), 'BENCODE_UNENCODABLE');
  for (const s of strings) {
    assertBencodeError(() => encode(s), 'BENCODE_UNENCODABLE');
    assertBencodeError(() => encode([s]), 'BENCODE_UNENCODABLE');
  }
  // valid pairs are untouched
  assert.equal(latin1Text(encode({ '😀': '😀' })), 'd4:\xf0\x9f\x98\x804:\xf0\x9f\x98\x80e');
  assert.deepEqual(decode(encode('\ud83d\ude00')), new TextEncoder().encode('😀'));
});

test('non-plain-objects.json: only plain objects encode as dicts', () => {
  const { values } = json('non-plain-objects.json') as { values: { type: string; args: unknown[] }[] };
  class Torrent {
    readonly name = 'x';
  }
  const build = (type: string, args: unknown[]): unknown => {
    switch (type) {
      case 'Uint16Array':
        return new Uint16Array(args[0] as number[]);
      case 'Int8Array':
        return new Int8Array(args[0] as number[]);
      case 'Float64Array':
        return new Float64Array(args[0] as number[]);
      case 'ArrayBuffer':
        return new ArrayBuffer(args[0] as number);
      case 'DataView':
        return new DataView(new ArrayBuffer(2));
      case 'Date':
        return new Date(args[0] as number);
      case 'Set':
        return new Set(args[0] as number[]);
      case 'RegExp':
        return new RegExp(args[0] as string);
      case 'Class':
        return new Torrent();
      default:
        throw new TypeError(`fixture names unknown type ${type}`);
    }
  };
  assert.ok(values.length > 0);
  for (const { type, args } of values) {
    assertBencodeError(() => encode(build(type, args) as Encodable), 'BENCODE_UNENCODABLE');
    assertBencodeError(() => encode({ v: build(type, args) } as Encodable), 'BENCODE_UNENCODABLE');
  }
  // still fine: plain objects, null-prototype objects, Uint8Array subclasses such as Buffer
  assert.equal(latin1Text(encode({ a: 1 })), 'd1:ai1ee');
  const bare = Object.create(null) as { [k: string]: Encodable };
  bare['a'] = 1;
  assert.equal(latin1Text(encode(bare)), 'd1:ai1ee');
  assert.equal(latin1Text(encode(Buffer.from('ab'))), '2:ab');
});

test('deep-lists-100k.bencode: nesting past the JS stack is BENCODE_DEPTH_EXCEEDED at any maxDepth', () => {
  const input = fixture('deep-lists-100k.bencode');
  assert.equal(input.length, 100_000);
  for (const maxDepth of [100, 1_000_000, Infinity, NaN]) {
    for (const strict of [true, false]) {
      assert.throws(
        () => decode(input, { maxDepth, strict }),
        (err: unknown) => {
          assert.ok(err instanceof BencodeError, String(err));
          assert.equal(err.code, 'BENCODE_DEPTH_EXCEEDED');
          assert.ok(typeof err.offset === 'number' && err.offset >= 100 && err.offset < input.length);
          if (maxDepth === 100) assert.equal(err.offset, 100);
          else assert.ok(err.cause instanceof RangeError, 'the stack overflow is kept as cause');
          return true;
        },
      );
    }
  }
  // the decoder is usable again afterwards (no state survives a failure)
  assert.deepEqual(decode(new TextEncoder().encode('li1ee'), { maxDepth: 1_000_000 }), [1]);
});
