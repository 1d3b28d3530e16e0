/**
 * A folder inside a torrent's files swapped for a symlink to an outside folder after the storage
 * opened (someone who can write in the download or served tree): the disk threads' open follows
 * it (`O_NOFOLLOW` guards the last component only), so every fd is checked by its own path. The
 * outside file, the same size, is neither read (a seed would upload it) nor written.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskPool, openStorage, StorageError } from '../../src/storage/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, writeTorrent } from './helpers.js';

const needsProc = !existsSync('/proc/self/fd') && 'needs /proc/self/fd';
const threads = new DiskPool({ threads: 1 });
const inline = new DiskPool({ inline: true });
after(() => Promise.all([threads.close(), inline.close()]));

const escape = (e: unknown): boolean => e instanceof StorageError && e.code === 'STORAGE_PATH_ESCAPE';

for (const [kind, pool] of [['disk threads', threads], ['inline', inline]] as const) {
  test(`${kind}: a folder swapped for an outside symlink after the storage opened is neither read nor written through`, { skip: needsProc }, () =>
    withTempDir(async (dir) => {
      const inside = join(dir, 'inside');
      const outside = join(dir, 'outside');
      mkdirSync(inside);
      const t = makeTorrent([{ path: ['sub', 'f'], length: 5000 }, { path: ['g'], length: 100 }], 4096);
      await writeTorrent(t, inside, pool);
      const store = await openStorage(t.metainfo, inside, { pool, resumeDir: false, recheck: true, pieceCacheBytes: 0 });
      try {
        assert.equal(store.bitfield.count, t.metainfo.pieceCount);
        // payload/sub → an outside folder holding a file of the same size, other bytes.
        const secret = bytes(5000, 99);
        mkdirSync(join(outside, 'sub'), { recursive: true });
        writeFileSync(join(outside, 'sub', 'f'), secret);
        renameSync(join(inside, 'payload', 'sub'), join(inside, 'payload', 'was-sub'));
        symlinkSync(join(outside, 'sub'), join(inside, 'payload', 'sub'));

        await assert.rejects(store.readBlock(pieceIndex(t, 0), 0, 4096), escape, 'the outside bytes are not read');
        await assert.rejects(store.commitPiece(pieceIndex(t, 0), t.piece(0), false), escape, 'nor written');
        assert.deepEqual(new Uint8Array(readFileSync(join(outside, 'sub', 'f'))), secret, 'the outside file is untouched');
      } finally {
        await store.close().catch(() => undefined);
      }
    }));
}
