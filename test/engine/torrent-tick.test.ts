/**
 * The engine on an injected clock: every test drives `Torrent.tick()` with a fake `now` and
 * steps hand-held fake peers (`stall: true`, then `deliver`), so nothing sleeps and nothing
 * depends on timing. Only the public API is used (constructor options, `addPeer`, `tick`,
 * `stats`, events, `done`, `accepts`) and what the fake links observed.
 *
 * Faults injected by hand in src/engine, and the test here that fails for each (checked once):
 *
 * | fault                                                        | failing test                                      |
 * |--------------------------------------------------------------|---------------------------------------------------|
 * | `rejected` events ignored (torrent.ts `case 'rejected'` → return) | "request timeouts: the blocks go to another peer…" and "a peer that chokes us…" |
 * | `rechoke` a no-op (returns at once)                          | "choking round: tit-for-tat…"                     |
 * | optimistic unchoke never rotates (choker keeps it forever)   | "optimistic unchoke rotates every 30 s…"          |
 * | a peer's `have` not counted in availability (`addHave` skipped) | "availability counts haves…"                  |
 * | a bad piece not re-requested (`picker.failed` skipped)       | "a piece that fails its hash is requested again…" |
 * | upload limit not applied (no `waitMs` check in serveUploads) | "upload limit…" (both tests)                      |
 * | endgame duplicates to run-preferring peers (picker `!prefersRuns` dropped) | "endgame duplicates go to wire peers only…" |
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent, TokenBucket, type TorrentOptions } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import type { BlockRequest } from '../../src/transport/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const BLOCK = 16 * 1024;
const PIECE = 2 * BLOCK;
const PIECES = 16;
const data = bytes(PIECES * PIECE, 77);
const metainfo = parseTorrent(torrentBytes({ name: 'tick', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));

/** Lets the fake store's commits (a setImmediate each) and the engine's follow-ups run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

/** A test that waits forever on a broken engine would hang the suite: fail it instead. */
const OPTS = { timeout: 10_000 };

const blockKey = (r: BlockRequest) => `${r.index}:${r.begin}`;

/** A store holding `pieces` already (verified), or all of them with `seed`. */
function storeWith(pieces: readonly number[] | 'all' = []): MemoryStore {
  if (pieces === 'all') return new MemoryStore(metainfo, data);
  const store = new MemoryStore(metainfo);
  for (const i of pieces) {
    store.data.set(data.subarray(i * PIECE, (i + 1) * PIECE), i * PIECE);
    store.bitfield.set(i);
  }
  return store;
}

function setup(opts: TorrentOptions = {}, store: MemoryStore = storeWith()) {
  const clock = { ms: 0 };
  const t = new Torrent(metainfo, store, { rng: () => 0.5, now: () => clock.ms, ...opts });
  const add = (o: FakeLinkOptions = {}): FakeLink => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, o)) as FakeLink;
  /**
   * Moves the clock to `ms` and runs the owner's periodic call. (`tick` reads the injected
   * clock; if it comes to take `now` as an argument, it gets it here too.)
   */
  const tickAt = (ms: number): void => {
    clock.ms = ms;
    (t.tick as (now?: number) => void).call(t, ms);
  };
  return { t, store, clock, add, tickAt };
}

/** Every peer we unchoked asks for a block, as a real downloader does (upload snubbing chokes those that do not). */
function ask(peers: readonly FakeLink[]): void {
  for (const p of peers) if (!p.amChoking) p.emit({ type: 'request', req: { index: 0 as PieceIndex, begin: 0, length: BLOCK } });
}

