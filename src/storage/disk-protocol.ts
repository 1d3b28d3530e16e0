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

export type DiskRequest =
  /** Hash `data`; when it equals `expected`, write it over `slices` the `mode` way. `data` is transferred. */
  | { readonly id: number; readonly type: 'commit'; readonly data: Uint8Array; readonly expected: Uint8Array; readonly slices: readonly DiskSlice[]; readonly mode: WriteMode }
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
  /** Commit written (`data` is the piece, transferred back for the read cache) or read done. */
  | { readonly id: number; readonly type: 'data'; readonly data: Uint8Array }
  /** Commit not written: the hash did not match. `data` is the piece's buffer, transferred back for reuse. */
  | { readonly id: number; readonly type: 'mismatch'; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'done' }
  | { readonly id: number; readonly type: 'error'; readonly code: StorageErrorCode; readonly errno?: string; readonly message: string };

export interface DiskWorkerData {
  /** Most fds one worker keeps open; the least recently used one is closed beyond it. */
  readonly maxOpenFiles: number;
  /**
   * Write locks shared by the pool's threads (an Int32Array over a SharedArrayBuffer), one slot
   * per stripe of file paths: 0 free, else the `threadId` of the holder. See `disk-worker.ts`.
   */
  readonly writeLocks: Int32Array;
}
