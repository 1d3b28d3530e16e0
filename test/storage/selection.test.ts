/**
 * Storage with a file selection: a file no wanted piece touches is never created, a selected file
 * is created and sized as usual, and an unselected neighbour that shares a boundary piece is
 * created empty and gets exactly its bytes of that piece, nothing more. Resume keeps working,
 * also when the selection grows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Torrent } from '../../src/engine/index.js';
import type { PieceIndex } from '../../src/metainfo/index.js';
import { openStorage } from '../../src/storage/index.js';
import { FakeLink } from '../helpers/engine-fakes.js';
import { A, ALL, B, C, PIECE, threeFiles } from '../helpers/three-files.js';
import { withTempDir } from '../helpers/torrents.js';

const metainfo = threeFiles();
const piece = (i: number) => ALL.slice(i * PIECE, Math.min(ALL.length, (i + 1) * PIECE));
const KiB = 1024;

test('selecting a.bin: b.bin (boundary) is created empty, sub/c.bin, its folder and the empty file are not; unwanted pieces are refused', () =>
  withTempDir(async (dir) => {
    const s = await openStorage(metainfo, dir, { selectedFiles: [0] });
    assert.equal(statSync(join(dir, 'set', 'a.bin')).size, A.length, 'selected: allocated as usual');
    assert.equal(statSync(join(dir, 'set', 'b.bin')).size, 0, 'boundary neighbour: created, not extended');
    assert.equal(existsSync(join(dir, 'set', 'sub')), false, 'no folder for a file nobody writes');
    assert.equal(existsSync(join(dir, 'set', 'empty')), false);
    await assert.rejects(s.commitPiece(2 as PieceIndex, piece(2)), { code: 'STORAGE_NOT_SELECTED' });
    assert.equal(await s.commitPiece(0 as PieceIndex, piece(0)), true);
    assert.equal(await s.commitPiece(1 as PieceIndex, piece(1)), true);
    await s.close();
    assert.deepEqual(readFileSync(join(dir, 'set', 'a.bin')), Buffer.from(A));
    assert.deepEqual(readFileSync(join(dir, 'set', 'b.bin')), Buffer.from(B.subarray(0, 24 * KiB)), 'only its 24 KiB of piece 1');

    const again = await openStorage(metainfo, dir, { selectedFiles: [0] });
    assert.deepEqual([...again.bitfield], [0, 1], 'resumed: piece 0 from the resume file, boundary piece 1 rechecked');
    await again.close();
  }));

test('engine + storage: files 1 and 3 of 3 land byte-identical, b.bin holds only boundary bytes, and a wider selection later completes the rest', () =>
  withTempDir(async (dir) => {
    const store = await openStorage(metainfo, dir, { selectedFiles: [0, 2] });
    const t = new Torrent(metainfo, store, { selectedFiles: [0, 2] });
    t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent));
    await t.done;
    await t.close();
    assert.deepEqual(readFileSync(join(dir, 'set', 'a.bin')), Buffer.from(A));
    assert.deepEqual(readFileSync(join(dir, 'set', 'sub', 'c.bin')), Buffer.from(C));
    // b.bin: 24 KiB from piece 1 at its start, 8 KiB from piece 3 at its end, a hole between.
    const b = readFileSync(join(dir, 'set', 'b.bin'));
    assert.equal(b.length, B.length);
    assert.deepEqual(b.subarray(0, 24 * KiB), Buffer.from(B.subarray(0, 24 * KiB)));
    assert.deepEqual(b.subarray(56 * KiB), Buffer.from(B.subarray(56 * KiB)));
    assert.ok(b.subarray(24 * KiB, 56 * KiB).every((x) => x === 0), 'piece 2 was never written');
    assert.ok(statSync(join(dir, 'set', 'b.bin')).blocks * 512 < B.length, 'sparse: the hole takes no disk');

    // Now everything: what we have is kept (pieces 0, 1, 3, 4, 5) and only piece 2 is fetched.
    const all = await openStorage(metainfo, dir);
    assert.deepEqual([...all.bitfield], [0, 1, 3, 4, 5]);
    const t2 = new Torrent(metainfo, all);
    const link = t2.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent)) as FakeLink;
    await t2.done;
    await t2.close();
    assert.deepEqual([...new Set(link.requests.map((r) => r.index))], [2]);
    assert.deepEqual(readFileSync(join(dir, 'set', 'b.bin')), Buffer.from(B));
    assert.equal(statSync(join(dir, 'set', 'empty')).size, 0, 'the empty file exists once selected');
  }));

test('an unselected file already on disk is served when verified, and never touched', () =>
  withTempDir(async (dir) => {
    const full = await openStorage(metainfo, dir);
    for (let i = 0; i < metainfo.pieceCount; i++) assert.ok(await full.commitPiece(i as PieceIndex, piece(i)));
    await full.close();
    const mtime = statSync(join(dir, 'set', 'sub', 'c.bin')).mtimeMs;
    const s = await openStorage(metainfo, dir, { selectedFiles: [0] });
    assert.equal(s.bitfield.complete, true, 'every piece is still ours to seed');
    assert.deepEqual(await s.readBlock(4 as PieceIndex, 0, 16 * KiB), ALL.subarray(4 * PIECE, 4 * PIECE + 16 * KiB));
    await s.close();
    assert.equal(statSync(join(dir, 'set', 'sub', 'c.bin')).mtimeMs, mtime);
  }));
