/**
 * A multi-file torrent that lists two files at one path (BEP 3 does not forbid it; libtorrent and
 * others rename the later one): parsed, seeded from data laid out as renamed, downloaded by another
 * client byte-identical, and fetched from a web seed under the path the torrent lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { webSeedFileUrl } from '../../src/transport/web-seed-url.js';
import { bytes, piecesOf, sha1Hex, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { encode } from '../../src/bencode/index.js';

const FILES: [string[], Uint8Array][] = [
  [['a.txt'], bytes(70_000, 1)],
  [['sub', 'x'], bytes(5_000, 2)],
  [['a.txt'], bytes(40_000, 3)],
  [['sub', 'x'], bytes(123, 4)],
];
const PIECE = 16 * 1024;

function duplicateTorrent(extra: Record<string, string[]> = {}): { torrent: Uint8Array; info: Record<string, unknown> } {
  const content = Buffer.concat(FILES.map(([, b]) => b));
  const info = { name: 'dup', 'piece length': PIECE, pieces: piecesOf(content, PIECE), files: FILES.map(([path, b]) => ({ length: b.length, path })) };
  return { torrent: torrentBytes(info, extra), info };
}

test('two files at one path: we seed it (data as renamed) and another client downloads it byte-identical', { timeout: 60_000 }, () =>
  withTempDir(async (dir) => {
    const { torrent, info } = duplicateTorrent();
    const m = parseTorrent(torrent);
    assert.equal(m.infoHash, sha1Hex(encode(info as never)));
    const onDisk = ['a.txt', 'sub/x', 'a.1.txt', 'sub/x.1'];
    assert.deepEqual(m.files.map((f) => f.path.join('/')), onDisk);
    const seedRoot = join(dir, 'seed');
    mkdirSync(join(seedRoot, 'dup', 'sub'), { recursive: true });
    FILES.forEach(([, b], i) => writeFileSync(join(seedRoot, 'dup', onDisk[i]!), b));

    const seeder = new Client();
    const leecher = new Client();
    try {
      const s = await seeder.add(torrent, { path: seedRoot, trackers: false });
      assert.ok(s.complete, 'the seed verified every piece from the renamed files');
      const l = await leecher.add(torrent, { path: join(dir, 'dl'), trackers: false, peers: [`127.0.0.1:${seeder.port}`] });
      await l.done;
    } finally {
      await Promise.all([seeder.close(), leecher.close()]);
    }
    FILES.forEach(([, b], i) => assert.deepEqual(readFileSync(join(dir, 'dl', 'dup', onDisk[i]!)), Buffer.from(b), onDisk[i]));
  }));

test('a web seed is asked for a renamed file under the path the torrent lists (BEP 19)', () => {
  const m = parseTorrent(duplicateTorrent().torrent);
  assert.equal(webSeedFileUrl('http://h/d/', m, 2), 'http://h/d/dup/a.txt');
  assert.equal(webSeedFileUrl('http://h/d/', m, 3), 'http://h/d/dup/sub/x');
});
