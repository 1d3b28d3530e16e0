import type { Bitfield, HashFile, Metainfo } from '../metainfo/index.js';
import type { DiskPool } from './disk-pool.js';
import type { FileOnDisk } from './layout.js';

/**
 * Bytes hashed per recheck job, as in `createTorrent`: big enough that a job's overhead is
 * noise, small enough that progress moves and each disk thread holds one such buffer.
 */
const JOB_BYTES = 4 * 1024 * 1024;

/**
 * Hashes `pieces` (ascending) from disk on the pool's threads and sets the ones that match in
 * `bitfield`. Consecutive pieces share a job; two jobs per thread stay queued so none idles.
 */
export async function recheckPieces(
  metainfo: Metainfo,
  files: readonly FileOnDisk[],
  pieces: readonly number[],
  bitfield: Bitfield,
  pool: DiskPool,
  onProgress?: (checkedBytes: number, totalBytes: number) => void,
): Promise<void> {
  const g = metainfo.geometry;
  const perJob = Math.max(1, Math.floor(JOB_BYTES / g.pieceLength));
  const jobs: { first: number; end: number }[] = [];
  for (let k = 0; k < pieces.length; ) {
    const first = pieces[k]!;
    let end = first + 1;
    k++;
    while (k < pieces.length && pieces[k] === end && end - first < perJob) {
      end++;
      k++;
    }
    jobs.push({ first, end });
  }
  const totalBytes = pieces.reduce((n, i) => n + g.pieceLengthOf(i), 0);
  let checkedBytes = 0;
  let next = 0;
  let failure: { err: unknown } | undefined;
  const run = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const { first, end } = jobs[next++]!;
      const from = first * g.pieceLength;
      const to = Math.min(end * g.pieceLength, g.totalLength);
      const jobFiles: HashFile[] = g.slices(from, to - from).map((s) => ({
        path: files[s.fileIndex]!.path,
        offset: g.fileOffsets[s.fileIndex]!,
        length: g.fileLengths[s.fileIndex]!,
      }));
      let hashes: Uint8Array;
      try {
        hashes = await pool.hashPieces({ files: jobFiles, pieceLength: g.pieceLength, totalLength: g.totalLength, first, end });
      } catch (err) {
        failure ??= { err }; // let the other jobs end before reporting it
        return;
      }
      for (let i = first; i < end; i++) {
        if (sameHash(hashes, (i - first) * 20, metainfo.pieceHashes, i * 20)) bitfield.set(i);
      }
      checkedBytes += to - from;
      onProgress?.(checkedBytes, totalBytes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs.length, pool.threads * 2) }, run));
  if (failure !== undefined) throw failure.err;
}

function sameHash(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let k = 0; k < 20; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}
