/**
 * Super-seeding (BEP 16, src/engine/super-seed.ts) on a seed with fake peers and an injected
 * clock: distinct offers, release only when another peer has the piece (or nobody else needs it,
 * or the offer timed out), no bitfield while super-seeding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 32 * 1024;
const data = bytes(16 * PIECE, 3);
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const tick = () => new Promise((r) => setImmediate(r));

function seed(now: () => number, offerBytes = 2 * PIECE, releaseAfterMs = 5000): Torrent {
  return new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now, superSeed: { offerBytes, releaseAfterMs } });
}

/** A leecher that says it is interested (our `have` offers would make a real one so), and is unchoked: a free slot. */
function leecher(t: Torrent, id: string): FakeLink {
  const link = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id, has: () => false })) as FakeLink;
  link.emit({ type: 'interested' });
  return link;
}

test('super-seed: each leecher is offered pieces no other was offered; an offer is released when another peer has the piece', async () => {
  let now = 0;
  const t = seed(() => now);
  assert.ok(t.superSeeding, 'a complete torrent asked to super-seed does');
  const a = leecher(t, 'a');
  const b = leecher(t, 'b');
  await tick();
  assert.equal(a.haves.length, 2, 'offerBytes / piece length offers');
  assert.equal(b.haves.length, 2);
  assert.equal(new Set([...a.haves, ...b.haves]).size, 4, 'no piece offered twice');

  const [a0] = a.haves;
  a.have(a0!); // a downloaded its offer: b still lacks it, so a waits for it to pass it on
  assert.equal(a.haves.length, 2, 'no new offer while another peer could take the piece from a');
  b.have(a0!); // b got it (from a): a's offer is settled
  assert.equal(a.haves.length, 3, 'a new offer once the piece was seen from another peer');
  assert.ok(!b.haves.slice(0, 2).includes(a.haves[2]!) && !a.haves.slice(0, 2).includes(a.haves[2]!), 'again a fresh piece');
  await t.close();
});

test('super-seed: a lone leecher is not held back, an offer times out, and a seed without the option shows everything', async () => {
  let now = 0;
  const t = seed(() => now, PIECE, 1000);
  const a = leecher(t, 'a');
  await tick();
  assert.equal(a.haves.length, 1);
  a.have(a.haves[0]!); // nobody else could take it from a: releasing at once keeps a lone download fast
  assert.equal(a.haves.length, 2);

  const b = leecher(t, 'b');
  await tick();
  assert.equal(b.haves.length, 1);
  const before = b.haves.length;
  b.have(b.haves[0]!); // a lacks it: b waits…
  t.tick();
  assert.equal(b.haves.length, before, 'waiting while a could take the piece from b');
  now = 1000; // …but not for ever
  t.tick();
  assert.equal(b.haves.length, before + 1, 'released after releaseAfterMs');
  await t.close();

  const plain = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => 0 });
  assert.equal(plain.superSeeding, false);
  const c = leecher(plain, 'c');
  await tick();
  assert.deepEqual(c.haves, [], 'no offers: the bitfield went out at the handshake');
  await plain.close();
});

test('super-seed: a leecher the swarm does not feed gets a piece others have, one at a time, once it gained nothing for releaseAfterMs', async () => {
  let now = 0;
  const t = seed(() => now, 4 * PIECE, 1000);
  const a = leecher(t, 'a');
  await tick();
  assert.equal(a.haves.length, 4);
  // A second peer that has pieces 0-14 (and never uploads to a): a's offers are seen elsewhere.
  const b = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'b', has: (i) => i < 15 })) as FakeLink;
  await tick();
  assert.deepEqual(b.haves, [15], 'b is offered the one fresh piece (nobody has it, never offered)');
  b.emit({ type: 'interested' }); // as a leecher offered a piece it lacks is: a downloader, not a bystander
  // Nothing fresh is left for a, and its offers were settled: b has them, so a should trade with
  // b, not cost the origin a second upload…
  assert.equal(a.haves.length, 4, `no piece the swarm has while a may still get it from the swarm: ${JSON.stringify(a.haves)}`);
  now = 999;
  t.tick();
  assert.equal(a.haves.length, 4);
  now = 1000; // …until a gained nothing for releaseAfterMs: the swarm does not feed it
  t.tick();
  assert.equal(a.haves.length, 5);
  assert.ok(a.haves[4]! < 15 && !a.haves.slice(0, 4).includes(a.haves[4]!), `a duplicate of a piece b has: ${a.haves[4]}`);
  b.have(15);
  t.tick();
  assert.equal(a.haves.length, 5, 'still one at a time');
  await t.close();
});

test('super-seed: pieces whose holders left are fresh again, so the last downloader gets full offers, not one piece per round trip', async () => {
  const t = seed(() => 0);
  const a = leecher(t, 'a');
  await tick();
  // a, alone, fetches 14 pieces (each released at once: nobody else lacks it)…
  while (a.haves.length < 16 && a.bitfield.count < 14) a.have(a.haves.find((i) => !a.bitfield.has(i))!);
  assert.equal(a.bitfield.count, 14);
  const b = leecher(t, 'b');
  a.drop(); // …and leaves (a finished get exits): only the seed has those 14 now
  await tick();
  const first = [...b.haves];
  for (const i of first) b.have(i);
  t.tick();
  assert.equal(b.haves.length, first.length + 2, `a full offer (2 pieces) of pieces offered to a before: ${JSON.stringify(b.haves)}`);
  assert.equal(new Set(b.haves).size, b.haves.length, 'still distinct');
  await t.close();
});

