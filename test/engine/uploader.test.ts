import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, Torrent, type UploadAnswer } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 32 * 1024;
const data = bytes(8 * PIECE - 1000, 9);
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const tick = () => new Promise((r) => setImmediate(r));
const piece = (i: number, begin = 0, length = PIECE) => ({ index: i as PieceIndex, begin, length });
const reason = (a: UploadAnswer) => (a.ok ? 'ok' : a.reason);

test('lease: an HTTP server side pulls whole pieces under the choker; refusals say why and when to retry', async () => {
  let now = 1_000;
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => now, uploadSlots: 1 });
  const a = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { kind: 'http', id: 'a', has: () => false }));
  const b = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { kind: 'http', id: 'b', has: () => false })) as FakeLink;
  await tick();
  t.tick(); // a choking round at 1000: nobody interested yet
  now = 4_000;
  const choked = await t.lease(a, piece(2));
  assert.deepEqual(choked, { ok: false, reason: 'choked', retryAfterMs: 7_000 }, 'until the next choking round');
  (a as FakeLink).emit({ type: 'interested' });
  const got = await t.lease(a, piece(2, 100, 5000));
  assert.ok(got.ok);
  assert.deepEqual(Buffer.from(got.data), Buffer.from(data.subarray(2 * PIECE + 100, 2 * PIECE + 5100)));
  got.release();
  const last = await t.lease(a, piece(7, 0, data.length - 7 * PIECE));
  assert.ok(last.ok && last.data.length === data.length - 7 * PIECE, 'the short last piece whole');
  assert.equal(reason(await t.lease(a, piece(7))), 'outOfRange', 'past the end of the last piece');
  assert.equal(reason(await t.lease(a, piece(8, 0, 1))), 'outOfRange');
  b.emit({ type: 'interested' });
  assert.equal(reason(await t.lease(b, piece(0))), 'choked', 'one slot, taken by a');
  assert.equal(t.stats().uploaded, 5000 + data.length - 7 * PIECE, 'leased bytes count as uploaded');
  b.close();
  await tick();
  assert.equal(reason(await t.lease(b, piece(0))), 'closed', 'a link that left is no peer');
  await t.close();
});

test('lease: a piece we lack is refused; the upload limit refuses with the time until it refills, and applies to wire requests too', async () => {
  let now = 0;
  const store = new MemoryStore(metainfo, data);
  store.bitfield.clear(5);
  const limit = new TokenBucket(2 * PIECE, now, 2 * PIECE); // two pieces a second, no more in a burst
  const t = new Torrent(metainfo, store, { rng: () => 0.5, now: () => now, uploadLimiters: [limit] });
  const http = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { kind: 'http', id: 'h', has: () => false })) as FakeLink;
  const wire = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'w', has: () => false })) as FakeLink;
  await tick();
  http.emit({ type: 'interested' });
  wire.emit({ type: 'interested' });
  assert.equal(reason(await t.lease(http, piece(5))), 'notHeld');
  assert.equal(reason(await t.lease(http, piece(0))), 'ok');
  assert.equal(reason(await t.lease(http, piece(1))), 'ok');
  const limited = await t.lease(http, piece(2));
  assert.equal(reason(limited), 'rateLimited');
  assert.ok(!limited.ok && limited.retryAfterMs! > 0 && limited.retryAfterMs! <= 1001, `retry after ${!limited.ok && limited.retryAfterMs}`);
  // The wire peer's request waits for the same limit.
  wire.emit({ type: 'request', req: piece(3, 0, 16384) });
  await tick();
  assert.equal(wire.sent.length, 0, 'the shared limit holds the wire upload back');
  now += 1000;
  t.tick();
  await tick();
  assert.equal(wire.sent.length, 1, 'sent once the limit refilled');
  assert.deepEqual(Buffer.from(wire.sent[0]!.data), Buffer.from(data.subarray(3 * PIECE, 3 * PIECE + 16384)));
  await t.close();
});
