/**
 * Pieces that fail verification on disk (issue 13): damaged data is told apart from data never
 * written (zeros), reported by piece and file, and not vouched for by the resume file until it
 * has been downloaded again.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corruptPiecesError, DiskPool, openStorage } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex } from './helpers.js';

const pool = new DiskPool({ threads: 2 });
after(() => pool.close());

test('a damaged piece is reported; zeros (never written) are not; the resume file does not hide it', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(10 * 8192 + 100, 8192);
    const data = t.content.slice();
    data[1 * 8192 + 17]! ^= 0xff; // piece 1: one byte flipped
    data.fill(0, 4 * 8192, 5 * 8192); // piece 4: never written
    data[10 * 8192 + 3]! ^= 1; // the short last piece, damaged
    writeFileSync(join(dir, 'payload'), data);

    const s = await openStorage(t.metainfo, dir, { pool });
    assert.deepEqual([...s.corruptPieces], [1, 10]);
    assert.deepEqual([...s.bitfield], [0, 2, 3, 5, 6, 7, 8, 9]);
    await s.close(); // saves the resume file

    const again = await openStorage(t.metainfo, dir, { pool });
    assert.deepEqual([...again.corruptPieces], [1, 10], 'reported on every start until fixed, not trusted away by the resume file');
    assert.ok(await again.commitPiece(pieceIndex(t, 1), t.piece(1)));
    assert.ok(await again.commitPiece(pieceIndex(t, 10), t.piece(10)));
    await again.close();

    let hashedBytes = 0;
    const fixed = await openStorage(t.metainfo, dir, { pool, onCheckProgress: (n) => (hashedBytes = n) });
    assert.deepEqual([...fixed.corruptPieces], []);
    assert.deepEqual([...fixed.bitfield], [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]);
    assert.equal(hashedBytes, 0, 'once downloaded again, the resume file vouches for the file');
    await fixed.close();
  }));

test('a fresh download folder (sparse files) reports nothing', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent([{ path: ['a'], length: 30_000 }, { path: ['b'], length: 5000 }], 8192);
    const s = await openStorage(t.metainfo, dir, { pool, recheck: true });
    await s.close();
    const again = await openStorage(t.metainfo, dir, { pool, recheck: true });
    assert.deepEqual([...again.corruptPieces], [], 'allocated but unwritten pieces are zeros: missing, not corrupt');
    await again.close();
  }));

test('the report names pieces as ranges and the files that hold them', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(
      [
        { path: ['disc 1', 'a.flac'], length: 20_000 },
        { path: ['b.flac'], length: 30_000 },
      ],
      8192,
      { name: 'album' },
    );
    const data = t.content.slice();
    for (const i of [0, 2, 3, 4]) data[i * 8192]! ^= 0xff; // piece 2 spans both files
    mkdirSync(join(dir, 'album', 'disc 1'), { recursive: true });
    writeFileSync(t.pathOf(dir, 0), data.subarray(0, 20_000));
    writeFileSync(t.pathOf(dir, 1), data.subarray(20_000));
    const s = await openStorage(t.metainfo, dir, { pool });
    assert.deepEqual([...s.corruptPieces], [0, 2, 3, 4]);
    const err = corruptPiecesError(t.metainfo, s.corruptPieces);
    await s.close();
    assert.equal(err.code, 'STORAGE_PIECE_CORRUPT');
    assert.match(err.message, /4 pieces: 0, 2-4, in album\/disc 1\/a\.flac, album\/b\.flac$/);
    assert.match(corruptPiecesError(t.metainfo, [5]).message, /: piece 5, in album\/b\.flac$/);
  }));