test('super-seed: a piece offered to a peer still connected is not fresh after its offer timed out (it may still fetch it)', async () => {
  let now = 0;
  const t = seed(() => now, 2 * PIECE, 1000);
  const a = leecher(t, 'a');
  const b = leecher(t, 'b');
  await tick();
  for (let round = 1; round <= 3; round++) {
    now = round * 1000; // nobody fetches: every offer times out, and new ones are never-offered pieces
    t.tick();
  }
  assert.equal(new Set([...a.haves, ...b.haves]).size, 16, 'all 16 pieces offered once');
  now = 4000;
  t.tick();
  assert.equal(a.haves.length, 9, `then one piece at a time, not a full offer of pieces b may still fetch: ${JSON.stringify(a.haves)}`);
  assert.equal(b.haves.length, 9);
  await t.close();
});

test('super-seed: an offer its peer is still fetching is not timed out (a second peer would cost a second upload); an idle peer loses it', async () => {
  let now = 0;
  const t = seed(() => now, 2 * PIECE, 1000);
  const a = leecher(t, 'a');
  const b = leecher(t, 'b');
  await tick();
  assert.equal(a.chokings.at(-1), false, 'a is unchoked');
  const [a0, a1] = a.haves;
  // a asks for blocks of its offers all along, slowly (a loaded machine): its offers stay its own.
  for (now = 250; now <= 3000; now += 250) {
    a.emit({ type: 'request', req: { index: a0!, begin: 0, length: 1024 } as never });
    t.tick();
  }
  assert.deepEqual(a.haves, [a0, a1], `no new offer for a while it fetches: ${JSON.stringify(a.haves)}`);
  // b asked nothing for releaseAfterMs: its offers go, and since none could be fetched twice, b gets fresh pieces.
  assert.ok(b.haves.length > 2, 'b, idle, lost its offers');
  assert.ok(!b.haves.includes(a0!) && !b.haves.includes(a1!), `a's pieces were offered to nobody else: ${JSON.stringify({ a: a.haves, b: b.haves })}`);
  // a stops asking: after releaseAfterMs idle its offers are released too.
  now += 1000;
  t.tick();
  assert.ok(a.haves.length > 2, 'a, idle, lost its offers');
  await t.close();
});

test('super-seed: once every piece was offered, a have costs no scan of every piece, and only the peers it concerns are topped up', async () => {
  const { SuperSeed } = await import('../../src/engine/super-seed.js');
  const { Bitfield } = await import('../../src/metainfo/index.js');
  const pieces = 1000;
  let hasCalls = 0;
  const peer = (name: string) => {
    const bits = new Bitfield(pieces);
    const counting = new Proxy(bits, {
      get(target, prop) {
        if (prop === 'has') return (i: number) => (hasCalls++, target.has(i));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const offered: number[] = [];
    const link = { id: name, canUpload: true, bitfield: counting, announceHave: (i: number) => offered.push(i) };
    return { state: { link, closed: false, amChoking: false } as unknown as import('../../src/engine/peer-set.js').PeerState, bits, offered };
  };
  const a = peer('a');
  const b = peer('b');
  const c = peer('c');
  const all = [a, b, c];
  // 600 pieces each at most: a takes 600, b the 400 left, c none fresh.
  const ss = new SuperSeed(pieces, 1, () => 0, () => all.map((p) => p.state), { offerBytes: 600, releaseAfterMs: 1e9 });
  ss.fill(0);
  assert.equal(a.offered.length, 600);
  assert.equal(b.offered.length, 400);
  assert.equal(new Set([...a.offered, ...b.offered]).size, pieces, 'every piece offered once');
  hasCalls = 0;
  b.bits.set(b.offered[0]!); // b downloaded one of its offers; c still lacks it, so it stays b's
  ss.seen(b.state, b.offered[0]! as never, 1);
  assert.ok(hasCalls < pieces, `a have of b's own piece looked at ${hasCalls} pieces`);
  assert.equal(a.offered.length, 600, 'a was not concerned');
});

test('super-seed: a peer never interested in us (another super-seed: it hides its bitfield and reveals pieces) holds nothing back from a leecher', async () => {
  // Two `serve --redis` origins of one file: each seed's super-seed saw the other as a leecher
  // lacking every piece, held each offer to a get releaseAfterMs for it, and fed the get
  // 8 MiB per 5 s (a 191 MiB get took 240 s instead of 1 s). Once the leecher is there the
  // clock stays: no offer may wait for time.
  let now = 0;
  const t = seed(() => now, 2 * PIECE, 1000);
  const other = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'other-seed', has: () => false })) as FakeLink;
  await tick();
  other.have(7); // the other super-seed reveals a piece to us, as it does to every peer
  now = 1000; // connected releaseAfterMs and never interested: a bystander
  t.tick();
  const a = leecher(t, 'a');
  await tick();
  for (let round = 0; round < 64 && a.bitfield.count < 16; round++) {
    for (const i of a.haves) if (!a.bitfield.has(i)) a.have(i);
    t.tick();
  }
  assert.equal(a.bitfield.count, 16, `every piece offered to the leecher with no wait: it has ${a.bitfield.count} of 16 (offers ${JSON.stringify(a.haves)})`);
  await t.close();
});
