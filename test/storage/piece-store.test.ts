import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { DiskPool, openStorage } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, readFile, shuffled, writeTorrent, type FileSpec } from './helpers.js';

// One pool for the whole file: property runs open many storages, and threads cost ~30 ms each.
const pool = new DiskPool({ threads: 2 });
after(() => pool.close());

test('any files and piece length, any commit order: files on disk are byte-identical', async () => {
  const fileArb = fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd', 'e'), length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })) });
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fileArb, { minLength: 1, maxLength: 5, selector: (f) => f.name }),
      fc.constantFrom(16, 100, 1024, 4096, 16384),
      fc.boolean(),
      fc.integer({ min: 1, max: 2 ** 31 }),
      async (files, pieceLength, nested, seed) => {
        if (files.every((f) => f.length === 0)) files[0] = { ...files[0]!, length: 1 };
        const specs: FileSpec[] = files.map((f, i) => ({ path: nested && i % 2 === 1 ? ['sub', f.name] : [f.name], length: f.length }));
        const t = files.length === 1 && !nested ? makeTorrent(files[0]!.length, pieceLength, { seed }) : makeTorrent(specs, pieceLength, { seed });
        await withTempDir(async (dir) => {
          const s = await openStorage(t.metainfo, dir, { pool });
          // Files exist at their final size before any piece arrives (sparse allocation).
          for (let i = 0; i < t.metainfo.files.length; i++) assert.equal(statSync(t.pathOf(dir, i)).size, t.metainfo.files[i]!.length);
          const order = shuffled(t.metainfo.pieceCount, seed);
          const results = await Promise.all(order.map((i) => s.commitPiece(pieceIndex(t, i), t.piece(i))));
          assert.ok(results.every((r) => r));
          assert.ok(s.bitfield.complete);
          await s.close();
          for (let i = 0; i < t.metainfo.files.length; i++) assert.deepEqual(readFile(t.pathOf(dir, i)), t.fileData(i));
        });
      },
    ),
    { numRuns: 30 },
  );
});

// Pieces of 64 KiB and more are written with O_DIRECT where the file system takes it (ext4 under
// the temp folder, tmpfs since Linux 6.6), through a bounce buffer, with unaligned heads and
// tails buffered. Where open(O_DIRECT) fails (injected here: EINVAL, as older tmpfs, FUSE and
// some network file systems answer), every byte goes buffered, as it does in writeMode
// 'buffered'. All must give the same files.
for (const [label, writeMode, refused] of [
  ['with O_DIRECT', 'direct', false],
  ['O_DIRECT refused', 'direct', true],
  ["writeMode 'buffered'", 'buffered', false],
] as const) {
  test(`big pieces over files with unaligned boundaries are byte-identical, ${label}`, async () => {
    const p = refused ? new DiskPool({ threads: 2 }) : pool;
    if (refused) await p.injectFaultForTesting({ op: 'direct', errno: 'EINVAL' });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 700_000 }), { minLength: 1, maxLength: 4 }),
          fc.constantFrom(65536, 131072, 262144, 1 << 20),
          fc.integer({ min: 1, max: 2 ** 31 }),
          async (lengths, pieceLength, seed) => {
            if (!lengths.some((n) => n > 0)) lengths[0] = 1;
            const t = makeTorrent(lengths.map((length, i) => ({ path: [`f${i}`], length })), pieceLength, { seed });
            await withTempDir(async (dir) => {
              const s = await openStorage(t.metainfo, dir, { pool: p, writeMode });
              const order = shuffled(t.metainfo.pieceCount, seed);
              assert.ok((await Promise.all(order.map((i) => s.commitPiece(pieceIndex(t, i), t.piece(i))))).every((r) => r));
              await s.close();
              for (let i = 0; i < t.metainfo.files.length; i++) assert.ok(Buffer.from(readFile(t.pathOf(dir, i))).equals(Buffer.from(t.fileData(i))), `file ${i}`);
            });
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      if (refused) await p.close();
    }
  });
}

