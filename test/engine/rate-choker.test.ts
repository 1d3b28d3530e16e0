/**
 * The choker (`choke`, choker.ts) and the rate tools (`RateMeter`, `TokenBucket`, rate.ts):
 * pure functions of a snapshot and a number clock, checked to the byte and the millisecond.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { choke, CHOKE_ROUND_MS, OPTIMISTIC_ROTATE_MS, RateMeter, TokenBucket, UPLOAD_SNUB_MS, type ChokeCandidate } from '../../src/engine/index.js';
import { longestWaiting } from '../../src/engine/choker.js';

const fresh = { optimistic: undefined, optimisticSinceMs: 0 };
const peer = (id: string, o: Partial<ChokeCandidate> = {}): ChokeCandidate => ({ id, interested: true, downloadRate: 0, uploadRate: 0, ...o });
const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();
const near = (a: number, b: number, msg?: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≉ ${b}${msg === undefined ? '' : `: ${msg}`}`);

test('rounds: 10 s a choking round, 30 s an optimistic unchoke, 5 s to ask before a snub', () => {
  assert.equal(CHOKE_ROUND_MS, 10_000);
  assert.equal(OPTIMISTIC_ROTATE_MS, 30_000);
  assert.equal(UPLOAD_SNUB_MS, 5000);
});

test('regular slots go to the best by download rate while leeching, by upload rate while seeding; ties by id', () => {
  const peers = [
    peer('e', { downloadRate: 50, uploadRate: 1 }),
    peer('b', { downloadRate: 10, uploadRate: 900 }),
    peer('d', { downloadRate: 50, uploadRate: 2 }),
    peer('a', { downloadRate: 10, uploadRate: 800 }),
    peer('c', { downloadRate: 90, uploadRate: 3 }),
  ];
  // 3 slots: 2 regular + the optimistic one, at random (rng 0: the first in input order) among the rest.
  const leech = choke(peers, false, 3, fresh, 1000, () => 0);
  assert.deepEqual(sorted(leech.unchoked), ['c', 'd', 'e'], 'c (90) and d (50, before e by id); then e, first of the choked');
  assert.equal(leech.optimistic, 'e');
  assert.equal(leech.optimisticSinceMs, 1000);
  const seed = choke(peers, true, 3, fresh, 1000, () => 0.99);
  assert.deepEqual(sorted(seed.unchoked), ['a', 'b', 'c'], 'b (900) and a (800); then c, last of the choked');
  assert.equal(seed.optimistic, 'c');
  const ties = choke([peer('z'), peer('x'), peer('y')], false, 2, fresh, 0, () => 0.99);
  assert.deepEqual(sorted(ties.unchoked), ['x', 'y'], 'x by id; then the optimistic pick, the last of [z, y]');
});

test('only interested peers are unchoked; free slots go to the next best; one slot is the optimistic one alone', () => {
  const peers = [peer('a', { downloadRate: 5 }), peer('b', { interested: false, downloadRate: 100 }), peer('c', { downloadRate: 1 })];
  const d = choke(peers, false, 4, fresh, 0, () => 0);
  assert.deepEqual(sorted(d.unchoked), ['a', 'c']);
  const one = choke([peer('a', { downloadRate: 9 }), peer('b', { downloadRate: 1 })], false, 1, fresh, 0, () => 0.99);
  assert.deepEqual(sorted(one.unchoked), ['b'], 'no regular slot: the optimistic one goes to a choked peer at random');
  const none = choke([peer('a', { interested: false })], false, 4, { optimistic: 'a', optimisticSinceMs: 0 }, 500, () => 0);
  assert.deepEqual(none, { unchoked: new Set(), optimistic: undefined, optimisticSinceMs: 500 });
});

test('the optimistic unchoke is kept for 30 s while it stays interested, choked and unsnubbed', () => {
  const peers = [peer('a', { downloadRate: 9 }), peer('b'), peer('c')];
  const d1 = choke(peers, false, 2, fresh, 0, () => 0);
  assert.equal(d1.optimistic, 'b');
  const d2 = choke(peers, false, 2, d1, 29_999, () => 0.99);
  assert.deepEqual([d2.optimistic, d2.optimisticSinceMs], ['b', 0], 'kept, and so is its start');
  const d3 = choke(peers, false, 2, d2, 30_000, () => 0.99);
  assert.deepEqual([d3.optimistic, d3.optimisticSinceMs], ['c', 30_000], '30 s: a new pick');
  const lost = choke([peers[0]!, peer('b', { interested: false }), peers[2]!], false, 2, d1, 1000, () => 0);
  assert.deepEqual([lost.optimistic, lost.optimisticSinceMs], ['c', 1000], 'it lost interest');
  const snub = choke([peers[0]!, peer('b', { snubbed: true }), peers[2]!], false, 2, d1, 1000, () => 0);
  assert.equal(snub.optimistic, 'c', 'it was snubbed');
  const best = choke([peer('a'), peer('b', { downloadRate: 50 }), peer('c')], false, 2, d1, 1000, () => 0.99);
  assert.deepEqual(sorted(best.unchoked), ['b', 'c'], 'it earned a regular slot: the optimistic one goes to another');
  assert.equal(best.optimistic, 'c');
  const gone = choke([peer('a', { downloadRate: 9 }), peer('c')], false, 2, d1, 1000, () => 0);
  assert.equal(gone.optimistic, 'c', 'it left');
});

test('the optimistic pick: the peers unchoked longest ago, newcomers first; a snubbed peer only when nobody else waits', () => {
  const peers = [peer('r', { downloadRate: 9 }), peer('old', { lastUnchokedMs: 1000 }), peer('older', { lastUnchokedMs: 500 }), peer('older2', { lastUnchokedMs: 500 })];
  assert.equal(choke(peers, false, 2, fresh, 0, () => 0).optimistic, 'older');
  assert.equal(choke(peers, false, 2, fresh, 0, () => 0.99).optimistic, 'older2');
  assert.equal(choke([...peers, peer('new')], false, 2, fresh, 0, () => 0.99).optimistic, 'new', 'never unchoked: first');
  assert.equal(choke([...peers, peer('new', { lastUnchokedMs: -Infinity })], false, 2, fresh, 0, () => 0.99).optimistic, 'new', '−∞ is never');
  const snubbed = [peer('r', { downloadRate: 9 }), peer('s', { snubbed: true, downloadRate: 100 }), peer('t', { lastUnchokedMs: 5 })];
  const d = choke(snubbed, false, 2, fresh, 0, () => 0);
  assert.deepEqual(sorted(d.unchoked), ['r', 't'], 'the regular slot is r\'s although s has the best rate');
  assert.equal(d.optimistic, 't', 'a snubbed newcomer waits behind an unsnubbed peer');
  const last = choke([peer('r', { downloadRate: 9 }), peer('s1', { snubbed: true }), peer('s2', { snubbed: true })], false, 4, fresh, 0, () => 0);
  assert.deepEqual(sorted(last.unchoked), ['r', 's1'], 'nobody else waits: a snubbed one gets the optimistic slot, and no free slot goes to the other');
  assert.deepEqual(longestWaiting([peer('a', { lastUnchokedMs: 3 }), peer('b', { lastUnchokedMs: 2 }), peer('c', { lastUnchokedMs: 2 })]).map((p) => p.id), ['b', 'c']);
  assert.deepEqual(longestWaiting([]), []);
});

test('property: only interested peers, at most `slots`, and no slot left free while an unsnubbed interested peer waits', () => {
  const candidate = fc.record({
    interested: fc.boolean(),
    downloadRate: fc.nat(3),
    uploadRate: fc.nat(3),
    snubbed: fc.boolean(),
    lastUnchokedMs: fc.option(fc.nat(3), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(candidate, { maxLength: 8 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.option(fc.nat(9), { nil: undefined }), fc.nat(60_000), (cs, slots, seeding, opt, since) => {
      const peers = cs.map((c, i) => ({ id: `p${i}`, ...c }));
      const d = choke(peers, seeding, slots, { optimistic: opt === undefined ? undefined : `p${opt}`, optimisticSinceMs: since }, 60_000, () => 0.5);
      const interested = new Set(peers.filter((p) => p.interested).map((p) => p.id));
      assert.ok([...d.unchoked].every((id) => interested.has(id)), 'only interested peers');
      assert.ok(d.unchoked.size <= slots);
      const waiting = peers.filter((p) => p.interested && !p.snubbed && !d.unchoked.has(p.id));
      assert.ok(waiting.length === 0 || d.unchoked.size === slots, 'a free slot while an unsnubbed peer waits');
    }),
  );
});

test('rate meter: bytes per second over the last 5 s, exactly', () => {
  const m = new RateMeter();
  for (let t = 0; t < 10_000; t += 100) m.add(1000, t);
  assert.equal(m.rate(10_000), 10_000, '4 full seconds of 10,000 bytes over 4 s');
  for (let t = 10_000; t < 10_500; t += 100) m.add(1000, t);
  assert.equal(m.rate(10_500), 10_000, 'and half of the current second over 4.5 s');
  assert.equal(m.totalBytes, 105_000);
  near(m.rate(14_999), 5000 / 4.999, 'only the last second left in the window');
  assert.equal(m.rate(15_000), 0, 'all of it out of the window');
  assert.equal(m.totalBytes, 105_000, 'the total is not windowed');
  m.add(700, 100_000);
  assert.equal(m.rate(100_000), 700 / 4, 'after a long pause only the new bytes count');
});

test('rate meter: a young meter divides by its age, at least one second', () => {
  const m = new RateMeter();
  m.add(2000, 3000);
  assert.equal(m.rate(3000), 2000);
  assert.equal(m.rate(3500), 2000, 'half a second old: still over one second');
  m.add(1000, 4500);
  assert.equal(m.rate(5000), 1500, 'two seconds old, counted from the first bytes');
  const short = new RateMeter(2);
  short.add(100, 0);
  near(short.rate(1999), 100 / 1.999);
  assert.equal(short.rate(2000), 0, 'a 2 s window');
  const late = new RateMeter();
  late.add(500, 7000);
  assert.equal(late.rate(6000), 500, 'a clock read earlier than the last add changes nothing');
  late.add(500, 7100);
  assert.equal(late.rate(8000), 1000 / 1, 'both in the bucket of second 7');
});

test('token bucket: bursts up to max(rate, 256 KiB) by default; waits the exact debt; refills no faster than its rate', () => {
  const small = new TokenBucket(1000, 0);
  small.take(256 * 1024 - 1, 0);
  assert.equal(small.waitMs(0), 0, 'one byte left of the default burst');
  small.take(1, 0);
  assert.equal(small.waitMs(0), 1, 'empty: a millisecond');
  const big = new TokenBucket(1_000_000, 0);
  big.take(999_999, 0);
  assert.equal(big.waitMs(0), 0, 'a rate above 256 KiB/s bursts its rate');
  const b = new TokenBucket(1000, 1000, 1000);
  b.take(2500, 1000);
  assert.equal(b.waitMs(1000), 1501, '1500 bytes of debt at 1000 B/s, plus one');
  assert.equal(b.waitMs(1700), 801, '700 bytes refilled in 700 ms');
  b.rate = 2000;
  assert.equal(b.waitMs(1800), 301, 'the rate can change: 200 more bytes in 100 ms');
  assert.equal(b.waitMs(100_000), 0);
  b.take(1000, 100_000);
  assert.equal(b.waitMs(100_000), 1, 'refilled no higher than the burst');
  const c = new TokenBucket(1000, 1000, 1000);
  c.take(1000, 1000);
  assert.equal(c.waitMs(500), 1, 'a clock that went back takes nothing away');
});
