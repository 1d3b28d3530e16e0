import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../src/bencode/index.js';
import { encodeTorrent, MetainfoError, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, piecesOf, sha1Hex, torrentBytes } from '../helpers/torrents.js';
import { errorCode } from '../helpers/errors.js';

const data = bytes(100_000);
const single = { name: 'a.bin', 'piece length': 32768, length: data.length, pieces: piecesOf(data, 32768) };

const code = errorCode;

test('single-file torrent: fields, geometry, info-hash of the raw info bytes', () => {
  const t = torrentBytes(single, {
    announce: 'http://t.example/announce',
    comment: 'hi',
    'created by': 'test',
    'creation date': 1700000000,
  });
  const m = parseTorrent(t);
  assert.equal(m.name, 'a.bin');
  assert.equal(m.length, 100_000);
  assert.equal(m.pieceCount, 4);
  assert.equal(m.multiFile, false);
  assert.deepEqual(m.files, [{ path: ['a.bin'], length: 100_000, offset: 0 }]);
  assert.deepEqual(m.announceList, [['http://t.example/announce']]);
  assert.equal(m.comment, 'hi');
  assert.equal(m.createdBy, 'test');
  assert.equal(m.creationDate, 1700000000);
  assert.equal(m.private, false);
  assert.equal(m.infoHash, sha1Hex(encode(single)));
  assert.equal(m.geometry.lastPieceLength, 100_000 - 3 * 32768);
});

test('the info-hash is of the original bytes, even when they are not canonical', () => {
  // Unsorted keys inside info: a re-encoding would sort them and change the hash.
  const body = `d4:name5:a.bin6:lengthi${data.length}e12:piece lengthi32768e6:pieces80:`;
  const info = Buffer.concat([Buffer.from(body, 'latin1'), single.pieces, Buffer.from('e')]);
  const t = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
  const m = parseTorrent(t);
  assert.equal(m.infoHash, sha1Hex(info));
  assert.notEqual(m.infoHash, sha1Hex(encode(single)));
  assert.equal(code(() => parseTorrent(t, { strict: true })), 'BENCODE_UNSORTED_KEYS');
});

test('multi-file torrent with an empty file and files smaller than a piece', () => {
  const files = [
    { length: 10, path: ['a', 'x.txt'] },
    { length: 0, path: ['empty'] },
    { length: 99_990, path: ['z.bin'] },
  ];
  const m = parseTorrent(torrentBytes({ name: 'dir', 'piece length': 32768, files, pieces: piecesOf(data, 32768) }));
  assert.equal(m.multiFile, true);
  assert.deepEqual(m.files.map((f) => [f.path.join('/'), f.offset, f.length]), [
    ['a/x.txt', 0, 10],
    ['empty', 10, 0],
    ['z.bin', 10, 99_990],
  ]);
  assert.deepEqual(m.geometry.pieceSlices(m.geometry.pieceIndex(0)), [
    { fileIndex: 0, fileOffset: 0, length: 10 },
    { fileIndex: 2, fileOffset: 0, length: 32758 },
  ]);
});

test('announce-list tiers (BEP 12), url-list as string or list (BEP 19), private (BEP 27), source', () => {
  const m = parseTorrent(
    torrentBytes(
      { ...single, private: 1, source: 'SRC' },
      {
        announce: 'http://ignored/announce',
        'announce-list': [['udp://a:1/announce', 'http://b/announce'], [], ['https://c/announce', 'gopher://bad']],
        'url-list': ['http://ws/a.bin', ''],
      },
    ),
  );
  assert.deepEqual(m.announceList, [['udp://a:1/announce', 'http://b/announce'], ['https://c/announce']]);
  assert.deepEqual(m.urlList, ['http://ws/a.bin']);
  assert.equal(m.private, true);
  assert.equal(m.source, 'SRC');
  assert.equal(m.warnings.length, 1, 'the bad tracker URL is reported');
  assert.deepEqual(parseTorrent(torrentBytes(single, { 'url-list': 'http://ws/x' })).urlList, ['http://ws/x']);
  assert.equal(parseTorrent(torrentBytes({ ...single, private: 0 })).private, false);
});

