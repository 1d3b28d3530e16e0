import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decode, decodeDocument, type BencodeDict, type BencodeValue } from '../../src/bencode/index.js';
import { bin } from './helpers.js';

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

const INFO =
  'd5:filesld6:lengthi10e4:pathl1:a5:b.txteed6:lengthi7e4:pathl1:ceee' +
  '4:name4:demo12:piece lengthi16384e6:pieces20:\x00\x01\x02\xff\xfeABCDEFGHIJKLMNO7:privatei1ee';

function checkInfoSpan(input: Uint8Array, infoStart: number, strict: boolean): void {
  const doc = decodeDocument(input, { strict });
  const info = (doc.value as BencodeDict).get('info')!;
  const literal = input.subarray(infoStart, infoStart + INFO.length);
  assert.deepEqual(doc.spanOf(info), { start: infoStart, end: infoStart + INFO.length });
  const raw = doc.rawBytesOf(info)!;
  assert.deepEqual(raw, bin(INFO));
  assert.equal(raw.buffer, input.buffer, 'rawBytesOf is a view, not a copy');
  assert.equal(sha1(raw), sha1(literal));
  assert.equal(sha1(raw), sha1(bin(INFO)));
}

test('rawBytesOf(info) is the exact original bytes in a torrent-like dict', () => {
  const head = 'd8:announce31:http://tracker.example/announce7:comment2:hi4:info';
  const input = bin(`${head}${INFO}8:url-listl6:http:/ee`);
  checkInfoSpan(input, head.length, true);
  checkInfoSpan(input, head.length, false);
});

test('rawBytesOf(info) is exact when the outer dict is unsorted (lenient mode)', () => {
  const head = 'd4:info';
  const input = bin(`${head}${INFO}8:announce3:url7:comment2:hie`);
  checkInfoSpan(input, head.length, false);
});

test('spans cover lists, dicts and byte strings (with their length prefix), nothing else', () => {
  const input = bin('d1:ali1e3:abcd1:blee0:e1:bi5ee');
  const doc = decodeDocument(input);
  const top = doc.value as BencodeDict;
  const list = top.get('a') as BencodeValue[];
  const str = list[1] as Uint8Array;
  const inner = list[2] as BencodeDict;
  const text = (v: BencodeValue): string => String.fromCharCode(...doc.rawBytesOf(v)!);
  assert.deepEqual(doc.spanOf(top), { start: 0, end: input.length });
  assert.equal(text(list), 'li1e3:abcd1:blee0:e');
  assert.equal(text(str), '3:abc');
  assert.equal(text(inner), 'd1:blee');
  assert.equal(text(inner.get('b') as BencodeValue[]), 'le');
  assert.equal(text(list[3]!), '0:');
  assert.equal(doc.spanOf(list[0]!), undefined, 'integers have no span');
  assert.equal(doc.spanOf(top.get('b')!), undefined);
  assert.equal(doc.spanOf(new Map()), undefined, 'a node from elsewhere has no span');
  assert.equal(doc.rawBytesOf([]), undefined);
  assert.equal(doc.input, input);
});

test('spans are absolute within a view input and keep the original bytes', () => {
  const backing = bin(`junkd4:info${INFO}ejunk`);
  const input = backing.subarray(4, backing.length - 4);
  const doc = decodeDocument(input);
  const info = (doc.value as BencodeDict).get('info')!;
  assert.deepEqual(doc.spanOf(info), { start: 7, end: 7 + INFO.length });
  assert.deepEqual(doc.rawBytesOf(info), bin(INFO));
});

test('decodeDocument is linear: millions of containers cost what plain decode costs (issue 18)', () => {
  // Spans were kept in a WeakMap per container, whose GC cost grows faster than the entries:
  // 3 M empty containers took 72 s against 2 s for plain decode. Spans are now found on demand.
  const n = 3_000_000;
  const input = bin(`d4:infol${'le'.repeat(n)}ee`);
  const opts = { maxTokens: 2 * n + 10 };
  const time = (f: () => void): number => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  const plain = time(() => decode(input, opts));
  let infoSpan: unknown;
  const doc = time(() => {
    const d = decodeDocument(input, opts);
    infoSpan = d.spanOf((d.value as BencodeDict).get('info')!);
  });
  assert.deepEqual(infoSpan, { start: 7, end: input.length - 1 });
  assert.ok(doc < 3 * plain + 1000, `decodeDocument ${doc.toFixed(0)} ms vs decode ${plain.toFixed(0)} ms`);
});

test('spanOf finds containers anywhere, and gives up on a tree changed after decoding', () => {
  const input = bin('d1:ad1:bli-12e5:hello2:xyee1:cli1ed1:dleee1:ei7ee');
  const doc = decodeDocument(input);
  const top = doc.value as BencodeDict;
  const text = (v: BencodeValue): string => String.fromCharCode(...doc.rawBytesOf(v)!);
  const a = top.get('a') as BencodeDict;
  const c = top.get('c') as BencodeValue[];
  assert.equal(text(a), 'd1:bli-12e5:hello2:xyee');
  assert.equal(text(a.get('b')!), 'li-12e5:hello2:xye');
  assert.equal(text(c), 'li1ed1:dleee');
  assert.equal(text(c[1]!), 'd1:dlee');
  assert.equal(text((c[1] as BencodeDict).get('d')!), 'le');
  (a.get('b') as BencodeValue[]).push(1);
  const again = decodeDocument(input);
  const c2 = (again.value as BencodeDict).get('c') as BencodeValue[];
  ((again.value as BencodeDict).get('a') as BencodeDict).set('b', 12345);
  assert.equal(again.spanOf(c2), undefined, 'positions after the change no longer match the input');
});
