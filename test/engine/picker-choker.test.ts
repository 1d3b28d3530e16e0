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
