/**
 * `Uploader` (uploader.ts) on its own: one peer's state, a store whose reads the test answers
 * by hand, token buckets on a number clock. What `grant` refuses and why, how a wire peer's
 * requests queue and flow (32 reads at once, 512 queued), what a cancel, a choke or a close
 * does to a read under way, and that every lent block is released exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/engine/index.js';
import { refusal, Uploader, type UploadAnswer } from '../../src/engine/uploader.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import { Bitfield, Geometry, parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import type { BlockRequest } from '../../src/transport/index.js';
import { FakeLink } from '../helpers/engine-fakes.js';
import { peerState } from '../helpers/peer-state.js';
import { bytes, torrentBytes } from '../helpers/torrents.js';

const PIECE = 1000;
const TOTAL = 4 * PIECE + 300; // 5 pieces, the last 300 bytes
const source = bytes(TOTAL, 21);
const metainfo = parseTorrent(torrentBytes({ name: 'u', 'piece length': PIECE, length: TOTAL, pieces: new Uint8Array(5 * 20) }));
const req = (index: number, begin = 0, length = 100): BlockRequest => ({ index: index as PieceIndex, begin, length });
const why = (a: UploadAnswer): string => (a.ok ? 'ok' : a.reason);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Read {
  index: number;
  begin: number;
  length: number;
  answer(): void;
  fail(e: Error): void;
}

function setup(o: { lend?: boolean; limiters?: TokenBucket[]; autoAnswer?: boolean } = {}) {
  const clock = { ms: 3000 };
  const have = new Bitfield(5);
  for (let i = 0; i < 4; i++) have.set(i); // not the last piece
  const reads: Read[] = [];
  let released = 0;
  let lent = 0;
  const failures: TorrenttpError[] = [];
  let closed = false;
  const read = (index: number, begin: number, length: number) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const r: Read = { index, begin, length, answer: () => resolve(source.slice(index * PIECE + begin, index * PIECE + begin + length)), fail: reject };
      reads.push(r);
      if (o.autoAnswer === true) r.answer();
    });
  const store = {
    bitfield: have,
    commitPiece: async () => true,
    readBlock: (index: PieceIndex, begin: number, length: number) => read(index, begin, length),
    ...(o.lend === false
      ? {}
      : {
          lendBlock: async (index: PieceIndex, begin: number, length: number) => {
            const data = await read(index, begin, length);
            lent++;
            let once = false;
            return {
              data,
              release: () => {
                assert.equal(once, false, 'released once');
                once = true;
                released++;
              },
            };
          },
        }),
    saveResume: async () => undefined,
    close: async () => undefined,
  };
  const up = new Uploader(new Geometry(PIECE, [TOTAL]), have, store, o.limiters ?? [], {
    now: () => clock.ms,
    closed: () => closed,
    nextChokeInMs: (now) => 10_000 - (now % 10_000),
    fail: (e) => void failures.push(e),
  });
  const link = new FakeLink(source, metainfo, () => undefined, { has: () => false });
  const peer = peerState(link);
  return {
    up,
    peer,
    link,
    reads,
    clock,
    have,
    failures,
    released: () => released,
    lent: () => lent,
    closeTorrent: () => (closed = true),
  };
}

test('refusal: a plain answer', () => {
  assert.deepEqual(refusal('rateLimited', 5), { ok: false, reason: 'rateLimited', retryAfterMs: 5 });
});

test('grant refuses what is not one verified piece of ours, says why, and reads nothing', async () => {
  const s = setup();
  const answers = await Promise.all(
    [
      req(0.5),
      req(-1),
      req(5),
      req(Number.NaN),
      req(0, 0.5),
      req(0, 0, 1.5),
      req(0, -1),
      req(0, 0, 0),
      req(0, 0, -5),
      req(0, 901),
      req(3, 1, PIECE),
      req(4, 0, 301), // past the short last piece
    ].map((r) => s.up.lease(s.peer, r)),
  );
  assert.deepEqual(answers.map(why), Array(12).fill('outOfRange'));
  assert.ok(answers.every((a) => !a.ok && a.retryAfterMs === undefined));
  assert.deepEqual(await s.up.lease(s.peer, req(4, 0, 300)), { ok: false, reason: 'notHeld', retryAfterMs: undefined }, 'in range, not verified');
  assert.equal(s.reads.length, 0);
  const edge = s.up.lease(s.peer, req(3, 900, 100)); // the last bytes of a full piece
  assert.equal(s.reads.length, 1);
  s.reads[0]!.answer();
  const a = await edge;
  assert.ok(a.ok);
  assert.deepEqual(a.data, source.slice(3900, 4000));
  a.release();
});

test('grant: choked until the next choking round; closed for a peer gone or a torrent closed', async () => {
  const s = setup();
  s.peer.amChoking = true;
  s.clock.ms = 23_500;
  assert.deepEqual(await s.up.lease(s.peer, req(0)), { ok: false, reason: 'choked', retryAfterMs: 6500 });
  s.peer.amChoking = false;
  s.peer.closed = true;
  assert.deepEqual(await s.up.lease(s.peer, req(0)), { ok: false, reason: 'closed', retryAfterMs: undefined });
  s.peer.closed = false;
  s.closeTorrent();
  assert.deepEqual(await s.up.lease(s.peer, req(0)), { ok: false, reason: 'closed', retryAfterMs: undefined });
  assert.equal(s.reads.length, 0);
});

test('a lease counts its bytes as uploaded; a refusal counts nothing', async () => {
  const s = setup({ autoAnswer: true });
  const a = await s.up.lease(s.peer, req(1, 10, 250));
  assert.ok(a.ok);
  assert.deepEqual(a.data, source.slice(1010, 1260));
  a.release();
  s.peer.amChoking = true;
  await s.up.lease(s.peer, req(1));
  assert.equal(s.up.up.totalBytes, 250);
  assert.equal(s.peer.up.totalBytes, 250);
});

test('a peer choked or gone while its read was under way gets a refusal, and the lent block is released', async () => {
  const s = setup();
  const choked = s.up.lease(s.peer, req(0));
  s.peer.amChoking = true;
  s.clock.ms = 8000;
  s.reads[0]!.answer();
  assert.deepEqual(await choked, { ok: false, reason: 'choked', retryAfterMs: 2000 });
  assert.equal(s.released(), 1);
  s.peer.amChoking = false;
  const gone = s.up.lease(s.peer, req(1));
  s.peer.closed = true;
  s.reads[1]!.answer();
  assert.deepEqual(await gone, { ok: false, reason: 'closed', retryAfterMs: undefined });
  assert.equal(s.released(), 2);
  assert.equal(s.up.up.totalBytes, 0);
});

test('upload limits: the longest wait of all buckets; every bucket pays for a granted block, even into debt', async () => {
  const a = new TokenBucket(1000, 3000, 1000);
  const b = new TokenBucket(500, 3000, 600);
  const s = setup({ limiters: [a, b], autoAnswer: true });
  const first = await s.up.lease(s.peer, req(0, 0, 700));
  assert.ok(first.ok);
  first.release();
  // a: 300 left; b: 100 in debt → b's wait: ceil(100 / 500 s) + 1 ms.
  assert.deepEqual(await s.up.lease(s.peer, req(0, 0, 10)), { ok: false, reason: 'rateLimited', retryAfterMs: 201 });
  assert.equal(s.reads.length, 1, 'nothing read');
  s.clock.ms += 201;
  const second = await s.up.lease(s.peer, req(0, 0, 10));
  assert.ok(second.ok, 'refilled');
  second.release();
  assert.equal(a.waitMs(s.clock.ms), 0);
  const c = new TokenBucket(1000, 3000, 1000);
  const d = new TokenBucket(1000, 3000, 1000);
  const t = setup({ limiters: [c, d], autoAnswer: true });
  c.take(1500, 3000); // c in debt only
  assert.deepEqual(await t.up.lease(t.peer, req(0)), { ok: false, reason: 'rateLimited', retryAfterMs: 501 }, 'the first bucket alone holds it back');
  assert.equal(d.waitMs(3000), 0);
  t.clock.ms = 3501;
  assert.ok((await t.up.lease(t.peer, req(0, 0, 100))).ok);
  assert.equal(d.waitMs(3501), 0);
  d.take(900, 3501); // d paid 100 for the grant: 900 more puts it at 0
  assert.equal(d.waitMs(3501), 1, 'd paid for the granted block too');
});

test('a store without lendBlock: its reads are lent with a no-op release', async () => {
  const s = setup({ lend: false, autoAnswer: true });
  const a = await s.up.lease(s.peer, req(2, 5, 10));
  assert.ok(a.ok);
  assert.deepEqual(a.data, source.slice(2005, 2015));
  a.release();
  a.release();
  s.up.request(s.peer, req(2, 0, 20));
  await tick();
  assert.equal(s.link.sent.length, 1);
});

test('a failed read fails the torrent with a typed error; the lease rejects, a queued upload just ends', async () => {
  const s = setup();
  const l = s.up.lease(s.peer, req(0));
  s.reads[0]!.fail(new Error('disk gone'));
  await assert.rejects(l, (e: TorrenttpError) => typeof e.code === 'string' && e === s.failures[0]);
  assert.equal(s.failures.length, 1);
  s.up.request(s.peer, req(1));
  assert.equal(s.peer.reading.size, 1);
  s.reads[1]!.fail(new Error('disk gone again'));
  await tick();
  assert.equal(s.peer.reading.size, 0);
  assert.equal(s.failures.length, 2);
  assert.equal(s.link.sent.length, 0);
});

test('wire requests: dropped while choked; read and sent in order, at most 32 reads at once, at most 512 waiting', async () => {
  const s = setup();
  s.peer.amChoking = true;
  s.up.request(s.peer, req(0));
  assert.equal(s.peer.uploads.length + s.peer.reading.size, 0, 'BEP 3: a request while choked is dropped');
  s.peer.amChoking = false;
  for (let i = 0; i < 600; i++) s.up.request(s.peer, req(i % 4, (Math.floor(i / 4) % 10) * 100, 100));
  assert.equal(s.peer.reading.size, 32);
  assert.equal(s.reads.length, 32);
  assert.equal(s.peer.uploads.length, 512, 'the rest dropped');
  for (let k = 0; k < 3; k++) {
    for (const r of s.reads.slice(k * 32, k * 32 + 32)) r.answer();
    await tick();
    assert.equal(s.link.sent.length, 32 * (k + 1));
    assert.equal(s.peer.reading.size, 32, 'each sent block makes room for the next read');
  }
  assert.deepEqual(
    s.link.sent.slice(0, 5).map((x) => [x.req.index, x.req.begin]),
    [
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [0, 100],
    ],
  );
  assert.deepEqual(s.link.sent[0]!.data, source.slice(0, 100));
  assert.equal(s.released(), 96, 'each sent block released (by the link) once');
  assert.equal(s.up.up.totalBytes, 9600);
  assert.equal(s.peer.up.totalBytes, 9600);
});

test('a cancel reaches a queued request and a read under way: neither is sent, the read block is released', async () => {
  const s = setup();
  for (let i = 0; i < 34; i++) s.up.request(s.peer, req(0, (i % 10) * 100, 100));
  // 32 reading (offsets 0..900, 0..900, 0..900, 0, 100), 2 queued (200, 300).
  s.up.cancel(s.peer, req(0, 100, 100)); // four of them, all reading
  s.up.cancel(s.peer, req(0, 300, 100)); // three reading, one queued
  s.up.cancel(s.peer, req(1, 0, 100)); // nothing of piece 1
  for (const r of s.reads.slice()) r.answer();
  await tick();
  assert.equal(s.reads.length, 33, 'the queued 200 is read; the queued 300 is skipped');
  assert.equal(s.peer.uploads.length, 0);
  s.reads[32]!.answer();
  await tick();
  const sent = s.link.sent.map((x) => x.req.begin);
  assert.equal(sent.length, 34 - 4 - 4);
  assert.ok(!sent.includes(100) && !sent.includes(300));
  assert.equal(s.lent(), 33, 'the cancelled queued one was never read');
  assert.equal(s.released(), 33, 'cancelled reads released too');
  assert.equal(s.up.up.totalBytes, 26 * 100);
});

test('a rate-limited head waits in the queue for serve(); other refusals drop a request', async () => {
  const bucket = new TokenBucket(100, 3000, 100);
  const s = setup({ limiters: [bucket], autoAnswer: true });
  s.up.request(s.peer, req(0, 0, 100)); // spends the bucket
  s.up.request(s.peer, req(0, 100, 100)); // rate-limited: kept at the head
  s.up.request(s.peer, req(4)); // not held, behind it
  await tick();
  assert.deepEqual(
    s.link.sent.map((x) => x.req.begin),
    [0],
  );
  assert.equal(s.peer.uploads.length, 2, 'the head waits, and what is behind it');
  s.up.serve(s.peer);
  assert.equal(s.peer.uploads.length, 2, 'still limited');
  s.clock.ms += 1001;
  s.up.serve(s.peer);
  await tick();
  assert.deepEqual(
    s.link.sent.map((x) => [x.req.index, x.req.begin]),
    [
      [0, 0],
      [0, 100],
    ],
  );
  assert.equal(s.peer.uploads.length, 0);
  s.clock.ms += 10_000; // the bucket full again: only the missing link holds the upload back
  s.peer.link = undefined;
  s.peer.uploads.push({ req: req(0), cancelled: false });
  s.up.serve(s.peer);
  assert.equal(s.peer.uploads.length, 1, 'a peer without a link is not served');
  assert.equal(s.reads.length, 2, 'nothing read for it');
});
