import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { PieceIndex } from '../../src/metainfo/index.js';
import { DiskPool, openStorage, RESUME_FOLDER, StorageError, storageCodeOfErrno, type StorageErrorCode } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, writeTorrent } from './helpers.js';

const isRoot = process.getuid?.() === 0;

test('fs error codes map to storage codes', () => {
  const table: Record<string, StorageErrorCode> = {
    ENOSPC: 'STORAGE_NO_SPACE',
    EDQUOT: 'STORAGE_NO_SPACE',
    EROFS: 'STORAGE_READ_ONLY',
    EACCES: 'STORAGE_READ_ONLY',
    EPERM: 'STORAGE_READ_ONLY',
    ELOOP: 'STORAGE_PATH_ESCAPE',
    EISDIR: 'STORAGE_PATH_CONFLICT',
    EIO: 'STORAGE_IO',
    EMFILE: 'STORAGE_IO',
  };
  for (const [errno, code] of Object.entries(table)) assert.equal(storageCodeOfErrno(errno), code, errno);
});

for (const [errno, code] of [
  ['ENOSPC', 'STORAGE_NO_SPACE'],
  ['EROFS', 'STORAGE_READ_ONLY'],
  ['EACCES', 'STORAGE_READ_ONLY'],
  ['EIO', 'STORAGE_IO'],
] as const) {
  test(`a write failing with ${errno} rejects with ${code}, marks nothing, and the storage keeps working`, () =>
    withTempDir(async (dir) => {
      const pool = new DiskPool({ threads: 2 });
      const t = makeTorrent([{ path: ['a'], length: 10_000 }, { path: ['b'], length: 30_000 }], 8192);
      const s = await openStorage(t.metainfo, dir, { pool });
      try {
        assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
        await pool.injectFaultForTesting({ op: 'write', errno });
        await assert.rejects(s.commitPiece(pieceIndex(t, 1), t.piece(1)), (e) => e instanceof StorageError && e.code === code && e.errno === errno);
        assert.deepEqual([...s.bitfield], [0]);
        assert.equal(s.bitfield.has(1), false);
        // Mismatches are still told apart from disk errors while the disk fails: nothing is written for them.
        const bad = t.piece(2);
        bad[9] = bad[9]! ^ 1;
        assert.equal(await s.commitPiece(pieceIndex(t, 2), bad), false);
        await pool.injectFaultForTesting(null);
        assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
        assert.deepEqual([...s.bitfield], [0, 1]);
      } finally {
        await s.close();
        await pool.close();
      }
    }));
}

test('read-only folder (chmod 0555) and read-only file: STORAGE_READ_ONLY, nothing marked', (ctx) =>
  withTempDir(async (dir) => {
    const t = makeTorrent(20_000, 8192);
    const pool = new DiskPool({ threads: 1 });
    try {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      if (isRoot) {
        // Root ignores permission bits, so chmod cannot fail a write here: say so, and make the
        // disk threads answer EACCES the way the kernel would for anyone else.
        ctx.diagnostic('running as root (permissions are not enforced): EACCES is injected into the disk threads');
      } else {
        await assert.rejects(openStorage(t.metainfo, ro, { pool }), { code: 'STORAGE_READ_ONLY' });
      }
      chmodSync(ro, 0o755);
      const s = await openStorage(t.metainfo, ro, { pool });
      if (isRoot) await pool.injectFaultForTesting({ op: 'open', errno: 'EACCES' });
      else chmodSync(t.pathOf(ro, 0), 0o444);
      await assert.rejects(s.commitPiece(pieceIndex(t, 0), t.piece(0)), { code: 'STORAGE_READ_ONLY', errno: 'EACCES' });
      assert.equal(s.bitfield.count, 0);
      if (isRoot) await pool.injectFaultForTesting(null);
      else chmodSync(t.pathOf(ro, 0), 0o644);
      assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
      await s.close();
    } finally {
      await pool.close();
    }
  }));

