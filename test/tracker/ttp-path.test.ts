import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { toHex } from '../../src/metainfo/index.js';
import { checkTorrentUrl, jsonAnnounceUrlOf, MAX_PIECE_COUNT, parseTtpTarget, torrentUrlAt, ttpUrl } from '../../src/tracker/index.js';
import { errorCode } from '../helpers/errors.js';
import { hash20 } from './arbitraries.js';

const IH = '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8';

test('paths: every URL ttpUrl builds routes back to its resource', () => {
  fc.assert(
    fc.property(hash20.map(toHex), fc.integer({ min: 0, max: MAX_PIECE_COUNT - 1 }), (ih, index) => {
      const torrent = torrentUrlAt('http://192.0.2.10:8080', ih);
      const path = (u: string): string => u.slice('http://192.0.2.10:8080'.length);
      assert.deepEqual(parseTtpTarget(path(torrent)), { resource: 'torrent', infoHash: ih });
      assert.deepEqual(parseTtpTarget(path(ttpUrl(torrent, { resource: 'piece', index }))), { resource: 'piece', infoHash: ih, index });
      assert.deepEqual(parseTtpTarget(path(ttpUrl(torrent, { resource: 'have', query: 'since=a&wait=3' }))), { resource: 'have', infoHash: ih, query: 'since=a&wait=3' });
      assert.deepEqual(parseTtpTarget(path(ttpUrl(torrent, { resource: 'metainfo.json' }))), { resource: 'metainfo.json', infoHash: ih });
      assert.deepEqual(parseTtpTarget(path(ttpUrl(torrent, { resource: 'metainfo.torrent' }))), { resource: 'metainfo.torrent', infoHash: ih });
    }),
  );
});

test('paths: one URL per resource; everything else is refused with its code', () => {
  const t = `/ttp/v1/torrents/${IH}`;
  assert.deepEqual(parseTtpTarget('/ttp/v1/announce?x=1'), { resource: 'announce' });
  assert.deepEqual(parseTtpTarget('/ttp/v1/scrape'), { resource: 'scrape' });
  assert.equal(parseTtpTarget('/big.iso'), undefined);
  assert.equal(parseTtpTarget('/ttp/v10/announce'), undefined);
  assert.equal(parseTtpTarget('/TTP/v1/announce'), undefined);
  assert.deepEqual(parseTtpTarget(`/peer${t.slice(4)}/pieces/2`, '/peer/v1'), { resource: 'piece', infoHash: IH, index: 2 });
  const code = (target: string): string => errorCode(() => parseTtpTarget(target));
  assert.equal(code(`/ttp/v1/torrents/${IH.toUpperCase()}`), 'TRACKER_BAD_INFO_HASH');
  assert.equal(code('/ttp/v1/torrents/2560f1ee'), 'TRACKER_BAD_INFO_HASH');
  assert.equal(code(`/ttp/v1/torrents/%32${IH.slice(1)}`), 'TRACKER_BAD_INFO_HASH');
  for (const bad of [`${t}/`, `${t}/pieces/01`, `${t}/pieces/-1`, `${t}/pieces/1e3`, `${t}/pieces/`, `${t}/pieces/1/x`, `${t}/have/`, `${t}/metainfo`, '/ttp/v1', '/ttp/v1/', '/ttp/v1/torrents', '/ttp/v1/announce/']) {
    assert.equal(code(bad), 'TTP_NOT_FOUND', bad);
  }
  assert.equal(code(`${t}/pieces/${MAX_PIECE_COUNT}`), 'TTP_NO_SUCH_PIECE');
  assert.equal(code(`${t}/pieces/99999999999999999`), 'TTP_NOT_FOUND');
});

test('paths: hostile targets route, fall through or throw a typed error', () => {
  const seg = fc.oneof(fc.constantFrom('ttp', 'v1', 'torrents', IH, 'have', 'pieces', '0', '07', '', '..', '%2f', 'announce'), fc.string({ maxLength: 12 }));
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 7 }), fc.option(fc.string(), { nil: undefined }), (segs, q) => {
      try {
        parseTtpTarget(`/${segs.join('/')}${q === undefined ? '' : `?${q}`}`);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
    { numRuns: 3000 },
  );
});

test('torrent URLs: absolute http(s), no query, fragment, credentials or trailing slash', () => {
  const ok = `https://203.0.113.5:8443/ttp/v1/torrents/${IH}`;
  assert.equal(checkTorrentUrl(ok), ok);
  for (const bad of [`${ok}/`, `${ok}?a=1`, `${ok}#x`, `https://u:p@203.0.113.5/t`, `ftp://h/${IH}`, 'not a url', `https://h/${'a'.repeat(3000)}`]) {
    assert.equal(errorCode(() => checkTorrentUrl(bad)), 'TTP_BAD_URL', bad);
  }
});

test('JSON announce URL by the BEP 48 convention', () => {
  assert.equal(jsonAnnounceUrlOf('http://tracker.example:6969/announce'), 'http://tracker.example:6969/ttp/v1/announce');
  assert.equal(jsonAnnounceUrlOf('https://t.example/x/announce?passkey=abc'), 'https://t.example/x/ttp/v1/announce?passkey=abc');
  assert.equal(jsonAnnounceUrlOf('http://t.example/announce.php'), undefined);
  assert.equal(jsonAnnounceUrlOf('udp://t.example:6969/announce'), undefined);
  assert.equal(jsonAnnounceUrlOf('::'), undefined);
});
