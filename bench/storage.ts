/**
 * Commit throughput of `src/storage`: 1 GiB of 1 MiB pieces, as fast as they can go.
 *
 *   npm run bench:storage -- [--size-mib 1024] [--piece-kib 1024] [--threads N] [--window N]
 *
 * Makes the pieces from one random buffer (each piece stamped with its index, so every piece
 * differs and needs its own SHA-1), hashes them for the torrent before the clock starts, then
 * commits them in a shuffled order with `window` commits in flight, each a fresh buffer that is
 * transferred to a disk thread. Prints MB/s for the commits alone and with the final close
 * (fdatasync of the file plus the resume file), and peak RSS. The file lands under the OS temp
 * folder and is removed at the end.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encode } from '../src/bencode/index.js';
import { parseTorrent } from '../src/metainfo/index.js';
import { DiskPool, openStorage } from '../src/storage/index.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'piece-kib': { type: 'string', default: '1024' },
    threads: { type: 'string' },
    window: { type: 'string' },
  },
});
const pieceLength = Number(values['piece-kib']) * 1024;
const total = Number(values['size-mib']) * 1024 * 1024;
const pieceCount = Math.ceil(total / pieceLength);
const pool = new DiskPool(values.threads === undefined ? {} : { threads: Number(values.threads) });
const window = values.window === undefined ? pool.threads * 4 : Number(values.window);

const base = randomFillSync(new Uint8Array(pieceLength));
function piece(i: number): Uint8Array {
  const p = base.slice(0, i === pieceCount - 1 ? total - i * pieceLength : pieceLength);
  new DataView(p.buffer).setUint32(0, i);
  return p;
}

const hashes = new Uint8Array(pieceCount * 20);
for (let i = 0; i < pieceCount; i++) hashes.set(createHash('sha1').update(piece(i)).digest(), i * 20);
const metainfo = parseTorrent(encode({ info: { length: total, name: 'bench.bin', 'piece length': pieceLength, pieces: hashes } }));
const order = Array.from({ length: pieceCount }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j]!, order[i]!];
}

const dir = mkdtempSync(join(tmpdir(), 'torrenttp-bench-storage-'));
try {
  const store = await openStorage(metainfo, dir, { pool, resumeIntervalMs: 0, pieceCacheBytes: 0 });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < order.length) {
        const i = order[next++]!;
        if (!(await store.commitPiece(metainfo.geometry.pieceIndex(i), piece(i)))) throw new Error(`piece ${i} did not verify`);
      }
    }),
  );
  const t1 = performance.now();
  await store.close();
  const t2 = performance.now();
  if (!store.bitfield.complete) throw new Error('not every piece was marked');
  const mb = total / 1e6;
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(`storage commit: ${(total / 2 ** 20).toFixed(0)} MiB in ${pieceCount} pieces of ${pieceLength / 1024} KiB, ${pool.threads} disk threads, ${window} in flight`);
  console.log(`  commits only:        ${((t1 - t0) / 1000).toFixed(2)} s  ${(mb / ((t1 - t0) / 1000)).toFixed(0)} MB/s`);
  console.log(`  with close (fsync):  ${((t2 - t0) / 1000).toFixed(2)} s  ${(mb / ((t2 - t0) / 1000)).toFixed(0)} MB/s`);
  console.log(`  peak RSS:            ${rssMiB.toFixed(0)} MiB`);
} finally {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
}
