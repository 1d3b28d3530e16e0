import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes, decode, encode, type Encodable } from '../../src/bencode/index.js';
import { assertBencodeError, bin, latin1Text } from './helpers.js';

const enc = (v: Encodable): string => latin1Text(encode(v));

test('encodes the basic shapes', () => {
  assert.equal(enc(0), 'i0e');
  assert.equal(enc(-0), 'i0e');
  assert.equal(enc(-42), 'i-42e');
  assert.equal(enc(Number.MAX_SAFE_INTEGER), 'i9007199254740991e');
  assert.equal(enc(Number.MIN_SAFE_INTEGER), 'i-9007199254740991e');
  assert.equal(enc(2n ** 64n), 'i18446744073709551616e');
  assert.equal(enc(-5n), 'i-5e');
  assert.equal(enc(0n), 'i0e');
  assert.equal(enc(true), 'i1e');
  assert.equal(enc(false), 'i0e');
  assert.equal(enc(''), '0:');
  assert.equal(enc(new Uint8Array([0, 255])), '2:\x00\xff');
  assert.equal(enc(bin('abcdef').subarray(2, 4)), '2:cd', 'only the view is written');
  assert.equal(enc([]), 'le');
  assert.equal(enc(new Map()), 'de');
  assert.equal(enc({}), 'de');
  assert.equal(enc(['spam', 42, [true]]), 'l4:spami42eli1eee');
});

test('JS strings encode as UTF-8', () => {
  assert.equal(enc('héllo'), '6:h\xc3\xa9llo');
  assert.equal(enc('😀'), '4:\xf0\x9f\x98\x80');
  assert.equal(enc('\u0000'), '1:\x00');
});

test('Map keys are written in raw-byte order whatever the insertion order', () => {
  const m = new Map<string, Encodable>([['b', 1], ['ab', 2], ['a', 3], ['', 4], ['\xff', 5], ['\x80', 6], ['z', 7]]);
  assert.equal(enc(m), 'd0:i4e1:ai3e2:abi2e1:bi1e1:zi7e1:\x80i6e1:\xffi5ee');
  // binary-string keys are one byte per char: 'é' as a Map key is the single byte 0xe9
  assert.equal(enc(new Map([['é', 1]])), 'd1:\xe9i1ee');
  assert.deepEqual(decode(encode(m)), new Map([['', 4], ['a', 3], ['ab', 2], ['b', 1], ['z', 7], ['\x80', 6], ['\xff', 5]]));
});

test('plain-object keys are UTF-8 and sorted by their UTF-8 bytes', () => {
  assert.equal(enc({ b: 1, ab: 2, a: 3 }), 'd1:ai3e2:abi2e1:bi1ee');
  // 'é' is C3 A9 in UTF-8, after 'z' (7A)
  assert.equal(enc({ é: 1, z: 2 }), 'd1:zi2e2:\xc3\xa9i1ee');
  assert.equal(enc({ z: 2, é: 1 }), 'd1:zi2e2:\xc3\xa9i1ee');
  // UTF-16 order and UTF-8 order disagree above the surrogates: U+FF5E (EF BD 9E) sorts before
  // U+1F600 (F0 9F 98 80) in bytes, though its UTF-16 unit 0xFF5E is after 0xD83D.
  assert.equal(enc({ '😀': 1, '～': 2 }), 'd3:\xef\xbd\x9ei2e4:\xf0\x9f\x98\x80i1ee');
  assert.equal(enc({ '～': 2, '😀': 1 }), 'd3:\xef\xbd\x9ei2e4:\xf0\x9f\x98\x80i1ee');
  // the output is canonical: strict decode accepts it
  decode(encode({ '😀': 1, '～': 2, é: 3, z: 4, a: 5 }));
});

test('undefined object properties are skipped', () => {
  assert.equal(enc({ a: 1, b: undefined, c: 'x' }), 'd1:ai1e1:c1:xe');
});

{
  const cyclicList: Encodable[] = [];
  cyclicList.push(cyclicList);
  const cyclicObject: { [k: string]: Encodable } = {};
  cyclicObject['self'] = cyclicObject;
  const cyclicMap = new Map<string, Encodable>();
  cyclicMap.set('self', [cyclicMap]);
  const bad: readonly [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a float', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['a symbol', Symbol('s')],
    ['a function', () => 1],
    ['null in a list', [1, null]],
    ['undefined in a list', [undefined]],
    ['a float in an object', { a: 0.1 }],
    ['null in a Map', new Map([['a', null]])],
    ['undefined in a Map', new Map([['a', undefined]])],
    ['a Map key above 0xff', new Map([['\u0100', 1]])],
    ['a Map key with an emoji', new Map([['a😀', 1]])],
    ['a non-string Map key', new Map([[1, 1]])],
    ['a cyclic list', cyclicList],
    ['a cyclic object', cyclicObject],
    ['a cyclic Map', cyclicMap],
  ];
  for (const [name, v] of bad) {
    test(`${name} throws BencodeError BENCODE_UNENCODABLE`, () => {
      assertBencodeError(() => encode(v as Encodable), 'BENCODE_UNENCODABLE');
    });
  }
}

test('compareBytes is raw unsigned byte order, shorter prefix first', () => {
  assert.ok(compareBytes(bin('a'), bin('b')) < 0);
  assert.ok(compareBytes(bin('a'), bin('ab')) < 0);
  assert.ok(compareBytes(bin('\x7f'), bin('\x80')) < 0);
  assert.equal(compareBytes(bin('abc'), bin('abc')), 0);
  assert.ok(compareBytes(bin('\xff'), bin('\x00\x00')) > 0);
});

test('encoding 1001 nested lists is rejected, 1000 is fine', () => {
  let deep: Encodable = [];
  for (let i = 0; i < 1000; i++) deep = [deep];
  assert.equal(encode(deep).length, 2002);
  assertBencodeError(() => encode([deep]), 'BENCODE_UNENCODABLE');
});