test('piece buffers come back for reuse: after a commit or a mismatch, never once lent to an upload', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(4 * 16384, 16384);
    const s = await openStorage(t.metainfo, dir, { pool, pieceCacheBytes: 16384 });
    const fresh = s.pieceBuffer(pieceIndex(t, 0));
    assert.equal(fresh.length, 16384);
    fresh.set(t.piece(0));
    assert.ok(await s.commitPiece(pieceIndex(t, 0), fresh));
    // Piece 0 is cached and was never read: when piece 1 pushes it out, its buffer is free again.
    assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
    assert.deepEqual(s.pieceBuffer(pieceIndex(t, 2)), t.piece(0), 'piece 0\'s buffer, stale bytes and all');
    // A mismatch gives its buffer back too.
    const bad = t.piece(2);
    bad[0] = bad[0]! ^ 1;
    const badCopy = t.piece(2);
    badCopy[0] = badCopy[0]! ^ 1;
    assert.equal(await s.commitPiece(pieceIndex(t, 2), bad), false);
    assert.deepEqual(s.pieceBuffer(pieceIndex(t, 2)), badCopy, 'the mismatched buffer');
    // Piece 1 is lent (a block of it went out for upload); pushed out, its buffer must not be reused.
    const block = await s.readBlock(pieceIndex(t, 1), 0, 16);
    assert.ok(await s.commitPiece(pieceIndex(t, 3), t.piece(3)));
    const renewed = s.pieceBuffer(pieceIndex(t, 0));
    assert.ok(renewed.buffer !== block.buffer && renewed.length === 16384, 'a new buffer, not the lent one');
    assert.deepEqual(block, t.piece(1).subarray(0, 16), 'the upload still sees its bytes');
    // Not to be cached (nobody wants it soon): the buffer is free at once, the piece still readable.
    const again = t.piece(0);
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0), false));
    assert.deepEqual(s.pieceBuffer(pieceIndex(t, 1)), again, 'piece 0\'s buffer, straight back');
    assert.deepEqual(await s.readBlock(pieceIndex(t, 0), 100, 8), again.subarray(100, 108));
    await s.close();
  }));

for (const inline of [false, true]) {
  test(`a commit makes room in the cache when it starts: the piece it pushes out is free for the next piece meanwhile, but a lent one never (${inline ? 'inline' : 'threads'})`, () =>
    withTempDir(async (dir) => {
      const p = inline ? new DiskPool({ inline: true }) : pool;
      const t = makeTorrent(5 * 16384, 16384);
      const s = await openStorage(t.metainfo, dir, { pool: p, pieceCacheBytes: 2 * 16384 });
      assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
      assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
      const block = await s.readBlock(pieceIndex(t, 1), 0, 16); // piece 1 lent; piece 0 the least recently used
      const second = s.commitPiece(pieceIndex(t, 2), t.piece(2));
      // Piece 2 is not written yet, and piece 0 is out already: its buffer, stale bytes and all.
      assert.deepEqual(s.pieceBuffer(pieceIndex(t, 4)), t.piece(0), "piece 0's buffer while piece 2 is being committed");
      const third = s.commitPiece(pieceIndex(t, 3), t.piece(3)); // pushes out piece 1: lent, so never reused
      const fresh = s.pieceBuffer(pieceIndex(t, 4));
      assert.ok(fresh.buffer !== block.buffer, 'a new buffer, not the lent one');
      assert.deepEqual([await second, await third], [true, true]);
      assert.deepEqual(block, t.piece(1).subarray(0, 16), 'the upload still sees its bytes');
      for (const i of [0, 1, 2, 3]) assert.deepEqual(await s.readBlock(pieceIndex(t, i), 50, 8), t.piece(i).subarray(50, 58), `piece ${i}`);
      await s.close();
      if (inline) await p.close();
    }));
}

test('a commit that fails gives its room in the cache back: a mismatch, a write error', () =>
  withTempDir(async (dir) => {
    const p = new DiskPool({ inline: true }); // its own: the fault is injected into it
    const t = makeTorrent(4 * 16384, 16384);
    const s = await openStorage(t.metainfo, dir, { pool: p, pieceCacheBytes: 2 * 16384 });
    const bad = t.piece(3);
    bad[0] = bad[0]! ^ 1;
    const badCopy = bad.slice();
    assert.equal(await s.commitPiece(pieceIndex(t, 3), bad), false);
    // Room for two pieces again: 0 and 1 both stay cached, so the only free buffer is the mismatched one.
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0)));
    assert.ok(await s.commitPiece(pieceIndex(t, 1), t.piece(1)));
    assert.deepEqual(s.pieceBuffer(pieceIndex(t, 2)), badCopy, 'the mismatched buffer, not a cached piece\'s');
    await p.injectFaultForTesting({ op: 'write', errno: 'EIO' });
    await assert.rejects(s.commitPiece(pieceIndex(t, 2), t.piece(2)), { code: 'STORAGE_IO' });
    await p.injectFaultForTesting(null);
    // Its room (which pushed piece 0 out) is back too: piece 3 goes in beside piece 1, which stays.
    assert.ok(await s.commitPiece(pieceIndex(t, 3), t.piece(3)));
    assert.deepEqual(s.pieceBuffer(pieceIndex(t, 2)), t.piece(0), "piece 0's buffer, pushed out by the failed commit");
    assert.notDeepEqual(s.pieceBuffer(pieceIndex(t, 2)), t.piece(1), 'piece 1 still cached');
    await s.close();
    await p.close();
  }));

