/**
 * A disk worker of `DiskPool` (libtorrent's async disk jobs): every blocking disk call and every
 * SHA-1 of storage runs here, never on the event loop. A commit is one whole piece: hash it, and
 * only when it matches, `pwrite` its file slices; nothing is written for a mismatch. Files stay
 * open between jobs in a small LRU, opened with `O_NOFOLLOW` so a symlink planted after the
 * storage opened its files is refused rather than followed (ELOOP).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { hashPiecesSync } from '../metainfo/hash-pieces.js'; // not the index: every disk thread loads this, and the whole of metainfo doubles its start-up
import type { DiskFault, DiskRequest, DiskResponse, DiskSlice, DiskWorkerData, WriteMode } from './disk-protocol.js';
import { StorageError, storageCodeOfErrno } from './errors.js';

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

interface OpenFile {
  readonly fd: number;
  readonly writable: boolean;
  /** The inode of a writable fd (0n for a read-only one): the `O_DIRECT` fd must open the same. */
  readonly ino: bigint;
  /** The `O_DIRECT` fd for writes: undefined until first wanted, null where the file system refuses it. */
  direct?: number | null;
}

/** Insertion order is recency order: a hit is deleted and re-set. */
const open = new Map<string, OpenFile>();
let fault: DiskFault | null = null;

function inject(op: DiskFault['op']): void {
  if (fault !== null && fault.op === op) {
    throw Object.assign(new Error(`${fault.errno} (injected for a test)`), { code: fault.errno });
  }
}

function fileOf(path: string, writable: boolean): OpenFile {
  const hit = open.get(path);
  if (hit !== undefined && (hit.writable || !writable)) {
    open.delete(path);
    open.set(path, hit);
    return hit;
  }
  inject('open');
  // No O_CREAT: the storage created every file when it opened; one gone since is an error, not
  // something to recreate behind the storage's back.
  const fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW);
  let ino: bigint;
  try {
    ino = writable ? writableInode(fd, path) : 0n;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const file: OpenFile = { fd, writable, ino };
  if (hit !== undefined) {
    open.delete(path);
    closeFile(hit);
  }
  open.set(path, file);
  while (open.size > maxOpenFiles) {
    const [oldest, f] = open.entries().next().value as [string, OpenFile];
    open.delete(oldest);
    closeFile(f);
  }
  return file;
}

/**
 * The inode behind `fd`, which is about to be written: refused when the file has other names
 * (hard links). The storage made every file it writes a file of one name when it opened
 * (links.ts); one with more now may be a foreign file swapped in under our name. Checked on the
 * fd, not the path, so nothing can swap it between the check and the writes.
 */
function writableInode(fd: number, path: string): bigint {
  const st = fstatSync(fd, { bigint: true });
  if (st.nlink > 1n) {
    throw new StorageError('STORAGE_HARD_LINK', { detail: `${path} has ${st.nlink} links since the torrent opened it: not written in place` });
  }
  return st.ino;
}

function fdOf(path: string, writable: boolean): number {
  return fileOf(path, writable).fd;
}

function closeFile(f: OpenFile): void {
  try {
    closeSync(f.fd);
  } finally {
    if (typeof f.direct === 'number') closeSync(f.direct);
  }
}

function forget(paths: readonly string[]): void {
  for (const p of paths) {
    const file = open.get(p);
    if (file === undefined) continue;
    open.delete(p);
    closeFile(file);
  }
}

/**
 * Direct writes (`O_DIRECT`): a downloaded piece goes from our buffer to the device, not into
 * the page cache. Written data is not read again soon (uploads are served from the piece cache),
 * and filling the page cache is what a buffered write costs most where free memory is cold: on a
 * VM whose host reclaims free pages, first-touching each 4 KiB page cache page made a buffered
 * 1 GiB write take 0.8–2.4 s against 0.35 s direct. `O_DIRECT` wants the file offset, length and
 * memory address aligned to the device's block size; our piece buffers come from the JS heap
 * (16-byte aligned), so the aligned run of each slice is copied through a page-aligned bounce
 * buffer (WebAssembly memory is page-aligned), 1 MiB at a time, and the unaligned head and tail
 * of the slice are written buffered. File systems without `O_DIRECT` (tmpfs) are written buffered,
 * and so is every commit whose `WriteMode` is 'buffered' (pieces read back at once: the proxy's).
 */
