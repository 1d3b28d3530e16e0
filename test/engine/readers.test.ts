/**
 * `Readers` (reader.ts) against a fake host: which pieces carry which deadlines while a reader
 * waits, what it reads back and when, and how ranges are checked. The host is a bitfield, a
 * clock and a log: no torrent, no store, no timers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PIECE_DEADLINE_MS, DEFAULT_READ_WINDOW_PIECES, EngineError } from '../../src/engine/index.js';
import { Readers, type ReaderHost } from '../../src/engine/reader.js';
import { Bitfield, Geometry, type PieceIndex } from '../../src/metainfo/index.js';

const P = 100; // piece length
const TOTAL = 10 * P + 37; // 11 pieces, the last one 37 bytes
const source = Uint8Array.from({ length: TOTAL }, (_, i) => (i * 7) & 0xff);

function host(o: { wants?: (i: number) => boolean } = {}) {
  const clock = { ms: 5000 };
  const have = new Bitfield(11);
  const deadlines: Map<number, number>[] = [];
  const reads: [number, number, number][] = [];
  const h: ReaderHost = {
    geometry: new Geometry(P, [TOTAL]),
    have,
    wants: o.wants ?? (() => true),
    now: () => clock.ms,
    setDeadlines: (d) => void deadlines.push(new Map(d)),
    readPiece: async (index: PieceIndex, begin: number, length: number) => {
      reads.push([index, begin, length]);
      return source.slice(index * P + begin, index * P + begin + length);
    },
  };
  const readers = new Readers(h);
  /** The store verified `i`. */
  const verify = (i: number): void => {
    have.set(i);
    readers.pieceVerified(i);
  };
  return { readers, clock, have, deadlines, reads, verify, last: () => [...(deadlines.at(-1) ?? new Map())] };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('defaults: a window of 8 pieces, one second apart', () => {
  assert.equal(DEFAULT_READ_WINDOW_PIECES, 8);
  assert.equal(DEFAULT_PIECE_DEADLINE_MS, 1000);
});

test('a reader waits at each piece with deadlines on its window, reads back only its bytes, and drops its deadlines at the end', async () => {
  const h = host();
  const out = drain(h.readers.read({ start: 2 * P + 30, end: 5 * P + 9, windowPieces: 3, pieceDeadlineMs: 200 }));
  await tick();
  assert.equal(h.readers.count, 1);
  assert.deepEqual(h.last(), [
    [2, 5200],
    [3, 5400],
    [4, 5600],
  ]);
  assert.deepEqual(h.reads, [], 'nothing read before its piece is verified');
  h.verify(3); // out of order: the reader still waits at 2
  await tick();
  assert.deepEqual(h.reads, []);
  h.clock.ms = 6000;
  h.verify(2);
  await tick();
  assert.deepEqual(h.reads, [
    [2, 30, 70],
    [3, 0, 100],
  ]);
  assert.deepEqual(h.last(), [
    [4, 6200],
    [5, 6400],
  ], 'at piece 4: its window ends at the range');
  h.verify(4);
  h.verify(5);
  const bytes = await out;
  assert.deepEqual(h.reads.slice(2), [
    [4, 0, 100],
    [5, 0, 10],
  ]);
  assert.deepEqual(Buffer.concat(bytes), Buffer.from(source.subarray(2 * P + 30, 5 * P + 10)));
  assert.deepEqual(h.last(), [], 'ended: no deadlines');
  assert.equal(h.readers.count, 0);
});

test('the whole torrent by default, the short last piece read to its end; a window of at least one', async () => {
  const h = host();
  for (let i = 0; i < 11; i++) h.have.set(i);
  const bytes = await drain(h.readers.read({ windowPieces: 0 }));
  assert.deepEqual(Buffer.concat(bytes), Buffer.from(source));
  assert.deepEqual(h.reads.at(-1), [10, 0, 37]);
  assert.deepEqual(h.deadlines[0], new Map([[0, 6000]]), 'window 0 counts as 1, default step 1 s');
  const d = host();
  d.have.set(0);
  const r = d.readers.read();
  await r.next(); // at its first yield: a reader stops there (`break`), not while it waits
  assert.deepEqual(d.last(), [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, 5000 + (i + 1) * 1000]), 'default window: 8 pieces');
  await r.return();
  assert.deepEqual(d.last(), []);
});

