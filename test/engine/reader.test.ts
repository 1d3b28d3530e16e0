import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 64 * 1024; // 4 blocks
const data = bytes(40 * PIECE + 12345, 33); // 41 pieces, a short last one
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function leech() {
  const store = new MemoryStore(metainfo);
  const t = new Torrent(metainfo, store, { rng: () => 0.5 });
  const add = (o: FakeLinkOptions = {}) => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, o)) as FakeLink;
  return { t, store, add };
}

test('a reader of a byte range gets exactly those bytes, and its pieces are requested first, in order', async () => {
  const { t, add } = leech();
  const start = 10 * PIECE + 777;
  const end = 14 * PIECE + 100; // inclusive
  const got = collect(t.read({ start, end }));
  const link = add({ queueDepth: 16 });
  assert.deepEqual(await got, Buffer.from(data.subarray(start, end + 1)));
  const firstPieces = [...new Set(link.requests.slice(0, 20).map((r) => r.index))];
  assert.deepEqual(firstPieces, [10, 11, 12, 13, 14], 'the range first, in order, before any rarest-first pick');
  await t.done;
  await t.close();
});

test('several readers at once: their windows merge by deadline; a stream of the whole torrent is byte-identical', async () => {
  const { t, store, add } = leech();
  const a = collect(t.read({ start: 30 * PIECE, end: 32 * PIECE - 1, windowPieces: 2 }));
  const b = collect(t.read({ start: 5 * PIECE + 1, end: 7 * PIECE - 2, windowPieces: 2 }));
  const whole = collect(t.createReadStream());
  await new Promise((r) => setImmediate(r)); // the stream starts reading
  const link = add({ queueDepth: 16 });
  await new Promise((r) => setImmediate(r));
  const seen = [...new Set(link.requests.slice(0, 16).map((r) => r.index))];
  // Due at now+1 step: pieces 0 (the stream), 5 and 30; at +2 steps: 1, 6 and 31; ties by index.
  assert.deepEqual(seen.slice(0, 4), [0, 5, 30, 1]);
  assert.deepEqual(await a, Buffer.from(data.subarray(30 * PIECE, 32 * PIECE)));
  assert.deepEqual(await b, Buffer.from(data.subarray(5 * PIECE + 1, 7 * PIECE - 1)));
  assert.deepEqual(await whole, Buffer.from(data));
  assert.deepEqual(Buffer.from(store.data), Buffer.from(data));
  await t.close();
});

test('a range outside the torrent is refused; closing the torrent ends a waiting reader', async () => {
  const { t } = leech();
  await assert.rejects(collect(t.read({ start: 0, end: data.length })), { code: 'ENGINE_BAD_RANGE' });
  await assert.rejects(collect(t.read({ start: -1 })), { code: 'ENGINE_BAD_RANGE' });
  assert.equal((await collect(t.read({ start: 5, end: 4 }))).length, 0, 'an empty range');
  const waiting = collect(t.read({ start: 0, end: 10 }));
  await new Promise((r) => setImmediate(r));
  await t.close();
  await assert.rejects(waiting, { code: 'ENGINE_CLOSED' });
});

test('a range of files not selected is refused', async () => {
  const three = parseTorrent(
    torrentBytes({
      name: 'd',
      'piece length': PIECE,
      pieces: piecesOf(data, PIECE),
      files: [
        { length: 20 * PIECE, path: ['a'] },
        { length: data.length - 20 * PIECE, path: ['b'] },
      ],
    }),
  );
  const t = new Torrent(three, new MemoryStore(three), { selectedFiles: [1] });
  await assert.rejects(collect(t.read({ start: 0, end: 10 })), { code: 'ENGINE_RANGE_NOT_SELECTED' });
  await t.close();
});

test('verifiedRanges: the range in order as pieces verify, pieces already in as one range, deadlines as read', async () => {
  const { t, store, add } = leech();
  const start = 3 * PIECE + 5;
  const end = 20 * PIECE + 9; // inclusive
  const got: { start: number; end: number }[] = [];
  const link = add({ queueDepth: 16 });
  await t.done; // everything in before the reader starts: one range
  for await (const r of t.verifiedRanges({ start, end })) got.push(r);
  assert.deepEqual(got, [{ start, end }]);
  await t.close();

  const second = leech();
  const ranges: { start: number; end: number }[] = [];
  const reading = (async () => {
    for await (const r of second.t.verifiedRanges({ start, end, windowPieces: 4 })) ranges.push(r);
  })();
  await new Promise((r) => setImmediate(r));
  const l2 = second.add({ queueDepth: 16 });
  await reading;
  assert.equal(ranges[0]!.start, start);
  assert.equal(ranges.at(-1)!.end, end);
  for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]!.start, ranges[i - 1]!.end + 1, 'contiguous, in order');
  for (const r of ranges) for (let p = Math.floor(r.start / PIECE); p <= Math.floor(r.end / PIECE); p++) assert.ok(second.store.bitfield.has(p));
  assert.deepEqual([...new Set(l2.requests.slice(0, 16).map((r) => r.index))], [3, 4, 5, 6], 'the window first, in order');
  void link;
  void store;
  await second.t.close();
});
