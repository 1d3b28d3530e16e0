/**
 * Child process of crash.test.ts: downloads the crash torrent into argv[2] until it is killed.
 * Prints each piece index once commitPiece resolved true. Before that it scribbles garbage over
 * one piece on disk, as a half-written piece would look after a crash.
 */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStorage } from '../../src/storage/index.js';
import { CRASH_GARBAGE_PIECE, crashTorrent } from './crash-torrent.js';
import { pieceIndex, shuffled } from './helpers.js';

const dir = process.argv[2]!;
const seed = Number(process.argv[3]);
const t = crashTorrent();
const g = t.metainfo.geometry;
const store = await openStorage(t.metainfo, dir, { resumeIntervalMs: 15 });
const [slice] = g.pieceSlices(pieceIndex(t, CRASH_GARBAGE_PIECE));
const fh = await open(t.pathOf(dir, slice!.fileIndex), 'r+');
await fh.write(new Uint8Array(slice!.length).fill(0x5a), 0, slice!.length, slice!.fileOffset);
await fh.close();
for (const i of shuffled(g.pieceCount, seed)) {
  if (i === CRASH_GARBAGE_PIECE) continue;
  const bad = t.piece(i);
  bad[0] = bad[0]! ^ 0xff;
  if (await store.commitPiece(pieceIndex(t, i), bad)) throw new Error('a corrupt piece was accepted');
  if (await store.commitPiece(pieceIndex(t, i), t.piece(i))) process.stdout.write(`${i}\n`);
  await sleep(1);
}
process.stdout.write('done\n');
await sleep(60_000); // the parent kills us before this ends