test('several readers: their windows merge, the earliest deadline per piece wins; one that stops drops only its own', async () => {
  const h = host();
  h.have.set(0);
  h.have.set(2);
  const slow = h.readers.read({ start: 0, end: 6 * P, windowPieces: 4, pieceDeadlineMs: 1000 });
  await slow.next();
  assert.deepEqual(h.last(), [
    [0, 6000],
    [1, 7000],
    [2, 8000],
    [3, 9000],
  ]);
  h.clock.ms = 5500;
  const fast = h.readers.read({ start: 2 * P, end: 4 * P, windowPieces: 4, pieceDeadlineMs: 100 });
  await fast.next();
  assert.deepEqual(
    h.last().sort((a, b) => a[0]! - b[0]!),
    [
      [0, 6500],
      [1, 7500],
      [2, 5600],
      [3, 5700],
      [4, 5800],
    ],
    'piece 3 is due sooner for the fast reader: its deadline wins',
  );
  await slow.return();
  assert.deepEqual(h.last(), [
    [2, 5600],
    [3, 5700],
    [4, 5800],
  ]);
  await fast.return();
  assert.deepEqual(h.last(), []);
  assert.equal(h.readers.count, 0);
});

test('ties and later deadlines do not replace an earlier one', async () => {
  const h = host();
  h.have.set(0);
  const a = h.readers.read({ start: 0, end: P - 1, windowPieces: 1, pieceDeadlineMs: 300 });
  await a.next();
  const b = h.readers.read({ start: 0, end: P - 1, windowPieces: 1, pieceDeadlineMs: 900 });
  await b.next();
  assert.deepEqual(h.last(), [[0, 5300]]);
  await a.return();
  assert.deepEqual(h.last(), [[0, 5900]]);
  await b.return();
});

test('ranges are checked before anything waits', async () => {
  const h = host({ wants: (i) => i !== 7 });
  const bad = async (o: object, code: string, detail: string): Promise<void> => {
    await assert.rejects(drain(h.readers.read(o)), (e: EngineError) => e.code === code && e.detail === detail);
  };
  await bad({ start: -1 }, 'ENGINE_BAD_RANGE', `bytes -1-${TOTAL - 1} of ${TOTAL}`);
  await bad({ end: TOTAL }, 'ENGINE_BAD_RANGE', `bytes 0-${TOTAL} of ${TOTAL}`);
  await bad({ start: 5, end: 3 }, 'ENGINE_BAD_RANGE', `bytes 5-3 of ${TOTAL}`);
  await bad({ start: 0.5, end: 3 }, 'ENGINE_BAD_RANGE', `bytes 0.5-3 of ${TOTAL}`);
  await bad({ start: 0, end: 2.5 }, 'ENGINE_BAD_RANGE', `bytes 0-2.5 of ${TOTAL}`);
  await bad({ start: 6 * P, end: 8 * P }, 'ENGINE_RANGE_NOT_SELECTED', `bytes 600-800: piece 7`);
  await bad({ start: 7 * P + 99, end: 7 * P + 99 }, 'ENGINE_RANGE_NOT_SELECTED', `bytes 799-799: piece 7`);
  assert.deepEqual(await drain(h.readers.read({ start: 5, end: 4 })), [], 'start − 1: the empty range');
  assert.deepEqual(await drain(h.readers.verifiedRanges({ start: 5, end: 4 })), []);
  assert.deepEqual(h.deadlines, [], 'nothing waited');
  h.have.set(10);
  assert.deepEqual(await drain(h.readers.verifiedRanges({ start: TOTAL - 1, end: TOTAL - 1 })), [{ start: TOTAL - 1, end: TOTAL - 1 }], 'the last byte is in range');
  assert.equal(h.readers.count, 0);
  await assert.rejects(drain(h.readers.verifiedRanges({ start: 0, end: TOTAL })), { code: 'ENGINE_BAD_RANGE' });
  await assert.rejects(drain(h.readers.verifiedRanges({ start: 7 * P, end: 7 * P })), { code: 'ENGINE_RANGE_NOT_SELECTED' });
});

