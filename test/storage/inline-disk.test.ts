/**
 * `DiskPool({ inline: true })` (inline-disk.ts, `torrenttp get`'s): the threads' rules without
 * threads. Pieces verified and written (O_DIRECT runs and buffered heads and tails across file
 * boundaries), mismatches writing nothing, reads back, injected disk errors as typed errors, a
 * hard link planted after open refused, and fds kept open while their async I/O is in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskPool, openStorage, StorageError } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, shuffled } from './helpers.js';

test('inline: pieces across files (direct runs, buffered heads and tails) are verified, written, read back; a mismatch writes nothing', (t) =>
  withTempDir(t, async (dir) => {
    const tt = makeTorrent([{ path: ['a'], length: 100_000 }, { path: ['b'], length: 700 * 1024 + 3 }, { path: ['c'], length: 5 }], 256 * 1024);
    const pool = new DiskPool({ inline: true });
    assert.equal(pool.threads, 0);
    try {
      const s = await openStorage(tt.metainfo, dir, { pool, pieceCacheBytes: 0, resumeDir: false });
      const bad = tt.piece(1);
      bad[100] = bad[100]! ^ 1;
      assert.equal(await s.commitPiece(pieceIndex(tt, 1), bad), false);
      assert.equal(s.bitfield.has(1), false);
      assert.ok(readFileSync(tt.pathOf(dir, 1)).subarray(0, 1000).every((b) => b === 0), 'nothing written for a mismatch');
      // All at once: writes of several pieces in flight together.
      const done = await Promise.all(shuffled(tt.metainfo.pieceCount, 3).map((i) => s.commitPiece(pieceIndex(tt, i), tt.piece(i))));
      assert.ok(done.every(Boolean));
      for (let f = 0; f < 3; f++) assert.deepEqual(new Uint8Array(readFileSync(tt.pathOf(dir, f))), tt.fileData(f), `file ${f}`);
      // No cache: blocks come from disk through the inline reads.
      const block = await s.readBlock(pieceIndex(tt, 1), 1000, 70_000);
      assert.deepEqual(block, tt.content.subarray(256 * 1024 + 1000, 256 * 1024 + 71_000));
      await s.close();
      // Opened again with no resume file: the files are hashed (inline recheck jobs), every piece found.
      const again = await openStorage(tt.metainfo, dir, { pool, resumeDir: false });
      assert.deepEqual([...again.bitfield], Array.from({ length: tt.metainfo.pieceCount }, (_, i) => i));
      await again.close();
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.commit(new Uint8Array(1), new Uint8Array(20), []), { code: 'STORAGE_CLOSED' });
  }));

test('inline: an injected ENOSPC rejects with STORAGE_NO_SPACE and marks nothing; a planted hard link is refused', (t) =>
  withTempDir(t, async (dir) => {
    const tt = makeTorrent([{ path: ['a'], length: 10_000 }, { path: ['b'], length: 300 * 1024 }], 128 * 1024);
    const pool = new DiskPool({ inline: true });
    try {
      const s = await openStorage(tt.metainfo, join(dir, 'dl'), { pool, resumeDir: false });
      await pool.injectFaultForTesting({ op: 'write', errno: 'ENOSPC' });
      await assert.rejects(s.commitPiece(pieceIndex(tt, 0), tt.piece(0)), (e) => e instanceof StorageError && e.code === 'STORAGE_NO_SPACE' && e.errno === 'ENOSPC');
      assert.equal(s.bitfield.has(0), false);
      await pool.injectFaultForTesting(null);
      assert.ok(await s.commitPiece(pieceIndex(tt, 0), tt.piece(0)));
      mkdirSync(join(dir, 'outside'));
      const precious = join(dir, 'outside', 'precious.bin');
      const original = new Uint8Array(300 * 1024).fill(0x33);
      writeFileSync(precious, original);
      await pool.forget([tt.pathOf(join(dir, 'dl'), 1)]);
      rmSync(tt.pathOf(join(dir, 'dl'), 1));
      linkSync(precious, tt.pathOf(join(dir, 'dl'), 1));
      await assert.rejects(s.commitPiece(pieceIndex(tt, 2), tt.piece(2)), { code: 'STORAGE_HARD_LINK' });
      assert.equal(s.bitfield.has(2), false);
      await s.close().catch(() => undefined);
      assert.deepEqual(new Uint8Array(readFileSync(precious)), original);
    } finally {
      await pool.close();
    }
  }));

test('inline: with one fd kept open and writes to many files in flight, no fd is closed under a pending write (each file gets its own bytes)', (t) =>
  withTempDir(t, async (dir) => {
    // 24 files of 20 KiB, pieces of 64 KiB: each piece spans several files, all written at once,
    // while the LRU of one file evicts (and would close) fds that other writes still use.
    const specs = Array.from({ length: 24 }, (_, i) => ({ path: [`f${i}`], length: 20 * 1024 + i }));
    const tt = makeTorrent(specs, 64 * 1024, { seed: 9 });
    const pool = new DiskPool({ inline: true, maxOpenFilesPerThread: 1 });
    try {
      const s = await openStorage(tt.metainfo, dir, { pool, resumeDir: false, writeMode: 'buffered' });
      const done = await Promise.all(shuffled(tt.metainfo.pieceCount, 5).map((i) => s.commitPiece(pieceIndex(tt, i), tt.piece(i))));
      assert.ok(done.every(Boolean));
      await s.close();
      for (let f = 0; f < specs.length; f++) assert.deepEqual(new Uint8Array(readFileSync(tt.pathOf(dir, f))), tt.fileData(f), `file ${f}`);
    } finally {
      await pool.close();
    }
  }));
