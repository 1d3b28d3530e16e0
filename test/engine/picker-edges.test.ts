/**
 * The piece picker's edges (src/engine/picker.ts), written against the mutants StrykerJS found
 * surviving there: deadlines out of range or unwanted, `max` 0, a piece that fails with and
 * without endgame stragglers, a late block after its request was released, a half-done piece
 * the peer lacks, duplicates before endgame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiecePicker } from '../../src/engine/index.js';
import { Bitfield, Geometry } from '../../src/metainfo/index.js';

const B = 16 * 1024;
const g = new Geometry(2 * B, [10 * 2 * B]); // 10 pieces of 2 blocks
const full = Bitfield.full(10);
const none = () => false;
const only = (...pieces: number[]): Bitfield => {
  const b = new Bitfield(10);
  for (const i of pieces) b.set(i);
  return b;
};
const keys = (rs: readonly { index: number; begin: number }[]): string[] => rs.map((r) => `${r.index}:${r.begin / B}`);

test('deadlines: none at first; those out of range, unwanted or verified are ignored', () => {
  const have = only(4);
  const p = new PiecePicker(g, have, { wanted: only(1, 2, 3, 4, 5, 9) });
  assert.deepEqual(p.deadlinePieces, []);
  p.setDeadlines(new Map([[-1, 0], [10, 0], [0, 1], [4, 1], [9, 3], [2, 2], [5, 2]]));
  assert.deepEqual(p.deadlinePieces, [2, 5, 9], 'earliest first, ties by index; 0 is not wanted, 4 is ours, -1 and 10 are no pieces');
  assert.deepEqual(keys(p.pick(full, 2, false, none)), ['2:0', '2:1']);
  const all = new PiecePicker(g, new Bitfield(10));
  all.setDeadlines(new Map([[-1, 0], [10, 0], [7, 1]]));
  assert.deepEqual(all.deadlinePieces, [7], 'without a selection too');
});

test('max 0 asks for nothing, not even a whole piece for a run-preferring peer', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  assert.deepEqual(p.pick(full, 0, true, none), []);
  assert.deepEqual(p.pick(full, 0, false, none), []);
  assert.equal(p.inProgress, 0);
});

test('a failure of a piece never started changes nothing', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  p.failed(3);
  assert.equal(p.missing, 10);
  assert.equal(p.inProgress, 0);
  assert.equal(p.pick(full, 20, false, none).length, 20);
});

test('a failed piece with nothing outstanding leaves progress and is all wanted again; endgame follows its blocks', () => {
  const g1 = new Geometry(2 * B, [2 * B]);
  const p = new PiecePicker(g1, new Bitfield(1));
  const [a, b] = p.pick(Bitfield.full(1), 2, false, none);
  p.receive(a!.index, a!.begin);
  p.receive(b!.index, b!.begin);
  p.failed(0);
  assert.equal(p.inProgress, 0, 'no partial kept when no request is out');
  assert.equal(p.endgame, false, 'both blocks are unrequested again');
  assert.deepEqual(keys(p.pick(Bitfield.full(1), 4, false, none)), ['0:0', '0:1']);
  assert.equal(p.endgame, true, 'every missing block requested: endgame');
});

test('a piece that fails with endgame duplicates still out: endgame at once, and the stragglers free their blocks as they come back', () => {
  const g1 = new Geometry(2 * B, [2 * B]);
  const p = new PiecePicker(g1, new Bitfield(1));
  const first = p.pick(Bitfield.full(1), 2, false, none);
  assert.ok(p.endgame);
  const second = p.pick(Bitfield.full(1), 2, false, none);
  assert.deepEqual(keys(second), ['0:0', '0:1'], 'duplicates from a second peer');
  for (const r of first) p.receive(r.index, r.begin);
  p.failed(0);
  assert.equal(p.inProgress, 1, 'a partial kept for the stragglers');
  assert.equal(p.endgame, true, 'every block is still requested once (the stragglers)');
  for (const r of second) p.release(r.index, r.begin);
  assert.equal(p.endgame, false);
  assert.deepEqual(keys(p.pick(Bitfield.full(1), 4, false, none)), ['0:0', '0:1']);
});

test('a block that arrives after its request was released, then its piece fails: both blocks are asked for again', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  const [a, b] = p.pick(full, 2, false, none);
  p.receive(a!.index, a!.begin);
  p.release(b!.index, b!.begin); // timed out
  assert.equal(p.receive(b!.index, b!.begin), true, 'then came anyway');
  assert.ok(p.isComplete(0));
  p.failed(0);
  assert.deepEqual(keys(p.pick(full, 2, false, none)), ['0:0', '0:1']);
});

test('a block that arrives after its request was released is no longer free: with the rest requested, endgame starts', () => {
  const g1 = new Geometry(2 * B, [2 * B]);
  const p = new PiecePicker(g1, new Bitfield(1));
  const [, b] = p.pick(Bitfield.full(1), 2, false, none);
  p.release(b!.index, b!.begin); // timed out: free again
  assert.equal(p.endgame, false, 'block 1 is unrequested');
  assert.equal(p.receive(b!.index, b!.begin), true, 'then came anyway');
  assert.equal(p.endgame, true, 'block 0 requested, block 1 in: nothing left unrequested');
  assert.deepEqual(keys(p.pick(Bitfield.full(1), 4, false, none)), ['0:0'], 'another peer gets the duplicate of block 0, never block 1');
});

test('a half-done piece the peer lacks is not asked of it; before endgame nothing is asked twice', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  assert.deepEqual(keys(p.pick(full, 1, false, none)), ['0:0'], 'piece 0 half requested');
  assert.deepEqual(keys(p.pick(only(3), 4, false, none)), ['3:0', '3:1'], 'a peer with piece 3 only');
  assert.deepEqual(keys(p.pick(only(3), 4, false, none)), [], 'not endgame: no duplicate of piece 3');
  assert.deepEqual(keys(p.pick(only(0), 4, false, none)), ['0:1']);
  assert.deepEqual(keys(p.pick(only(0, 3), 4, false, none)), [], 'still not endgame (pieces 1, 2, 4.. unrequested)');
});
