import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { choke, PiecePicker, RateMeter, TokenBucket } from '../../src/engine/index.js';
import { Bitfield, Geometry } from '../../src/metainfo/index.js';

const g = new Geometry(32768, [10 * 32768]); // 10 pieces of 2 blocks
const full = Bitfield.full(10);
const none = () => false;

test('rarest first after the random first pieces; in-progress pieces first', () => {
  const have = new Bitfield(10);
  const p = new PiecePicker(g, have, { randomFirstPieces: 0, rng: () => 0.99 });
  p.addBitfield(full);
  p.addBitfield(full);
  p.addHave(3);
  for (const i of [0, 1, 2, 4, 5, 6, 8, 9]) p.addHave(i); // everything but 7 is common now
  const first = p.pick(full, 1, false, none);
  assert.equal(first[0]!.index, 7, 'the rarest piece');
  const next = p.pick(full, 1, false, none);
  assert.deepEqual([next[0]!.index, next[0]!.begin], [7, 16384], 'finish the piece in progress before starting another');
});

test('sequential picks strictly in order; runs take whole pieces', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  p.addBitfield(full);
  assert.deepEqual(p.pick(full, 3, false, none).map((r) => [r.index, r.begin]), [[0, 0], [0, 16384], [1, 0]]);
  const runs = new PiecePicker(g, new Bitfield(10), { sequential: true });
  assert.deepEqual(runs.pick(full, 1, true, none).map((r) => r.index), [0, 0], 'a run-preferring peer gets the whole piece');
});

test('property: one peer is never handed a block twice; every block is handed out once all are picked', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), fc.boolean(), (sizes, seq) => {
      const p = new PiecePicker(g, new Bitfield(10), { sequential: seq, rng: Math.random });
      const seen = new Set<string>();
      const mine = (i: number, b: number) => seen.has(`${i}:${b * 16384}`);
      for (const n of sizes) {
        if (p.endgame) break;
        for (const r of p.pick(full, n, false, mine)) {
          const k = `${r.index}:${r.begin}`;
          assert.ok(!seen.has(k), `twice: ${k}`);
          seen.add(k);
        }
      }
      while (!p.endgame) for (const r of p.pick(full, 5, false, mine)) seen.add(`${r.index}:${r.begin}`);
      assert.equal(seen.size, 20);
    }),
  );
});

test('released blocks are picked again; a failed piece is wanted whole again', () => {
  const p = new PiecePicker(g, new Bitfield(10), { sequential: true });
  const [a, b] = p.pick(full, 2, false, none);
  p.release(a!.index, a!.begin);
  assert.deepEqual(p.pick(full, 1, false, none), [a]);
  p.receive(a!.index, a!.begin);
  p.receive(b!.index, b!.begin);
  assert.ok(p.isComplete(0));
  p.failed(0);
  assert.deepEqual(p.pick(full, 2, false, none).map((r) => [r.index, r.begin]), [[0, 0], [0, 16384]]);
});

test('choker: best uploaders to us keep the regular slots, one optimistic unchoke rotates every 30 s', () => {
  const peers = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => ({ id, interested: true, downloadRate: i * 100, uploadRate: 600 - i * 100 }));
  const d1 = choke(peers, false, 4, { optimistic: undefined, optimisticSinceMs: 0 }, 0, () => 0);
  assert.deepEqual([...d1.unchoked].sort(), ['a', 'd', 'e', 'f']);
  assert.equal(d1.optimistic, 'a');
  const d2 = choke(peers, false, 4, d1, 10_000, () => 0.99);
  assert.equal(d2.optimistic, 'a', 'kept for 30 s');
  const d3 = choke(peers, false, 4, d2, 30_000, () => 0.99);
  assert.equal(d3.optimistic, 'c', 'rotated');
  const seeding = choke(peers, true, 4, { optimistic: undefined, optimisticSinceMs: 0 }, 0, () => 0);
  assert.ok(['a', 'b', 'c'].every((id) => seeding.unchoked.has(id)), 'seeding ranks by upload rate');
  const uninterested = choke(peers.map((p) => ({ ...p, interested: false })), false, 4, d1, 0, () => 0);
  assert.equal(uninterested.unchoked.size, 0);
});

test('rate meter and token bucket on an injected clock', () => {
  const m = new RateMeter(5);
  for (let t = 0; t < 5000; t += 100) m.add(1000, t);
  assert.ok(Math.abs(m.rate(5000) - 10_000) < 2500, `${m.rate(5000)}`);
  assert.equal(m.rate(20_000), 0);
  const b = new TokenBucket(1000, 0, 1000);
  assert.equal(b.waitMs(0), 0);
  b.take(3000, 0);
  assert.equal(b.waitMs(0), 2001);
  assert.equal(b.waitMs(2100), 0);
});

