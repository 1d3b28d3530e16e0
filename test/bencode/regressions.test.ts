/**
 * Regression tests: every input that once broke the codec, kept as a fixture in
 * test/fixtures/bencode/ (anacrolix keeps its fuzz finds in testdata/fuzz/ the same way).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, type Encodable } from '../../src/bencode/index.js';
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
