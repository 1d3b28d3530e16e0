/**
 * Size-targeted hostile torrents (issue 18, items 2 and 3): each must end in a typed error or a
 * value, in time linear in its size, never in an out-of-memory crash or minutes of CPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FETCH_PIECE_LENGTH, MAX_PIECE_LENGTH, MetainfoError, parseMetainfoJson, parseTorrent, PATH_LIMITS, toMetainfoJson } from '../../src/metainfo/index.js';
import { errorCode } from '../helpers/errors.js';
import { torrentBytes } from '../helpers/torrents.js';

const PIECE = 16384;

/** A multi-file torrent whose `files` are `files` entries, each of `depth` components of `width` bytes. */
function deepTorrent(files: number, depth: number, width: number, same = (_f: number): number => _f): Buffer {
  const parts: Buffer[] = [Buffer.from('d8:announce22:http://t.example/annce4:infod5:filesl')];
  for (let f = 0; f < files; f++) {
    const tag = `f${same(f)}c`;
    let entry = 'd6:lengthi1e4:pathl';
    for (let i = 0; i < depth; i++) entry += `${width}:${`${tag}${i}`.padEnd(width, 'x')}`;
    parts.push(Buffer.from(`${entry}ee`, 'latin1'));
  }
  const pieces = Math.ceil(files / PIECE);
  parts.push(Buffer.from(`e4:name1:n12:piece lengthi${PIECE}e6:pieces${20 * pieces}:${'a'.repeat(20 * pieces)}ee`, 'latin1'));
  return Buffer.concat(parts);
}

/**
 * The CPU time `f` takes (user + system of this process): the bounds are about work, and wall
 * time on a loaded machine is mostly waiting for a core (4.0 s wall once in CI at load 10).
 */
function timed<T>(f: () => T): { value: T; ms: number } {
  const t = process.cpuUsage();
  const value = f();
  const d = process.cpuUsage(t);
  return { value, ms: (d.user + d.system) / 1000 };
}

test('a 62 MB torrent of 10,500 paths × 256 components is refused with METAINFO_LIMIT_EXCEEDED, not an OOM', () => {
  // It used to take 4.3 GB and 96 s, then crash: every folder prefix of every path was joined.
  const t = deepTorrent(10_500, 256, 20);
  assert.ok(t.length > 60_000_000, `${t.length} bytes`);
  const heapBefore = process.memoryUsage().heapUsed;
  const { value: code, ms } = timed(() => errorCode(() => parseTorrent(t), MetainfoError));
  assert.equal(code, 'METAINFO_LIMIT_EXCEEDED');
  // The decode of 2.7 M strings dominates (about 1 s of CPU on an idle core).
  assert.ok(ms < 8000, `${ms.toFixed(0)} ms`);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 1024 * 1024 * 1024, 'heap stays bounded');
});

test('2,000 paths of 256 components (8.9 MB) parse in linear time, duplicates renamed', () => {
  // Used to cost 11.8 s and 1.5 GB in the duplicate-path check. Files 1000… repeat files 0…, so
  // a thousand are renamed.
  const t = deepTorrent(2000, 256, 20, (f) => f % 1000);
  const { value: m, ms } = timed(() => parseTorrent(t));
  assert.equal(m.files.length, 2000);
  const last = m.files[1999]!;
  assert.equal(last.path.length, 256);
  assert.equal(last.path.at(-1), `${'f999c255'.padEnd(20, 'x')}.1`);
  assert.deepEqual(last.torrentPath, m.files[999]!.path);
  assert.equal(m.files.filter((f) => f.torrentPath !== undefined).length, 1000);
  assert.ok(ms < 4000, `${ms.toFixed(0)} ms`);
});

test('path limits: depth, total components and total bytes, each an option, each exact at its bound', () => {
  const t = deepTorrent(10, 4, 8); // 40 components, 320 bytes
  assert.equal(parseTorrent(t, { pathLimits: { maxPathDepth: 4, maxPathComponents: 40, maxPathBytes: 320 } }).files.length, 10);
  assert.equal(errorCode(() => parseTorrent(t, { pathLimits: { maxPathDepth: 3 } })), 'METAINFO_BAD_PATH');
  assert.equal(errorCode(() => parseTorrent(t, { pathLimits: { maxPathComponents: 39 } })), 'METAINFO_LIMIT_EXCEEDED');
  assert.equal(errorCode(() => parseTorrent(t, { pathLimits: { maxPathBytes: 319 } })), 'METAINFO_LIMIT_EXCEEDED');
  assert.deepEqual(PATH_LIMITS, { maxPathDepth: 256, maxPathComponents: 2_000_000, maxPathBytes: 32 * 1024 * 1024 });
  assert.equal(errorCode(() => parseTorrent(deepTorrent(1, 257, 8))), 'METAINFO_BAD_PATH', 'default depth 256');
  assert.equal(parseTorrent(deepTorrent(1, 256, 8)).files[0]!.path.length, 256);
});

test('6 MB of empty dicts in info (issue 18): a typed error, in time linear in the input', () => {
  // `d4:infol` + `de` × 2,999,990 + `ee` took 72 s in parseTorrent (spans in a WeakMap). Counting
  // each `e` as a token, as libtorrent does, it now stops at the token limit halfway through.
  const t = Buffer.from(`d4:infol${'de'.repeat(2_999_990)}ee`, 'latin1');
  const { value: code, ms } = timed(() => errorCode(() => parseTorrent(t)));
  assert.equal(code, 'BENCODE_TOKEN_LIMIT');
  assert.ok(ms < 8000, `${ms.toFixed(0)} ms`);
});

test('maxPieceLength (a hostile origin\'s 1 GiB pieces): METAINFO_PIECE_TOO_LARGE above it, .torrent and JSON alike, exact at its bound; the default still takes 1 GiB', () => {
  const of = (pieceLength: number): Uint8Array => torrentBytes({ name: 'x', 'piece length': pieceLength, length: 5, pieces: new Uint8Array(20) });
  assert.equal(MAX_FETCH_PIECE_LENGTH, 64 * 1024 * 1024);
  const huge = of(MAX_PIECE_LENGTH);
  assert.equal(parseTorrent(huge).pieceLength, MAX_PIECE_LENGTH, 'download/seed/info: every torrent libtorrent loads');
  const opts = { maxPieceLength: MAX_FETCH_PIECE_LENGTH };
  assert.equal(errorCode(() => parseTorrent(huge, opts)), 'METAINFO_PIECE_TOO_LARGE');
  assert.equal(errorCode(() => parseTorrent(of(2 * MAX_FETCH_PIECE_LENGTH), opts)), 'METAINFO_PIECE_TOO_LARGE');
  assert.equal(parseTorrent(of(MAX_FETCH_PIECE_LENGTH), opts).pieceLength, MAX_FETCH_PIECE_LENGTH);
  const json = JSON.stringify(toMetainfoJson(parseTorrent(huge)));
  assert.equal(parseMetainfoJson(json).pieceLength, MAX_PIECE_LENGTH);
  assert.equal(errorCode(() => parseMetainfoJson(json, opts)), 'METAINFO_PIECE_TOO_LARGE');
  const e = (() => {
    try {
      parseTorrent(huge, opts);
    } catch (err) {
      return err as MetainfoError;
    }
    return undefined;
  })();
  assert.ok(e instanceof MetainfoError);
  assert.match(e.message, /1073741824 bytes.*67108864/);
});