test('lendBlock: a piece read for upload is reused only after its leases are released and the cache dropped it', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(4 * 16384, 16384);
    await writeTorrent(t, dir, pool);
    const s = await openStorage(t.metainfo, dir, { pool, pieceCacheBytes: 16384 }); // one piece
    const expect = (i: number, at: number): Uint8Array => t.content.subarray(i * 16384 + at, i * 16384 + at + 100);
    const a = await s.lendBlock(pieceIndex(t, 0), 0, 100);
    const b = await s.lendBlock(pieceIndex(t, 1), 100, 100); // drops piece 0: leased, so kept aside
    const c = await s.lendBlock(pieceIndex(t, 2), 200, 100); // a new buffer: none is free
    assert.deepEqual(a.data, expect(0, 0));
    assert.deepEqual(b.data, expect(1, 100));
    a.release();
    a.release(); // a second call does nothing
    const d = await s.lendBlock(pieceIndex(t, 3), 300, 100); // reads into piece 0's buffer
    assert.equal(a.data.byteLength, 0, 'piece 0\'s buffer moved to the disk thread for the next read');
    assert.deepEqual(d.data, expect(3, 300));
    assert.deepEqual(b.data, expect(1, 100), 'still leased: untouched');
    assert.deepEqual(c.data, expect(2, 200));
    for (const l of [b, c, d]) l.release();
    assert.deepEqual(await s.readBlock(pieceIndex(t, 1), 0, 100), expect(1, 0));
    await s.close();
  }));

test('a mismatching piece resolves false, writes nothing and is not marked', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent([{ path: ['x'], length: 3000 }, { path: ['y'], length: 5000 }], 4096);
    const s = await openStorage(t.metainfo, dir, { pool });
    const bad = t.piece(0);
    bad[4000] = bad[4000]! ^ 1; // spans both files
    assert.equal(await s.commitPiece(pieceIndex(t, 0), bad), false);
    assert.equal(s.bitfield.has(0), false);
    assert.deepEqual(readFile(t.pathOf(dir, 0)), new Uint8Array(3000));
    assert.deepEqual(readFile(t.pathOf(dir, 1)), new Uint8Array(5000));
    assert.equal(await s.commitPiece(pieceIndex(t, 1), t.piece(1)), true, 'the short last piece');
    assert.deepEqual([...s.bitfield], [1]);
    await assert.rejects(s.readBlock(pieceIndex(t, 0), 0, 10), { code: 'STORAGE_NOT_VERIFIED' });
    await s.close();
  }));

test('files smaller than a piece, an empty file, a short last piece: blocks read back right', () =>
  withTempDir(async (dir) => {
    const specs = [
      { path: ['tiny'], length: 10 },
      { path: ['empty'], length: 0 },
      { path: ['deep', 'er', 'small'], length: 700 },
      { path: ['big'], length: 40_000 },
    ];
    const t = makeTorrent(specs, 16384);
    const s = await openStorage(t.metainfo, dir, { pool });
    assert.equal(statSync(t.pathOf(dir, 1)).size, 0, 'the empty file is created');
    for (let i = 0; i < t.metainfo.pieceCount; i++) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)));
    const g = t.metainfo.geometry;
    assert.ok(g.lastPieceLength < g.pieceLength);
    await fc.assert(
      fc.asyncProperty(fc.nat(g.pieceCount - 1), fc.nat(), fc.nat(), async (i, a, b) => {
        const len = g.pieceLengthOf(i);
        const begin = a % len;
        const length = 1 + (b % (len - begin));
        const block = await s.readBlock(pieceIndex(t, i), begin, length);
        assert.deepEqual(block, t.content.subarray(i * g.pieceLength + begin, i * g.pieceLength + begin + length));
      }),
      { numRuns: 50 },
    );
    await s.close();
  }));

test('files are allocated sparsely: no zeros written', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(64 * 1024 * 1024, 1 << 20);
    const s = await openStorage(t.metainfo, dir, { pool });
    const st = statSync(t.pathOf(dir, 0));
    assert.equal(st.size, 64 * 1024 * 1024);
    assert.ok(st.blocks * 512 < 1024 * 1024, `${st.blocks} blocks allocated`);
    await s.close();
  }));

