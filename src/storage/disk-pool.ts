import { availableParallelism } from 'node:os';
import { WorkerPool, type PiecesJob } from '../metainfo/index.js';
import { COMMIT_ERROR, COMMIT_WRITTEN, WRITE_MODES, type CommitError, type DiskFault, type DiskRequest, type DiskResponse, type DiskSlice, type DiskWorkerData, type WriteMode } from './disk-protocol.js';
import { StorageError } from './errors.js';
import { InlineDisk } from './inline-disk.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface DiskPoolOptions {
  /**
   * Disk worker threads. Default: one per core, at most 4. Each thread hashes and writes whole
   * pieces, so a few saturate a disk; libtorrent 2.0 runs 10 `aio_threads` because its jobs
   * are smaller (16 KiB blocks) and it serves thousands of torrents.
   */
  readonly threads?: number;
  /** Files each thread keeps open between jobs (LRU). Default 64: far under any fd limit. */
  readonly maxOpenFilesPerThread?: number;
  /**
   * No threads: hash on the event loop, read and write through libuv's pool (`inline-disk.ts`).
   * For a process with one storage and little else to do (`torrenttp get`); `threads` is then
   * ignored. Default false.
   */
  readonly inline?: boolean;
}

export const DEFAULT_DISK_THREADS = 4;
export const DEFAULT_MAX_OPEN_FILES_PER_THREAD = 64;
/** Stripes of the threads' per-file write locks: files that share a stripe take turns. */
const WRITE_LOCK_STRIPES = 64;
/**
 * Pieces in one `commits` message at most: the pieces handed over in one turn go in messages of
 * this many, each to the least busy thread, so that a long run still spreads over the threads.
 */
const COMMITS_PER_MESSAGE = 4;

/** A piece of `DiskPool.commitRun`: its bytes, its SHA-1 and where it goes. */
export interface RunPiece {
  readonly data: Uint8Array;
  readonly expected: Uint8Array;
  readonly slices: readonly DiskSlice[];
}

/** A run's piece answered: its buffer back, and written, or not (hash mismatch), or failed (`error`: nothing marked). */
export interface RunOutcome {
  readonly written: boolean;
  readonly data: Uint8Array;
  readonly error?: StorageError;
}

interface CommitJob extends RunPiece {
  readonly mode: WriteMode;
}

interface QueuedCommit extends CommitJob {
  readonly resolve: (r: { written: boolean; data: Uint8Array }) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Worker threads that do a storage's disk jobs: commit (SHA-1, then `pwrite` on a match), read,
 * `fdatasync`, recheck (`hashPiecesSync`). One pool can serve many storages (pass it as
 * `OpenStorageOptions.pool`); the storage then never closes it. Jobs go to the thread with the
 * fewest pending; an idle pool does not keep the process alive.
 */
export class DiskPool {
  /** Disk threads; 0 in inline mode. */
  readonly threads: number;
  private readonly pool: WorkerPool<DiskResponse> | undefined;
  private readonly inline: InlineDisk | undefined;
  private closed = false;
  /** Commits handed over in this turn of the event loop, posted together at its end (`postCommits`). */
  private queued: QueuedCommit[] = [];

  constructor(opts: DiskPoolOptions = {}) {
    const maxOpenFiles = Math.max(1, opts.maxOpenFilesPerThread ?? DEFAULT_MAX_OPEN_FILES_PER_THREAD);
    if (opts.inline === true) {
      this.inline = new InlineDisk(maxOpenFiles);
      this.threads = 0;
      return;
    }
    const workerData: DiskWorkerData = {
      maxOpenFiles,
      writeLocks: new Int32Array(new SharedArrayBuffer(WRITE_LOCK_STRIPES * 4)),
    };
    const locks = workerData.writeLocks;
    this.pool = new WorkerPool<DiskResponse>({
      url: new URL('./disk-worker.js', import.meta.url),
      // A thread that died holding a write lock (killed mid-write) must not block the others for ever.
      onLost: (threadId) => {
        for (let i = 0; i < locks.length; i++) if (Atomics.compareExchange(locks, i, threadId, 0) === threadId) Atomics.notify(locks, i);
      },
      threads: opts.threads ?? Math.min(DEFAULT_DISK_THREADS, availableParallelism()),
      workerData,
      failure: (why, cause) => {
        const c = cause === undefined ? {} : { cause };
        if (why === 'closed') return closedError();
        return new StorageError('STORAGE_IO', { detail: why === 'post' ? 'cannot hand the job to a disk thread' : 'disk thread failed', ...c });
      },
    });
    this.threads = this.pool.threads;
  }

