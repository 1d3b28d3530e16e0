/**
 * A disk worker of `DiskPool` (libtorrent's async disk jobs): every blocking disk call and every
 * SHA-1 of storage runs here, never on the event loop. A commit is one whole piece: hash it, and
 * only when it matches, `pwrite` its file slices; nothing is written for a mismatch. Files stay
 * open between jobs in a small LRU, opened with `O_NOFOLLOW` so a symlink planted after the
 * storage opened its files is refused rather than followed (ELOOP).
 */
import { hash } from 'node:crypto';
import { fdatasyncSync, readSync, writeSync, writevSync } from 'node:fs';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { hashPiecesSync } from '../metainfo/hash-pieces.js'; // not the index: every disk thread loads this, and the whole of metainfo doubles its start-up
import { COMMIT_ERROR, COMMIT_MISMATCH, COMMIT_WRITTEN, WRITE_MODES, type CommitError, type CommitPieces, type DiskFault, type DiskRequest, type DiskResponse, type DiskSlice, type DiskWorkerData } from './disk-protocol.js';
import { HASHER_PATH_ESCAPE, StorageError, storageCodeOfErrno, toStorageError } from './errors.js';
import { remaining, WriteGatherer, type GatheredWrite } from './gather.js';
import { alignedRun, BOUNCE_BYTES, DIRECT_MIN, FileTable, newBounceBuffer } from './file-table.js';

const { maxOpenFiles, writeLocks } = workerData as DiskWorkerData;

/**
 * One writer per file at a time. Two threads that `pwrite` the same file at once serialize in
 * the kernel anyway (ext4 holds the inode lock for a buffered write), and the one that waits
 * spins on that lock for CPU time the event loop needs; here it sleeps in a futex instead, and
 * hashing still runs on every thread in parallel.
 */
function stripeOf(path: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return (h >>> 0) % writeLocks.length;
}

/** The slot holds the holder's threadId, so the pool can free it if that thread dies holding it. */
function lock(stripe: number): void {
  for (;;) {
    const holder = Atomics.compareExchange(writeLocks, stripe, 0, threadId);
    if (holder === 0) return;
    Atomics.wait(writeLocks, stripe, holder);
  }
}

function unlock(stripe: number): void {
  Atomics.store(writeLocks, stripe, 0);
  Atomics.notify(writeLocks, stripe, 1);
}

const files = new FileTable(maxOpenFiles);
const inject = (op: DiskFault['op']): void => files.inject(op);
let bounce: Uint8Array | undefined;

/** Writes `data[at, at + length)` at `pos` through `fd`, all of it. */
function writeAll(fd: number, data: Uint8Array, at: number, length: number, pos: number): void {
  let done = 0;
  while (done < length) {
    inject('write');
    done += writeSync(fd, data, at + done, length - done, pos + done);
  }
}

/** The aligned run through the direct fd; false when the file system refused it (then nothing was written). */
function writeDirect(fd: number, data: Uint8Array, at: number, length: number, pos: number): boolean {
  bounce ??= newBounceBuffer();
  for (let done = 0; done < length; ) {
    const n = Math.min(BOUNCE_BYTES, length - done);
    bounce.set(data.subarray(at + done, at + done + n));
    try {
      writeAll(fd, bounce, 0, n, pos + done);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EINVAL' && done === 0) return false;
      throw err;
    }
    done += n;
  }
  return true;
}

/** Writes `data` over its `n` slices, flat in `pieces` from `k` (path, file offset, length each). */
function write(data: Uint8Array, pieces: CommitPieces, k: number, n: number, direct: boolean): void {
  let at = 0;
  for (let i = 0; i < n; i++, k += 3) {
    const s: DiskSlice = { path: pieces[k] as string, fileOffset: pieces[k + 1] as number, length: pieces[k + 2] as number };
    const file = files.fileOf(s.path, true);
    const stripe = stripeOf(s.path);
    lock(stripe);
    if (files.fault?.op === 'crash') process.exit(1); // a worker's exit ends only the thread
    try {
      const { start, end } = alignedRun(s);
      const fd = direct && end - start >= DIRECT_MIN ? files.directFdOf(file, s.path) : null;
      if (fd !== null && writeDirect(fd, data, at + start - s.fileOffset, end - start, start)) {
        writeAll(file.fd, data, at, start - s.fileOffset, s.fileOffset);
        writeAll(file.fd, data, at + end - s.fileOffset, s.fileOffset + s.length - end, end);
      } else {
        if (fd !== null) files.dropDirect(file);
        writeAll(file.fd, data, at, s.length, s.fileOffset);
      }
    } finally {
      unlock(stripe);
    }
    at += s.length;
  }
}

function read(slices: readonly DiskSlice[], into: Uint8Array | undefined): Uint8Array {
  const total = slices.reduce((n, s) => n + s.length, 0);
  if (into !== undefined && into.length !== total) throw new Error(`read into ${into.length} bytes, slices hold ${total}`);
  const out = into ?? new Uint8Array(total);
  let at = 0;
  for (const s of slices) {
    const fd = files.fdOf(s.path, false);
    let done = 0;
    while (done < s.length) {
      inject('read');
      const got = readSync(fd, out, at + done, s.length - done, s.fileOffset + done);
      if (got === 0) throw Object.assign(new Error(`${s.path} is shorter than the torrent says`), { code: 'EIO' });
      done += got;
    }
    at += s.length;
  }
  return out;
}

