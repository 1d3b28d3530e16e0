/**
 * A run of pieces committed as one (`PieceStore.commitRun`, `DiskPool.commitRun`: one message to
 * a disk thread, or inline; the buffered writes of pieces that follow each other gathered into one
 * `pwritev`, gather.ts). The files must come out byte-identical, across file boundaries; a piece
 * that fails its hash is judged alone (nothing of it written, the others are); a failed write
 * fails the pieces it held. Fault checked once: the last buffer of a gathered write left out
 * (disk-worker.js `writeGathered`, and inline-disk.js's) fails the byte-identical tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiskPool, openStorage, type WriteMode } from '../../src/storage/index.js';
import { remaining, WriteGatherer, type GatheredWrite } from '../../src/storage/gather.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, readFile } from './helpers.js';

const PIECE = 16 * 1024;
/** Three files whose boundaries fall inside pieces, and a short last piece. */
const specs = [
  { path: ['a'], length: 5 * PIECE + 1000 },
  { path: ['b'], length: 3 * PIECE - 2000 },
  { path: ['c'], length: 4 * PIECE + 333 },
];

const ways: { name: string; pool: () => DiskPool; mode: WriteMode }[] = [
  { name: 'threads, buffered', pool: () => new DiskPool({ threads: 2 }), mode: 'buffered' },
  { name: 'inline, buffered', pool: () => new DiskPool({ inline: true }), mode: 'buffered' },
  { name: 'threads, direct', pool: () => new DiskPool({ threads: 1 }), mode: 'direct' },
  { name: 'inline, direct', pool: () => new DiskPool({ inline: true }), mode: 'direct' },
];

for (const way of ways) {
  test(`commitRun (${way.name}): runs of consecutive pieces over file boundaries land byte-identical`, () =>
    withTempDir(async (dir) => {
      const t = makeTorrent(specs, PIECE);
      const pool = way.pool();
      try {
        const s = await openStorage(t.metainfo, dir, { pool, writeMode: way.mode });
        const n = t.metainfo.geometry.pieceCount;
        // Runs of 5, 1 and the rest: in hand together, out of order between runs.
        const runOf = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => ({ index: pieceIndex(t, from + k), data: t.piece(from + k) }));
        const [r1, r2, r3] = await Promise.all([s.commitRun(runOf(6, n), false), s.commitRun(runOf(0, 5)), s.commitRun(runOf(5, 6))]);
        assert.deepEqual([r1, r2, r3], [Array(n - 6).fill(true), Array(5).fill(true), [true]]);
        assert.ok(s.bitfield.complete);
        for (let i = 0; i < n; i++) assert.deepEqual(await s.readBlock(pieceIndex(t, i), 0, t.piece(i).length), t.piece(i), `piece ${i} read back`);
        await s.close();
        for (let f = 0; f < specs.length; f++) assert.ok(Buffer.from(readFile(t.pathOf(dir, f))).equals(Buffer.from(t.fileData(f))), `file ${f} byte-identical`);
      } finally {
        await pool.close();
      }
    }));

  test(`commitRun (${way.name}): a corrupt piece in the middle is rejected alone, nothing of it written; the pieces around it are`, () =>
    withTempDir(async (dir) => {
      const t = makeTorrent(specs, PIECE);
      const pool = way.pool();
      try {
        const s = await openStorage(t.metainfo, dir, { pool, writeMode: way.mode });
        // Piece 5 holds the end of 'a' and the start of 'b'.
        const bad = t.piece(5);
        bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
        const run = [3, 4, 5, 6, 7].map((i) => ({ index: pieceIndex(t, i), data: i === 5 ? bad : t.piece(i) }));
        assert.deepEqual(await s.commitRun(run), [true, true, false, true, true]);
        assert.deepEqual([...s.bitfield], [3, 4, 6, 7]);
        await assert.rejects(s.readBlock(pieceIndex(t, 5), 0, 1), { code: 'STORAGE_NOT_VERIFIED' });
        await s.close();
        const a = readFile(t.pathOf(dir, 0));
        const b = readFile(t.pathOf(dir, 1));
        const content = Buffer.concat([a, b, readFile(t.pathOf(dir, 2))]);
        const at = (i: number) => [i * PIECE, i * PIECE + t.piece(i).length] as const;
        for (const i of [3, 4, 6, 7]) assert.ok(content.subarray(...at(i)).equals(Buffer.from(t.piece(i))), `piece ${i} written`);
        assert.ok(content.subarray(...at(5)).every((x) => x === 0), 'nothing of the corrupt piece written, in either file');
      } finally {
        await pool.close();
      }
    }));
}