  /**
   * Hash `data` and, when it equals `expected`, write it over `slices` the `mode` way (default
   * direct). `data`'s buffer moves to the worker (it must be a whole ArrayBuffer; it is moved at
   * the end of this turn of the event loop, with the other pieces committed in it) and comes back
   * in the result, written or not (`written` false: the hash did not match and nothing was written).
   */
  commit(data: Uint8Array, expected: Uint8Array, slices: readonly DiskSlice[], mode: WriteMode = 'direct'): Promise<{ written: boolean; data: Uint8Array }> {
    if (this.inline !== undefined) {
      if (this.closed) return Promise.reject(closedError());
      return this.inline.commit(data, expected, slices, mode);
    }
    // Checked now: nothing may throw in `postCommits`, which runs from a setImmediate.
    if (expected.length !== 20) return Promise.reject(new StorageError('STORAGE_BAD_LENGTH', { detail: `a piece hash is 20 bytes, got ${expected.length}` }));
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(this.postCommits);
      this.queued.push({ data, expected, slices, mode, resolve, reject });
    });
  }

  /**
   * A run of pieces in hand together (a stream's pieces of one turn), as `commit` does each, but
   * in ONE message to one thread and one answer: per piece, in order, its buffer back and its
   * verdict (`written`), or the disk error that failed it (`error`; the other pieces keep
   * theirs). The buffered writes of pieces that follow each other in a file are one `pwritev`
   * (gather.ts). Every `data` must span a whole ArrayBuffer: each moves to the thread now.
   */
  commitRun(pieces: readonly RunPiece[], mode: WriteMode = 'direct'): Promise<RunOutcome[]> {
    if (this.inline !== undefined) {
      if (this.closed) return Promise.reject(closedError());
      return this.inline.commitRun(pieces, mode);
    }
    for (const p of pieces) if (p.expected.length !== 20) return Promise.reject(new StorageError('STORAGE_BAD_LENGTH', { detail: `a piece hash is 20 bytes, got ${p.expected.length}` }));
    if (pieces.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => this.postCommitsOf(pieces.map((p) => ({ ...p, mode })), (res) => (res instanceof Error ? reject(res) : resolve(res))));
  }

  /** The turn's commits, in messages of at most `COMMITS_PER_MESSAGE` pieces, each answered once. */
  private readonly postCommits = (): void => {
    const all = this.queued;
    this.queued = [];
    for (let i = 0; i < all.length; i += COMMITS_PER_MESSAGE) {
      const q = all.length <= COMMITS_PER_MESSAGE ? all : all.slice(i, i + COMMITS_PER_MESSAGE);
      this.postCommitsOf(q, (res) => {
        for (let j = 0; j < q.length; j++) {
          const o = res instanceof Error ? res : res[j]!;
          if (o instanceof Error) q[j]!.reject(o);
          else if (o.error !== undefined) q[j]!.reject(o.error);
          else q[j]!.resolve({ written: o.written, data: o.data });
        }
      });
    }
  };

  /** One `commits` message; `done` gets each piece's outcome, in order, or the error that failed the message. */
  private postCommitsOf(q: readonly CommitJob[], done: (res: RunOutcome[] | Error) => void): void {
    const pieces: (Uint8Array | string | number)[] = [];
    const expected = new Uint8Array(20 * q.length);
    const transfer: ArrayBuffer[] = [];
    for (let j = 0; j < q.length; j++) {
      const c = q[j]!;
      expected.set(c.expected, 20 * j);
      pieces.push(c.data, WRITE_MODES.indexOf(c.mode), c.slices.length);
      for (const s of c.slices) pieces.push(s.path, s.fileOffset, s.length);
      transfer.push(c.data.buffer as ArrayBuffer);
    }
    this.submit({ type: 'commits', pieces, expected }, transfer).then(
      (res) => {
        if (res.type !== 'commits' || res.outcome.length !== q.length) return done(new StorageError('STORAGE_IO', { detail: `unexpected ${res.type} reply to commits` }));
        const out: RunOutcome[] = [];
        let e = 0;
        for (let j = 0; j < q.length; j++) {
          const o = res.outcome[j];
          out.push(o === COMMIT_ERROR ? { written: false, data: res.data[j]!, error: storageErrorOf(res.errors[e++]!) } : { written: o === COMMIT_WRITTEN, data: res.data[j]! });
        }
        done(out);
      },
      (err: unknown) => done(err instanceof Error ? err : new StorageError('STORAGE_IO', { detail: String(err) })),
    );
  }

  /**
   * The bytes of `slices`, in order, in one buffer: `into` when given (it must span a whole
   * ArrayBuffer of exactly their length; it moves to the thread and comes back as the result),
   * else a new one.
   */
  async read(slices: readonly DiskSlice[], into?: Uint8Array): Promise<Uint8Array> {
    if (this.inline !== undefined) return this.open(this.inline).read(slices, into);
    const res = await this.submit(into === undefined ? { type: 'read', slices } : { type: 'read', slices, into }, into === undefined ? [] : [into.buffer as ArrayBuffer]);
    if (res.type !== 'data') throw new StorageError('STORAGE_IO', { detail: `unexpected ${res.type} reply to a read` });
    return res.data;
  }

  /** SHA-1 of pieces read from disk (`hashPiecesSync`): 20 bytes per piece. */
  async hashPieces(job: PiecesJob): Promise<Uint8Array> {
    if (this.inline !== undefined) return this.open(this.inline).hashPieces(job);
    const res = await this.submit({ type: 'check', job }, []);
    if (res.type !== 'data') throw new StorageError('STORAGE_IO', { detail: `unexpected ${res.type} reply to a check` });
    return res.data;
  }

  /** `fdatasync` each file, so every write that completed before this call is on the disk. */
  async sync(paths: readonly string[]): Promise<void> {
    if (this.inline !== undefined) return this.open(this.inline).sync(paths);
    if (paths.length > 0) await this.submit({ type: 'sync', paths }, []);
  }

  /** Closes the fds the threads keep for these files. */
  async forget(paths: readonly string[]): Promise<void> {
    if (this.inline !== undefined) return this.closed ? undefined : this.inline.forget(paths);
    if (paths.length > 0 && !this.closed) await this.broadcast({ type: 'forget', paths });
  }

  /**
   * Tests only: make every later disk call of kind `fault.op`, on every thread, fail with
   * `fault.errno` (ENOSPC, EROFS…) until called with null. The only way to reach those errors
   * on a machine whose disk is neither full nor read-only, or as root.
   */
  async injectFaultForTesting(fault: DiskFault | null): Promise<void> {
    if (this.inline !== undefined) return this.inline.setFault(fault);
    await this.broadcast({ type: 'fault', fault });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inline?.close();
    await this.pool?.close();
  }

  /** The inline executor, or STORAGE_CLOSED as the threads answer once closed. */
  private open(inline: InlineDisk): InlineDisk {
    if (this.closed) throw closedError();
    return inline;
  }

  private async broadcast(req: WithoutId<DiskRequest>): Promise<void> {
    for (const res of await this.pool!.broadcast(req)) ok(res);
  }

  private async submit(req: WithoutId<DiskRequest>, transfer: ArrayBuffer[]): Promise<Exclude<DiskResponse, { type: 'error' }>> {
    return ok(await this.pool!.submit(req, transfer));
  }
}

function ok(res: DiskResponse): Exclude<DiskResponse, { type: 'error' }> {
  if (res.type === 'error') throw storageErrorOf(res);
  return res;
}

function storageErrorOf(e: CommitError): StorageError {
  return new StorageError(e.code, e.errno === undefined ? { detail: e.message } : { detail: e.message, errno: e.errno });
}

function closedError(): StorageError {
  return new StorageError('STORAGE_CLOSED', { detail: 'disk pool is closed' });
}
