/**
 * The downloader's rules (src/engine/downloader.ts) on a torrent with fake peers that hold their
 * requests until the test answers them (`stall`), an in-memory store and an injected clock: no
 * sockets, no disk, no sleeps. Interest, request batching, the commit budget's bound, download
 * limits, endgame cancels, refills after a rejection, allowed-fast pieces (BEP 6), trust and bans.
 * Faults checked once: the batch threshold dropped fails the batching test; the most tokens of the
 * limiters for the fewest (`max` for `min`), or the bytes already asked left out, fails the limits test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_COMMIT_BYTES, TokenBucket, Torrent, type TorrentOptions } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const BLOCK = 16 * 1024;

function torrentOf(pieceLength: number, pieces: number, seed: number) {
  const data = bytes(pieces * pieceLength, seed);
  const metainfo = parseTorrent(torrentBytes({ name: 'd', 'piece length': pieceLength, length: data.length, pieces: piecesOf(data, pieceLength) }));
  return { data, metainfo };
}

const big = torrentOf(4 * BLOCK, 16, 41); // 16 pieces of 4 blocks
const small = torrentOf(BLOCK, 32, 42); // 32 pieces of one block
const wide = torrentOf(4 * BLOCK, 64, 44); // 64 pieces of 4 blocks

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

/** A link that counts `setInterested` calls (each one is a wire message). */
class CountingLink extends FakeLink {
  readonly interests: boolean[] = [];
  override setInterested(interested: boolean): void {
    this.interests.push(interested);
    super.setInterested(interested);
  }
}