test('choking round: tit-for-tat unchokes the peers we download from fastest, not the first to ask', OPTS, async () => {
  const { t, add, tickAt } = setup({ uploadSlots: 3 });
  const peers = ['a', 'b', 'c', 'd', 'e'].map((id) => add({ id, stall: true, queueDepth: 4 }));
  await settle();
  for (const p of peers) p.emit({ type: 'interested' });
  const unchoked = () => peers.filter((p) => !p.amChoking).map((p) => p.id);
  assert.deepEqual(unchoked(), ['a', 'b', 'c'], 'free slots go at once to who asks first');
  tickAt(0);
  const first = unchoked();
  assert.equal(first.length, 3);
  // d and e serve us; a, b and c never answer. The unchoked ones ask us for blocks.
  const [, , , d, e] = peers as [FakeLink, FakeLink, FakeLink, FakeLink, FakeLink];
  ask(peers);
  tickAt(4000);
  ask(peers);
  tickAt(8000);
  for (let i = 0; i < 3; i++) {
    e.deliver();
    if (i === 0) d.deliver();
    await settle();
  }
  ask(peers);
  tickAt(9000);
  assert.deepEqual(unchoked(), first, 'no new round before 10 s');
  tickAt(10_000);
  const now = unchoked();
  assert.equal(now.length, 3, 'uploadSlots peers unchoked');
  assert.ok(now.includes('e') && now.includes('d'), `the two best uploaders to us get the regular slots: ${now.join(',')}`);
  assert.equal(now.filter((id) => id < 'd').length, 1, 'one optimistic unchoke among the others');
  assert.ok(t.stats().downloadRate > 0);
  await t.close();
});

test('optimistic unchoke rotates every 30 s and, in time, reaches every interested peer', OPTS, async () => {
  let k = 0;
  // Successive draws walk through the candidates, so a rotation that happens shows.
  const rng = () => ((k++ % 4) + 0.5) / 4;
  const { t, add, tickAt } = setup({ uploadSlots: 2, rng }, storeWith('all'));
  await t.done;
  const peers = ['a', 'b', 'c', 'd', 'e'].map((id) => add({ id, has: () => false }));
  await settle();
  for (const p of peers) p.emit({ type: 'interested' });
  const rounds: string[][] = [];
  for (let ms = 0; ms <= 120_000; ms += 2500) {
    tickAt(ms);
    if (ms % 10_000 === 0) rounds.push(peers.filter((p) => !p.amChoking).map((p) => p.id));
    ask(peers);
  }
  for (const r of rounds) assert.equal(r.length, 2, `two slots each round: ${JSON.stringify(rounds)}`);
  // Nobody uploads, so the regular slot stays with the first by id; the other is the optimistic one.
  const optimistic = rounds.map((r) => r.find((id) => id !== 'a'));
  for (let i = 0; i < optimistic.length; i++) {
    if (i % 3 !== 0) assert.equal(optimistic[i], optimistic[i - 1], `kept between rotations (round ${i}): ${optimistic.join(',')}`);
    else if (i > 0) assert.notEqual(optimistic[i], optimistic[i - 1], `rotated at ${i * 10} s: ${optimistic.join(',')}`);
  }
  assert.deepEqual(new Set(rounds.flat()), new Set(['a', 'b', 'c', 'd', 'e']), 'every interested peer got a turn');
  await t.close();
});

test('request timeouts: the blocks go to another peer, and the snubbed peer gets one request at a time', OPTS, async () => {
  const { t, add } = setup();
  const slow = add({ id: 'slow', stall: true, queueDepth: 8 });
  await settle();
  const other = add({ id: 'other', stall: true, queueDepth: 4 });
  await settle();
  const timedOut = slow.pending.map(blockKey);
  assert.equal(timedOut.length, 8);
  assert.equal(other.pending.length, 4);
  slow.timeOut(); // as the wire link does: depth 1, then every outstanding request rejected
  await settle();
  assert.ok(slow.pending.length <= 1, `a snubbed peer has at most one request: ${slow.pending.length}`);
  for (let i = 0; i < 3; i++) {
    other.deliver();
    await settle();
  }
  const askedAgain = new Set([...other.requests, ...slow.requests.slice(8)].map(blockKey));
  const lost = timedOut.filter((k) => !askedAgain.has(k));
  assert.deepEqual(lost, [], 'every timed-out block was requested again');
  assert.ok(slow.pending.length <= 1);
  await t.close();
});

