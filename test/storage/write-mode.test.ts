import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { constants, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { DiskPool, openStorage, StorageError, type WriteMode } from '../../src/storage/index.js';
import { canListFds, openFds } from '../helpers/fds.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex } from './helpers.js';

// Both write modes on pieces big enough for O_DIRECT (an aligned run of 64 KiB or more): the
// byte-for-byte property over unaligned file boundaries is in piece-store.test.ts.
const pool = new DiskPool({ threads: 1 });
after(() => pool.close());

/** Two files whose boundary cuts piece 0: each of its slices has an aligned run over 64 KiB. */
const bigPieces = () => makeTorrent([{ path: ['a'], length: 100_000 }, { path: ['b'], length: 300_000 }], 128 * 1024);

test("'direct' writes big pieces through an O_DIRECT fd; 'buffered' never opens one", { skip: !canListFds && 'needs /proc' }, () =>
  withTempDir(async (dir) => {
    const t = bigPieces();
    for (const mode of ['direct', 'buffered'] as const) {
      const sub = `${dir}/${mode}`;
      const s = await openStorage(t.metainfo, sub, { pool, writeMode: mode });
      try {
        for (let i = 0; i < t.metainfo.pieceCount; i++) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)));
        // The thread keeps its fds open until the storage closes.
        const direct = openFds((p) => p === t.pathOf(sub, 1)).filter((f) => (f.flags & constants.O_DIRECT) !== 0);
        assert.equal(direct.length, mode === 'direct' ? 1 : 0, `${mode}: O_DIRECT fds on b`);
      } finally {
        await s.close();
      }
      for (let i = 0; i < 2; i++) assert.ok(readFileSync(t.pathOf(sub, i)).equals(Buffer.from(t.fileData(i))), `${mode}: file ${i}`);
    }
  }));

test("a commit's own mode: 'buffered' pieces of a direct store open no O_DIRECT fd (a lone get's stream)", { skip: !canListFds && 'needs /proc' }, () =>
  withTempDir(async (dir) => {
    const t = bigPieces();
    const s = await openStorage(t.metainfo, dir, { pool, writeMode: 'direct', resumeDir: false });
    try {
      for (let i = 0; i < t.metainfo.pieceCount; i++) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i), false, 'buffered'));
      const direct = openFds((p) => p === t.pathOf(dir, 1)).filter((f) => (f.flags & constants.O_DIRECT) !== 0);
      assert.equal(direct.length, 0, 'no O_DIRECT fd on b');
    } finally {
      await s.close();
    }
    for (let i = 0; i < 2; i++) assert.ok(readFileSync(t.pathOf(dir, i)).equals(Buffer.from(t.fileData(i))), `file ${i}`);
  }));

for (const mode of ['direct', 'buffered'] as const satisfies readonly WriteMode[]) {
  test(`${mode}: a failed write marks nothing, the next one goes through, and the resume file vouches for exactly what was written`, () =>
    withTempDir(async (dir) => {
      const t = bigPieces();
      const s = await openStorage(t.metainfo, dir, { pool, writeMode: mode, resumeIntervalMs: 0 });
      try {
        assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
        await pool.injectFaultForTesting({ op: 'write', errno: 'ENOSPC' });
        await assert.rejects(s.commitPiece(pieceIndex(t, 0), t.piece(0)), (e) => e instanceof StorageError && e.code === 'STORAGE_NO_SPACE');
        assert.deepEqual([...s.bitfield], [1]);
        await pool.injectFaultForTesting({ op: 'sync', errno: 'EIO' });
        // Buffered bytes are synced before a resume file names them: a failing fdatasync fails the save.
        await assert.rejects(s.saveResume(), { code: 'STORAGE_IO' });
        await pool.injectFaultForTesting(null);
        assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
        assert.ok(await s.commitPiece(pieceIndex(t, 2), t.piece(2)));
        assert.ok(await s.commitPiece(pieceIndex(t, 3), t.piece(3)));
      } finally {
        await pool.injectFaultForTesting(null);
        await s.close();
      }
      let hashed = 0;
      const again = await openStorage(t.metainfo, dir, { pool, onCheckProgress: (n) => (hashed = n) });
      try {
        assert.deepEqual([...again.bitfield], [0, 1, 2, 3]);
        assert.equal(hashed, 0, 'the resume file is trusted');
      } finally {
        await again.close();
      }
      for (let i = 0; i < 2; i++) assert.ok(readFileSync(t.pathOf(dir, i)).equals(Buffer.from(t.fileData(i))), `file ${i}`);
    }));

  test(`${mode}: a disk thread that dies mid-write costs that commit only; the piece is written right after`, { timeout: 20_000 }, () =>
    withTempDir(async (dir) => {
      const one = new DiskPool({ threads: 1 });
      try {
        const t = bigPieces();
        const s = await openStorage(t.metainfo, dir, { pool: one, writeMode: mode });
        await one.injectFaultForTesting({ op: 'crash', errno: 'EIO' });
        await assert.rejects(s.commitPiece(pieceIndex(t, 0), t.piece(0)), { code: 'STORAGE_IO' });
        assert.equal(s.bitfield.has(0), false);
        assert.equal(await s.commitPiece(pieceIndex(t, 0), t.piece(0)), true);
        await s.close();
        assert.ok(readFileSync(t.pathOf(dir, 0)).equals(Buffer.from(t.fileData(0))));
      } finally {
        await one.close();
      }
    }));
}

/**
 * The `O_DIRECT` fd is a second open by path, and the path may lead to another file by then: on
 * another file system (a folder on the way swapped for a mount point, a symlink), the same inode
 * number is another file. Here every `O_DIRECT` fd's `fstat` says another device, same inode:
 * nothing is written through it (STORAGE_HARD_LINK), the commit fails and marks nothing.
 */
test('an O_DIRECT fd on another device, same inode number, is refused', () =>
  withTempDir(async (dir) => {
    const inline = new DiskPool({ inline: true });
    const t = bigPieces();
    const s = await openStorage(t.metainfo, dir, { pool: inline, writeMode: 'direct', resumeDir: false });
    const real = { openSync: fs.openSync, fstatSync: fs.fstatSync };
    const direct = new Set<number>();
    fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
      const fd = real.openSync(...args);
      if (typeof args[1] === 'number' && (args[1] & constants.O_DIRECT) !== 0) direct.add(fd);
      return fd;
    }) as typeof fs.openSync;
    fs.fstatSync = ((fd: number, opts?: fs.StatOptions) => {
      const st = real.fstatSync(fd, opts as fs.StatOptions & { bigint: true });
      return direct.has(fd) ? Object.assign(Object.create(Object.getPrototypeOf(st) as object) as fs.BigIntStats, st, { dev: st.dev + 1n }) : st;
    }) as typeof fs.fstatSync;
    syncBuiltinESMExports();
    try {
      await assert.rejects(s.commitPiece(pieceIndex(t, 1), t.piece(1)), { code: 'STORAGE_HARD_LINK' });
      assert.ok(direct.size > 0, 'an O_DIRECT fd was opened');
      assert.equal(s.bitfield.has(1), false);
    } finally {
      Object.assign(fs, real);
      syncBuiltinESMExports();
      await s.close();
      await inline.close();
    }
  }));