test('commitPiece takes a whole buffer without copying, and copies a view so the caller keeps the rest', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(50_000, 16384);
    const s = await openStorage(t.metainfo, dir, { pool });
    const whole = t.piece(0);
    assert.ok(await s.commitPiece(pieceIndex(t, 0), whole));
    assert.equal(whole.buffer.byteLength, 0, 'transferred (detached)');
    const outer = new Uint8Array(100 + 16384);
    outer.set(t.piece(1), 100);
    assert.ok(await s.commitPiece(pieceIndex(t, 1), outer.subarray(100)));
    assert.equal(outer.byteLength, 100 + 16384, 'a view is copied, its buffer stays');
    await s.close();
  }));

test('readBlock serves verified pieces from the cache: disk is read once per piece while it stays cached', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(4 * 16384, 16384);
    await writeTorrent(t, dir, pool);
    const path = t.pathOf(dir, 0);
    const scribble = async (): Promise<void> => {
      // Change the bytes behind the storage's back: a read from disk would see them.
      const changed = readFile(path);
      changed.fill(0xee, 0, 4 * 16384);
      await writeFile(path, changed);
    };
    const original = t.content.subarray(0, 8);

    const cached = await openStorage(t.metainfo, dir, { pool, pieceCacheBytes: 2 * 16384 });
    assert.deepEqual(await cached.readBlock(pieceIndex(t, 0), 0, 8), original);
    await scribble();
    assert.deepEqual(await cached.readBlock(pieceIndex(t, 0), 0, 8), original, 'piece 0 from the cache');
    await cached.readBlock(pieceIndex(t, 1), 0, 8);
    await cached.readBlock(pieceIndex(t, 2), 0, 8); // evicts piece 0 (two pieces fit)
    assert.deepEqual(await cached.readBlock(pieceIndex(t, 0), 0, 8), new Uint8Array(8).fill(0xee), 'evicted, so read again');
    await cached.close();

    // Without a cache every block comes from disk. (skipVerify: the scribbled file no longer
    // matches the resume file, and its bytes no longer match the hashes.)
    await writeFile(path, t.content);
    const uncached = await openStorage(t.metainfo, dir, { pool, pieceCacheBytes: 0, skipVerify: true });
    assert.deepEqual(await uncached.readBlock(pieceIndex(t, 3), 0, 8), t.content.subarray(3 * 16384, 3 * 16384 + 8));
    await scribble();
    assert.deepEqual(await uncached.readBlock(pieceIndex(t, 3), 0, 8), new Uint8Array(8).fill(0xee));
    await uncached.close();
  }));

test('concurrent readBlocks of one uncached piece share one disk read', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(3 * 16384, 16384);
    await writeTorrent(t, dir, pool);
    const s = await openStorage(t.metainfo, dir, { pool });
    const blocks = await Promise.all([0, 1, 2, 3].map((k) => s.readBlock(pieceIndex(t, 1), k * 4096, 4096)));
    // Views of one buffer: the piece was read once.
    assert.ok(blocks.every((b) => b.buffer === blocks[0]!.buffer));
    assert.deepEqual(Buffer.concat(blocks), Buffer.from(t.content.subarray(16384, 32768)));
    await s.close();
  }));

test('a new piece buffer is a plain Uint8Array over a whole ArrayBuffer; a read that comes up short fails, never serving the buffer\'s old bytes', () =>
  withTempDir(async (dir) => {
    const t = makeTorrent(4 * 16384, 16384);
    await writeTorrent(t, dir, pool);
    const s = await openStorage(t.metainfo, dir, { pool, pieceCacheBytes: 0 });
    const fresh = s.pieceBuffer(pieceIndex(t, 0));
    assert.ok(!Buffer.isBuffer(fresh), 'not a Buffer: its slice() would be a view');
    assert.equal(fresh.byteOffset, 0);
    assert.equal(fresh.buffer.byteLength, 16384, 'a whole ArrayBuffer of its length: it moves to a disk thread');
    // Piece 0's bytes go back to the pool (not cached): the next piece read takes that buffer.
    assert.ok(await s.commitPiece(pieceIndex(t, 0), t.piece(0), false));
    // The file loses its last piece behind the storage's back.
    await truncate(t.pathOf(dir, 0), 3 * 16384 + 100);
    await assert.rejects(s.readBlock(pieceIndex(t, 3), 0, 16384), (e: { code?: string }) => e.code === 'STORAGE_IO', 'a short read fails: piece 0\'s stale bytes are not served as piece 3');
    assert.deepEqual(await s.readBlock(pieceIndex(t, 2), 0, 16), t.content.subarray(2 * 16384, 2 * 16384 + 16), 'whole pieces still read');
    await s.close();
  }));