test('a peer that chokes us: its outstanding requests are rejected and go to the peer still serving', OPTS, async () => {
  const { t, add } = setup();
  const choker = add({ id: 'choker', stall: true, queueDepth: 8 });
  await settle();
  const server = add({ id: 'server', stall: true, queueDepth: 8 });
  await settle();
  const held = choker.pending.map(blockKey);
  assert.equal(held.length, 8);
  choker.chokeUs(); // a choke, then every outstanding request rejected (BEP 3)
  await settle();
  assert.equal(choker.requests.length, 8, 'nothing is asked of a peer that chokes us');
  for (let i = 0; i < 3; i++) {
    server.deliver();
    await settle();
  }
  const asked = new Set(server.requests.map(blockKey));
  assert.deepEqual(held.filter((k) => !asked.has(k)), [], 'the rejected blocks were asked of the other peer');
  choker.unchokeUs();
  assert.ok(choker.pending.length > 0, 'an unchoke brings requests again');
  await t.close();
});

test('endgame: once every block is requested, a second peer is asked too, and the first copy cancels the other', OPTS, async () => {
  const { t, store, add } = setup();
  const a = add({ id: 'a', stall: true, queueDepth: 1000 });
  await settle();
  assert.equal(a.pending.length, PIECES * 2, 'a holds every block');
  const b = add({ id: 'b', stall: true, queueDepth: 1000 });
  await settle();
  assert.deepEqual(new Set(b.pending.map(blockKey)), new Set(a.pending.map(blockKey)), 'endgame: b is asked for the same blocks');
  a.deliver(3);
  assert.equal(b.cancels.length, 3, 'each block that came from a cancels its duplicate at b');
  assert.equal(b.pending.length, PIECES * 2 - 3);
  b.deliver();
  await settle();
  await t.done;
  // The last block ends endgame (nothing missing) before its duplicate is cancelled; completion
  // closes the seed instead.
  assert.ok(a.cancels.length >= PIECES * 2 - 4, `b's blocks cancel their duplicates at a: ${a.cancels.length}`);
  assert.ok(a.closed);
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  assert.equal(t.stats().downloaded, data.length, 'duplicates are not counted twice');
});

test('availability counts haves: the piece only one peer has is picked first', OPTS, async () => {
  // 4 pieces already here: the random first pieces are done, rarest-first applies.
  const { t, add } = setup({}, storeWith([0, 1, 2, 3]));
  add({ id: 'bitfield', choking: true, has: (i) => i >= 4 });
  const haves = add({ id: 'haves', choking: true, has: () => false });
  await settle();
  for (let i = 5; i < PIECES; i++) haves.have(i); // everything but piece 4
  const picker = add({ id: 'picker', stall: true, queueDepth: 2 });
  await settle();
  assert.deepEqual(picker.pending.map((r) => r.index), [4, 4], 'piece 4 is the rarest (1 peer, the others 2)');
  // The peer that announced by haves leaves: its haves leave with it.
  haves.drop();
  picker.deliver();
  await settle();
  assert.ok(picker.pending.length > 0);
  await t.close();
});

test('a piece that fails its hash is requested again, the torrent completes, the liar is not yet banned', OPTS, async () => {
  const { t, store, add } = setup();
  const failed: PieceIndex[] = [];
  const banned: string[] = [];
  t.on('hashFailed', (i) => failed.push(i));
  t.on('banned', (id) => banned.push(id));
  const liar = add({ id: 'liar', stall: true, queueDepth: 2, corrupt: () => true });
  await settle();
  const bad = liar.pending[0]!.index;
  assert.deepEqual(liar.pending.map((r) => r.index), [bad, bad]);
  liar.deliver();
  await settle();
  assert.deepEqual(failed, [bad]);
  assert.deepEqual(banned, [], 'one bad piece is not enough to ban (trust −4 > −6)');
  assert.equal(liar.closed, false);
  const good = add({ id: 'good', stall: true, queueDepth: 64 });
  await settle();
  const again = [...liar.pending, ...good.pending].filter((r) => r.index === bad).map((r) => r.begin);
  assert.deepEqual(new Set(again), new Set([0, BLOCK]), `both blocks of piece ${bad} are wanted again`);
  const pieces: number[] = [];
  t.on('piece', (i) => pieces.push(i));
  for (let i = 0; i < 3; i++) {
    good.deliver();
    await settle();
  }
  await t.done;
  assert.ok(pieces.includes(bad), 'the failed piece verified from the good peer');
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
});

