/**
 * RC4 off the main thread: a small pool of threads (cipher-worker.ts) shared by every MSE link
 * of the process, each RC4 session living on one of them. A link's reads are copied into its
 * read ring and decrypted there in place, a flush's batches are gathered into its write ring and
 * encrypted there in place, while the main thread goes on with the wire protocol, the engine and
 * storage. The rings are SharedArrayBuffers: no bytes are copied into messages or transferred,
 * so the main thread allocates nothing per read or batch (new buffers per RC4 update, there,
 * had cost its garbage collector as much as a fifth of the transfer). One thread does a
 * session's jobs in the order they were posted, so each direction stays one RC4 stream. A
 * plaintext MSE session never comes here. An idle pool keeps no thread awake (WorkerPool refs a
 * thread only while it has jobs).
 */
import { availableParallelism } from 'node:os';
import { TorrenttpError } from '../errors/index.js';
import { WorkerPool } from '../metainfo/index.js';
import type { Rc4Position } from '../wire/index.js';
import type { CipherResponse } from './cipher-protocol.js';

/** One thread per core beyond the main thread's, at most 2: RC4 runs at some 850 MB/s a core, so two carry a few GB/s of links. */
export const DEFAULT_CIPHER_THREADS = Math.max(1, Math.min(2, availableParallelism() - 1));

/** Bytes of a ring, for its owner to view and hand over: `bytes` is `length` bytes at `at` of the ring, or of `spill`. */
export interface Region {
  readonly bytes: Uint8Array;
  readonly at: number;
  /** Set when the ring had no room: the region's own memory. */
  readonly spill?: SharedArrayBuffer;
}

/**
 * Shared memory handed out in regions freed in the order they were taken (first in, first out),
 * as a link's reads and writes are: a region is the next bytes after the last one, or the
 * ring's start once the end is reached. No room: a region of its own memory (`spill`), so a
 * burst past the flow-control bounds costs an allocation, never an error.
 */
export class ByteRing {
  readonly buffer: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  /** Regions taken and not freed, oldest first: [at, end). */
  private readonly taken: { at: number; end: number }[] = [];

  constructor(size: number) {
    this.buffer = new SharedArrayBuffer(size);
    this.bytes = new Uint8Array(this.buffer);
  }

  /** Regions taken and not yet freed, spills not counted. */
  get regions(): number {
    return this.taken.length;
  }

  take(n: number): Region {
    const at = this.place(n);
    if (at < 0) {
      const spill = new SharedArrayBuffer(n);
      return { bytes: new Uint8Array(spill), at: 0, spill };
    }
    this.taken.push({ at, end: at + n });
    return { bytes: this.bytes.subarray(at, at + n), at };
  }

  /** The last region taken, cut to its first `n` bytes (a batch that was not filled). */
  trim(r: Region, n: number): Region {
    if (r.spill !== undefined) return { ...r, bytes: r.bytes.subarray(0, n) };
    const last = this.taken[this.taken.length - 1];
    if (last !== undefined && last.at === r.at) last.end = r.at + n;
    return { bytes: r.bytes.subarray(0, n), at: r.at };
  }

  /** Frees the oldest region (`r` must be it; spills free themselves). */
  free(r: Region): void {
    if (r.spill !== undefined) return;
    if (this.taken[0]?.at !== r.at) throw new Error(`ByteRing: region at ${r.at} freed out of order`);
    this.taken.shift();
  }

  private place(n: number): number {
    const size = this.bytes.length;
    if (n > size) return -1;
    const first = this.taken[0];
    const last = this.taken[this.taken.length - 1];
    if (first === undefined || last === undefined) return 0;
    if (last.end > first.at) {
      // Not wrapped: free are [last.end, size) and [0, first.at).
      if (size - last.end >= n) return last.end;
      if (first.at >= n) return 0;
      return -1;
    }
    // Wrapped (the newest regions start again at 0): free is [last.end, first.at).
    return first.at - last.end >= n ? last.end : -1;
  }
}

export class CipherPool {
  private readonly pool: WorkerPool<CipherResponse>;
  private readonly load: number[];
  private nextSession = 1;
  private openSessions = 0;

  constructor(threads = DEFAULT_CIPHER_THREADS) {
    this.pool = new WorkerPool<CipherResponse>({
      url: new URL('./cipher-worker.js', import.meta.url),
      threads,
      failure: (why, cause) =>
        new TorrenttpError('INTERNAL', { detail: why === 'closed' ? 'cipher pool is closed' : why === 'post' ? 'cannot hand a job to a cipher thread' : 'cipher thread failed', ...(cause === undefined ? {} : { cause }) }),
    });
    this.load = new Array<number>(this.pool.threads).fill(0);
  }

  /** RC4 sessions open now (freed by `CipherSession.close`). */
  get sessions(): number {
    return this.openSessions;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** A session on the thread with the fewest, both ciphers started where `positions` say, with rings of these sizes. */
  open(positions: { encrypt: Rc4Position; decrypt: Rc4Position }, readRingBytes: number, writeRingBytes: number): CipherSession {
    let thread = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[thread]!) thread = i;
    this.load[thread]!++;
    this.openSessions++;
    const session = this.nextSession++;
    const readRing = new ByteRing(readRingBytes);
    const writeRing = new ByteRing(writeRingBytes);
    // Failures show in the session's first job (the thread answers it with an error).
    this.pool.submitTo(thread, { type: 'open', session, ...positions, readRing: readRing.buffer, writeRing: writeRing.buffer }).catch(() => {});
    return new CipherSession(this.pool, thread, session, readRing, writeRing, () => {
      this.load[thread]!--;
      this.openSessions--;
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export class CipherSession {
  private closed = false;

  constructor(
    private readonly pool: WorkerPool<CipherResponse>,
    private readonly thread: number,
    private readonly session: number,
    /** The peer's reads, copied in, decrypted in place. */
    readonly readRing: ByteRing,
    /** A flush's batches, gathered in, encrypted in place. */
    readonly writeRing: ByteRing,
    private readonly onClose: () => void,
  ) {}

  /** Encrypts regions of `writeRing` (or spills) in place, in order, after every job posted before. */
  encrypt(rs: readonly Region[]): Promise<void> {
    return this.run('encrypt', rs);
  }

  /** Decrypts regions of `readRing` (or spills) in place, in order, after every job posted before. */
  decrypt(rs: readonly Region[]): Promise<void> {
    return this.run('decrypt', rs);
  }

  /** Frees the session on its thread; jobs still there are done and ignored by the caller. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.pool.submitTo(this.thread, { type: 'close', session: this.session }).catch(() => {});
  }

  private async run(type: 'encrypt' | 'decrypt', rs: readonly Region[]): Promise<void> {
    const at = rs.map((r) => r.at);
    const length = rs.map((r) => r.bytes.length);
    const job = rs.some((r) => r.spill !== undefined) ? { type, session: this.session, at, length, spill: rs.map((r) => r.spill) } : { type, session: this.session, at, length };
    const res = await this.pool.submitTo(this.thread, job);
    if (res.type !== 'done') throw new TorrenttpError('INTERNAL', { detail: `cipher thread: ${res.message}` });
  }
}

let shared: CipherPool | undefined;

/** The process's one cipher pool, started with the first RC4 link. */
export function cipherPool(): CipherPool {
  shared ??= new CipherPool();
  return shared;
}
