/**
 * A disk worker of `DiskPool` (libtorrent's async disk jobs): every blocking disk call and every
 * SHA-1 of storage runs here, never on the event loop. A commit is one whole piece: hash it, and
 * only when it matches, `pwrite` its file slices; nothing is written for a mismatch. Files stay
 * open between jobs in a small LRU, opened with `O_NOFOLLOW` so a symlink planted after the
 * storage opened its files is refused rather than followed (ELOOP).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { hashPiecesSync } from '../metainfo/index.js';
import type { DiskFault, DiskRequest, DiskResponse, DiskSlice, DiskWorkerData } from './disk-protocol.js';
import { storageCodeOfErrno } from './errors.js';

const { maxOpenFiles } = workerData as DiskWorkerData;

interface OpenFile {
  readonly fd: number;
  readonly writable: boolean;
}

/** Insertion order is recency order: a hit is deleted and re-set. */
const open = new Map<string, OpenFile>();
let fault: DiskFault | null = null;

function inject(op: DiskFault['op']): void {
  if (fault !== null && fault.op === op) {
    throw Object.assign(new Error(`${fault.errno} (injected for a test)`), { code: fault.errno });
  }
}

function fdOf(path: string, writable: boolean): number {
  const hit = open.get(path);
  if (hit !== undefined && (hit.writable || !writable)) {
    open.delete(path);
    open.set(path, hit);
    return hit.fd;
  }
  inject('open');
  // No O_CREAT: the storage created every file when it opened; one gone since is an error, not
  // something to recreate behind the storage's back.
  const fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW);
  if (hit !== undefined) {
    open.delete(path);
    closeSync(hit.fd);
  }
  open.set(path, { fd, writable });
  while (open.size > maxOpenFiles) {
    const [oldest, file] = open.entries().next().value as [string, OpenFile];
    open.delete(oldest);
    closeSync(file.fd);
  }
  return fd;
}

function forget(paths: readonly string[]): void {
  for (const p of paths) {
    const file = open.get(p);
    if (file === undefined) continue;
    open.delete(p);
    closeSync(file.fd);
  }
}

function write(data: Uint8Array, slices: readonly DiskSlice[]): void {
  let at = 0;
  for (const s of slices) {
    const fd = fdOf(s.path, true);
    let done = 0;
    while (done < s.length) {
      inject('write');
      done += writeSync(fd, data, at + done, s.length - done, s.fileOffset + done);
    }
    at += s.length;
  }
}

function read(slices: readonly DiskSlice[]): Uint8Array {
  const out = new Uint8Array(slices.reduce((n, s) => n + s.length, 0));
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
      if (!equal(digest, req.expected)) return { res: { id, type: 'mismatch' }, transfer: [] };
      write(req.data, req.slices);
      return { res: { id, type: 'data', data: req.data }, transfer: [req.data.buffer as ArrayBuffer] };
    }
    case 'read': {
      const data = read(req.slices);
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
    const e = err as { code?: unknown; message?: unknown };
    const errno = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : undefined;
    const message = String(e.message ?? err);
    const code = errno === undefined ? 'STORAGE_IO' : storageCodeOfErrno(errno);
    out = { res: errno === undefined ? { id: req.id, type: 'error', code, message } : { id: req.id, type: 'error', code, errno, message }, transfer: [] };
  }
  parentPort!.postMessage(out.res, out.transfer);
});
