import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decode, decodeDocument, encode, type BencodeDict, type BencodeValue } from '../../src/bencode/index.js';
import { buildTorrentLike, buildTorrentLikeValue } from './torrent-like.js';

test('a 10 MB torrent-like document decodes and re-encodes byte-identically', () => {
  const input = buildTorrentLike();
  assert.ok(input.length > 10 * 1024 * 1024, `${input.length} bytes`);
  const top = decode(input) as BencodeDict;
  const info = top.get('info') as BencodeDict;
  assert.equal((info.get('pieces') as Uint8Array).length, 10 * 1024 * 1024);
  assert.equal((info.get('pieces') as Uint8Array).buffer, input.buffer, 'pieces is not copied');
  const files = info.get('files') as BencodeValue[];
  assert.equal(files.length, 20_000);
  assert.deepEqual((files[19_999] as BencodeDict).get('path'), [new TextEncoder().encode('dir-99'), new TextEncoder().encode('file-19999.bin')]);
  const again = encode(top);
  assert.equal(again.length, input.length);
  assert.ok(Buffer.from(again.buffer, again.byteOffset, again.length).equals(input), 'byte-identical');
  assert.deepEqual(top, buildTorrentLikeValue());
});

test('the info span of the 10 MB document hashes like its re-encoding', () => {
  const input = buildTorrentLike();
  const doc = decodeDocument(input);
  const info = (doc.value as BencodeDict).get('info')!;
  const raw = doc.rawBytesOf(info)!;
  const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
  assert.equal(raw.buffer, input.buffer);
  assert.equal(sha1(raw), sha1(encode(info)));
  assert.equal(String.fromCharCode(...input.subarray(raw.byteOffset - 6, raw.byteOffset)), '4:info');
});