const DIRECT_ALIGN = 4096;
/** The one WebAssembly API used here (our TypeScript lib has no WebAssembly types). */
declare const WebAssembly: { Memory: new (desc: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } };
/** Slices whose aligned run is shorter than this are written buffered: not worth a second fd. */
const DIRECT_MIN = 64 * 1024;
const BOUNCE_BYTES = 1024 * 1024;
let bounce: Uint8Array | undefined;

function directFdOf(file: OpenFile, path: string): number | null {
  if (file.direct === undefined) {
    try {
      inject('direct');
      file.direct = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_DIRECT);
    } catch {
      file.direct = null; // EINVAL on file systems without it; anything worse shows on the buffered fd
    }
    // A second open by path: the path may name another file by now (swapped since the buffered fd
    // was opened). Only the inode the buffered fd checked is written.
    if (file.direct !== null && fstatSync(file.direct, { bigint: true }).ino !== file.ino) {
      closeSync(file.direct);
      file.direct = null;
      throw new StorageError('STORAGE_HARD_LINK', { detail: `${path} is another file than the one opened for writing: not written` });
    }
  }
  return file.direct;
}

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
  bounce ??= new Uint8Array(new WebAssembly.Memory({ initial: BOUNCE_BYTES / 65536, maximum: BOUNCE_BYTES / 65536 }).buffer);
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

function write(data: Uint8Array, slices: readonly DiskSlice[], mode: WriteMode): void {
  let at = 0;
  for (const s of slices) {
    const file = fileOf(s.path, true);
    const stripe = stripeOf(s.path);
    lock(stripe);
    if (fault?.op === 'crash') process.exit(1); // a worker's exit ends only the thread
    try {
      const start = Math.ceil(s.fileOffset / DIRECT_ALIGN) * DIRECT_ALIGN;
      const end = Math.floor((s.fileOffset + s.length) / DIRECT_ALIGN) * DIRECT_ALIGN;
      const direct = mode === 'direct' && end - start >= DIRECT_MIN ? directFdOf(file, s.path) : null;
      if (direct !== null && writeDirect(direct, data, at + start - s.fileOffset, end - start, start)) {
        writeAll(file.fd, data, at, start - s.fileOffset, s.fileOffset);
        writeAll(file.fd, data, at + end - s.fileOffset, s.fileOffset + s.length - end, end);
      } else {
        if (direct !== null) {
          closeSync(direct);
          file.direct = null;
        }
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
    const fd = fdOf(s.path, false);
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

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function run(req: DiskRequest): { res: DiskResponse; transfer: ArrayBuffer[] } {
  const { id } = req;
  switch (req.type) {
    case 'commit': {
      const digest = createHash('sha1').update(req.data).digest();
      if (!equal(digest, req.expected)) return { res: { id, type: 'mismatch', data: req.data }, transfer: [req.data.buffer as ArrayBuffer] };
      write(req.data, req.slices, req.mode);
      return { res: { id, type: 'data', data: req.data }, transfer: [req.data.buffer as ArrayBuffer] };
    }
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
        const fd = fdOf(p, false);
        inject('sync');
        fdatasyncSync(fd);
      }
      return { res: { id, type: 'done' }, transfer: [] };
    case 'forget':
      forget(req.paths);
      return { res: { id, type: 'done' }, transfer: [] };
    case 'fault':
      fault = req.fault;
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
  if (err instanceof StorageError) return { id, type: 'error', code: err.code, message: err.detail ?? err.message };
  const e = err as { code?: unknown; message?: unknown };
  const errno = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : undefined;
  const message = String(e.message ?? err);
  const code = errno === undefined ? 'STORAGE_IO' : storageCodeOfErrno(errno);
  return errno === undefined ? { id, type: 'error', code, message } : { id, type: 'error', code, errno, message };
}
