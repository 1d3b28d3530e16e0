import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import fsp, { open as openFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskPool, openStorage, RESUME_FOLDER, type OpenStorageOptions } from '../../src/storage/index.js';
import { decodeResume } from '../../src/storage/resume.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, type TestTorrent } from './helpers.js';

const pool = new DiskPool({ threads: 2 });
after(() => pool.close());

const specs = [
  { path: ['one'], length: 20_000 },
  { path: ['two'], length: 30_000 },
  { path: ['three'], length: 9_000 },
];

/** Commits `pieces` and closes (which saves the resume file). */
async function download(t: TestTorrent, dir: string, pieces: readonly number[]): Promise<void> {
  const s = await openStorage(t.metainfo, dir, { pool });
  for (const i of pieces) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)));
  await s.close();
}

/** Opens, noting how many bytes were hashed. */
async function reopen(t: TestTorrent, dir: string, opts: OpenStorageOptions = {}): Promise<{ pieces: number[]; hashedBytes: number }> {
  let hashedBytes = 0;
  const s = await openStorage(t.metainfo, dir, { pool, ...opts, onCheckProgress: (n) => (hashedBytes = n) });
  const pieces = [...s.bitfield];
  await s.close();
  return { pieces, hashedBytes };
}

async function overwrite(path: string, at: number, bytes: Uint8Array): Promise<void> {
  const fh = await openFile(path, 'r+');
  await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
}

test('a resume file that matches the files is trusted: nothing is hashed', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    await download(t, dir, [0, 2, 3, 7]);
    assert.ok(existsSync(join(dir, RESUME_FOLDER, `${t.metainfo.infoHash}.resume`)));
    assert.deepEqual(await reopen(t, dir), { pieces: [0, 2, 3, 7], hashedBytes: 0 });
  }));

test('opening and closing without a download saves the allocation: the next open hashes nothing', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    assert.deepEqual(await reopen(t, dir), { pieces: [], hashedBytes: 0 });
    assert.deepEqual(await reopen(t, dir), { pieces: [], hashedBytes: 0 }, 'the sparse files are not rehashed');
  }));

test('a file touched since the save is rechecked: only pieces touching it are hashed', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    const g = t.metainfo.geometry;
    await download(t, dir, [0, 1, 2, 3, 4, 5, 6]);
    // Give "one" a whole-second mtime (Node sets times in float seconds, so only those restore
    // exactly), and let a reopen record it.
    utimesSync(t.pathOf(dir, 0), 1_700_000_000, 1_700_000_000);
    assert.deepEqual((await reopen(t, dir)).pieces, [0, 1, 2, 3, 4, 5, 6]);
    // Corrupt piece 4 (inside file "two") and piece 0 (file "one"), then restore "one"'s mtime:
    // "two" is rechecked, "one" is trusted (size and mtime match), as documented.
    await overwrite(t.pathOf(dir, 1), 4 * 8192 - 20_000, new Uint8Array([1, 2, 3]));
    await overwrite(t.pathOf(dir, 0), 0, new Uint8Array([1, 2, 3]));
    utimesSync(t.pathOf(dir, 0), 1_700_000_000, 1_700_000_000);
    const { first, end } = g.piecesOfFile(1);
    const onDisk = [0, 1, 2, 3, 4, 5, 6].filter((i) => i >= first && i < end);
    const got = await reopen(t, dir);
    assert.deepEqual(got.pieces, [0, 1, 2, 3, 5, 6]);
    assert.equal(got.hashedBytes, onDisk.reduce((n, i) => n + g.pieceLengthOf(i), 0));
    // `recheck` ignores the resume file: the corrupt piece 0 is found too.
    const forced = await reopen(t, dir, { recheck: true });
    assert.deepEqual(forced.pieces, [1, 2, 3, 5, 6]);
    assert.equal(forced.hashedBytes, t.metainfo.length);
  }));