test('commitRun: a failed gathered write fails the run (the error said), marks nothing it held; after it, the run goes through', () =>
  withTempDir(async (dir) => {
    for (const pool of [new DiskPool({ threads: 1 }), new DiskPool({ inline: true })]) {
      const t = makeTorrent(8 * PIECE, PIECE);
      const sub = `${dir}/${pool.threads}`;
      try {
        const s = await openStorage(t.metainfo, sub, { pool, writeMode: 'buffered' });
        const run = () => [0, 1, 2].map((i) => ({ index: pieceIndex(t, i), data: t.piece(i) }));
        await pool.injectFaultForTesting({ op: 'write', errno: 'ENOSPC' });
        await assert.rejects(s.commitRun(run()), { code: 'STORAGE_NO_SPACE' });
        assert.deepEqual([...s.bitfield], []);
        await pool.injectFaultForTesting(null);
        assert.deepEqual(await s.commitRun(run()), [true, true, true]);
        await s.close();
        assert.ok(Buffer.from(readFile(t.pathOf(sub, 0)).subarray(0, 3 * PIECE)).equals(Buffer.from(t.content.subarray(0, 3 * PIECE))));
      } finally {
        await pool.close();
      }
    }
  }));

test('WriteGatherer: slices that run on in one file make one write up to its bound; a gap, another file or a flush starts another', () => {
  const out: GatheredWrite[] = [];
  const g = new WriteGatherer((w) => out.push(w), 300);
  const b = (n: number) => new Uint8Array(n);
  g.add(0, 'f', 0, b(100));
  g.add(1, 'f', 100, b(100));
  g.add(1, 'g', 0, b(50)); // piece 1 goes on in another file
  g.add(2, 'g', 50, b(100));
  g.add(3, 'g', 150, b(100));
  g.add(4, 'g', 250, b(100)); // over the bound
  g.add(5, 'g', 400, b(10)); // a gap (piece 4 ends at 350)
  g.flush();
  g.add(6, 'g', 410, b(10)); // after a flush (a piece not written between)
  g.flush();
  g.flush();
  assert.deepEqual(
    out.map((w) => [w.path, w.fileOffset, w.length, w.buffers.length, w.pieces]),
    [
      ['f', 0, 200, 2, [0, 1]],
      ['g', 0, 250, 3, [1, 2, 3]],
      ['g', 250, 100, 1, [4]],
      ['g', 400, 10, 1, [5]],
      ['g', 410, 10, 1, [6]],
    ],
  );
});

test('remaining: what a short pwritev left, as views', () => {
  const x = new Uint8Array([1, 2, 3]);
  const y = new Uint8Array([4, 5]);
  const z = new Uint8Array([6]);
  assert.deepEqual(remaining([x, y, z], 0), [x, y, z]);
  assert.deepEqual(remaining([x, y, z], 2), [new Uint8Array([3]), y, z]);
  assert.deepEqual(remaining([x, y, z], 3), [y, z]);
  assert.deepEqual(remaining([x, y, z], 5), [z]);
  assert.equal(remaining([x, y], 1)[0]!.buffer, x.buffer, 'a view, not a copy');
});
