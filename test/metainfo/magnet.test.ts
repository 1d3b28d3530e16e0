import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { encodeMagnet, infoHashFromHex, magnetOf, parseMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const B32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK'; // the same 20 bytes in RFC 4648 base32

test('parses hex and base32 info-hashes, dn, tr, ws, xl, x.pe', () => {
  const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft%3A1&tr.1=http://t2/a&ws=http%3A%2F%2Fw%2Ff&xl=1234&x.pe=1.2.3.4:5`);
  assert.equal(m.infoHash, HEX);
  assert.equal(m.name, 'Big Buck Bunny');
  assert.deepEqual(m.trackers, ['udp://t:1', 'http://t2/a']);
  assert.deepEqual(m.webSeeds, ['http://w/f']);
  assert.equal(m.length, 1234);
  assert.deepEqual(m.peers, ['1.2.3.4:5']);
  assert.equal(parseMagnet(`magnet:?xt=urn:btih:${B32}`).infoHash, HEX);
  assert.equal(parseMagnet(`MAGNET:?XT=urn:BTIH:${B32.toLowerCase()}`).infoHash, HEX);
  assert.equal(parseMagnet(`magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:${HEX.toUpperCase()}`).infoHash, HEX);
});

test('bad magnets get typed errors', () => {
  const cases: [string, string][] = [
    ['http://x', 'MAGNET_BAD_URI'],
    ['magnet:?dn=x', 'MAGNET_NO_INFO_HASH'],
    ['magnet:?xt=urn:btih:abc', 'MAGNET_BAD_INFO_HASH'],
    [`magnet:?xt=urn:btih:${HEX}0`, 'MAGNET_BAD_INFO_HASH'],
    [`magnet:?xt=urn:btih:${B32.slice(1)}1`, 'MAGNET_BAD_INFO_HASH'],
    [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'MAGNET_BAD_URI'],
    [`magnet:?xt=urn:btih:${HEX}&xl=-1`, 'MAGNET_BAD_URI'],
    [`magnet:?xt=urn:btih:${HEX}&tr=${'a'.repeat(70000)}`, 'MAGNET_BAD_URI'],
  ];
  for (const [uri, want] of cases) {
    assert.throws(() => parseMagnet(uri), (e: unknown) => e instanceof TorrenttpError && e.code === want, uri.slice(0, 60));
  }
});

test('magnetOf a torrent, and generate → parse round trip', () => {
  const data = bytes(40_000);
  const m = parseTorrent(
    torrentBytes({ name: 'f & g.bin', 'piece length': 16384, length: data.length, pieces: piecesOf(data, 16384) }, {
      'announce-list': [['http://a/x?y=1&z'], ['udp://b:2']],
      'url-list': 'http://w/f',
    }),
  );
  const back = parseMagnet(magnetOf(m));
  assert.equal(back.infoHash, m.infoHash);
  assert.equal(back.name, 'f & g.bin');
  assert.equal(back.length, 40_000);
  assert.deepEqual(back.trackers, ['http://a/x?y=1&z', 'udp://b:2']);
  assert.deepEqual(back.webSeeds, ['http://w/f']);
});

test('property: any fields survive encodeMagnet → parseMagnet', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex')),
      fc.option(fc.string(), { nil: undefined }),
      fc.uniqueArray(fc.webUrl(), { maxLength: 3 }),
      fc.option(fc.nat(), { nil: undefined }),
      (hex, name, trackers, length) => {
        const infoHash = infoHashFromHex(hex);
        const m = parseMagnet(encodeMagnet({ infoHash, trackers, ...(name === undefined ? {} : { name }), ...(length === undefined ? {} : { length }) }));
        assert.equal(m.infoHash, infoHash);
        assert.equal(m.name, name);
        assert.deepEqual(m.trackers, trackers);
        assert.equal(m.length, length);
      },
    ),
  );
});