test('end: every waiting reader fails with the first error; later reads fail at once', async () => {
  const h = host();
  const a = drain(h.readers.read({ start: 0, end: 10 }));
  const b = drain(h.readers.read({ start: 0, end: 10 }));
  const c = drain(h.readers.verifiedRanges({ start: 3 * P, end: 3 * P }));
  await tick();
  const first = new EngineError('ENGINE_CLOSED', { detail: 'first' });
  h.readers.end(first);
  h.readers.end(new EngineError('ENGINE_CLOSED', { detail: 'second' }));
  await assert.rejects(a, (e) => e === first);
  await assert.rejects(b, (e) => e === first);
  await assert.rejects(c, (e) => e === first);
  assert.equal(h.readers.count, 0);
  h.have.set(0);
  h.readers.pieceVerified(0); // nobody waits: nothing happens
  const set = h.deadlines.length;
  await assert.rejects(drain(h.readers.read({ start: 0, end: 1 })), (e) => e === first, 'even a verified piece: the torrent is closed');
  await assert.rejects(drain(h.readers.verifiedRanges({ start: 0, end: 1 })), (e) => e === first);
  assert.equal(h.deadlines.length, set, 'no deadlines set');
});

test('a reader past its first piece fails too when the torrent ends', async () => {
  const h = host();
  h.have.set(0);
  const it = h.readers.read({ start: 0, end: 2 * P - 1 });
  const first = await it.next();
  assert.equal(first.done, false);
  const err = new EngineError('ENGINE_CLOSED');
  h.readers.end(err);
  await assert.rejects(it.next(), (e) => e === err, 'piece 1 never comes: the error instead');
});

test('verifiedRanges: the run of pieces already in as one range, then one range per run as pieces verify', async () => {
  const h = host();
  h.have.set(1);
  h.have.set(2);
  h.have.set(4);
  const got: { start: number; end: number }[] = [];
  const it = h.readers.verifiedRanges({ start: P + 50, end: 6 * P + 9, windowPieces: 2, pieceDeadlineMs: 10 });
  const first = await it.next();
  assert.deepEqual(first.value, { start: P + 50, end: 3 * P - 1 }, 'pieces 1 and 2, clipped at the start');
  assert.deepEqual(h.last(), [
    [3, 5010],
    [4, 5020],
  ], 'the deadlines already stand after the range');
  const rest = (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      got.push(r.value);
    }
  })();
  await tick();
  assert.deepEqual(got, []);
  h.verify(3);
  await tick();
  assert.deepEqual(got, [{ start: 3 * P, end: 5 * P - 1 }], '3 and 4 (already in) together');
  assert.deepEqual(h.last(), [
    [5, 5010],
    [6, 5020],
  ]);
  h.verify(6);
  await tick();
  assert.equal(got.length, 1, 'waits at 5');
  h.verify(5);
  await rest;
  assert.deepEqual(got.at(-1), { start: 5 * P, end: 6 * P + 9 }, '5 and 6, clipped at the end');
  assert.deepEqual(h.last(), []);
  assert.deepEqual(h.reads, [], 'no bytes read back');
});

test('verifiedRanges: with only the last piece left after a range, the deadline moves to it', async () => {
  const h = host();
  h.have.set(8);
  const it = h.readers.verifiedRanges({ start: 8 * P, end: 9 * P + 5 });
  assert.deepEqual((await it.next()).value, { start: 8 * P, end: 9 * P - 1 });
  assert.deepEqual(h.last(), [[9, 6000]]);
  h.verify(9);
  assert.deepEqual((await it.next()).value, { start: 9 * P, end: 9 * P + 5 });
  assert.equal((await it.next()).done, true);
  assert.deepEqual(h.last(), []);
});

test('verifiedRanges of one piece: one range, deadlines set once', async () => {
  const h = host();
  const it = drain(h.readers.verifiedRanges({ start: 10 * P, end: 10 * P + 36 }));
  await tick();
  assert.deepEqual(h.deadlines, [new Map([[10, 6000]])]);
  h.verify(10);
  assert.deepEqual(await it, [{ start: 10 * P, end: 10 * P + 36 }]);
  assert.deepEqual(h.deadlines.length, 2, 'set at the start, cleared at the end');
});
