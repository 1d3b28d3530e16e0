/**
 * A full torrent makes room for a newcomer (issue 18, finding 5): fifty connections that shook
 * hands and said nothing more, or that never exchange data, used to lock every real peer out of
 * a seed. On an injected clock: a silent peer may be evicted after `silentMs`, an idle one after
 * `idleMs`; a busy peer never. Fault checked once: `PeerSet.evictable` returning undefined fails
 * the first two tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent, type TorrentOptions } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const BLOCK = 16 * 1024;
const PIECE = 2 * BLOCK;
const data = bytes(8 * PIECE, 9);
const metainfo = parseTorrent(torrentBytes({ name: 'evict', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const OPTS = { timeout: 10_000 };

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

function seed(opts: TorrentOptions = {}) {
  const clock = { ms: 0 };
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => clock.ms, maxPeers: 3, ...opts });
  const add = (o: FakeLinkOptions): FakeLink => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, o)) as FakeLink;
  const evicted: string[] = [];
  t.on('peerClosed', (l, reason) => {
    if (reason?.code === 'ENGINE_PEER_EVICTED') evicted.push(l.id);
  });
  return { t, clock, add, evicted };
}

const req = (i: number) => ({ index: i as PieceIndex, begin: 0, length: BLOCK });

test('full of peers that only shook hands: refused for 10 s, then each newcomer evicts the earliest silent one', OPTS, async () => {
  const { t, clock, add, evicted } = seed();
  const silent = ['s1', 's2'].map((id, i) => {
    clock.ms = i * 1000;
    return add({ id, silent: true });
  });
  const leech = add({ id: 'leech', has: () => false });
  await settle();
  leech.emit({ type: 'interested' });
  clock.ms = 9999;
  assert.equal(t.admit('new1'), false, 'everyone is within 10 s of joining');
  assert.equal(t.peerCount, 3);
  clock.ms = 10_000;
  assert.equal(t.admit('new1'), true, 's1 has been silent 10 s');
  await settle();
  assert.deepEqual(evicted, ['s1']);
  assert.equal(silent[0]!.closed, true);
  assert.equal((silent[0]!.closeReason as { code: string }).code, 'ENGINE_PEER_EVICTED');
  add({ id: 'new1', has: () => false });
  assert.equal(t.peerCount, 3);
  assert.equal(t.admit('new2'), false, 's2 joined at 1 s: silent for only 9 s');
  clock.ms = 11_000;
  assert.equal(t.admit('new1'), false, 'already connected');
  assert.equal(t.admit('new2'), true);
  await settle();
  assert.deepEqual(evicted, ['s1', 's2']);
  assert.equal(leech.closed, false, 'a peer that spoke is not silent');
  await t.close();
});

test('idle peers (no block, no request for 60 s) give way, the one idle longest first; a peer taking data stays', OPTS, async () => {
  const { t, clock, add, evicted } = seed({ uploadSlots: 4 });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => add({ id, has: () => false }));
  await settle();
  for (const p of [a!, b!, c!]) p.emit({ type: 'interested' });
  // c downloads from us all along; a asks once at 5 s; b never.
  for (let ms = 0; ms <= 70_000; ms += 2500) {
    clock.ms = ms;
    c!.emit({ type: 'request', req: req((ms / 2500) % 8) });
    if (ms === 5000) a!.emit({ type: 'request', req: req(1) });
    t.tick();
    await settle();
    if (ms < 60_000) assert.equal(t.admit('x'), false, `nobody idle 60 s at ${ms} ms`);
  }
  assert.ok(c!.sent.length > 20, 'c was served');
  clock.ms = 60_000;
  // Evaluate eviction at 65 s: b idle since 0 (65 s), a since 5 s (60 s): b goes first.
  clock.ms = 65_000;
  assert.equal(t.admit('x'), true);
  await settle();
  assert.deepEqual(evicted, ['b']);
  add({ id: 'x', has: () => false });
  assert.equal(t.admit('y'), true, 'a is idle 60 s too');
  await settle();
  assert.deepEqual(evicted, ['b', 'a']);
  add({ id: 'y', has: () => false });
  assert.equal(t.admit('z'), false, 'c takes data, x and y are new');
  assert.equal(c!.closed, false);
  await t.close();
});

test('a peer sending us blocks is in use; peerEviction: false refuses newcomers instead', OPTS, async () => {
  const clock = { ms: 0 };
  const t = new Torrent(metainfo, new MemoryStore(metainfo), { rng: () => 0.5, now: () => clock.ms, maxPeers: 2 });
  const src = [0, 1].map((k) => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: `src${k}`, stall: true, queueDepth: 1 })) as FakeLink);
  await settle();
  // One block every 5 s, from each peer in turn: each is useful every 10 s, for 70 s.
  for (let ms = 0, k = 0; ms <= 70_000; ms += 5000, k++) {
    clock.ms = ms;
    src[k % 2]!.deliver(1);
    await settle();
    t.tick();
    assert.equal(t.admit('new'), false, `both peers send blocks (${ms} ms)`);
  }
  assert.equal(t.complete, false);
  await t.close();
  const off = seed({ peerEviction: false });
  ['s1', 's2', 's3'].forEach((id) => off.add({ id, silent: true }));
  off.clock.ms = 600_000;
  assert.equal(off.t.admit('new'), false);
  assert.equal(off.t.peerCount, 3);
  await off.t.close();
});
