import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskPool, openStorage, RESUME_FOLDER, StorageError } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex } from './helpers.js';

const pool = new DiskPool({ threads: 1 });
after(() => pool.close());

const specs = [
  { path: ['sub', 'f'], length: 5000 },
  { path: ['g'], length: 100 },
];

/** `dir/inside` is the download folder, `dir/outside` what a symlink points at. */
async function withDirs(fn: (inside: string, outside: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    mkdirSync(inside);
    mkdirSync(outside);
    await fn(inside, outside);
  });
}

test('a symlinked folder inside the download folder is refused, and nothing is created through it', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(specs, 4096);
    mkdirSync(join(inside, 'payload'));
    symlinkSync(outside, join(inside, 'payload', 'sub'));
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), (e) => e instanceof StorageError && e.code === 'STORAGE_PATH_ESCAPE');
    assert.deepEqual(readdirSync(outside), []);
  }));

test('a symlinked torrent folder is refused', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(specs, 4096);
    symlinkSync(outside, join(inside, 'payload'));
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_PATH_ESCAPE' });
    assert.deepEqual(readdirSync(outside), []);
  }));

test('a file that is a symlink is refused and its target left alone', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(100, 4096);
    writeFileSync(join(outside, 'target'), 'precious');
    symlinkSync(join(outside, 'target'), join(inside, 'payload'));
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_PATH_ESCAPE' });
    assert.equal(readFileSync(join(outside, 'target'), 'utf8'), 'precious');
  }));

test('a symlink planted after open is not followed by writes (O_NOFOLLOW)', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(specs, 4096);
    const s = await openStorage(t.metainfo, inside, { pool });
    writeFileSync(join(outside, 'target'), 'precious');
    rmSync(t.pathOf(inside, 1));
    symlinkSync(join(outside, 'target'), t.pathOf(inside, 1));
    const last = t.metainfo.pieceCount - 1; // lies partly in "g"
    await assert.rejects(s.commitPiece(pieceIndex(t, last), t.piece(last)), { code: 'STORAGE_PATH_ESCAPE' });
    assert.equal(s.bitfield.has(last), false);
    assert.equal(readFileSync(join(outside, 'target'), 'utf8'), 'precious');
    await s.close();
  }));

test('the download folder itself may be a symlink: the user chose it', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(100, 4096);
    const link = join(inside, 'link');
    symlinkSync(outside, link);
    const s = await openStorage(t.metainfo, link, { pool });
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
    await s.close();
    assert.ok(existsSync(join(outside, 'payload')));
  }));

test('a folder where a file goes, or a file where a folder goes, is a path conflict', () =>
  withDirs(async (inside) => {
    const t = makeTorrent(specs, 4096);
    mkdirSync(join(inside, 'payload', 'g'), { recursive: true });
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_PATH_CONFLICT' });
    rmSync(join(inside, 'payload'), { recursive: true });
    mkdirSync(join(inside, 'payload'));
    writeFileSync(join(inside, 'payload', 'sub'), 'x');
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_PATH_CONFLICT' });
  }));

test('a longer existing file is never cut: opening fails and the file is untouched', () =>
  withDirs(async (inside) => {
    const t = makeTorrent(100, 4096);
    writeFileSync(join(inside, 'payload'), new Uint8Array(101).fill(1));
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_FILE_TOO_LONG' });
    assert.deepEqual(new Uint8Array(readFileSync(join(inside, 'payload'))), new Uint8Array(101).fill(1));
  }));

test('a torrent named like the resume folder needs another resumeDir', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(100, 4096, { name: '.torrenttp' });
    await assert.rejects(openStorage(t.metainfo, inside, { pool }), { code: 'STORAGE_PATH_CONFLICT' });
    const s = await openStorage(t.metainfo, inside, { pool, resumeDir: outside });
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
    await s.close();
    assert.deepEqual(readdirSync(outside), [`${t.metainfo.infoHash}.resume`]);
  }));

test('a symlinked resume folder inside the download folder is refused when saving', () =>
  withDirs(async (inside, outside) => {
    const t = makeTorrent(100, 4096);
    symlinkSync(outside, join(inside, RESUME_FOLDER));
    const s = await openStorage(t.metainfo, inside, { pool });
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
    await assert.rejects(s.saveResume(), { code: 'STORAGE_PATH_ESCAPE' });
    await assert.rejects(s.close(), { code: 'STORAGE_PATH_ESCAPE' }, 'close reports the failed save after releasing everything');
    assert.deepEqual(readdirSync(outside), []);
  }));
