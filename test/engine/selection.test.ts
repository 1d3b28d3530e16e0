/**
 * File selection in the engine, with fake peers and an in-memory store: only pieces holding
 * bytes of selected files are requested, completion and stats count the selection, interest
 * follows it, and after a partial download we serve what we have and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import type { PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { errorCode } from '../helpers/errors.js';
import { A, ALL, C, PIECE, threeFiles } from '../helpers/three-files.js';

const metainfo = threeFiles();

test('a selection of files 1 and 3 (0 and 2 here) requests only their pieces and completes on them', async () => {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { rng: () => 0.5, selectedFiles: [0, 2] });
  const before = t.stats();
  assert.equal(before.length, A.length + C.length, 'length is what the selection downloads');
  assert.equal(before.totalLength, ALL.length);
  assert.equal(before.length - before.verifiedBytes, A.length + C.length, "the tracker's left");
  assert.deepEqual([before.selectedFiles, before.fileCount], [2, 4]);
  const link = t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent)) as FakeLink;
  await t.done;
  assert.deepEqual([...new Set(link.requests.map((r) => r.index))].sort(), [0, 1, 3, 4, 5], 'piece 2 (b.bin alone) is never requested');
  assert.deepEqual([...store.bitfield], [0, 1, 3, 4, 5]);
  assert.ok(t.complete);
  const s = t.stats();
  assert.equal(s.verifiedBytes, A.length + C.length, 'boundary bytes of b.bin do not count');
  assert.equal(s.progress, 1);
  assert.equal(s.done, true);
  assert.equal(s.length - s.verifiedBytes, 0, "the tracker's left");
  assert.deepEqual(Buffer.from(store.data.subarray(0, A.length)), Buffer.from(A));
  assert.deepEqual(Buffer.from(store.data.subarray(A.length + 64 * 1024)), Buffer.from(C));
  assert.equal(link.amInterested, false, 'nothing more is wanted from the seed');
});

test('a peer holding only unwanted pieces is not interesting; one that then gets a wanted piece is', async () => {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { selectedFiles: [2] });
  const link = t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent, { has: (i) => i <= 2 })) as FakeLink;
  await new Promise((r) => setImmediate(r));
  assert.equal(link.amInterested, false, 'pieces 0-2 hold no byte of sub/c.bin');
  assert.equal(link.requests.length, 0);
  link.bitfield.set(3);
  link.emit({ type: 'have', index: 3 as PieceIndex });
  assert.equal(link.amInterested, true);
  assert.ok(link.requests.length > 0 && link.requests.every((r) => r.index === 3));
  await t.close();
});

test('resuming with a selection: pieces already had count, and done resolves once the rest of the selection is in', async () => {
  const store = new MemoryStore(metainfo);
  for (const i of [0, 2]) {
    store.data.set(ALL.subarray(i * PIECE, (i + 1) * PIECE), i * PIECE);
    store.bitfield.set(i);
  }
  const t = new Torrent(metainfo, store, { selectedFiles: [0] });
  assert.equal(t.stats().verifiedBytes, PIECE, 'piece 0 is a.bin; piece 2 holds none of it');
  assert.equal(t.complete, false);
  const link = t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent)) as FakeLink;
  await t.done;
  assert.deepEqual([...new Set(link.requests.map((r) => r.index))], [1]);
  assert.equal(t.stats().progress, 1);
  await t.close();
});

test('a selection already on disk is complete at once', async () => {
  const store = new MemoryStore(metainfo);
  for (const i of [3, 4, 5]) {
    store.data.set(ALL.subarray(i * PIECE, (i + 1) * PIECE), i * PIECE);
    store.bitfield.set(i);
  }
  const t = new Torrent(metainfo, store, { selectedFiles: [2] });
  assert.ok(t.complete);
  await t.done;
  assert.equal(t.stats().progress, 1);
  await t.close();
});

test('after a partial download we seed what we have (bitfield) and refuse the rest', async () => {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { selectedFiles: [0] });
  t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent));
  await t.done;
  assert.deepEqual([...store.bitfield], [0, 1]);
  const leech = t.addPeer((onEvent) => new FakeLink(ALL, metainfo, onEvent, { has: () => false })) as FakeLink;
  await new Promise((r) => setImmediate(r));
  leech.emit({ type: 'interested' });
  assert.equal(leech.amChoking, false);
  leech.emit({ type: 'request', req: { index: 1 as PieceIndex, begin: 0, length: 16384 } });
  leech.emit({ type: 'request', req: { index: 2 as PieceIndex, begin: 0, length: 16384 } });
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(leech.sent.map((s) => s.req.index), [1], 'piece 2 was never downloaded: not served');
  assert.deepEqual(Buffer.from(leech.sent[0]!.data), Buffer.from(ALL.subarray(PIECE, PIECE + 16384)));
  await t.close();
});

test('a bad selection is refused when the torrent is made', () => {
  assert.equal(errorCode(() => new Torrent(metainfo, new MemoryStore(metainfo), { selectedFiles: [] })), 'METAINFO_BAD_FILE_SELECTION');
  assert.equal(errorCode(() => new Torrent(metainfo, new MemoryStore(metainfo), { selectedFiles: [4] })), 'METAINFO_BAD_FILE_SELECTION');
});