test('no resume file, or a corrupt one: existing data is rechecked; missing and short files leave pieces absent', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    const g = t.metainfo.geometry;
    await download(t, dir, [...Array(g.pieceCount).keys()]);
    writeFileSync(join(dir, RESUME_FOLDER, `${t.metainfo.infoHash}.resume`), 'd7:versioni1ee-garbage');
    assert.deepEqual((await reopen(t, dir)).pieces, [...Array(g.pieceCount).keys()]);

    // Start again from files copied in by hand: "one" whole, "two" cut short, "three" missing.
    await withTempDir(async (other) => {
      mkdirSync(join(other, 'payload'));
      writeFileSync(t.pathOf(other, 0), t.fileData(0));
      writeFileSync(t.pathOf(other, 1), t.fileData(1).subarray(0, 10_000));
      const got = await reopen(t, other);
      // Pieces 0 and 1 lie in "one"; piece 2 spans "one" and the first 4,576 bytes of "two";
      // piece 3 needs bytes 4,576..12,768 of "two", which is cut at 10,000.
      assert.deepEqual(got.pieces, [0, 1, 2]);
      assert.equal(got.hashedBytes, 3 * 8192);
      assert.equal(statSync(t.pathOf(other, 1)).size, 30_000, 'the short file is extended');
      assert.deepEqual(readFileSync(t.pathOf(other, 1)).subarray(0, 10_000), Buffer.from(t.fileData(1).subarray(0, 10_000)), 'its bytes kept');
      assert.equal(statSync(t.pathOf(other, 2)).size, 9_000, 'the missing file is created');
    });
  }));

test('resumeDir false: no resume file is read or written, and nothing is fdatasynced for one', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    const counted = new DiskPool({ threads: 1 });
    let syncs = 0;
    const sync = counted.sync.bind(counted);
    counted.sync = (paths) => {
      syncs++;
      return sync(paths);
    };
    try {
      const s = await openStorage(t.metainfo, dir, { pool: counted, resumeDir: false, resumeIntervalMs: 1 });
      assert.ok(await s.commitPiece(pieceIndex(t, 3), t.piece(3)));
      await sleep(20);
      await s.saveResume();
      await s.close();
      assert.equal(syncs, 0, 'no fdatasync: nothing will vouch for the bytes');
      assert.deepEqual(readdirSync(dir), ['payload'], 'no resume folder');
      // A resume file left by an earlier run is not read: what is on disk is hashed.
      await download(t, dir, [0, 1]);
      const got = await reopen(t, dir, { resumeDir: false });
      assert.deepEqual(got.pieces, [0, 1, 3]);
      assert.equal(got.hashedBytes, t.metainfo.length, 'every piece on disk is hashed');
    } finally {
      await counted.close();
    }
  }));

test('skipVerify trusts files of the right size without hashing', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    mkdirSync(join(dir, 'payload'));
    writeFileSync(t.pathOf(dir, 0), new Uint8Array(20_000)); // right size, wrong bytes: trusted anyway
    writeFileSync(t.pathOf(dir, 1), t.fileData(1));
    writeFileSync(t.pathOf(dir, 2), t.fileData(2));
    const got = await reopen(t, dir, { skipVerify: true });
    assert.deepEqual(got.pieces, [...Array(t.metainfo.pieceCount).keys()]);
    assert.equal(got.hashedBytes, 0);
  }));

/**
 * skipVerify seeds files as they are (`serve`'s seed opens a file it hashed, which may be gone or
 * cut by then): one missing or short fails the open, and nothing is created or extended, its
 * folder included; a file not selected may be missing.
 */
test('skipVerify: a file missing or short fails the open with STORAGE_FILE_INCOMPLETE; nothing is created or extended', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent([...specs, { path: ['sub', 'four'], length: 100 }], 8192);
    mkdirSync(join(dir, 'payload'));
    for (const i of [0, 1]) writeFileSync(t.pathOf(dir, i), t.fileData(i));
    writeFileSync(t.pathOf(dir, 2), t.fileData(2).subarray(0, 100)); // short
    const incomplete = { code: 'STORAGE_FILE_INCOMPLETE' };
    await assert.rejects(openStorage(t.metainfo, dir, { pool, skipVerify: true }), incomplete);
    assert.equal(statSync(t.pathOf(dir, 2)).size, 100, 'the short file is not extended');
    rmSync(t.pathOf(dir, 2));
    await assert.rejects(openStorage(t.metainfo, dir, { pool, skipVerify: true }), incomplete);
    assert.deepEqual(readdirSync(join(dir, 'payload')).sort(), ['one', 'two'], 'nothing created, folders included');
    // Not selected: neither wanted nor created.
    const s = await openStorage(t.metainfo, dir, { pool, skipVerify: true, selectedFiles: [0] });
    assert.ok(s.bitfield.has(0));
    await s.close();
    assert.equal(existsSync(t.pathOf(dir, 2)), false);
  }));

