import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskPool, openStorage, StorageError } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, readFile } from './helpers.js';

// The pieces committed in one turn of the event loop go to a disk thread together (disk-pool.ts,
// `commits`): each must still get its own verdict, and a failed write fail only its own piece.

test('pieces committed in one turn: each its own verdict (written, mismatch, disk error), only the written marked', () =>
  withTempDir(async (root) => {
    const dl = join(root, 'dl');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    // 'a' holds pieces 0-1, 'b' pieces 2-3: one thread, so the three commits below share one message.
    const t = makeTorrent([{ path: ['a'], length: 32 * 1024 }, { path: ['b'], length: 32 * 1024 }], 16 * 1024);
    const pool = new DiskPool({ threads: 1 });
    try {
      const s = await openStorage(t.metainfo, dl, { pool });
      // 'b' gains a name before any thread opened it: its writes are refused (STORAGE_HARD_LINK).
      const precious = join(outside, 'precious.bin');
      writeFileSync(precious, 'precious bytes');
      rmSync(t.pathOf(dl, 1));
      linkSync(precious, t.pathOf(dl, 1));
      const bad = t.piece(1);
      bad[0] = bad[0]! ^ 1;
      const [good, mismatch, failed] = await Promise.allSettled([
        s.commitPiece(pieceIndex(t, 0), t.piece(0)),
        s.commitPiece(pieceIndex(t, 1), bad),
        s.commitPiece(pieceIndex(t, 2), t.piece(2)),
      ]);
      assert.deepEqual(good, { status: 'fulfilled', value: true });
      assert.deepEqual(mismatch, { status: 'fulfilled', value: false });
      assert.equal(failed.status, 'rejected');
      assert.ok(failed.reason instanceof StorageError && failed.reason.code === 'STORAGE_HARD_LINK', String(failed.reason));
      assert.deepEqual([...s.bitfield], [0]);
      assert.deepEqual(await s.readBlock(pieceIndex(t, 0), 0, 16 * 1024), t.piece(0));
      await s.close();
      assert.equal(readFileSync(precious, 'utf8'), 'precious bytes');
      assert.deepEqual(readFile(t.pathOf(dl, 0)).subarray(0, 16 * 1024), t.piece(0));
    } finally {
      await pool.close();
    }
  }));

test('many pieces committed in one turn (several messages, both threads) all land, each in its place', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(41 * 8192 + 100, 8192);
    const pool = new DiskPool({ threads: 2 });
    try {
      const s = await openStorage(t.metainfo, dir, { pool });
      const n = t.metainfo.geometry.pieceCount;
      const verdicts = await Promise.all(Array.from({ length: n }, (_, i) => s.commitPiece(pieceIndex(t, i), t.piece(i), i % 2 === 0)));
      assert.deepEqual(verdicts, Array(n).fill(true));
      assert.ok(s.bitfield.complete);
      await s.close();
      assert.deepEqual(readFile(t.pathOf(dir, 0)), t.content);
    } finally {
      await pool.close();
    }
  }));

test('a commit with a hash that is not 20 bytes is refused alone; the pieces of its turn are still written', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(64 * 1024, 16 * 1024);
    const pool = new DiskPool({ threads: 1 });
    try {
      const s = await openStorage(t.metainfo, dir, { pool });
      const bad = pool.commit(t.piece(1), new Uint8Array(19), [{ path: t.pathOf(dir, 0), fileOffset: 16 * 1024, length: 16 * 1024 }]);
      const good = s.commitPiece(pieceIndex(t, 0), t.piece(0));
      await assert.rejects(bad, { code: 'STORAGE_BAD_LENGTH' });
      assert.equal(await good, true);
      await s.close();
    } finally {
      await pool.close();
    }
  }));