/** A store whose commits wait until `release()`. */
class HeldStore extends MemoryStore {
  private readonly held: (() => void)[] = [];
  started = 0;
  override async commitPiece(index: PieceIndex, data: Uint8Array, cache?: boolean): Promise<boolean> {
    this.started++;
    await new Promise<void>((r) => this.held.push(r));
    return super.commitPiece(index, data, cache);
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

function leech(t: typeof big, opts: TorrentOptions = {}, store = new MemoryStore(t.metainfo)) {
  const torrent = new Torrent(t.metainfo, store, { rng: () => 0.5, now: () => 0, peerEviction: false, ...opts });
  const add = (o: FakeLinkOptions, patch?: (l: FakeLink) => void): CountingLink =>
    torrent.addPeer((onEvent) => {
      const l = new CountingLink(t.data, t.metainfo, onEvent, o);
      patch?.(l);
      return l;
    }) as CountingLink;
  return { torrent, store, add };
}

test('downloader unit: interest changes reach the link once each; a link that cannot serve downloads is never interesting, never asked', async () => {
  const { torrent, add } = leech(small);
  const seed = add({ id: 'seed' });
  const mute = add({ id: 'mute', stall: true }, (l) => Object.defineProperty(l, 'canDownload', { value: false }));
  await torrent.done;
  assert.deepEqual(seed.interests, [true, false], 'interested once, uninterested once when done');
  assert.deepEqual(mute.interests, [], 'it has every piece, but serves no downloads');
  assert.deepEqual(mute.requests, []);
  await torrent.close();
});

test('downloader unit: requests are refilled in batches of a quarter of the pipe, not one per block', async () => {
  const { torrent, add } = leech(big);
  const p = add({ id: 'p', stall: true, queueDepth: 16 });
  await settle();
  assert.equal(p.requests.length, 16, 'the pipe filled');
  p.deliver(3);
  assert.equal(p.requests.length, 16, 'three free places: less than a batch of four');
  p.deliver(1);
  assert.equal(p.requests.length, 20, 'four free: one batch of four');
  const deep = leech(wide);
  const q = deep.add({ id: 'q', stall: true, queueDepth: 64 });
  await settle();
  assert.equal(q.requests.length, 64);
  q.deliver(15);
  assert.equal(q.requests.length, 64, 'a batch is at most 16 blocks');
  q.deliver(1);
  assert.equal(q.requests.length, 80);
  await Promise.all([torrent.close(), deep.torrent.close()]);
});

test('downloader unit: at maxCommitBytes in commit, no new request goes out until a commit ends', async () => {
  const store = new HeldStore(big.metainfo);
  const { torrent, add } = leech(big, { maxCommitBytes: big.metainfo.pieceLength }, store);
  const p = add({ id: 'p', stall: true, queueDepth: 4 });
  await settle();
  assert.equal(p.requests.length, 4, 'one piece');
  p.deliver(); // a request for each block received (a batch is one block here) until the piece is whole
  await settle();
  assert.equal(store.started, 1);
  assert.equal(p.requests.length, 7, 'three more requests, then the piece went to commit');
  p.deliver();
  await settle();
  assert.equal(p.requests.length, 7, 'one piece in commit is the budget: nothing more asked');
  store.release();
  await settle();
  assert.equal(p.requests.length, 11, 'the commit ended: the pipe refilled');
  await torrent.close();
});

test(`downloader unit: by default ${DEFAULT_MAX_COMMIT_BYTES / 1024 / 1024} MiB of pieces may wait on storage`, async () => {
  const t = torrentOf(1024 * 1024, 12, 43);
  const store = new HeldStore(t.metainfo);
  const { torrent, add } = leech(t, {}, store);
  add({ id: 'p', queueDepth: 16 });
  let before = -1;
  while (store.started !== before) {
    before = store.started;
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
  }
  assert.equal(store.started, 8, '8 pieces of 1 MiB');
  await torrent.close();
});

test('downloader unit: under download limits a request spends the tightest limiter\'s tokens, less the bytes already asked; a limiter out of tokens stops them', async () => {
  const run = async (limiters: TokenBucket[], peers = 1): Promise<number> => {
    const { torrent, add } = leech(big, { downloadLimiters: limiters });
    const links = Array.from({ length: peers }, (_, i) => add({ id: `p${i}`, stall: true, queueDepth: 64 }));
    await settle();
    await torrent.close();
    return links.reduce((n, p) => n + p.requests.length, 0);
  };
  const KIB = 1024;
  assert.equal(await run([new TokenBucket(1024 * KIB, 0, 512 * KIB)]), 32, '512 KiB of tokens: 32 blocks asked, not the pipe\'s 64');
  assert.equal(await run([new TokenBucket(1024 * KIB, 0, 512 * KIB)], 3), 32, 'across all the peers');
  assert.equal(await run([new TokenBucket(1024 * KIB, 0, 512 * KIB), new TokenBucket(128 * KIB, 0, 64 * KIB)]), 4, 'the tighter of two: 64 KiB');
  assert.equal(await run([new TokenBucket(1024, 0, 1024)]), 1, '1 KiB of tokens: one block, the most a limit is overshot by');
  assert.equal(await run([TokenBucket.fromFirstUse(1024 * KIB)]), 0, 'a bucket that starts at its first use: no first burst');
  const empty = new TokenBucket(1024 * KIB, 0);
  empty.take(2 * 1024 * KIB, 0);
  assert.equal(await run([new TokenBucket(1024 * KIB, 0), empty]), 0, 'one of two limiters is out of tokens');
});

test('downloader unit: in endgame a block cancels its duplicates at the peers that were asked for it, and only there', async () => {
  const { torrent, add } = leech(small);
  const first = add({ id: 'first', stall: true, queueDepth: 64 });
  await settle();
  assert.equal(first.requests.length, 32, 'every block asked of one peer: endgame');
  const second = add({ id: 'second', stall: true, queueDepth: 64 });
  const none = add({ id: 'none', stall: true, queueDepth: 64, has: () => false });
  await settle();
  assert.ok(second.requests.length > 0, 'endgame duplicates');
  const dup = second.requests[0]!;
  first.deliver(32);
  assert.ok(second.cancels.some((c) => c.index === dup.index), 'the duplicate is cancelled');
  assert.deepEqual(none.cancels, [], 'a peer never asked gets no cancel');
  await torrent.close();
});

test('downloader unit: blocks a peer rejects go at once to another peer that has them', async () => {
  const { torrent, add } = leech(big);
  const a = add({ id: 'a', stall: true, queueDepth: 16, has: (i) => i === 0 });
  await settle();
  const b = add({ id: 'b', stall: true, queueDepth: 16, has: (i) => i === 0 });
  await settle();
  assert.equal(a.requests.length, 4);
  assert.equal(b.requests.length, 0, 'all of piece 0 is asked of a');
  a.chokeUs();
  assert.equal(b.requests.length, 4, 'released by the choke, asked of b');
  await torrent.close();
});

test('downloader unit: a peer that chokes us is asked only for the allowed-fast pieces it has (BEP 6)', async () => {
  /** Serves its allowed-fast pieces while it chokes us (the plain fake rejects every request then). */
  class AllowedFastLink extends CountingLink {
    allowedFast: ReadonlySet<number> = new Set();
    override request(req: Parameters<FakeLink['request']>[0]): void {
      const choking = this.peerChoking;
      if (this.allowedFast.has(req.index)) this.peerChoking = false;
      super.request(req);
      this.peerChoking = choking;
    }
  }
  const run = async (allowed: number[]): Promise<number[]> => {
    const { torrent } = leech(big);
    const p = torrent.addPeer((onEvent) => {
      const l = new AllowedFastLink(big.data, big.metainfo, onEvent, { id: 'p', stall: true, choking: true, queueDepth: 16, has: (i) => i !== 5 });
      l.allowedFast = new Set(allowed);
      return l;
    }) as AllowedFastLink;
    await settle();
    await torrent.close();
    return [...new Set(p.requests.map((r) => r.index))];
  };
  assert.deepEqual(await run([2, 5]), [2], '5 is allowed but it lacks it');
  assert.deepEqual(await run([5]), []);
  assert.deepEqual(await run([]), []);
});

test('downloader unit: a sole sender of a bad piece loses 4 trust points, at −2 × banAfterHashFailures it is banned; good pieces bank at most 8', async () => {
  const run = async (goodFirst: number): Promise<number> => {
    const { torrent, add } = leech(small, { banAfterHashFailures: 2 });
    let verified = 0;
    let failures = 0;
    let failuresAtBan = -1;
    torrent.on('piece', () => verified++);
    torrent.on('hashFailed', () => failures++);
    torrent.on('banned', () => (failuresAtBan = failures));
    // One block per piece, one request at a time: a piece is good until `goodFirst` pieces verified.
    add({ id: 'p', queueDepth: 1, corrupt: () => verified >= goodFirst });
    while (failuresAtBan < 0) await new Promise((r) => setImmediate(r));
    const s = torrent.stats();
    assert.equal(s.wasted, failures * BLOCK, 'the bad pieces\' bytes are wasted (summaries show them apart from the payload)');
    assert.equal(s.downloaded - s.wasted, verified * BLOCK, 'the rest is the payload');
    await torrent.close();
    return failuresAtBan;
  };
  assert.equal(await run(0), 1, 'one bad piece of its own: −4');
  assert.equal(await run(1), 2, 'one good piece first: +1, then −4, −4');
  assert.equal(await run(12), 3, 'twelve good pieces bank only 8');
});

test('downloader unit: a commit that ends after the torrent closed verifies nothing', async () => {
  const store = new HeldStore(small.metainfo);
  const { torrent, add } = leech(small, {}, store);
  const pieces: number[] = [];
  torrent.on('piece', (i) => pieces.push(i));
  add({ id: 'p', queueDepth: 1 });
  while (store.started === 0) await new Promise((r) => setImmediate(r));
  await torrent.close();
  store.release();
  await settle();
  assert.deepEqual(pieces, []);
});

test('downloader unit: a verified piece is announced at once to the peers that sent it (a super-seed reveals its next on that have), the others may wait', async () => {
  const { torrent, add } = leech(big);
  const a = add({ id: 'a', has: (i) => i % 2 === 0 });
  const b = add({ id: 'b', has: (i) => i % 2 === 1 });
  const c = add({ id: 'c', has: () => false });
  await torrent.done;
  const all = Array.from({ length: 16 }, (_, i) => i);
  for (const l of [a, b, c]) assert.deepEqual([...l.haves].sort((x, y) => x - y), all, `${l.id} hears of every piece`);
  assert.deepEqual([...a.havesNow].sort((x, y) => x - y), all.filter((i) => i % 2 === 0), 'a: at once, of the pieces it sent');
  assert.deepEqual([...b.havesNow].sort((x, y) => x - y), all.filter((i) => i % 2 === 1), 'b: at once, of the pieces it sent');
  assert.deepEqual(c.havesNow, [], 'c sent nothing: its haves may wait for company');
  await torrent.close();
});

test('downloader unit: held, no peer is asked nor told; commitWhole verifies and stores a whole piece, a bad one stays missing; released, the peers get the rest', async () => {
  const { torrent, store, add } = leech(big);
  torrent.downloadsHeld = true;
  const p = add({ id: 'p', queueDepth: 16 });
  await settle();
  assert.equal(p.requests.length, 0, 'held: nothing asked');
  const piece = (i: number): Uint8Array => big.data.slice(i * 4 * BLOCK, (i + 1) * 4 * BLOCK);
  const failed: number[] = [];
  const verified: number[] = [];
  torrent.on('hashFailed', (i) => failed.push(i));
  torrent.on('piece', (i) => verified.push(i));
  assert.equal(await torrent.commitWhole(0 as PieceIndex, piece(0)), true);
  const damaged = piece(1);
  damaged[7] = damaged[7]! ^ 1;
  assert.equal(await torrent.commitWhole(1 as PieceIndex, damaged), false, 'a piece that fails its hash');
  assert.equal(await torrent.commitWhole(0 as PieceIndex, piece(0)), false, 'not missing any more');
  assert.deepEqual([verified, failed], [[0], [1]]);
  const s = torrent.stats();
  assert.equal(s.verifiedBytes, 4 * BLOCK);
  assert.equal(s.downloadedByKind.webseed, 8 * BLOCK, 'both pieces counted as bytes from the origin');
  assert.equal(s.wasted, 4 * BLOCK, 'of which the piece that failed its hash is wasted');
  assert.deepEqual(p.haves, [], 'held: the peer hears of nothing yet');
  torrent.downloadsHeld = false;
  assert.deepEqual(p.haves, [0], 'released: of the piece that came whole');
  assert.equal(await torrent.commitWhole(2 as PieceIndex, piece(2)), false, 'only while held');
  await torrent.done;
  assert.ok(Buffer.from(store.data).equals(Buffer.from(big.data)), 'the peers sent the rest, piece 1 included');
  const end = torrent.stats();
  assert.equal(end.downloaded - end.wasted, big.data.length, 'the payload: the file, once');
  assert.ok(!p.requests.some((r) => r.index === 0), 'the piece that came whole is never asked for');
  await torrent.close();
});