test('banning: a peer that alone sends two bad pieces is banned and cannot come back; one that shares bad pieces is not', OPTS, async () => {
  const { t, add } = setup();
  const banned: string[] = [];
  t.on('banned', (id) => banned.push(id));
  // The honest peer shares pieces with the liar: one block each (depth 1 both).
  const liar = add({ id: 'liar', stall: true, queueDepth: 1, corrupt: () => true });
  const honest = add({ id: 'honest', stall: true, queueDepth: 1 });
  await settle();
  for (let round = 0; round < 2; round++) {
    assert.equal(liar.pending[0]?.index, honest.pending[0]?.index, 'they share the piece');
    liar.deliver();
    honest.deliver();
    await settle();
  }
  assert.deepEqual(banned, [], 'two shared bad pieces cost each sender only −1');
  honest.close();
  await settle();
  // Now alone: two pieces of its own.
  for (let n = 0; n < 4 && !liar.closed; n++) {
    liar.deliver();
    await settle();
  }
  assert.deepEqual(banned, ['liar']);
  assert.ok(liar.closed);
  assert.equal(t.accepts('liar'), false);
  const back = add({ id: 'liar' });
  await settle();
  assert.ok(back.closed, 'a banned id is refused');
  assert.equal(back.requests.length, 0);
  await t.close();
});

test('upload limit: blocks go out no faster than the limiter allows, and all of them in time', OPTS, async () => {
  const { t, add, tickAt } = setup({ uploadLimiters: [new TokenBucket(BLOCK, 0, BLOCK)] }, storeWith('all'));
  await t.done;
  const leech = add({ has: () => false });
  await settle();
  leech.emit({ type: 'interested' });
  assert.equal(leech.amChoking, false);
  for (let i = 0; i < 6; i++) leech.emit({ type: 'request', req: { index: i as PieceIndex, begin: 0, length: BLOCK } });
  await settle();
  assert.equal(leech.sent.length, 1, 'a burst of one block, then the limit');
  for (let ms = 250; ms <= 3000; ms += 250) {
    tickAt(ms);
    await settle();
    assert.ok(leech.sent.length <= 2 + Math.floor(ms / 1000), `${leech.sent.length} blocks by ${ms} ms at 1 block/s`);
  }
  assert.ok(leech.sent.length >= 3);
  for (let ms = 3250; ms <= 8000; ms += 250) {
    tickAt(ms);
    await settle();
  }
  assert.equal(leech.sent.length, 6, 'queued requests are served as tokens come');
  assert.deepEqual(Buffer.from(leech.sent[5]!.data), Buffer.from(data.subarray(5 * PIECE, 5 * PIECE + BLOCK)));
  assert.equal(t.stats().uploaded, 6 * BLOCK);
  await t.close();
});

test('upload limit: a limiter shared by two torrents (the global one) bounds both together', OPTS, async () => {
  const shared = new TokenBucket(BLOCK, 0, BLOCK);
  const one = setup({ uploadLimiters: [shared] }, storeWith('all'));
  const two = setup({ uploadLimiters: [shared] }, storeWith('all'));
  const leeches = [one, two].map((s) => s.add({ has: () => false }));
  await settle();
  for (const l of leeches) {
    l.emit({ type: 'interested' });
    for (let i = 0; i < 4; i++) l.emit({ type: 'request', req: { index: i as PieceIndex, begin: 0, length: BLOCK } });
  }
  await settle();
  const sent = () => leeches[0]!.sent.length + leeches[1]!.sent.length;
  assert.equal(sent(), 1);
  for (let ms = 500; ms <= 4000; ms += 500) {
    one.tickAt(ms);
    two.tickAt(ms);
    await settle();
    assert.ok(sent() <= 2 + Math.floor(ms / 1000), `${sent()} blocks by ${ms} ms`);
  }
  await one.t.close();
  await two.t.close();
});