/** Successive draws from `values` (then the last one again). */
const draws = (...values: number[]) => {
  let k = 0;
  return () => values[Math.min(k++, values.length - 1)]!;
};
const at = (rs: readonly { index: number; begin: number }[]) => rs.map((r) => `${r.index}:${r.begin / 16384}`);

test('runs: a run-preferring peer\'s run goes on into the next piece; a wire peer gets the usual random/rarest picks', () => {
  // Random first pieces: a scan from 5, then from 0, then from 8.
  const runs = new PiecePicker(g, new Bitfield(10), { rng: draws(0.5, 0.05, 0.85) });
  runs.addBitfield(full);
  assert.deepEqual(at(runs.pick(full, 6, true, none)), ['5:0', '5:1', '6:0', '6:1', '7:0', '7:1'], 'one run over three pieces');
  // A new call starts a new run, from a normal pick (the next draw: a scan from 0).
  assert.deepEqual(at(runs.pick(full, 2, true, none)), ['0:0', '0:1']);
  const wire = new PiecePicker(g, new Bitfield(10), { rng: draws(0.5, 0.05, 0.85) });
  wire.addBitfield(full);
  assert.deepEqual(at(wire.pick(full, 6, false, none)), ['5:0', '5:1', '0:0', '0:1', '8:0', '8:1']);
  // The next piece the peer lacks (or we have) is no continuation.
  const gap = new PiecePicker(g, new Bitfield(10), { rng: draws(0.5, 0.05, 0.85) });
  const lacks6 = withPieces(10, [0, 1, 2, 3, 4, 5, 7, 8, 9]);
  assert.deepEqual(at(gap.pick(lacks6, 4, true, none)), ['5:0', '5:1', '0:0', '0:1']);
});

function withPieces(n: number, pieces: readonly number[]): Bitfield {
  const b = new Bitfield(n);
  for (const i of pieces) b.set(i);
  return b;
}

test('runs: from a half-done piece a run-preferring peer gets its longest free run, and on into the next piece', () => {
  const g8 = new Geometry(8 * 16384, [3 * 8 * 16384]); // 3 pieces of 8 blocks
  const all = Bitfield.full(3);
  const p = new PiecePicker(g8, new Bitfield(3), { rng: () => 0.9 }); // a fresh pick would be piece 2
  assert.deepEqual(at(p.pick(all, 8, false, none)), ['2:0', '2:1', '2:2', '2:3', '2:4', '2:5', '2:6', '2:7']);
  const q = new PiecePicker(g8, new Bitfield(3), { rng: () => 0 });
  q.pick(all, 8, false, none); // piece 0, every block, to a wire peer
  q.receive(0, 0);
  for (const b of [1, 3, 4, 5]) q.release(0, b * 16384); // free: [1] and [3, 4, 5]
  assert.deepEqual(at(q.pick(all, 3, true, none)), ['0:3', '0:4', '0:5'], 'the longest run, not blocks around others\' requests');
  assert.deepEqual(at(q.pick(all, 1, true, none)), ['0:1']);
  const r = new PiecePicker(g8, new Bitfield(3), { rng: draws(0, 0.9) });
  r.pick(all, 8, false, none);
  r.receive(0, 0);
  for (const b of [1, 5, 6, 7]) r.release(0, b * 16384); // free: [1] and [5, 6, 7], the latter ending the piece
  assert.deepEqual(at(r.pick(all, 11, true, none)), ['0:5', '0:6', '0:7', '1:0', '1:1', '1:2', '1:3', '1:4', '1:5', '1:6', '1:7'], 'piece 1 follows, not a random one');
  // A wire peer takes the free blocks in order, wherever they are.
  const w = new PiecePicker(g8, new Bitfield(3), { rng: () => 0 });
  w.pick(all, 8, false, none);
  w.receive(0, 0);
  for (const b of [1, 3, 4, 5]) w.release(0, b * 16384);
  assert.deepEqual(at(w.pick(all, 3, false, none)), ['0:1', '0:3', '0:4']);
});