test('malformed fields outside info are dropped with a warning, not fatal', () => {
  const m = parseTorrent(torrentBytes(single, { announce: 5, 'creation date': 'yesterday', 'url-list': 7 }));
  assert.deepEqual(m.announceList, []);
  assert.equal(m.creationDate, undefined);
  assert.equal(m.warnings.length, 3);
});

test('bad info dicts get one typed error each', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['METAINFO_BAD_PATH', { ...single, name: '..' }],
    ['METAINFO_BAD_PATH', { ...single, name: '' }],
    ['METAINFO_BAD_PATH', { ...single, name: 'a/b' }],
    ['METAINFO_BAD_PATH', { ...single, name: 'a\\b' }],
    ['METAINFO_BAD_PATH', { ...single, name: 'a\0b' }],
    ['METAINFO_BAD_FILE_LENGTH', { ...single, length: -1 }],
    ['METAINFO_BAD_FILE_LENGTH', { ...single, length: 2n ** 70n }],
    ['METAINFO_BAD_PIECES', { ...single, pieces: single.pieces.subarray(0, 79) }],
    ['METAINFO_BAD_PIECES', { ...single, pieces: single.pieces.subarray(0, 60) }],
    ['METAINFO_BAD_PIECES', { ...single, length: 0, pieces: new Uint8Array(0) }],
    ['METAINFO_BAD_PIECE_LENGTH', { ...single, 'piece length': 0 }],
    ['METAINFO_BAD_PIECE_LENGTH', { ...single, 'piece length': -16384 }],
    ['METAINFO_BAD_PIECE_LENGTH', { ...single, 'piece length': 2 ** 31 }],
    ['METAINFO_MISSING_FIELD', { name: 'x', 'piece length': 16384, pieces: new Uint8Array(20) }],
    ['METAINFO_MISSING_FIELD', { ...single, pieces: undefined }],
    ['METAINFO_BAD_FIELD', { ...single, files: [{ length: 1, path: ['a'] }] }],
    ['METAINFO_BAD_FIELD', { ...single, name: 5 }],
    ['METAINFO_BAD_FIELD', { ...single, length: '5' }],
  ];
  for (const [want, info] of cases) {
    assert.equal(code(() => parseTorrent(torrentBytes(info as never))), want, JSON.stringify(info, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
});

test('file paths cannot escape or be empty', () => {
  const multi = (paths: string[][]) =>
    torrentBytes({
      name: 'd',
      'piece length': 32768,
      files: paths.map((path, i) => ({ length: i === 0 ? data.length : 0, path })),
      pieces: piecesOf(data, 32768),
    });
  for (const bad of [[['..', 'etc', 'passwd']], [['a', '..', 'b']], [['/etc/passwd']], [['.']], [['']], [[]], [['C:\\x']]]) {
    assert.equal(code(() => parseTorrent(multi(bad))), 'METAINFO_BAD_PATH', JSON.stringify(bad));
  }
  assert.equal(code(() => parseTorrent(torrentBytes({ name: 'd', 'piece length': 32768, files: [], pieces: new Uint8Array(0) }))), 'METAINFO_BAD_FIELD');
});

test('not a torrent', () => {
  assert.equal(code(() => parseTorrent(encode([1, 2]))), 'METAINFO_NOT_A_DICT');
  assert.equal(code(() => parseTorrent(encode({ announce: 'x' }))), 'METAINFO_MISSING_FIELD');
  assert.equal(code(() => parseTorrent(encode({ info: 'x' }))), 'METAINFO_BAD_FIELD');
  assert.equal(code(() => parseTorrent(new TextEncoder().encode('<html>'))), 'BENCODE_UNEXPECTED_BYTE');
  assert.ok((() => {
    try {
      parseTorrent(encode([1]));
    } catch (e) {
      return e instanceof MetainfoError;
    }
    return false;
  })());
});

test('utf-8 variants of name and path are preferred', () => {
  const m = parseTorrent(
    torrentBytes({
      name: Buffer.from([0xe9]),
      'name.utf-8': 'é',
      'piece length': 32768,
      files: [{ length: data.length, path: [Buffer.from([0xff])], 'path.utf-8': ['ÿ.bin'] }],
      pieces: piecesOf(data, 32768),
    }),
  );
  assert.equal(m.name, 'é');
  assert.deepEqual(m.files[0]!.path, ['ÿ.bin']);
});

test('encodeTorrent keeps the info bytes and round-trips the extras', () => {
  const m = parseTorrent(torrentBytes(single));
  const again = parseTorrent(
    encodeTorrent(m.infoBytes, {
      announceList: [['http://a/announce'], ['udp://b:1']],
      urlList: ['http://w/a.bin'],
      comment: 'c',
      createdBy: 'me',
      creationDate: 1,
    }),
    { strict: true },
  );
  assert.equal(again.infoHash, m.infoHash);
  assert.deepEqual(again.announceList, [['http://a/announce'], ['udp://b:1']]);
  assert.deepEqual(again.urlList, ['http://w/a.bin']);
  assert.equal(again.comment, 'c');
  // A single tracker writes only `announce` (BEP 12: the list is for more than one).
  const one = encodeTorrent(m.infoBytes, { announceList: [['http://a/announce']] });
  assert.ok(!Buffer.from(one).includes('announce-list'));
});

test('two files at one path: the later one is renamed on disk (name.1.ext, as libtorrent), the info-hash stays that of the original info', () => {
  const paths = [['a.txt'], ['sub', 'x'], ['a.txt'], ['a.1.txt'], ['sub', 'x'], ['sub'], ['a.txt'], ['.hidden'], ['.hidden'], ['sub', 'x', 'y']];
  const info = {
    name: 'd',
    'piece length': 32768,
    files: paths.map((path, i) => ({ length: i === 0 ? data.length : 0, path })),
    pieces: piecesOf(data, 32768),
  };
  const m = parseTorrent(torrentBytes(info));
  assert.equal(m.infoHash, sha1Hex(encode(info)));
  assert.deepEqual(
    m.files.map((f) => f.path.join('/')),
    // a file that collides with an earlier file, or with a folder another file needs, gets the
    // first free `base.N.ext`; a name that is taken later by the torrent itself moves on too
    ['a.txt', 'sub/x.1', 'a.1.txt', 'a.1.1.txt', 'sub/x.2', 'sub.1', 'a.2.txt', '.hidden', '.hidden.1', 'sub/x/y'],
  );
  // what the torrent says stays readable, for a web seed's URL (BEP 19 names files as listed)
  assert.deepEqual(m.files.map((f) => f.torrentPath?.join('/')), [undefined, 'sub/x', 'a.txt', 'a.1.txt', 'sub/x', 'sub', 'a.txt', undefined, '.hidden', undefined]);
  assert.equal(new Set(m.files.map((f) => f.path.join('/'))).size, paths.length);
});

test('renaming stays linear: thousands of files at one path, and the names it would pick already taken', () => {
  const taken = Array.from({ length: 5000 }, (_, i) => ['same' + (i === 0 ? '' : `.${i}`)]);
  const same = Array.from({ length: 5000 }, () => ['same']);
  const paths = [...taken, ...same];
  const info = { name: 'd', 'piece length': 32768, files: paths.map((path, i) => ({ length: i === 0 ? data.length : 0, path })), pieces: piecesOf(data, 32768) };
  const started = performance.now();
  const m = parseTorrent(torrentBytes(info));
  assert.ok(performance.now() - started < 2000);
  assert.equal(new Set(m.files.map((f) => f.path[0])).size, paths.length);
  assert.equal(m.files[5000]!.path[0], 'same.5000');
  assert.equal(m.files.at(-1)!.path[0], 'same.9999');
});
