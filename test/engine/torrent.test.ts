import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const data = bytes(40 * PIECE + 12345, 21); // 41 pieces, a short last one
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));

function seeded(opts: ConstructorParameters<typeof Torrent>[2] = {}) {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { rng: () => 0.5, ...opts });
  const links: FakeLink[] = [];
  const add = (o: FakeLinkOptions = {}) => {
    const link = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, o)) as FakeLink;
    links.push(link);
    return link;
  };
  return { t, store, add, links };
}

test('downloads every piece from one peer, byte-identical', async () => {
  const { t, store, add } = seeded();
  const link = add();
  await t.done;
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  assert.equal(link.amInterested, false, 'not interested once done');
  assert.equal(new Set(link.requests.map((r) => `${r.index}:${r.begin}`)).size, link.requests.length, 'no block asked twice outside endgame');
  assert.ok(link.closed, 'a seed is dropped once we are done');
  assert.equal(t.stats().progress, 1);
});

test('several peers of different kinds share one piece picker', async () => {
  const { t, store, add } = seeded();
  const half = add({ has: (i) => i % 2 === 0 });
  const web = add({ kind: 'webseed', queueDepth: 64 });
  const wire = add();
  await t.done;
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  for (const l of [half, web, wire]) assert.ok(l.requests.length > 0, `${l.kind} was used`);
  assert.ok(half.requests.every((r) => r.index % 2 === 0), 'nobody is asked for what it lacks');
  assert.ok(store.cacheFlags.every((c) => c === false), 'no peer wants anything from us: pieces are not kept in memory');
});

test('pieces are kept in memory for uploads while a peer is interested in us', async () => {
  const { t, store, add } = seeded();
  const link = add();
  link.emit({ type: 'interested' });
  await t.done;
  assert.ok(store.cacheFlags.length > 0 && store.cacheFlags.every((c) => c === true));
});

test('a peer that sends bad data is banned; the torrent completes from others', async () => {
  const { t, store, add } = seeded({ banAfterHashFailures: 2 });
  const banned: string[] = [];
  const failed: PieceIndex[] = [];
  t.on('banned', (id) => banned.push(id));
  t.on('hashFailed', (i) => failed.push(i));
  const liar = add({ id: 'liar', corrupt: () => true, queueDepth: 64 });
  add({ id: 'good', queueDepth: 4 });
  await t.done;
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  assert.deepEqual(banned, ['liar']);
  assert.ok(liar.closed);
  assert.ok(failed.length >= 2);
  assert.equal(t.accepts('liar'), false, 'a banned peer cannot come back');
});

test('choking rejects outstanding requests and they go to another peer; a peer that leaves mid-piece costs nothing', async () => {
  const { t, store, add } = seeded();
  const a = add({ id: 'a', queueDepth: 32 });
  const stalled = add({ id: 'stalled', stall: true, queueDepth: 32 });
  await new Promise((r) => setImmediate(r));
  a.chokeUs();
  stalled.close();
  const b = add({ id: 'b' });
  setTimeout(() => a.unchokeUs(), 5);
  await t.done;
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  assert.ok(b.requests.length > 0);
});

test('sequential mode verifies pieces in order', async () => {
  const { t, add } = seeded({ sequential: true });
  const order: number[] = [];
  t.on('piece', (i) => order.push(i));
  add({ queueDepth: 4 });
  await t.done;
  assert.deepEqual(order, [...order].sort((x, y) => x - y));
  assert.equal(order.length, metainfo.pieceCount);
});

test('endgame asks a second peer for the last blocks and cancels the duplicate', async () => {
  const { t, add } = seeded();
  // A peer that holds on to its requests until the other one has been asked too.
  const slow = add({ id: 'slow', stall: true, queueDepth: 1000 });
  await new Promise((r) => setImmediate(r));
  const fast = add({ id: 'fast', queueDepth: 1000 });
  await t.done;
  assert.ok(fast.requests.length > 0, 'the fast peer got the duplicates');
  assert.ok(slow.cancels.length > 0, 'the stalled requests were cancelled');
});

test('a storage failure rejects done with the typed error and stops the torrent', async () => {
  const { t, store, add } = seeded();
  const err = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
  store.failWith = err;
  const errors: unknown[] = [];
  t.on('error', (e) => errors.push(e));
  add();
  await assert.rejects(t.done, { code: 'INTERNAL' });
  assert.equal(errors.length, 1);
  assert.ok(t.closed);
});

test('a storage failure with no error listener still closes the torrent and its peers, and only rejects done', { timeout: 5000 }, async () => {
  const { t, store, add } = seeded();
  store.failWith = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
  let storeClosed = false;
  store.close = async () => void (storeClosed = true);
  const peer = add();
  await assert.rejects(t.done, { code: 'INTERNAL' }); // an unheard `error` event would have thrown out of the commit instead
  await t.close();
  assert.ok(t.closed && storeClosed && peer.closed);
});

test('seeding: unchokes an interested peer and serves its requests from storage', async () => {
  const store = new MemoryStore(metainfo, data);
  const t = new Torrent(metainfo, store);
  await t.done;
  const leech = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { has: () => false })) as FakeLink;
  leech.emit({ type: 'interested' });
  assert.equal(leech.amChoking, false, 'a free slot is used at once');
  const req = { index: 3 as PieceIndex, begin: 16384, length: 16384 };
  leech.emit({ type: 'request', req });
  leech.emit({ type: 'request', req: { index: 4 as PieceIndex, begin: 0, length: 16384 } });
  leech.emit({ type: 'cancel', req: { index: 4 as PieceIndex, begin: 0, length: 16384 } });
  await new Promise((r) => setImmediate(r));
  assert.equal(leech.sent.length, 1);
  assert.deepEqual(Buffer.from(leech.sent[0]!.data), Buffer.from(data.subarray(3 * PIECE + 16384, 3 * PIECE + 32768)));
  leech.emit({ type: 'notInterested' });
  assert.equal(leech.amChoking, true);
  leech.emit({ type: 'request', req });
  await new Promise((r) => setImmediate(r));
  assert.equal(leech.sent.length, 1, 'requests while choked are dropped');
  assert.equal(t.stats().uploaded, 16384);
});

test('storage slower than the network: pieces in commit stay within maxCommitBytes, and the download completes', async () => {
  class SlowStore extends MemoryStore {
    inFlight = 0;
    maxInFlight = 0;
    override async commitPiece(index: PieceIndex, piece: Uint8Array): Promise<boolean> {
      this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
      await new Promise((r) => setTimeout(r, 5));
      this.inFlight--;
      return super.commitPiece(index, piece);
    }
  }
  const run = async (maxCommitBytes: number | undefined): Promise<number> => {
    const store = new SlowStore(metainfo);
    const t = new Torrent(metainfo, store, { rng: () => 0.5, ...(maxCommitBytes === undefined ? {} : { maxCommitBytes }) });
    t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { queueDepth: 4 }));
    await t.done;
    assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
    return store.maxInFlight;
  };
  // 4 blocks of 16 KiB outstanding are one 64 KiB piece: at most one piece past the budget.
  const capped = await run(2 * PIECE);
  assert.ok(capped <= 3, `at most 3 pieces in commit, saw ${capped}`);
  const unbounded = await run(Number.MAX_SAFE_INTEGER);
  assert.ok(unbounded > 3, `without a budget the fake network outruns storage (${unbounded} in commit), so the cap above is what held`);
});
