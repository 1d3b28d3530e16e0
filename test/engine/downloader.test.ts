import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 64 * 1024; // 4 blocks
const data = bytes(8 * PIECE, 77);
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));

test('a failed piece is locked from the peer that sent it until another peer sends a good copy', async () => {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { rng: () => 0.5, banAfterHashFailures: 100 });
  const failed: PieceIndex[] = [];
  t.on('hashFailed', (i) => failed.push(i));
  const liar = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'liar', corrupt: (i) => i === 3, queueDepth: 64 })) as FakeLink;
  // The honest peer has piece 3 but chokes us for now: the liar must not be asked for it again meanwhile.
  const honest = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'honest', choking: true })) as FakeLink;
  while (failed.length === 0) await new Promise((r) => setImmediate(r));
  for (let k = 0; k < 20; k++) await new Promise((r) => setImmediate(r));
  const piece3 = () => liar.requests.filter((r) => r.index === 3).length;
  assert.equal(piece3(), 4, 'the liar was asked for piece 3 once');
  assert.equal(t.complete, false);
  honest.unchokeUs();
  await t.done;
  assert.deepEqual(failed, [3]);
  assert.equal(piece3(), 4, 'and never again');
  assert.ok(honest.requests.some((r) => r.index === 3), 'the good copy came from the other peer');
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  await t.close();
});

test('a locked piece goes back to its sender when no other peer has it, rather than stall', async () => {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { rng: () => 0.5, banAfterHashFailures: 100 });
  let fails = 0;
  t.on('hashFailed', () => fails++);
  let corrupt = true;
  const flaky = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: 'flaky', corrupt: (i) => i === 3 && corrupt })) as FakeLink;
  t.on('hashFailed', () => (corrupt = false)); // one bad copy, then good ones
  await t.done;
  assert.equal(fails, 1);
  assert.equal(flaky.requests.filter((r) => r.index === 3).length, 8, 'asked twice, the second copy good');
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  await t.close();
});