test('download limit: requests go out only as the limiter allows', OPTS, async () => {
  const rate = 2 * BLOCK;
  const { t, add, tickAt } = setup({ downloadLimiters: [new TokenBucket(rate, 0, rate)] });
  const peer = add({ stall: true, queueDepth: 16 });
  await settle();
  assert.ok(peer.pending.length <= 2, `at most half a second of the rate in flight: ${peer.pending.length}`);
  for (let ms = 0; ms <= 4000; ms += 250) {
    tickAt(ms);
    peer.deliver();
    await settle();
    assert.ok(t.stats().downloaded <= rate * (1 + ms / 1000) + 2 * BLOCK, `${t.stats().downloaded} bytes by ${ms} ms`);
  }
  assert.ok(t.stats().downloaded >= rate * 3, 'and it keeps going');
  await t.close();
});

test('download limit from its first use: no first burst, the bytes by any time at most the rate since then plus a block, and the rate kept', OPTS, async () => {
  const rate = 4 * BLOCK;
  const { t, add, tickAt } = setup({ downloadLimiters: [TokenBucket.fromFirstUse(rate)] });
  const peer = add({ stall: true, queueDepth: 64 });
  await settle();
  assert.equal(peer.pending.length, 0, 'an empty bucket asks for nothing yet');
  for (let ms = 0; ms <= 3000; ms += 125) {
    tickAt(ms);
    peer.deliver();
    await settle();
    assert.ok(t.stats().downloaded <= (rate * ms) / 1000 + BLOCK, `${t.stats().downloaded} bytes by ${ms} ms`);
  }
  assert.ok(t.stats().downloaded >= rate * 2.5, `the rate is kept: ${t.stats().downloaded} bytes in 3 s`);
  await t.close();
});

test('complete, a peer that leaves holding every piece is a seed, also when the last ones came from us unannounced (Transmission batches its haves): not dialled again; one still lacking a piece is', OPTS, async () => {
  const { t, add } = setup({}, storeWith('all'));
  await t.done;
  const lacking = [PIECES - 2, PIECES - 1];
  const leecher = (id: string): FakeLink => add({ id, has: (i) => !lacking.includes(i) });
  const fetch = async (p: FakeLink, pieces: readonly number[]): Promise<void> => {
    p.emit({ type: 'interested' }); // unchoked at once: a slot is free
    for (const index of pieces) for (let begin = 0; begin < PIECE; begin += BLOCK) p.emit({ type: 'request', req: { index: index as PieceIndex, begin, length: BLOCK } });
    for (let i = 0; i < 20 && p.sent.length < pieces.length * (PIECE / BLOCK); i++) await settle();
    assert.equal(p.sent.length, pieces.length * (PIECE / BLOCK));
    p.drop(); // it closes, its `have`s for them never sent
    await settle();
  };
  const done = leecher('10.0.0.1:51413');
  await settle();
  await fetch(done, lacking);
  assert.equal(t.accepts('10.0.0.1:51413'), false, 'it has everything now: two seeds have nothing to trade');
  const half = leecher('10.0.0.2:51413');
  await settle();
  await fetch(half, [lacking[0]!]);
  assert.equal(t.accepts('10.0.0.2:51413'), true, 'it still lacks a piece');
  await t.close();
});

test('complete, a peer that got one block of each missing piece again and again is no seed: a block sent twice counts once', OPTS, async () => {
  const { t, add } = setup({}, storeWith('all'));
  await t.done;
  const lacking = [PIECES - 2, PIECES - 1];
  const p = add({ id: '10.0.0.3:51413', has: (i) => !lacking.includes(i) });
  await settle();
  p.emit({ type: 'interested' }); // unchoked at once: a slot is free
  // Block 0 of each, as many times as the piece has blocks (a re-request after a choke dropped it, a failed hash).
  for (const index of lacking) {
    for (let n = 1; n <= PIECE / BLOCK; n++) {
      const before = p.sent.length;
      p.emit({ type: 'request', req: { index: index as PieceIndex, begin: 0, length: BLOCK } });
      for (let i = 0; i < 20 && p.sent.length === before; i++) await settle();
      assert.equal(p.sent.length, before + 1);
    }
  }
  p.drop();
  await settle();
  assert.equal(t.accepts('10.0.0.3:51413'), true, 'it lacks the second block of both pieces: dialled again');
  await t.close();
});

