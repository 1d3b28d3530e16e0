/**
 * The choke round (src/engine/choke-round.ts) between its rounds, on a seed, fake peers and an
 * injected clock: who a freed slot goes to, what upload snubbing leaves alone, and how the
 * optimistic peer is handed on. Written against the mutants StrykerJS found surviving there
 * (`npx stryker run --mutate src/engine/choke-round.ts`); faults checked once by hand:
 * - `snub` looking at choked peers too (its first `continue` dropped): "a waiting peer is not snubbed…"
 * - `snub` ignoring a queue still being served: "a peer whose requests wait on the upload limit…"
 * - `uploaders()` reading `p.link.canUpload` without `?.`: "a dial in flight during a round…"
 * - `fillFree` picking `rng() / n` instead of `rng() * n`: "a freed slot goes to a newcomer at random…"
 * - `fillFree` never handing the optimistic role on, or always: "the optimistic role passes…"
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, Torrent, UPLOAD_SNUB_MS, type TorrentOptions } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const BLOCK = 16 * 1024;
const PIECE = 2 * BLOCK;
const PIECES = 32;
const data = bytes(PIECES * PIECE, 31);
const metainfo = parseTorrent(torrentBytes({ name: 'round', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const OPTS = { timeout: 20_000 };

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** A seed whose first choking round ran at 0 with nobody there; `at(ms)` moves the clock and ticks. */
function seed(opts: TorrentOptions = {}) {
  const clock = { ms: 0 };
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => clock.ms, uploadSlots: 2, peerEviction: false, ...opts });
  t.tick();
  const add = (id: string): FakeLink => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id, has: () => false })) as FakeLink;
  const at = (ms: number): void => {
    clock.ms = ms;
    t.tick();
  };
  return { t, clock, add, at };
}

let nextBlock = 0;
/** Every unchoked peer asks for a block, as a downloader does (so none is snubbed). */
function ask(peers: readonly FakeLink[]): void {
  for (const p of peers) {
    if (p.amChoking || p.closed) continue;
    const b = nextBlock++ % (PIECES * 2);
    p.emit({ type: 'request', req: { index: (b >> 1) as PieceIndex, begin: (b & 1) * BLOCK, length: BLOCK } });
  }
}

const unchoked = (peers: readonly FakeLink[]): string[] => peers.filter((p) => !p.amChoking).map((p) => p.id);

test('a waiting peer is not snubbed however long it waits: the first slot that frees is its at once', OPTS, async () => {
  const { t, add, at } = seed();
  const peers = ['a', 'b', 'c'].map(add);
  await settle();
  for (const p of peers) p.emit({ type: 'interested' });
  assert.deepEqual(unchoked(peers), ['a', 'b'], 'free slots at once; c waits');
  for (let ms = 0; ms <= 9000; ms += 500) {
    at(ms);
    ask(peers);
    await settle();
  }
  assert.deepEqual(unchoked(peers), ['a', 'b']);
  peers[1]!.emit({ type: 'notInterested' });
  assert.deepEqual(unchoked(peers), ['a', 'c'], 'b lost interest: its slot goes to c, waiting 9 s, before any round');
  await t.close();
});

test('a peer whose requests wait on the upload limit keeps its slot past 5 s without asking again', OPTS, async () => {
  // One block a second, no burst: ten requests at once take ten seconds to serve.
  const { t, add, at } = seed({ uploadLimiters: [new TokenBucket(BLOCK, 0, BLOCK)] });
  const a = add('a');
  await settle();
  a.emit({ type: 'interested' });
  assert.equal(a.amChoking, false);
  for (let b = 0; b < 10; b++) a.emit({ type: 'request', req: { index: (b >> 1) as PieceIndex, begin: (b & 1) * BLOCK, length: BLOCK } });
  for (let ms = 250; ms <= UPLOAD_SNUB_MS + 2000; ms += 250) {
    at(ms);
    await settle();
  }
  assert.equal(a.amChoking, false, 'still being served: not snubbed');
  assert.ok(a.sent.length >= 5 && a.sent.length < 10, `${a.sent.length} blocks sent by 7 s`);
  for (let ms = UPLOAD_SNUB_MS + 2250; a.sent.length < 10 && ms <= 20_000; ms += 250) {
    at(ms);
    await settle();
  }
  assert.equal(a.sent.length, 10, 'all of them, in time');
  await t.close();
});

test('a dial in flight during a round (a peer slot without a link yet) is no uploader: the round goes on', OPTS, async () => {
  const { t, add, at } = seed();
  const slot = t.newPeerSlot('tracker');
  const a = add('a');
  await settle();
  a.emit({ type: 'interested' });
  for (let ms = 0; ms <= 10_000; ms += 1000) {
    at(ms);
    ask([a]);
    await settle();
  }
  assert.equal(a.amChoking, false);
  slot.abandon();
  await t.close();
});

test('a freed slot goes to a newcomer at random among those waiting (the injected rng decides)', OPTS, async () => {
  for (const [r, expected] of [
    [0.99, 'd'],
    [0.5, 'c'],
    [0, 'b'],
  ] as const) {
    const { t, add } = seed({ uploadSlots: 1, rng: () => r });
    const peers = ['a', 'b', 'c', 'd'].map(add);
    await settle();
    for (const p of peers) p.emit({ type: 'interested' });
    assert.deepEqual(unchoked(peers), ['a']);
    peers[0]!.emit({ type: 'notInterested' });
    assert.deepEqual(unchoked(peers), [expected], `rng ${r}: b, c, d never had a slot`);
    await t.close();
  }
});

test('the optimistic role passes to the peer that takes a freed optimistic slot, and stays while the optimistic peer is unchoked', OPTS, async () => {
  const { t, add, at } = seed();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(add) as [FakeLink, FakeLink, FakeLink, FakeLink];
  const peers = [a, b, c, d];
  await settle();
  a.emit({ type: 'interested' });
  b.emit({ type: 'interested' });
  c.emit({ type: 'interested' });
  const run = async (from: number, to: number): Promise<void> => {
    for (let ms = from; ms <= to; ms += 1000) {
      at(ms);
      ask(peers);
      await settle();
    }
  };
  await run(1000, 10_000);
  // Nobody uploads to us: a keeps the regular slot (first by id), c the newcomer is optimistic.
  assert.deepEqual(unchoked(peers), ['a', 'c'], 'round at 10 s');
  d.emit({ type: 'interested' });
  await run(11_000, 12_000);
  c.emit({ type: 'notInterested' });
  assert.deepEqual(unchoked(peers), ['a', 'd'], 'the optimistic slot c left goes to d, the newcomer');
  await run(13_000, 20_000);
  assert.deepEqual(unchoked(peers), ['a', 'd'], 'round at 20 s: d is the optimistic peer since 12 s, not b');
  a.emit({ type: 'notInterested' });
  assert.deepEqual(unchoked(peers), ['b', 'd'], "a's regular slot goes to b; d stays the optimistic peer");
  await run(21_000, 25_000);
  a.emit({ type: 'interested' });
  await run(26_000, 30_000);
  // b is now the peer we upload to fastest (served since 22 s, a not since): the regular slot.
  assert.deepEqual(unchoked(peers), ['b', 'd'], 'round at 30 s: d is still the optimistic peer (18 s of its 30), not b, and a waits');
  await t.close();
});
