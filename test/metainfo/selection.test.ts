import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileSelection } from '../../src/metainfo/index.js';
import { errorCode } from '../helpers/errors.js';
import { threeFiles } from '../helpers/three-files.js';

const g = threeFiles().geometry;

test('a selection wants exactly the pieces that hold bytes of its files, and counts only their bytes', () => {
  const s = new FileSelection(g, [2, 0, 0]);
  assert.deepEqual(s.files, [0, 2], 'sorted, no repeats');
  assert.deepEqual([...s.pieces], [0, 1, 3, 4, 5], 'piece 2 is b.bin alone');
  assert.equal(s.length, (40 + 80) * 1024);
  assert.equal(s.everything, false);
  assert.equal(s.selectedBytesOf(1), 8 * 1024, 'boundary piece 1: 8 KiB of a.bin, 24 KiB of b.bin');
  assert.equal(s.selectedBytesOf(3), 24 * 1024, 'boundary piece 3: 8 KiB of b.bin, 24 KiB of c.bin');
  assert.equal(s.selectedBytesOf(2), 0);
  assert.deepEqual(s.touchedFiles(), [0, 1, 2], 'b.bin shares pieces 1 and 3; the empty file shares none');
  assert.deepEqual(new FileSelection(g, [1]).touchedFiles(), [0, 1, 2]);
  assert.deepEqual([...new FileSelection(g, [3]).pieces], [], 'an empty file needs no piece');
  assert.deepEqual(new FileSelection(g, [3]).touchedFiles(), [3]);
  const all = FileSelection.all(g);
  assert.equal(all.everything, true);
  assert.equal(all.pieces.complete, true);
  assert.equal(all.length, g.totalLength);
});

test('an empty selection or an index outside the torrent is METAINFO_BAD_FILE_SELECTION', () => {
  for (const bad of [[], [-1], [4], [1.5]]) {
    assert.equal(errorCode(() => new FileSelection(g, bad)), 'METAINFO_BAD_FILE_SELECTION', JSON.stringify(bad));
  }
});