test('a failed read rejects readBlock with a typed error and does not poison the cache', () =>
  withTempDir(async (dir) => {
    const pool = new DiskPool({ threads: 1 });
    const t = makeTorrent(20_000, 8192);
    await writeTorrent(t, dir, pool);
    const s = await openStorage(t.metainfo, dir, { pool });
    try {
      await pool.injectFaultForTesting({ op: 'read', errno: 'EIO' });
      await assert.rejects(s.readBlock(pieceIndex(t, 1), 0, 100), { code: 'STORAGE_IO', errno: 'EIO' });
      await pool.injectFaultForTesting(null);
      assert.deepEqual(await s.readBlock(pieceIndex(t, 1), 0, 100), t.content.subarray(8192, 8292));
    } finally {
      await s.close();
      await pool.close();
    }
  }));

test('a failed fdatasync fails saveResume, keeps the old resume file, and the next save writes it all', () =>
  withTempDir(async (dir) => {
    const pool = new DiskPool({ threads: 1 });
    const t = makeTorrent(40_000, 8192);
    const resume = join(dir, RESUME_FOLDER, `${t.metainfo.infoHash}.resume`);
    const s = await openStorage(t.metainfo, dir, { pool, resumeIntervalMs: 0 });
    try {
      assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
      await s.saveResume();
      const saved = readFileSync(resume);
      assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
      await pool.injectFaultForTesting({ op: 'sync', errno: 'ENOSPC' });
      await assert.rejects(s.saveResume(), { code: 'STORAGE_NO_SPACE' });
      assert.deepEqual(readFileSync(resume), saved, 'the resume file does not name unsynced pieces');
      await pool.injectFaultForTesting(null);
      await s.saveResume();
      assert.notDeepEqual(readFileSync(resume), saved);
    } finally {
      await s.close();
    }
    let hashed = 0;
    const again = await openStorage(t.metainfo, dir, { pool, onCheckProgress: (n) => (hashed = n) });
    assert.deepEqual([...again.bitfield], [0, 1]);
    assert.equal(hashed, 0);
    await again.close();
    await pool.close();
  }));

test('hostile indices, offsets and lengths get typed errors; a bad commit leaves the buffer to the caller', () =>
  withTempDir(async (dir) => {
    const pool = new DiskPool({ threads: 1 });
    const t = makeTorrent(20_000, 8192);
    const s = await openStorage(t.metainfo, dir, { pool });
    try {
      assert.ok(await s.commitPiece(pieceIndex(t, 2), t.piece(2))); // the short last piece, 3,616 bytes
      const num = fc.oneof(fc.integer({ min: -5, max: 10_000 }), fc.double(), fc.constantFrom(NaN, Infinity, -0, 2 ** 53, 0.5));
      await fc.assert(
        fc.asyncProperty(num, num, num, async (index, begin, length) => {
          try {
            const block = await s.readBlock(index as PieceIndex, begin, length);
            assert.equal(index, 2);
            assert.deepEqual(block, t.content.subarray(16384 + begin, 16384 + begin + length));
          } catch (e) {
            assert.ok(e instanceof StorageError, String(e));
            assert.ok(['STORAGE_OUT_OF_RANGE', 'STORAGE_NOT_VERIFIED'].includes(e.code), e.code);
          }
        }),
        { numRuns: 300 },
      );
      await assert.rejects(s.readBlock(pieceIndex(t, 2), 0, 3617), { code: 'STORAGE_OUT_OF_RANGE' });
      await assert.rejects(s.readBlock(pieceIndex(t, 2), 3616, 1), { code: 'STORAGE_OUT_OF_RANGE' });
      await assert.rejects(s.readBlock(pieceIndex(t, 2), 0, 0), { code: 'STORAGE_OUT_OF_RANGE' });
      await assert.rejects(s.readBlock(3 as PieceIndex, 0, 1), { code: 'STORAGE_OUT_OF_RANGE' });
      await assert.rejects(s.readBlock(0 as PieceIndex, 0, 1), { code: 'STORAGE_NOT_VERIFIED' });
      for (const [i, len] of [[0, 8191], [0, 8193], [2, 8192], [1, 0]] as const) {
        const data = new Uint8Array(len);
        await assert.rejects(s.commitPiece(pieceIndex(t, i), data), { code: 'STORAGE_BAD_LENGTH' });
        assert.equal(data.length, len, 'not transferred');
      }
      for (const i of [-1, 3, 1.5, NaN]) await assert.rejects(s.commitPiece(i as PieceIndex, new Uint8Array(8192)), { code: 'STORAGE_OUT_OF_RANGE' });
      assert.deepEqual([...s.bitfield], [2]);
    } finally {
      await s.close();
      await pool.close();
    }
  }));