test('deadlines: only valid, wanted, missing pieces; a peer lacking one is not asked; a run peer takes one whole piece per call when full', () => {
  const have = withPieces(10, [3]);
  const wanted = withPieces(10, [0, 1, 2, 3, 4, 5, 6, 7, 8]); // not 9
  const p = new PiecePicker(g, have, { wanted, rng: () => 0 });
  p.setDeadlines(new Map([[-1, 1], [10, 1], [9, 2], [3, 3], [6, 50], [4, 40], [2, 40]]));
  assert.deepEqual(p.deadlinePieces, [2, 4, 6], 'earliest first, ties by index; not out of range, unwanted or had');
  const lacks2 = withPieces(10, [0, 1, 4, 5, 6, 7, 8]);
  assert.deepEqual(at(p.pick(lacks2, 2, false, none)), ['4:0', '4:1'], 'a deadline piece the peer lacks is skipped, not requested from it');
  assert.deepEqual(at(p.pick(full, 1, true, none)), ['2:0', '2:1'], 'the whole piece, and only it');
  p.receive(2, 0);
  p.receive(2, 16384);
  have.set(2);
  p.verified(2);
  assert.deepEqual(p.deadlinePieces, [4, 6], 'a verified piece leaves the deadlines');
  assert.equal(p.inProgress, 1);
});

test('interest, endgame and duplicates: a peer is asked only for pieces it has, at most maxDuplicates times a block', () => {
  const g2 = new Geometry(32768, [2 * 32768]); // 2 pieces of 2 blocks
  const both = Bitfield.full(2);
  const p = new PiecePicker(g2, new Bitfield(2), { sequential: true });
  assert.equal(p.interestedIn(both), true);
  assert.equal(p.isComplete(1), false, 'a piece never started is not complete');
  assert.equal(p.receive(1, 0), false, 'a block of a piece never requested is not taken');
  const only0 = withPieces(2, [0]);
  const a = p.pick(only0, 2, false, none); // piece 0 whole to A
  assert.deepEqual(at(a), ['0:0', '0:1']);
  assert.equal(p.endgame, false);
  assert.deepEqual(p.pick(only0, 2, false, none), [], 'not endgame yet: piece 0 is not asked twice while piece 1 waits');
  const only1 = withPieces(2, [1]);
  const b = p.pick(only1, 4, false, none);
  assert.deepEqual(at(b), ['1:0', '1:1']);
  assert.equal(p.endgame, true);
  const mine = (rs: readonly { index: number; begin: number }[]) => (i: number, blk: number) => rs.some((r) => r.index === i && r.begin === blk * 16384);
  assert.deepEqual(at(p.pick(only1, 4, false, mine(b))), [], 'endgame: nothing of a piece the peer lacks, nothing it has outstanding');
  const c = p.pick(only0, 1, false, none);
  assert.deepEqual(at(c), ['0:0'], 'endgame: a duplicate, at most max');
  assert.deepEqual(at(p.pick(only0, 4, false, mine(c))), ['0:1']);
  assert.deepEqual(p.pick(only0, 4, false, none), [], 'each block of piece 0 is requested twice: no third request');
  // One of two requesters gives up: the block is still requested once, so still endgame.
  p.release(0, 0);
  assert.equal(p.endgame, true);
  p.release(0, 0);
  assert.equal(p.endgame, false, 'nobody has it requested now');
  p.release(0, 0); // a stray release changes nothing
  assert.deepEqual(at(p.pick(only0, 4, false, none)), ['0:0'], 'released: asked again, once');
  // Blocks arrive; a duplicate is not counted twice.
  assert.equal(p.receive(0, 0), true);
  assert.equal(p.receive(0, 0), false);
  assert.equal(p.isComplete(0), false);
  assert.equal(p.receive(0, 16384), true);
  assert.equal(p.isComplete(0), true);
  p.verified(0);
  p.receive(1, 0);
  p.receive(1, 16384);
  p.verified(1);
  assert.equal(p.missing, 0);
  assert.equal(p.endgame, false, 'complete is not endgame');
  assert.equal(p.interestedIn(both), false, 'nothing left to want');
});

test('interest in a partial peer: only a piece it has, we lack and want counts, wherever it sits in the field', () => {
  const g20 = new Geometry(16384, [20 * 16384]); // 20 pieces: three bytes of bitfield, the last one partial
  const have = withPieces(20, [0, 1, 2, 3, 9, 17]);
  const wanted = withPieces(20, [0, 1, 2, 3, 9, 11, 17, 19]);
  const p = new PiecePicker(g20, have, { wanted });
  assert.equal(p.interestedIn(withPieces(20, [])), false, 'a peer with nothing');
  assert.equal(p.interestedIn(withPieces(20, [0, 3, 9, 17])), false, 'only pieces we have');
  assert.equal(p.interestedIn(withPieces(20, [0, 4, 5, 8, 10, 12, 18])), false, 'pieces we lack but do not want');
  assert.equal(p.interestedIn(withPieces(20, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19])), true, 'the last piece, in the partial last byte');
  assert.equal(p.interestedIn(withPieces(20, [3, 9, 11])), true, 'a wanted piece in the second byte');
  const all = new PiecePicker(g20, have);
  assert.equal(all.interestedIn(withPieces(20, [0, 3, 4])), true, 'without a selection every piece we lack is wanted');
  assert.equal(all.interestedIn(withPieces(20, [0, 1, 2, 3, 9, 17])), false);
});