/**
 * skipVerify creates no folder, but a folder on the way that is a symlink or a file is refused as
 * without it (STORAGE_PATH_ESCAPE, STORAGE_PATH_CONFLICT, naming that folder), not said as the
 * file "missing": the file is there, behind the symlink, where the user looks.
 */
test('skipVerify: a folder on the way that is a symlink or a file is said as such, not as the file missing', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent([...specs, { path: ['sub', 'four'], length: 100 }], 8192);
    mkdirSync(join(dir, 'payload'));
    for (let i = 0; i < 3; i++) writeFileSync(t.pathOf(dir, i), t.fileData(i));
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'elsewhere', 'four'), t.fileData(3));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'payload', 'sub'));
    await assert.rejects(openStorage(t.metainfo, dir, { pool, skipVerify: true }), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'STORAGE_PATH_ESCAPE', err.message);
      assert.match(err.message!, /payload\/sub is a symlink/);
      return true;
    });
    rmSync(join(dir, 'payload', 'sub'));
    writeFileSync(join(dir, 'payload', 'sub'), 'a file');
    await assert.rejects(openStorage(t.metainfo, dir, { pool, skipVerify: true }), { code: 'STORAGE_PATH_CONFLICT' });
    rmSync(join(dir, 'payload', 'sub'));
    await assert.rejects(openStorage(t.metainfo, dir, { pool, skipVerify: true }), { code: 'STORAGE_FILE_INCOMPLETE' });
    assert.deepEqual(readdirSync(join(dir, 'payload')).sort(), ['one', 'three', 'two'], 'no folder made');
  }));

test('the resume file is saved periodically while pieces arrive', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    const file = join(dir, RESUME_FOLDER, `${t.metainfo.infoHash}.resume`);
    const s = await openStorage(t.metainfo, dir, { pool, resumeIntervalMs: 20 });
    assert.ok(await s.commitPiece(pieceIndex(t, 3), t.piece(3)));
    // The save that names piece 3 (one begun before the commit ended may be written first).
    const names3 = (): boolean => existsSync(file) && decodeResume(readFileSync(file), t.metainfo.infoHash, t.metainfo.pieceCount, t.metainfo.files.length)?.bitfield.has(3) === true;
    for (let k = 0; k < 200 && !names3(); k++) await sleep(10);
    assert.ok(names3(), 'saved without saveResume or close');
    const before = statSync(file).mtimeMs;
    await sleep(80);
    assert.equal(statSync(file).mtimeMs, before, 'not rewritten while nothing changed');
    await s.close();
  }));

test('a write that leaves the mtime a periodic save recorded is caught: recently written files are rechecked', () =>
  withTempDir(async (dir) => {
    // Kernels move mtimes in coarse ticks, so a write right after a save can leave the recorded
    // mtime. Simulate it exactly: give the file a whole-second mtime (Node sets times in float
    // seconds), save, write another piece, put that mtime back, then "crash" (no close).
    const t = makeTorrent(specs, 8192);
    const path = t.pathOf(dir, 1);
    for (const [ageSec, expected] of [[0, [2, 3, 4]], [10, [2, 3]]] as const) {
      await withTempDir(async (resumeDir) => {
        const s = await openStorage(t.metainfo, dir, { pool, resumeDir, resumeIntervalMs: 0 });
        for (const i of [2, 3]) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)));
        const mtimeSec = Math.floor(Date.now() / 1000) - ageSec;
        utimesSync(path, mtimeSec, mtimeSec);
        await s.saveResume();
        assert.ok(await s.commitPiece(pieceIndex(t, 4), t.piece(4)));
        utimesSync(path, mtimeSec, mtimeSec);
        const again = await openStorage(t.metainfo, dir, { pool, resumeDir });
        // Fresh mtime: rechecked, piece 4 found. An mtime well before the save is trusted (the
        // resume file's word, piece 4 unknown): only a write the clock cannot see is missed.
        assert.deepEqual([...again.bitfield], expected, `mtime ${ageSec} s before the save`);
        await again.close();
        await s.close();
      });
      rmSync(path);
    }
  }));

/**
 * The resume folder is made at open and never again: a storage whose folder was removed while it
 * was open (the user deleted the download, the proxy dropped its cache entry) must not bring it
 * back at its next save or at close. The save fails visibly instead, and the periodic one says so
 * once (`onWarning`), not at every tick.
 */