test('complete, a block handed to a link and dropped there (our choke empties its send queue), never asked again, is not sent: the peer lacking it is dialled again', OPTS, async () => {
  const { t, add } = setup({}, storeWith('all'));
  await t.done;
  const index = PIECES - 1;
  const p = add({ id: '10.0.0.4:51413', has: (i) => i !== index });
  await settle();
  p.emit({ type: 'interested' }); // unchoked at once: a slot is free
  p.holdBlocks = true;
  for (let begin = 0; begin < PIECE; begin += BLOCK) p.emit({ type: 'request', req: { index: index as PieceIndex, begin, length: BLOCK } });
  for (let i = 0; i < 20 && t.stats().uploaded < PIECE; i++) await settle();
  assert.equal(t.stats().uploaded, PIECE, 'every block of the piece was handed to the link');
  p.dropBlocks();
  p.drop(); // it leaves without asking again (it got the piece elsewhere, or gave up)
  await settle();
  assert.equal(t.accepts('10.0.0.4:51413'), true, 'it lacks the piece: no seed, dialled again');
  await t.close();
});

test('stats: peers by kind, progress, rates and ETA on the injected clock', OPTS, async () => {
  const { t, add, tickAt } = setup();
  const progress: number[] = [];
  t.on('progress', (s) => progress.push(s.progress));
  assert.deepEqual({ ...t.stats(), peersByKind: undefined }, {
    infoHash: metainfo.infoHash,
    name: 'tick',
    length: data.length,
    verifiedBytes: 0,
    totalLength: data.length,
    selectedFiles: 1,
    fileCount: 1,
    progress: 0,
    downloaded: 0,
    wasted: 0,
    uploaded: 0,
    downloadRate: 0,
    uploadRate: 0,
    peers: 0,
    peersByKind: undefined,
    peersBySource: { tracker: 0, dht: 0, pex: 0, given: 0, incoming: 0 },
    pex: { sent: 0, received: 0, ignored: 0, learned: 0 },
    downloadedByKind: { wire: 0, webseed: 0, http: 0 },
    etaSec: undefined,
    done: false,
  });
  const wire = add({ stall: true, queueDepth: 4 });
  add({ kind: 'webseed', stall: true, queueDepth: 4 });
  add({ kind: 'http', stall: true, queueDepth: 4, choking: true });
  await settle();
  assert.deepEqual(t.stats().peersByKind, { wire: 1, webseed: 1, http: 1 });
  assert.deepEqual(t.stats().peersBySource, { tracker: 0, dht: 0, pex: 0, given: 3, incoming: 0 });
  assert.equal(t.stats().peers, 3);
  tickAt(1000);
  wire.deliver(); // 4 blocks: 2 pieces at t = 1 s
  await settle();
  tickAt(3000);
  const s = t.stats();
  assert.equal(s.downloaded, 4 * BLOCK);
  assert.deepEqual(s.downloadedByKind, { wire: 4 * BLOCK, webseed: 0, http: 0 });
  assert.equal(s.verifiedBytes, 2 * PIECE);
  assert.equal(s.progress, 2 / PIECES);
  assert.ok(s.downloadRate > 0 && s.downloadRate <= 4 * BLOCK);
  assert.ok(s.etaSec !== undefined && Math.abs(s.etaSec - (data.length - 2 * PIECE) / s.downloadRate) < 1e-6, `eta ${s.etaSec}`);
  assert.equal(progress.at(-1), 2 / PIECES, 'tick emits progress');
  wire.drop();
  await settle();
  assert.deepEqual(t.stats().peersByKind, { wire: 0, webseed: 1, http: 1 });
  await t.close();
  assert.equal(t.closed, true);
  await assert.rejects(t.done, { code: 'ENGINE_CLOSED' });
  tickAt(4000); // a closed torrent ignores ticks
  assert.equal(progress.at(-1), 2 / PIECES);
});

