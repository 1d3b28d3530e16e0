import type { PiecesJob } from '../metainfo/index.js';
import type { StorageErrorCode } from './errors.js';

/** Messages between `DiskPool` and its disk workers. */

/** A run of a job's buffer that lives in one file: buffer bytes follow the slices in order. */
export interface DiskSlice {
  readonly path: string;
  readonly fileOffset: number;
  readonly length: number;
}

/**
 * How a commit's bytes reach its files. `direct`: `O_DIRECT`, from the piece buffer (through a
 * bounce buffer) to the device, past the page cache. `buffered`: `pwrite` into the page cache;
 * the kernel writes it back later (or the storage's next `fdatasync`). docs/storage.md has the
 * figures behind each user's default.
 */
export type WriteMode = 'direct' | 'buffered';

/** Which disk call a test-injected fault hits, and the `fs` error code it fails with. */
export interface DiskFault {
  /**
   * `direct`: opening a file with O_DIRECT fails, as on a file system without it. `crash`: the
   * thread exits in the middle of a write, holding its write lock (`errno` unused).
   */
  readonly op: 'open' | 'direct' | 'write' | 'read' | 'sync' | 'crash';
  readonly errno: string;
}

/**
 * The pieces of a `commits` message, flat: per piece its buffer (transferred), its write mode
 * (`WRITE_MODES` index), its slice count n, then n times a slice's path, file offset and length.
 * A dense array: the thread deserializes it in a fraction of the time the same jobs took as
 * nested objects (each a new map transition there: perf, docs/storage.md "Commit messages").
 */
export type CommitPieces = readonly (Uint8Array | string | number)[];
export const WRITE_MODES: readonly WriteMode[] = ['direct', 'buffered'];

/** A piece of a `commits` message that failed (its outcome `COMMIT_ERROR`). */
export interface CommitError {
  readonly code: StorageErrorCode;
  readonly errno?: string;
  readonly message: string;
}
/** `outcome` of a piece: written, hash mismatch (nothing written), or failed (the next of `errors`). */
export const COMMIT_WRITTEN = 1;
export const COMMIT_MISMATCH = 0;
export const COMMIT_ERROR = -1;

export type DiskRequest =
  /**
   * The pieces handed over in one turn of the event loop (`DiskPool.commit`), done in order, one
   * answer for all: one message each way instead of one per piece. Each piece is hashed; when its
   * SHA-1 equals its 20 bytes of `expected`, it is written over its slices; the buffered writes of
   * pieces that follow each other in a file are one `pwritev` (gather.ts), whose failure fails
   * those pieces. Every buffer is transferred. `DiskPool.commitRun` sends a run of pieces as one.
   */
  | { readonly id: number; readonly type: 'commits'; readonly pieces: CommitPieces; readonly expected: Uint8Array }
  /** Read `slices` into `into` (transferred in, whole, of their total length) or one new buffer; transferred back. */
  | { readonly id: number; readonly type: 'read'; readonly slices: readonly DiskSlice[]; readonly into?: Uint8Array }
  /** `fdatasync` each file. */
  | { readonly id: number; readonly type: 'sync'; readonly paths: readonly string[] }
  /** `hashPiecesSync`, for rechecks. */
  | { readonly id: number; readonly type: 'check'; readonly job: PiecesJob }
  /** Close the cached fds of these files (their storage closed). */
  | { readonly id: number; readonly type: 'forget'; readonly paths: readonly string[] }
  | { readonly id: number; readonly type: 'fault'; readonly fault: DiskFault | null };

export type DiskResponse =
  /** A read done (or a check's hashes): `data` transferred back. */
  | { readonly id: number; readonly type: 'data'; readonly data: Uint8Array }
  /**
   * A `commits` job: per piece, in order, its buffer (transferred back: for the read cache when
   * written, for reuse when not) and its outcome (`COMMIT_*`); one error per failed piece.
   */
  | { readonly id: number; readonly type: 'commits'; readonly data: readonly Uint8Array[]; readonly outcome: readonly number[]; readonly errors: readonly CommitError[] }
  | { readonly id: number; readonly type: 'done' }
  | ({ readonly id: number; readonly type: 'error' } & CommitError);

export interface DiskWorkerData {
  /** Most fds one worker keeps open; the least recently used one is closed beyond it. */
  readonly maxOpenFiles: number;
  /**
   * Write locks shared by the pool's threads (an Int32Array over a SharedArrayBuffer), one slot
   * per stripe of file paths: 0 free, else the `threadId` of the holder. See `disk-worker.ts`.
   */
  readonly writeLocks: Int32Array;
}
