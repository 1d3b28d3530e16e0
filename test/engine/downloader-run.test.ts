/**
 * A run of whole pieces committed as one (`Torrent.commitRun`, src/engine/downloader.ts, down to
 * the disk threads' one message and gathered writes): a corrupt piece in the middle of the run is
 * rejected on its own (false, `hashFailed`, never on disk, never shown to a reader) while the
 * pieces around it are verified, stored and read. Real storage, both ways the disk jobs run
 * (threads, inline). Fault checked once: the store's verdict for a mismatch taken as written
 * (piece-store.js `commitRun`) fails both cases here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { DiskPool, openStorage } from '../../src/storage/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const COUNT = 7;
const data = bytes(COUNT * PIECE - 1000, 51); // a short last piece
const metainfo = parseTorrent(torrentBytes({ name: 'run.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
/** Waits for `cond`, 5 s at most (the reader's reads go through the disk pool). */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}
const pieceOf = (i: number): Uint8Array => data.slice(i * PIECE, Math.min(data.length, (i + 1) * PIECE));

for (const inline of [false, true]) {
  test(`a run with a corrupt piece in the middle: the others stored and read, the bad one rejected alone and never read (${inline ? 'inline' : 'threads'})`, () =>
    withTempDir(async (dir) => {
      const pool = new DiskPool(inline ? { inline: true } : { threads: 2 });
      try {
        const store = await openStorage(metainfo, dir, { pool, writeMode: 'buffered', resumeDir: false });
        const t = new Torrent(metainfo, store, { peerEviction: false });
        t.downloadsHeld = true;
        const failed: number[] = [];
        const verified: number[] = [];
        t.on('hashFailed', (i) => failed.push(i));
        t.on('piece', (i) => verified.push(i));
        // A reader of the whole file, from before the run: what it is given, in order.
        const seen: Uint8Array[] = [];
        let seenBytes = 0;
        const reading = (async () => {
          for await (const chunk of t.read()) {
            seen.push(chunk.slice());
            seenBytes += chunk.length;
          }
        })();

        const bad = pieceOf(3);
        bad[100] = bad[100]! ^ 0x55;
        const run = [0, 1, 2, 3, 4, 5].map((i) => ({ index: i as PieceIndex, data: i === 3 ? bad : pieceOf(i) }));
        assert.deepEqual(await t.commitRun(run), [true, true, true, false, true, true]);
        assert.deepEqual(failed, [3]);
        assert.deepEqual(verified, [0, 1, 2, 4, 5]);
        assert.deepEqual([...store.bitfield], [0, 1, 2, 4, 5]);
        const s = t.stats();
        assert.equal(s.wasted, PIECE, 'the bad piece is wasted bytes');
        assert.equal(s.downloadedByKind.webseed, 6 * PIECE);
        // Alone (`commitWhole`), the same: counted as wasted though its buffer went to a thread.
        const again = pieceOf(3);
        again[0] = again[0]! ^ 1;
        assert.equal(await t.commitWhole(3 as PieceIndex, again), false);
        assert.equal(t.stats().wasted, 2 * PIECE);
        // The reader has the pieces before the hole and waits at it.
        await until(() => seenBytes >= 3 * PIECE);
        assert.equal(seenBytes, 3 * PIECE, 'the reader got pieces 0-2 and stops at the rejected one');
        assert.ok(Buffer.concat(seen).equals(Buffer.from(data.subarray(0, 3 * PIECE))));
        // Written: the good ones; the bad one's bytes never reached the file.
        const onDisk = readFileSync(join(dir, 'run.bin'));
        for (const i of [0, 1, 2, 4, 5]) assert.ok(onDisk.subarray(i * PIECE, (i + 1) * PIECE).equals(Buffer.from(pieceOf(i))), `piece ${i} on disk`);
        assert.ok(onDisk.subarray(3 * PIECE, 4 * PIECE).every((b) => b === 0), 'nothing of the bad piece written');

        // The piece again, whole, and the last one: the reader reads the file, byte-identical.
        assert.deepEqual(await t.commitRun([{ index: 3 as PieceIndex, data: pieceOf(3) }, { index: 6 as PieceIndex, data: pieceOf(6) }, { index: 0 as PieceIndex, data: pieceOf(0) }]), [true, true, false]);
        await t.done;
        await reading;
        assert.ok(Buffer.concat(seen).equals(Buffer.from(data)), 'the reader never saw the corrupt bytes');
        await t.close();
        assert.ok(readFileSync(join(dir, 'run.bin')).equals(Buffer.from(data)));
      } finally {
        await pool.close();
      }
    }));
}