test('a resume folder removed while the storage is open is not made again: the save fails with STORAGE_RESUME_FOLDER_GONE', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    // The default folder (<dir>/.torrenttp), the download folder removed whole.
    const dl = join(dir, 'dl');
    const s = await openStorage(t.metainfo, dl, { pool, resumeIntervalMs: 0 });
    assert.ok(existsSync(join(dl, RESUME_FOLDER)), 'made at open, before any save');
    assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
    rmSync(dl, { recursive: true });
    await assert.rejects(s.saveResume(), { code: 'STORAGE_RESUME_FOLDER_GONE' });
    await assert.rejects(s.close(), { code: 'STORAGE_RESUME_FOLDER_GONE' });
    assert.equal(existsSync(dl), false, 'the download folder is not made again');

    // A folder of the caller's, nested: made at open; removed, the periodic save warns once.
    const resumeDir = join(dir, 'state', 'resume');
    const counted = new DiskPool({ threads: 1 });
    let saves = 0;
    const sync = counted.sync.bind(counted);
    counted.sync = (paths) => {
      saves++;
      return sync(paths);
    };
    const warnings: { code: string }[] = [];
    try {
      const s2 = await openStorage(t.metainfo, join(dir, 'dl2'), { pool: counted, resumeDir, resumeIntervalMs: 5, onWarning: (e) => warnings.push(e) });
      assert.ok(existsSync(resumeDir), 'made at open');
      assert.ok(await s2.commitPiece(pieceIndex(t, 2), t.piece(2)));
      rmSync(join(dir, 'state'), { recursive: true });
      const from = saves;
      // Each periodic save syncs the files it is about to vouch for, then fails: wait for several.
      for (let k = 0; k < 500 && saves < from + 4; k++) await sleep(10);
      assert.ok(saves >= from + 4, `periodic saves tried (${saves - from})`);
      assert.deepEqual(warnings.map((w) => w.code), ['STORAGE_RESUME_FOLDER_GONE'], 'said once, not at every tick');
      await assert.rejects(s2.close(), { code: 'STORAGE_RESUME_FOLDER_GONE' });
      assert.equal(existsSync(join(dir, 'state')), false, 'not made again, nor its parent');
    } finally {
      await counted.close();
    }
  }));

test('a resume folder on a disk that takes no writes (data seeded from a read-only medium): the storage opens without resume state, said once; a planted symlink still fails the open', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(specs, 8192);
    await download(t, dir, [...Array(t.metainfo.geometry.pieceCount).keys()]);
    rmSync(join(dir, RESUME_FOLDER), { recursive: true });
    const ro = join(dir, 'ro');
    // As on a read-only mount (root would write through permission bits): every mkdir under `ro` is EROFS.
    const real = fsp.mkdir;
    fsp.mkdir = ((...args: Parameters<typeof real>) => {
      if (String(args[0]).startsWith(`${ro}/`) || String(args[0]) === ro) return Promise.reject(Object.assign(new Error(`EROFS: read-only file system, mkdir '${String(args[0])}'`), { code: 'EROFS' }));
      return real(...args);
    }) as typeof real;
    syncBuiltinESMExports();
    try {
      const warnings: { code: string; message: string }[] = [];
      const s = await openStorage(t.metainfo, dir, { pool, resumeDir: join(ro, 'state'), skipVerify: true, resumeIntervalMs: 0, onWarning: (e) => warnings.push(e) });
      assert.equal(s.bitfield.count, t.metainfo.geometry.pieceCount, 'every piece there to seed');
      await s.close();
      assert.deepEqual(warnings.map((w) => w.code), ['STORAGE_READ_ONLY']);
      assert.match(warnings[0]!.message, /no resume file is kept/);
      assert.equal(existsSync(ro), false);
    } finally {
      fsp.mkdir = real;
      syncBuiltinESMExports();
    }
    // Not a read-only disk but a symlink where the resume folder goes: the open fails, as ever.
    symlinkSync(join(dir, 'one'), join(dir, 'link'));
    await assert.rejects(openStorage(t.metainfo, dir, { pool, resumeDir: join(dir, 'link', 'state'), skipVerify: true }), (e: { code?: string }) => e.code !== undefined && e.code !== 'STORAGE_READ_ONLY');
  }));
