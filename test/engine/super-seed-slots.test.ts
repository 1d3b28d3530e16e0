/**
 * Upload slots of a super-seeding origin (src/engine/super-seed.ts `slots`/`idle`,
 * choke-round.ts), on fake peers and an injected clock that never reaches a choking round: the
 * slots scale with the interested leechers (so 20 leechers do not wait for 4 slots), a newcomer
 * is unchoked at once, a peer holding every piece offered to it gives its slot to a waiting one
 * without being snubbed, a slot freed by `not interested` is given at once, and an upload limit
 * caps the slots. The offers stay distinct throughout (nothing sent twice).
 * Faults checked once: slots fixed at `uploadSlots` fails the first and fourth tests; `idle`
 * always false fails the second; `notInterested` without `fillFree` fails the third.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SUPER_SEED_SLOTS, TokenBucket, Torrent, type TorrentOptions } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 16 * 1024;
const data = bytes(128 * PIECE, 5);
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

/** A seed at time 0 that already ran its first choking round (so none runs during the test). */
function seed(opts: TorrentOptions = {}): Torrent {
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => 0, peerEviction: false, superSeed: { offerBytes: 2 * PIECE }, ...opts });
  t.tick();
  return t;
}

/** A leecher that says `interested`, as our offers would make a real one. */
async function leecher(t: Torrent, id: string): Promise<FakeLink> {
  const link = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id, has: () => false })) as FakeLink;
  await settle();
  link.emit({ type: 'interested' });
  return link;
}

const unchoked = (links: readonly FakeLink[]): string[] => links.filter((l) => !l.amChoking).map((l) => l.id);

function assertDistinctOffers(links: readonly FakeLink[]): void {
  const all = links.flatMap((l) => l.haves);
  assert.equal(new Set(all).size, all.length, `no piece offered twice: ${JSON.stringify(links.map((l) => l.haves))}`);
  for (const l of links) assert.deepEqual(l.havesNow, l.haves, `${l.id}: every reveal at once (the peer waits for it)`);
}

test(`super-seed slots: one per interested leecher up to ${DEFAULT_SUPER_SEED_SLOTS}, a newcomer unchoked at once, offers distinct`, async () => {
  const t = seed();
  const links: FakeLink[] = [];
  for (let i = 0; i < 10; i++) links.push(await leecher(t, `p${String(i).padStart(2, '0')}`));
  assert.equal(unchoked(links).length, 10, 'ten leechers, ten slots (not 4)');
  const newcomer = await leecher(t, 'new');
  assert.equal(newcomer.amChoking, false, 'a newcomer is unchoked when it says interested, not at the next round');
  links.push(newcomer);
  for (let i = 11; i < 20; i++) links.push(await leecher(t, `p${i}`));
  t.tick();
  await settle();
  assert.equal(unchoked(links).length, DEFAULT_SUPER_SEED_SLOTS, `20 leechers: ${DEFAULT_SUPER_SEED_SLOTS} slots`);
  for (const l of links) assert.equal(l.haves.length, l.amChoking ? 1 : 2, `${l.id}: a full offer when unchoked, one piece while choked`);
  assertDistinctOffers(links);

  const plain = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => 0, peerEviction: false });
  plain.tick();
  const others: FakeLink[] = [];
  for (let i = 0; i < 8; i++) others.push(await leecher(plain, `q${i}`));
  assert.equal(unchoked(others).length, 4, 'a seed that does not super-seed keeps its 4 slots');
  await Promise.all([t.close(), plain.close()]);
});

test('super-seed slots: a peer holding all its offers gives its slot to a waiting peer, and is not snubbed for it', async () => {
  const t = seed({ uploadSlots: 2, superSeed: { offerBytes: 2 * PIECE, maxSlots: 2 } });
  const a = await leecher(t, 'a');
  const b = await leecher(t, 'b');
  const c = await leecher(t, 'c');
  await settle();
  assert.deepEqual(unchoked([a, b, c]), ['a', 'b']);
  assert.equal(c.haves.length, 1, 'c waits with one piece offered');

  for (const i of a.haves) a.have(i); // a fetched its offer; b and c lack it, so it stays a's
  t.tick();
  await settle();
  assert.deepEqual(unchoked([a, b, c]), ['b', 'c'], 'a has nothing to ask: its slot goes to c at the next tick');
  assert.equal(c.haves.length, 2, 'c, unchoked, gets its whole offer');

  const aOffers = [...a.haves];
  for (const i of aOffers) b.have(i); // the swarm took a's pieces from it: a's offers are settled
  t.tick();
  await settle();
  assert.equal(a.haves.length, aOffers.length + 1, 'a, choked, is offered one fresh piece');
  for (const i of b.haves) b.have(i); // b fetched its own offer: nothing left to ask
  t.tick();
  await settle();
  assert.deepEqual(unchoked([a, b, c]), ['a', 'c'], 'a was never snubbed: with something to ask, it takes the slot b gave up');
  assertDistinctOffers([a, c]);
  await t.close();
});

test('a slot freed by `not interested` goes at once to a waiting peer', async () => {
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => 0, peerEviction: false, uploadSlots: 2 });
  t.tick();
  const a = await leecher(t, 'a');
  const b = await leecher(t, 'b');
  const c = await leecher(t, 'c');
  assert.deepEqual(unchoked([a, b, c]), ['a', 'b']);
  a.emit({ type: 'notInterested' });
  assert.deepEqual(unchoked([a, b, c]), ['b', 'c'], 'no waiting for the next round or tick');
  await t.close();
});

test('super-seed slots under an upload limit: only as many as can each fetch an offer within releaseAfterMs', async () => {
  // 2-piece offers (32 KiB), released after 5 s: 6.4 KiB/s per slot; 40,000 B/s makes 6 slots.
  const t = seed({ uploadLimiters: [new TokenBucket(40_000, 0)] });
  const links: FakeLink[] = [];
  for (let i = 0; i < 10; i++) links.push(await leecher(t, `p${i}`));
  t.tick();
  await settle();
  assert.equal(unchoked(links).length, 6);
  assertDistinctOffers(links);
  await t.close();
});

test('super-seeding, a lone leecher that says `not interested` between offers keeps its slot: no choke per offer (a choke storm to it)', async () => {
  const t = seed();
  const a = await leecher(t, 'a');
  assert.equal(a.amChoking, false);
  for (let round = 0; round < 12; round++) {
    const offered = [...a.haves];
    for (const i of offered) if (!a.bitfield.has(i)) a.have(i); // fetched: the next offer follows at once
    a.emit({ type: 'notInterested' }); // it held every piece offered when it said so…
    await settle();
    a.emit({ type: 'interested' }); // …and the next offer's `have`s make it interested again
    await settle();
  }
  assert.ok(a.haves.length > 12, `offers went on: ${a.haves.length}`);
  assert.deepEqual(a.chokings, [false], 'unchoked once, never choked between offers');
  await t.close();
});

test('super-seeding, `not interested` still gives the slot up at once to a waiting peer', async () => {
  const t = seed({ uploadSlots: 1, superSeed: { offerBytes: 2 * PIECE, maxSlots: 1 } });
  const a = await leecher(t, 'a');
  const b = await leecher(t, 'b');
  assert.deepEqual(unchoked([a, b]), ['a']);
  a.emit({ type: 'notInterested' });
  assert.deepEqual(unchoked([a, b]), ['b']);
  await t.close();
});
