import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BLOCK_LENGTH, Geometry } from '../../src/metainfo/index.js';

test('piece and block arithmetic', () => {
  const g = new Geometry(65536, [100_000]);
  assert.equal(g.pieceCount, 2);
  assert.equal(g.lastPieceLength, 100_000 - 65536);
  const last = g.pieceIndex(1);
  assert.equal(g.pieceLengthOf(last), 34464);
  assert.equal(g.blockCount(last), 3);
  assert.equal(g.blockLength(last, 2), 34464 - 2 * BLOCK_LENGTH);
  assert.throws(() => g.pieceIndex(2), { code: 'METAINFO_PIECE_OUT_OF_RANGE' });
  assert.throws(() => g.pieceIndex(-1), { code: 'METAINFO_PIECE_OUT_OF_RANGE' });
  assert.throws(() => g.pieceIndex(0.5), { code: 'METAINFO_PIECE_OUT_OF_RANGE' });
  assert.throws(() => g.slices(99_999, 2), { code: 'METAINFO_RANGE_OUT_OF_BOUNDS' });
});

test('empty files take no bytes and appear in no slice', () => {
  const g = new Geometry(16384, [0, 5, 0, 0, 20000, 0]);
  assert.deepEqual(g.slices(0, 20005), [
    { fileIndex: 1, fileOffset: 0, length: 5 },
    { fileIndex: 4, fileOffset: 0, length: 20000 },
  ]);
  assert.deepEqual(g.piecesOfFile(0), { first: 0, end: 0 });
  assert.deepEqual(g.piecesOfFile(4), { first: 0, end: 2 });
  assert.deepEqual(g.piecesOfFile(1), { first: 0, end: 1 });
});

test('property: slices tile the range exactly, in order, and agree with piecesOfFile', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 8 }).map((e) => 16 << e),
      (lengths, pieceLength) => {
        const total = lengths.reduce((a, b) => a + b, 0);
        fc.pre(total > 0);
        const g = new Geometry(pieceLength, lengths);
        let covered = 0;
        const seenPiecesOf = lengths.map(() => new Set<number>());
        for (let i = 0; i < g.pieceCount; i++) {
          const p = g.pieceIndex(i);
          let pos = g.pieceOffset(p);
          for (const s of g.pieceSlices(p)) {
            assert.ok(s.length > 0);
            assert.equal(g.fileOffsets[s.fileIndex]! + s.fileOffset, pos, 'contiguous');
            assert.ok(s.fileOffset + s.length <= lengths[s.fileIndex]!);
            pos += s.length;
            seenPiecesOf[s.fileIndex]!.add(i);
          }
          assert.equal(pos - g.pieceOffset(p), g.pieceLengthOf(p));
          covered += g.pieceLengthOf(p);
        }
        assert.equal(covered, total);
        lengths.forEach((_len, f) => {
          const { first, end } = g.piecesOfFile(f);
          assert.deepEqual([...seenPiecesOf[f]!].sort((a, b) => a - b), Array.from({ length: end - first }, (_x, k) => first + k));
        });
      },
    ),
  );
});