/** `digest` equals the 20 bytes of `expected` from `at`. */
function equal(digest: Uint8Array, expected: Uint8Array, at: number): boolean {
  if (digest.length !== 20 || expected.length < at + 20) return false;
  for (let i = 0; i < 20; i++) if (digest[i] !== expected[at + i]) return false;
  return true;
}

/**
 * A `commits` message: each piece hashed and judged on its own. The buffered writes of pieces
 * that follow each other in a file are gathered (`WriteGatherer`: one `pwritev` for up to 1 MiB),
 * so a failed write fails the pieces of that write only; a direct write is a piece's own.
 */
function commits(id: number, pieces: CommitPieces, expected: Uint8Array): { res: DiskResponse; transfer: ArrayBuffer[] } {
  const data: Uint8Array[] = [];
  const outcome: number[] = [];
  const failed: (CommitError | undefined)[] = [];
  const gather = new WriteGatherer((w) => {
    try {
      writeGathered(w);
    } catch (err) {
      const e = errorOf(err);
      for (const p of w.pieces) failed[p] ??= e;
    }
  });
  for (let k = 0, p = 0; k < pieces.length; p++) {
    const piece = pieces[k] as Uint8Array;
    const direct = WRITE_MODES[pieces[k + 1] as number] === 'direct';
    const n = pieces[k + 2] as number;
    data.push(piece);
    try {
      const digest = hash('sha1', piece, 'buffer'); // one shot: no Hash object per piece (inline-disk.ts)
      if (!equal(digest, expected, p * 20)) {
        outcome.push(COMMIT_MISMATCH);
        gather.flush();
      } else if (direct) {
        outcome.push(COMMIT_WRITTEN);
        gather.flush();
        write(piece, pieces, k + 3, n, true);
      } else {
        outcome.push(COMMIT_WRITTEN);
        for (let i = 0, at = 0, j = k + 3; i < n; i++, j += 3) {
          const length = pieces[j + 2] as number;
          gather.add(p, pieces[j] as string, pieces[j + 1] as number, piece.subarray(at, at + length));
          at += length;
        }
      }
    } catch (err) {
      failed[p] ??= errorOf(err);
    }
    k += 3 + 3 * n;
  }
  gather.flush();
  const errors: CommitError[] = [];
  for (let p = 0; p < outcome.length; p++) {
    const e = failed[p];
    if (e === undefined) continue;
    outcome[p] = COMMIT_ERROR;
    errors.push(e);
  }
  return { res: { id, type: 'commits', data, outcome, errors }, transfer: data.map((d) => d.buffer as ArrayBuffer) };
}

/** One gathered write, all of it, under its file's write lock. */
function writeGathered(w: GatheredWrite): void {
  const file = files.fileOf(w.path, true);
  const stripe = stripeOf(w.path);
  lock(stripe);
  if (files.fault?.op === 'crash') process.exit(1);
  try {
    let buffers = w.buffers;
    for (let done = 0; done < w.length; ) {
      inject('write');
      const n = buffers.length === 1 ? writeSync(file.fd, buffers[0]!, 0, buffers[0]!.length, w.fileOffset + done) : writevSync(file.fd, buffers, w.fileOffset + done);
      done += n;
      if (done < w.length) buffers = remaining(w.buffers, done);
    }
  } finally {
    unlock(stripe);
  }
}

function run(req: DiskRequest): { res: DiskResponse; transfer: ArrayBuffer[] } {
  const { id } = req;
  switch (req.type) {
    case 'commits':
      return commits(id, req.pieces, req.expected);
    case 'read': {
      const data = read(req.slices, req.into);
      return { res: { id, type: 'data', data }, transfer: [data.buffer as ArrayBuffer] };
    }
    case 'check': {
      const data = hashPiecesSync(req.job);
      return { res: { id, type: 'data', data }, transfer: [data.buffer as ArrayBuffer] };
    }
    case 'sync':
      for (const p of req.paths) {
        const fd = files.fdOf(p, false);
        inject('sync');
        fdatasyncSync(fd);
      }
      return { res: { id, type: 'done' }, transfer: [] };
    case 'forget':
      files.forget(req.paths);
      return { res: { id, type: 'done' }, transfer: [] };
    case 'fault':
      files.fault = req.fault;
      return { res: { id, type: 'done' }, transfer: [] };
  }
}

parentPort!.on('message', (req: DiskRequest) => {
  let out: { res: DiskResponse; transfer: ArrayBuffer[] };
  try {
    out = run(req);
  } catch (err) {
    out = { res: errorResponse(req.id, err), transfer: [] };
  }
  parentPort!.postMessage(out.res, out.transfer);
});

function errorResponse(id: number, err: unknown): DiskResponse {
  return { id, ...errorOf(err) };
}

function errorOf(err: unknown): CommitError & { readonly type: 'error' } {
  const e = err as { code?: unknown; message?: unknown };
  if (err instanceof StorageError || e.code === HASHER_PATH_ESCAPE) {
    const s = toStorageError(err);
    return { type: 'error', code: s.code, message: s.detail ?? s.message };
  }
  const errno = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : undefined;
  const message = String(e.message ?? err);
  const code = errno === undefined ? 'STORAGE_IO' : storageCodeOfErrno(errno);
  return errno === undefined ? { type: 'error', code, message } : { type: 'error', code, errno, message };
}
