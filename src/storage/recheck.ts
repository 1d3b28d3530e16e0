import { createHash } from 'node:crypto';
import type { Bitfield, HashFile, Metainfo, PieceIndex } from '../metainfo/index.js';
import type { DiskPool } from './disk-pool.js';
import { StorageError } from './errors.js';
import { relativePaths, type FileOnDisk } from './layout.js';

/**
 * Bytes hashed per recheck job, as in `createTorrent`: big enough that a job's overhead is
 * noise, small enough that progress moves and each disk thread holds one such buffer.
 */
const JOB_BYTES = 4 * 1024 * 1024;

/**
 * Hashes `pieces` (ascending) from disk on the pool's threads and sets the ones that match in
 * `bitfield`. Consecutive pieces share a job; two jobs per thread stay queued so none idles.
 *
 * Resolves to the pieces that failed and are not all zeros, ascending: damaged data rather than
 * data never written. We write only verified pieces, into files allocated sparse, so a piece we
 * have not downloaded reads as zeros (and so does one another client preallocated); anything
 * else that fails its hash is a corrupt piece the user should hear about (issue 13: a seed with
 * one bad piece sat at 99.9 % and said nothing). An all-zero piece is known by its hash, the
 * SHA-1 of that many zero bytes, so the check costs nothing more per piece.
 */
export async function recheckPieces(
  metainfo: Metainfo,
  files: readonly FileOnDisk[],
  pieces: readonly number[],
  bitfield: Bitfield,
  pool: DiskPool,
  onProgress?: (checkedBytes: number, totalBytes: number) => void,
): Promise<number[]> {
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
  const corrupt: number[] = [];
  const run = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const { first, end } = jobs[next++]!;
      const from = first * g.pieceLength;
      const to = Math.min(end * g.pieceLength, g.totalLength);
      const jobFiles: HashFile[] = g.slices(from, to - from).map((s) => ({
        path: files[s.fileIndex]!.path,
        offset: g.fileOffsets[s.fileIndex]!,
        length: g.fileLengths[s.fileIndex]!,
        // A real path (storage's root resolved, each folder below `lstat`ed): a folder swapped for a
        // symlink since is not followed, so no outside bytes are hashed and declared verified.
        exact: true,
      }));
      let hashes: Uint8Array;
      try {
        hashes = await pool.hashPieces({ files: jobFiles, pieceLength: g.pieceLength, totalLength: g.totalLength, first, end });
      } catch (err) {
        failure ??= { err }; // let the other jobs end before reporting it
        return;
      }
      for (let i = first; i < end; i++) {
        const at = (i - first) * 20;
        if (sameHash(hashes, at, metainfo.pieceHashes, i * 20)) bitfield.set(i);
        else if (!sameHash(hashes, at, zeroHash(g.pieceLengthOf(i)), 0)) corrupt.push(i);
      }
      checkedBytes += to - from;
      onProgress?.(checkedBytes, totalBytes);
    }
  };
  // An inline pool (0 threads) hashes one job at a time, on the event loop.
  await Promise.all(Array.from({ length: Math.min(jobs.length, pool.threads === 0 ? 1 : pool.threads * 2) }, run));
  if (failure !== undefined) throw failure.err;
  return corrupt.sort((a, b) => a - b);
}

const zeroHashes = new Map<number, Uint8Array>();

/**
 * SHA-1 of `length` zero bytes, once per length (a torrent has at most two piece lengths). On the
 * event loop, but once per process and length, and only after some piece failed: a few ms.
 */
function zeroHash(length: number): Uint8Array {
  let h = zeroHashes.get(length);
  if (h === undefined) {
    h = new Uint8Array(createHash('sha1').update(new Uint8Array(length)).digest());
    zeroHashes.set(length, h);
  }
  return h;
}

function sameHash(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let k = 0; k < 20; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}

/** At most this many piece ranges and files are named in a corrupt-pieces report; the rest are counted. */
const REPORT_ITEMS = 12;

/**
 * The warning for `pieces` (ascending) that failed verification on disk: which pieces (as
 * ranges), and which files hold them, by their path in the torrent.
 */
export function corruptPiecesError(metainfo: Metainfo, pieces: readonly number[]): StorageError {
  const ranges: string[] = [];
  for (let k = 0; k < pieces.length; ) {
    const first = pieces[k]!;
    let last = first;
    while (k + 1 < pieces.length && pieces[k + 1] === last + 1) last = pieces[++k]!;
    k++;
    ranges.push(first === last ? `${first}` : `${first}-${last}`);
  }
  const paths = relativePaths(metainfo);
  const files = new Set<string>();
  for (const i of pieces) for (const s of metainfo.geometry.pieceSlices(i as PieceIndex)) files.add(paths[s.fileIndex]!.join('/'));
  const list = (items: readonly string[], unit: string): string =>
    items.length <= REPORT_ITEMS ? items.join(', ') : `${items.slice(0, REPORT_ITEMS).join(', ')} and ${items.length - REPORT_ITEMS} more ${unit}`;
  const what = pieces.length === 1 ? `piece ${pieces[0]}` : `${pieces.length} pieces: ${list(ranges, 'ranges')}`;
  return new StorageError('STORAGE_PIECE_CORRUPT', { detail: `${what}, in ${list([...files], 'files')}` });
}