test('admission: accepts() refuses duplicates, a full torrent and a closed one; peerClosed and availability follow a leaving peer', OPTS, async () => {
  const { t, add } = setup({ maxPeers: 2 });
  const closedIds: string[] = [];
  t.on('peerClosed', (l) => closedIds.push(l.id));
  assert.equal(t.accepts('x'), true);
  const x = add({ id: 'x', choking: true, has: (i) => i === 7 });
  await settle();
  assert.equal(t.accepts('x'), false, 'already connected');
  assert.equal(t.accepts('y'), true);
  add({ id: 'y', choking: true, has: (i) => i === 7 });
  assert.equal(t.peerCount, 2);
  assert.equal(t.accepts('z'), false, 'maxPeers');
  assert.equal(t.isBanned('x'), false);
  x.drop();
  await settle();
  assert.deepEqual(closedIds, ['x']);
  assert.equal(t.accepts('z'), true);
  await t.close();
  assert.equal(t.accepts('z'), false, 'closed');
});

test('completion closes seeds and web seeds but keeps a leech we can upload to', OPTS, async () => {
  const { t, add } = setup({}, storeWith([...Array(PIECES - 1).keys()]));
  const seed = add({ id: 'seed', stall: true });
  const web = add({ id: 'web', kind: 'webseed', has: () => false, choking: true });
  const leech = add({ id: 'leech', has: (i) => i < 3 });
  await settle();
  seed.deliver();
  await t.done;
  await settle();
  assert.equal(seed.closed, true);
  assert.equal(web.closed, true);
  assert.equal(leech.closed, false);
  assert.deepEqual(leech.haves, [PIECES - 1], 'the new piece is announced');
  assert.equal(leech.amInterested, false);
  // A seed that connects now is dropped at once: two seeds have nothing to trade.
  const late = add({ id: 'late' });
  await settle();
  assert.equal(late.closed, true);
  await t.close();
});

test('uploads: a cancel or a choke drops queued requests', OPTS, async () => {
  const { t, add, tickAt } = setup({ uploadLimiters: [new TokenBucket(BLOCK, 0, BLOCK)] }, storeWith('all'));
  const leech = add({ has: () => false });
  await settle();
  leech.emit({ type: 'interested' });
  const req = (i: number) => ({ index: i as PieceIndex, begin: 0, length: BLOCK });
  for (let i = 0; i < 4; i++) leech.emit({ type: 'request', req: req(i) });
  leech.emit({ type: 'cancel', req: req(1) });
  await settle();
  assert.equal(leech.sent.length, 1);
  for (let ms = 1000; ms <= 6000; ms += 1000) {
    tickAt(ms);
    await settle();
  }
  assert.deepEqual(leech.sent.map((u) => u.req.index), [0, 2, 3], 'the cancelled request is never served');
  await t.close();
  const again = setup({ uploadLimiters: [new TokenBucket(BLOCK, 0, BLOCK)] }, storeWith('all'));
  const l2 = again.add({ has: () => false });
  await settle();
  l2.emit({ type: 'interested' });
  for (let i = 0; i < 4; i++) l2.emit({ type: 'request', req: req(i) });
  await settle();
  l2.emit({ type: 'notInterested' }); // we choke it: its queue is dropped (BEP 3)
  assert.equal(l2.amChoking, true);
  for (let ms = 1000; ms <= 6000; ms += 1000) {
    again.tickAt(ms);
    await settle();
  }
  assert.equal(l2.sent.length, 1, 'nothing after the choke');
  await again.t.close();
});

