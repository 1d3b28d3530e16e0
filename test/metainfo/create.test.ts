import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TorrenttpError } from '../../src/errors/index.js';
import { autoPieceLength, createTorrent, HashPool, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, piecesOf, withTempDir } from '../helpers/torrents.js';

test('single file: the pieces are the SHA-1 of each piece, output is reproducible without a date', () =>
  withTempDir(async (dir) => {
    const data = bytes(300_001, 3);
    const file = join(dir, 'f.bin');
    writeFileSync(file, data);
    const seen: number[] = [];
    const a = await createTorrent(file, { pieceLength: 32768, creationDate: null, onProgress: (n) => seen.push(n) });
    assert.deepEqual(Buffer.from(a.metainfo.pieceHashes), Buffer.from(piecesOf(data, 32768)));
    assert.equal(a.metainfo.name, 'f.bin');
    assert.equal(a.metainfo.multiFile, false);
    assert.equal(seen.at(-1), data.length, 'progress reaches the total');
    const b = await createTorrent(file, { pieceLength: 32768, creationDate: null, threads: 1 });
    assert.deepEqual(Buffer.from(b.torrent), Buffer.from(a.torrent), 'same bytes, one thread or many');
    assert.deepEqual(parseTorrent(a.torrent), a.metainfo);
  }));

test('folder: deterministic order, nested, hidden and empty files, files smaller than a piece', () =>
  withTempDir(async (dir) => {
    const root = join(dir, 'share');
    mkdirSync(join(root, 'a', 'deep'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'x');
    writeFileSync(join(root, 'a-b'), 'yy');
    writeFileSync(join(root, 'a', 'deep', 'z'), bytes(50_000));
    writeFileSync(join(root, '.hidden'), 'h');
    writeFileSync(join(root, 'empty'), '');
    symlinkSync('a.txt', join(root, 'link'));
    symlinkSync('.', join(root, 'loop'));
    const { metainfo } = await createTorrent(root, { pieceLength: 16384, creationDate: null });
    assert.deepEqual(
      metainfo.files.map((f) => f.path.join('/')),
      ['.hidden', 'a-b', 'a.txt', 'a/deep/z', 'empty', 'link'],
    );
    const all = Buffer.concat([Buffer.from('h'), Buffer.from('yy'), Buffer.from('x'), bytes(50_000), Buffer.from('x')]);
    assert.deepEqual(Buffer.from(metainfo.pieceHashes), Buffer.from(piecesOf(all, 16384)));
  }));

test('options: trackers, web seeds, private, source, comment, name, date', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'f');
    writeFileSync(file, bytes(1000));
    const { metainfo, torrent } = await createTorrent(file, {
      announceList: [['http://a/announce', 'http://b/announce'], ['udp://c:1']],
      urlList: ['http://w/f'],
      private: true,
      source: 'S',
      comment: 'hello',
      name: 'renamed',
      creationDate: 42,
    });
    assert.deepEqual(metainfo.announceList, [['http://a/announce', 'http://b/announce'], ['udp://c:1']]);
    assert.deepEqual(metainfo.urlList, ['http://w/f']);
    assert.equal(metainfo.private, true);
    assert.equal(metainfo.source, 'S');
    assert.equal(metainfo.comment, 'hello');
    assert.equal(metainfo.name, 'renamed');
    assert.equal(metainfo.creationDate, 42);
    assert.equal(metainfo.pieceLength, 16384);
    assert.ok(Buffer.from(torrent).includes('10:created by15:torrenttp/0.1.0'));
    const noSource = await createTorrent(file, { private: true, name: 'renamed', creationDate: 42 });
    assert.notEqual(noSource.metainfo.infoHash, metainfo.infoHash, 'source is inside info');
  }));

test('bad requests are typed errors', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'f');
    writeFileSync(file, 'data');
    mkdirSync(join(dir, 'empty-dir'));
    writeFileSync(join(dir, 'zero'), '');
    const cases: [() => Promise<unknown>, string][] = [
      [() => createTorrent(file, { pieceLength: 100_000 }), 'METAINFO_BAD_PIECE_LENGTH'],
      [() => createTorrent(file, { pieceLength: 8192 }), 'METAINFO_BAD_PIECE_LENGTH'],
      [() => createTorrent(join(dir, 'missing')), 'CREATE_IO'],
      [() => createTorrent(join(dir, 'empty-dir')), 'CREATE_EMPTY'],
      [() => createTorrent(join(dir, 'zero')), 'CREATE_EMPTY'],
      [() => createTorrent(file, { announceList: [['ftp://x']] }), 'METAINFO_BAD_URL'],
      [() => createTorrent(file, { urlList: ['udp://x'] }), 'METAINFO_BAD_URL'],
    ];
    for (const [p, want] of cases) {
      await assert.rejects(p, (e: unknown) => e instanceof TorrenttpError && e.code === want, want);
    }
  }));

test('automatic piece length: powers of two, 16 KiB to 16 MiB, at most 2,000 pieces', () => {
  assert.equal(autoPieceLength(1), 16384);
  assert.equal(autoPieceLength(2000 * 16384), 16384);
  assert.equal(autoPieceLength(2000 * 16384 + 1), 32768);
  assert.equal(autoPieceLength(2 ** 30), 2 ** 20);
  assert.equal(autoPieceLength(2 ** 50), 16 * 2 ** 20);
  for (let size = 2 ** 26; size < 2 ** 35; size *= 3) {
    const n = size / autoPieceLength(size);
    assert.ok(n > 1000 && n <= 2000, `${size}: ${n} pieces`);
  }
});

test('a shared hash pool hashes buffers and pieces off the main thread', async () => {
  const pool = new HashPool({ threads: 2 });
  try {
    const data = bytes(1 << 20);
    const [a, b] = await Promise.all([pool.sha1(data), pool.sha1(data.slice(), { transfer: true })]);
    assert.deepEqual(a, b);
    assert.deepEqual(Buffer.from(a), Buffer.from(piecesOf(data, 1 << 20)));
  } finally {
    await pool.close();
  }
});

test('a file that changes or shrinks while it is hashed is a CREATE_CHANGED error, not a wrong torrent', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'f');
    writeFileSync(file, bytes(100_000));
    const pool = new HashPool({ threads: 1 });
    try {
      const job = { pieceLength: 16384, totalLength: 100_000, first: 0, end: 7 };
      const { mtimeMs } = statSync(file);
      await pool.hashPieces({ ...job, files: [{ path: file, offset: 0, length: 100_000, mtimeMs }] });
      await assert.rejects(pool.hashPieces({ ...job, files: [{ path: file, offset: 0, length: 100_000, mtimeMs: mtimeMs - 1000 }] }), {
        code: 'CREATE_CHANGED',
      });
      await assert.rejects(pool.hashPieces({ ...job, totalLength: 120_000, end: 8, files: [{ path: file, offset: 0, length: 120_000 }] }), {
        code: 'CREATE_CHANGED',
      });
      await assert.rejects(pool.listSource(join(dir, 'missing')), { code: 'CREATE_IO' });
    } finally {
      await pool.close();
    }
  }));