test('a failed piece with a request still out: the peer holding it is not asked for that block again', () => {
  const g2 = new Geometry(32768, [32768]); // 1 piece of 2 blocks
  const one = Bitfield.full(1);
  const p = new PiecePicker(g2, new Bitfield(1), { maxDuplicates: 2 });
  p.pick(one, 2, false, none); // A: both blocks
  const dup = p.pick(one, 2, false, none); // endgame: B duplicates both
  assert.equal(dup.length, 2);
  p.receive(0, 0);
  p.receive(0, 16384); // A's copies arrive; B's are still out
  p.failed(0);
  const mineB = (i: number, b: number) => dup.some((r) => r.index === i && r.begin === b * 16384);
  assert.deepEqual(p.pick(one, 2, false, mineB), [], 'B has both blocks outstanding still');
  p.release(0, 0); // B's first request comes back empty
  assert.deepEqual(at(p.pick(one, 2, false, (i, b) => b === 1)), ['0:0']);
});

test('availability never goes below zero on a stray removal', () => {
  const p = new PiecePicker(g, new Bitfield(10));
  p.removeHave(3);
  p.removeBitfield(withPieces(10, [4]));
  assert.equal(p.availability[3], 0);
  assert.equal(p.availability[4], 0);
  p.addHave(3);
  p.removeHave(3);
  p.removeHave(3);
  assert.equal(p.availability[3], 0);
});

test('the injected rng and randomFirstPieces decide the first picks', () => {
  const p = new PiecePicker(g, new Bitfield(10), { rng: () => 0.75, randomFirstPieces: 1 });
  p.addBitfield(full);
  for (let i = 0; i < 10; i++) if (i !== 2) p.addHave(i); // 2 is the rarest
  assert.deepEqual(at(p.pick(full, 2, false, none)), ['7:0', '7:1'], 'the first piece is random (from 7)');
  assert.deepEqual(at(p.pick(full, 2, false, none)), ['2:0', '2:1'], 'then rarest first');
});

test('property: each piece in progress keeps its count of free blocks (neither received nor requested) through picks, releases, late blocks and failures', () => {
  type Partial = { blocks: number; free: number; received: Uint8Array; requested: Uint8Array };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('pick' as const), n: fc.integer({ min: 1, max: 6 }), runs: fc.boolean() }),
    fc.record({ kind: fc.constantFrom('release' as const, 'receive' as const, 'late' as const, 'fail' as const), at: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.boolean(), (ops, seq) => {
      const p = new PiecePicker(g, new Bitfield(10), { sequential: seq, rng: Math.random, maxDuplicates: 2 });
      const partials = (p as unknown as { partials: Map<number, Partial> }).partials;
      let out: { index: number; begin: number }[] = [];
      const released: { index: number; begin: number }[] = [];
      for (const o of ops) {
        if (o.kind === 'pick') out.push(...p.pick(full, o.n, o.runs, none));
        else if (o.kind === 'release' && out.length > 0) {
          const [r] = out.splice(o.at % out.length, 1);
          p.release(r!.index, r!.begin);
          released.push(r!);
        } else if (o.kind === 'receive' && out.length > 0) {
          const [r] = out.splice(o.at % out.length, 1);
          if (p.receive(r!.index, r!.begin) && p.isComplete(r!.index)) p.verified(r!.index);
        } else if (o.kind === 'late' && released.length > 0) {
          const [r] = released.splice(o.at % released.length, 1);
          p.receive(r!.index, r!.begin); // a block that came after its request was released
        } else if (o.kind === 'fail' && partials.size > 0) {
          const index = [...partials.keys()][o.at % partials.size]!;
          p.failed(index); // its requests still out stay in `out`: their releases and blocks land on the fresh partial
        }
        for (const [i, part] of partials) {
          let free = 0;
          for (let b = 0; b < part.blocks; b++) if (part.received[b] === 0 && part.requested[b] === 0) free++;
          assert.equal(part.free, free, `piece ${i}`);
        }
      }
    }),
  );
});
