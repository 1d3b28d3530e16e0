/**
 * Upload slots go to peers that use them (issue 18, finding 6): ten peers that said `interested`
 * and never requested held every slot, and a real downloader got 0 bytes in 60 s. On an injected
 * clock, ticked every 250 ms as the Client does. Faults checked once: `ChokeRound.snub` a no-op
 * fails the first two tests; the optimistic pick ignoring `lastUnchokedMs` (choker.ts
 * `longestWaiting` returning all) fails all three.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choke, Torrent, UPLOAD_SNUB_MS } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const BLOCK = 16 * 1024;
const PIECE = 2 * BLOCK;
const PIECES = 64;
const data = bytes(PIECES * PIECE, 21);
const metainfo = parseTorrent(torrentBytes({ name: 'snub', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const OPTS = { timeout: 20_000 };

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

function seed(uploadSlots = 4, rng: () => number = () => 0.5) {
  const clock = { ms: 0 };
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng, now: () => clock.ms, uploadSlots, peerEviction: false });
  const add = (id: string): FakeLink => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id, has: () => false })) as FakeLink;
  return { t, clock, add };
}

/** A downloader: while unchoked, it keeps four requests out. */
function pull(p: FakeLink, next: { block: number }): void {
  if (p.amChoking || p.closed) return;
  while (next.block < PIECES * 2 && next.block - p.sent.length < 4) {
    const b = next.block++;
    p.emit({ type: 'request', req: { index: (b >> 1) as PieceIndex, begin: (b & 1) * BLOCK, length: BLOCK } });
  }
}

test('ten interested peers that never request cannot keep a real downloader from its slot', OPTS, async () => {
  const { t, clock, add } = seed();
  const idle = Array.from({ length: 10 }, (_, i) => add(`idle${String(i).padStart(2, '0')}`));
  await settle();
  for (const p of idle) p.emit({ type: 'interested' });
  assert.equal(idle.filter((p) => !p.amChoking).length, 4, 'the free slots go at once');
  const real = add('real');
  await settle();
  real.emit({ type: 'interested' });
  const next = { block: 0 };
  let firstByteMs: number | undefined;
  const held = new Map<string, number>(); // idle peer → when we unchoked it
  for (let ms = 0; ms <= 60_000; ms += 250) {
    clock.ms = ms;
    t.tick();
    pull(real, next);
    await settle();
    if (firstByteMs === undefined && real.sent.length > 0) firstByteMs = ms;
    for (const p of idle) {
      if (p.amChoking) held.delete(p.id);
      else if (!held.has(p.id)) held.set(p.id, ms);
      else assert.ok(ms - held.get(p.id)! <= UPLOAD_SNUB_MS + 250, `${p.id} unchoked since ${held.get(p.id)} ms, still at ${ms} ms`);
    }
  }
  assert.ok(firstByteMs !== undefined && firstByteMs <= 20_000, `the real downloader got its first block at ${firstByteMs} ms`);
  assert.equal(real.sent.length, PIECES * 2, 'and then the whole torrent');
  await t.close();
});

test('a peer that stops requesting loses its slot after 5 s; its next request as the optimistic peer clears the snub', OPTS, async () => {
  const { t, clock, add } = seed(1);
  t.tick(); // the first round, at 0, with nobody interested
  const a = add('a');
  const b = add('b');
  await settle();
  a.emit({ type: 'interested' });
  b.emit({ type: 'interested' });
  assert.deepEqual([a.amChoking, b.amChoking], [false, true]);
  const na = { block: 0 };
  // a downloads for 3 s, then stops asking (it got what it wanted elsewhere).
  for (let ms = 0; ms <= 3000; ms += 250) {
    clock.ms = ms;
    t.tick();
    pull(a, na);
    await settle();
  }
  clock.ms = 3000 + UPLOAD_SNUB_MS - 250;
  t.tick();
  assert.equal(a.amChoking, false, 'within 5 s of its last request');
  clock.ms = 3000 + UPLOAD_SNUB_MS;
  t.tick();
  assert.deepEqual([a.amChoking, b.amChoking], [true, false], 'choked; b gets the slot at once');
  // b never asks: after 5 s it is snubbed too, and with no one else waiting the slot stays free
  // until the next round, where a snubbed peer may have the optimistic slot as a last resort.
  clock.ms = 10_000;
  t.tick();
  assert.equal(b.amChoking, false, 'the round at 10 s keeps b, the optimistic peer since 8 s');
  clock.ms = 8000 + UPLOAD_SNUB_MS;
  t.tick();
  assert.equal(b.amChoking, true);
  assert.equal(a.amChoking, true, 'a snubbed peer gets no free slot');
  clock.ms = 20_000;
  t.tick();
  const opt = [a, b].find((p) => !p.amChoking)!;
  assert.ok(opt !== undefined, 'the round gives the optimistic slot to a snubbed peer rather than to no one');
  pull(opt, { block: 10 });
  await settle();
  assert.ok(opt.sent.length > 0, 'and serves it');
  clock.ms = 24_000;
  t.tick();
  assert.equal(opt.amChoking, false, 'a request cleared its snub: kept');
  // Still asking, it keeps the optimistic slot through the round at 30 s (a snubbed one would
  // lose it to the other, unchoked longer ago).
  for (let ms = 24_250; ms <= 30_000; ms += 250) {
    clock.ms = ms;
    t.tick();
    if (!opt.amChoking) opt.emit({ type: 'request', req: { index: ((ms / 250) % PIECES) as PieceIndex, begin: 0, length: BLOCK } });
    await settle();
  }
  assert.equal(opt.amChoking, false, 'kept at the 30 s round: its request cleared the snub');
  await t.close();
});

test('the optimistic slot goes to newcomers first: each waiting peer gets its turn within seconds', () => {
  const peers = ['a', 'b', 'c', 'd'].map((id) => ({ id, interested: true, downloadRate: 0, uploadRate: 0 }));
  // a and b had turns (b the latest); c and d never did. An rng that picks the first picks c.
  const state = { optimistic: undefined, optimisticSinceMs: 0 };
  const withHistory = peers.map((p) => ({ ...p, lastUnchokedMs: p.id === 'a' ? 1000 : p.id === 'b' ? 5000 : undefined }));
  assert.equal(choke(withHistory, true, 1, state, 10_000, () => 0).optimistic, 'c');
  assert.equal(choke(withHistory, true, 1, state, 10_000, () => 0.99).optimistic, 'd', 'at random among newcomers');
  const veterans = withHistory.map((p) => ({ ...p, lastUnchokedMs: p.lastUnchokedMs ?? 3000 }));
  assert.equal(choke(veterans, true, 1, state, 10_000, () => 0.99).optimistic, 'a', 'then whoever waited longest');
  const snubbed = veterans.map((p) => ({ ...p, snubbed: p.id !== 'b' }));
  assert.equal(choke(snubbed, true, 1, state, 10_000, () => 0).optimistic, 'b', 'a snubbed peer only when no other waits');
  const three = choke(snubbed, true, 3, state, 10_000, () => 0);
  assert.deepEqual([...three.unchoked], ['b', three.optimistic], 'snubbed peers get no regular or free slot, only the optimistic one');
});