test('choking: only peers we can upload to are unchoked; each change reaches the link once; lost interest stays choked', OPTS, async () => {
  // Half done, so a web seed stays connected (it would be dropped at completion).
  const { t, add, tickAt } = setup({ uploadSlots: 2 }, storeWith([0, 1, 2, 3, 4, 5, 6, 7]));
  const leech = add({ id: 'leech', has: () => false });
  const seedLike = add({ id: 'ws', kind: 'webseed', stall: true }); // canUpload false
  await settle();
  seedLike.emit({ type: 'interested' }); // a link that cannot take uploads says so anyway
  leech.emit({ type: 'interested' });
  assert.equal(leech.amChoking, false, 'a free slot goes at once');
  assert.equal(seedLike.amChoking, true, 'never to a peer that cannot upload');
  for (let ms = 0; ms <= 30_000; ms += 10_000) {
    // A downloader that asks for blocks (one that asks for nothing is snubbed: upload-snub.test.ts).
    leech.emit({ type: 'request', req: { index: (ms / 10_000) as PieceIndex, begin: 0, length: BLOCK } });
    tickAt(ms);
  }
  assert.equal(seedLike.amChoking, true, 'nor in a choking round');
  assert.deepEqual(seedLike.chokings, []);
  assert.deepEqual(leech.chokings, [false], 'rounds that change nothing send nothing');
  leech.emit({ type: 'notInterested' });
  assert.deepEqual(leech.chokings, [false, true]);
  for (let ms = 40_000; ms <= 70_000; ms += 10_000) tickAt(ms);
  assert.equal(leech.amChoking, true, 'not unchoked again while not interested');
  assert.deepEqual(leech.chokings, [false, true]);
  assert.equal(seedLike.closed, false);
  await t.close();
});

test('choking: a block being read when we choke is not sent, even if we unchoke before the read ends (BEP 3)', OPTS, async () => {
  const { t, add } = setup({}, storeWith('all'));
  await t.done;
  const leech = add({ id: 'leech', has: () => false });
  await settle();
  leech.emit({ type: 'interested' });
  assert.equal(leech.amChoking, false);
  leech.emit({ type: 'request', req: { index: 0 as PieceIndex, begin: 0, length: BLOCK } }); // its read starts now
  leech.emit({ type: 'notInterested' }); // choked while the read is under way…
  leech.emit({ type: 'interested' }); // …and unchoked again at once
  assert.equal(leech.amChoking, false);
  await settle();
  assert.equal(leech.sent.length, 0, 'the request died with the choke');
  leech.emit({ type: 'request', req: { index: 1 as PieceIndex, begin: 0, length: BLOCK } });
  await settle();
  assert.deepEqual(leech.sent.map((s) => s.req.index), [1], 'a request after the unchoke is served');
  await t.close();
});

test('endgame duplicates go to wire peers only: a web seed gets runs of free blocks, never a duplicate, and finishes what a wire peer drops', OPTS, async () => {
  const { t, add } = setup();
  const wire = add({ id: 'wire', stall: true, queueDepth: 8 });
  await settle();
  assert.equal(wire.pending.length, 8);
  const seed = add({ id: 'seed', kind: 'webseed', stall: true, queueDepth: 64 });
  await settle();
  // 32 blocks: 8 out to the wire peer, the other 24 to the web seed, so endgame. Before, the web
  // seed's pick went on with duplicates of the wire peer's 8 (one HTTP request each, wasted).
  const wireKeys = new Set(wire.requests.map(blockKey));
  const dup = seed.requests.map(blockKey).filter((k) => wireKeys.has(k));
  assert.deepEqual(dup, [], 'no block asked of the web seed that the wire peer has outstanding');
  assert.equal(seed.pending.length, PIECES * 2 - 8, 'the web seed has every free block');
  // The wire peer delivers and, in endgame, may duplicate the web seed's blocks: that is allowed.
  wire.deliver();
  await settle();
  assert.ok(wire.pending.length > 0, 'the wire peer duplicates in endgame');
  // The wire peer goes away with its duplicates out: the web seed serves the rest, and the
  // download completes from it alone.
  wire.drop();
  await settle();
  for (let i = 0; i < 10 && !t.complete; i++) {
    seed.deliver();
    await settle();
  }
  await t.done;
  assert.equal(new Set(seed.requests.map(blockKey)).size, seed.requests.length, 'the web seed was never asked for a block twice');
  await t.close();
});