test('after close every call rejects with STORAGE_CLOSED; close twice is fine', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(20_000, 8192);
    const s = await openStorage(t.metainfo, dir);
    const pending = s.commitPiece(pieceIndex(t, 0), t.piece(0));
    const closed = s.close();
    assert.equal(await pending, true, 'a commit in flight finishes before close does');
    await closed;
    await s.close();
    await assert.rejects(s.commitPiece(pieceIndex(t, 1), t.piece(1)), { code: 'STORAGE_CLOSED' });
    await assert.rejects(s.readBlock(pieceIndex(t, 0), 0, 1), { code: 'STORAGE_CLOSED' });
    await assert.rejects(s.saveResume(), { code: 'STORAGE_CLOSED' });
  }));

test('a disk thread that dies holding a write lock costs its job only: the next write to that file goes through', { timeout: 20_000 }, () =>
  withTempDir(async (dir) => {
    const pool = new DiskPool({ threads: 1 });
    try {
      const t = makeTorrent(4 * 16384, 16384);
      const s = await openStorage(t.metainfo, dir, { pool });
      await pool.injectFaultForTesting({ op: 'crash', errno: 'EIO' });
      await assert.rejects(s.commitPiece(pieceIndex(t, 0), t.piece(0)), { code: 'STORAGE_IO' });
      // The replacement thread has no fault; without the lock freed it would wait for ever.
      assert.equal(await s.commitPiece(pieceIndex(t, 0), t.piece(0)), true);
      assert.equal(await s.commitPiece(pieceIndex(t, 1), t.piece(1)), true);
      await s.close();
      assert.deepEqual(readFileSync(t.pathOf(dir, 0)).subarray(0, 2 * 16384), Buffer.from(t.content.subarray(0, 2 * 16384)));
    } finally {
      await pool.close();
    }
  }));

/**
 * The storage makes and looks at files through their folder held (`/proc/self/fd/N/name`), and
 * node's fs errors end with the path they were given: a message must name the user's path, once,
 * and never the procfs one. A name longer than the file system takes (ENAMETOOLONG, as root too)
 * fails each step: a file, a folder, a single-file torrent's name.
 */
test("a storage error names the user's path once, never /proc/self/fd", () =>
  withTempDir(async (dir) => {
    const pool = new DiskPool({ inline: true });
    const long = (c: string): string => c.repeat(300);
    try {
      for (const [t, rel] of [
        [makeTorrent([{ path: [long('x')], length: 100 }], 4096), ['payload', long('x')]],
        [makeTorrent([{ path: [long('y'), 'f'], length: 100 }], 4096), ['payload', long('y')]],
        [makeTorrent(5000, 4096, { name: long('z') }), [long('z')]],
      ] as const) {
        const err: unknown = await openStorage(t.metainfo, dir, { pool, resumeDir: false }).then(
          async (s) => s.close(),
          (e: unknown) => e,
        );
        assert.ok(err instanceof StorageError, `${rel.join('/').slice(0, 20)}…: the open fails`);
        assert.equal(err.errno, 'ENAMETOOLONG');
        assert.equal(err.message.split(join(dir, ...rel)).length - 1, 1, `the path once: ${err.message}`);
        assert.equal(err.message.split(rel.at(-1)!).length - 1, 1, `the name once: ${err.message}`);
        assert.doesNotMatch(err.message, /\/proc\/self\/fd/);
      }
    } finally {
      await pool.close();
    }
  }));
