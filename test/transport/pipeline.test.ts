import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PieceIndex } from '../../src/metainfo/index.js';
import { RequestPipeline } from '../../src/transport/pipeline.js';

const BLOCK = 16 * 1024;
const opts = { pieceLength: 64 * BLOCK, initialDepth: 16, maxDepth: 100, queueTimeMs: 1000, requestTimeoutMs: 30_000 };

/** Asks for `n` blocks from `next` on and answers them all; returns the next block number. */
function roundTrip(p: RequestPipeline, next: number, n: number, now: number): number {
  const reqs = Array.from({ length: n }, (_, i) => ({ index: Math.floor((next + i) / 64) as PieceIndex, begin: ((next + i) % 64) * BLOCK, length: BLOCK }));
  for (const r of reqs) assert.ok(p.add(r, now));
  for (const r of reqs) assert.equal(p.onBlock(r.index, r.begin, r.length).verdict, 'accepted');
  return next + n;
}

test('before the first rate sample the queue depth doubles every round trip (slow start), up to the cap', () => {
  const p = new RequestPipeline(opts, 0);
  assert.equal(p.desiredDepth, 16);
  let next = roundTrip(p, 0, p.desiredDepth, 10);
  assert.equal(p.desiredDepth, 32);
  next = roundTrip(p, next, p.desiredDepth, 20);
  assert.equal(p.desiredDepth, 64);
  next = roundTrip(p, next, p.desiredDepth, 30);
  assert.equal(p.desiredDepth, 100, 'capped at maxDepth');
  // From the first sample on, the rate decides: 40 blocks in 1 s is 40 blocks per queue time.
  const q = new RequestPipeline(opts, 0);
  roundTrip(q, 0, 16, 100);
  roundTrip(q, 16, 24, 200);
  q.sample(1000);
  assert.equal(q.desiredDepth, 40);
  roundTrip(q, 40, 40, 1100);
  assert.equal(q.desiredDepth, 40, 'no slow start once measured');
});

test("slow start stays under the peer's reqq and a snubbed peer still gets one request", () => {
  const p = new RequestPipeline(opts, 0);
  p.limitDepth(20);
  roundTrip(p, 0, 16, 10);
  assert.equal(p.desiredDepth, 20);
  const r = { index: 9 as PieceIndex, begin: 0, length: BLOCK };
  p.add(r, 20);
  assert.deepEqual(p.expire(40_000), [r]);
  assert.equal(p.desiredDepth, 1);
});
