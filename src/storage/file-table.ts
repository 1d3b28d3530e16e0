/**
 * The files a disk executor keeps open (a `DiskPool` thread, or the pool's inline mode on the
 * event loop): an LRU of fds, opened with `O_NOFOLLOW` so a symlink planted after the storage
 * opened its files is refused rather than followed (ELOOP), and the `O_DIRECT` fd for writes.
 * `O_NOFOLLOW` guards the last component only: a folder on the way swapped for a symlink since
 * the storage opened is followed by the open, so every fd opened is checked by its own path
 * (`checkOpened`). Test faults (`DiskFault`) are injected here, so both executors fail alike.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { openedElsewhere } from '../metainfo/hash-pieces.js'; // not the index: disk threads load this (see disk-worker.ts)
import type { DiskFault, DiskSlice } from './disk-protocol.js';
import { StorageError } from './errors.js';

export interface OpenFile {
  readonly fd: number;
  readonly writable: boolean;
  /**
   * The file of a writable fd, device and inode (0n for a read-only one): the `O_DIRECT` fd must
   * open the same. An inode number alone names a file on one file system only.
   */
  readonly dev: bigint;
  readonly ino: bigint;
  /** The `O_DIRECT` fd for writes: undefined until first wanted, null where the file system refuses it. */
  direct?: number | null;
  /**
   * I/O in flight on its fds (the inline executor's async reads and writes; a thread's calls are
   * synchronous and never hold one): while above 0 the fds are not closed, only marked `closing`
   * and closed by the last `release`. A closed fd's number is reused by the next open, so a write
   * still pending on it would land in another file.
   */
  busy: number;
  closing: boolean;
  /** `O_DIRECT` fds given up while busy (`dropDirect`): closed with the file. */
  retired?: number[];
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
export const DIRECT_ALIGN = 4096;
/** Slices whose aligned run is shorter than this are written buffered: not worth a second fd. */
export const DIRECT_MIN = 64 * 1024;
export const BOUNCE_BYTES = 1024 * 1024;
/** The one WebAssembly API used here (our TypeScript lib has no WebAssembly types). */
declare const WebAssembly: { Memory: new (desc: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } };

/** A page-aligned bounce buffer of `BOUNCE_BYTES` for `O_DIRECT` writes. */
export function newBounceBuffer(): Uint8Array {
  return new Uint8Array(new WebAssembly.Memory({ initial: BOUNCE_BYTES / 65536, maximum: BOUNCE_BYTES / 65536 }).buffer);
}

/** The aligned run `[start, end)` of a slice (file offsets): what goes through the direct fd. */
export function alignedRun(s: DiskSlice): { start: number; end: number } {
  return { start: Math.ceil(s.fileOffset / DIRECT_ALIGN) * DIRECT_ALIGN, end: Math.floor((s.fileOffset + s.length) / DIRECT_ALIGN) * DIRECT_ALIGN };
}

export class FileTable {
  /** Insertion order is recency order: a hit is deleted and re-set. */
  private readonly open = new Map<string, OpenFile>();
  fault: DiskFault | null = null;

  constructor(private readonly maxOpenFiles: number) {}

  inject(op: DiskFault['op']): void {
    const fault = this.fault;
    if (fault !== null && fault.op === op) {
      throw Object.assign(new Error(`${fault.errno} (injected for a test)`), { code: fault.errno });
    }
  }

  fileOf(path: string, writable: boolean): OpenFile {
    const hit = this.open.get(path);
    if (hit !== undefined && (hit.writable || !writable)) {
      this.open.delete(path);
      this.open.set(path, hit);
      return hit;
    }
    this.inject('open');
    // No O_CREAT: the storage created every file when it opened; one gone since is an error, not
    // something to recreate behind the storage's back.
    const fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW);
    let id: { readonly dev: bigint; readonly ino: bigint };
    try {
      checkOpened(fd, path);
      id = writable ? writableFile(fd, path) : { dev: 0n, ino: 0n };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const file: OpenFile = { fd, writable, dev: id.dev, ino: id.ino, busy: 0, closing: false };
    if (hit !== undefined) {
      this.open.delete(path);
      closeFile(hit);
    }
    this.open.set(path, file);
    if (this.open.size > this.maxOpenFiles) {
      for (const [p, f] of this.open) {
        if (this.open.size <= this.maxOpenFiles) break;
        this.open.delete(p);
        closeFile(f);
      }
    }
    return file;
  }

  fdOf(path: string, writable: boolean): number {
    return this.fileOf(path, writable).fd;
  }

  directFdOf(file: OpenFile, path: string): number | null {
    if (file.direct === undefined) {
      try {
        this.inject('direct');
        file.direct = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_DIRECT);
      } catch {
        file.direct = null; // EINVAL on file systems without it; anything worse shows on the buffered fd
      }
      // A second open by path: the path may name another file by now (swapped since the buffered fd
      // was opened, maybe on another file system, where the same inode number is another file).
      // Only the file the buffered fd checked, device and inode, is written.
      if (file.direct !== null) {
        const st = fstatSync(file.direct, { bigint: true });
        if (st.ino !== file.ino || st.dev !== file.dev) {
          closeSync(file.direct);
          file.direct = null;
          throw new StorageError('STORAGE_HARD_LINK', { detail: `${path} is another file than the one opened for writing: not written` });
        }
      }
    }
    return file.direct;
  }

  /** The file system refused `O_DIRECT` writes on `file` (EINVAL on the first): buffered from now on. */
  dropDirect(file: OpenFile): void {
    if (typeof file.direct === 'number') {
      if (file.busy > 0) (file.retired ??= []).push(file.direct);
      else closeSync(file.direct);
    }
    file.direct = null;
  }

  /** `fileOf`, held open until `release` (for I/O that outlives the call). */
  hold(path: string, writable: boolean): OpenFile {
    const file = this.fileOf(path, writable);
    file.busy++;
    return file;
  }

  release(file: OpenFile): void {
    if (--file.busy === 0 && file.closing) closeFile(file);
  }

  forget(paths: readonly string[]): void {
    for (const p of paths) {
      const file = this.open.get(p);
      if (file === undefined) continue;
      this.open.delete(p);
      closeFile(file);
    }
  }

  closeAll(): void {
    this.forget([...this.open.keys()]);
  }
}

/**
 * Refuses an fd that does not lead to exactly `path` (STORAGE_PATH_ESCAPE). The storage's paths
 * are real paths: its folder resolved (`resolveRoot`), every folder below it `lstat`ed and no
 * symlink (`ensureFolders`). An fd that resolves anywhere else came through a folder swapped
 * for a symlink since: its bytes are neither read (a seed would upload them: `serve`'s files
 * must never leave the served folder) nor written. Linux's `/proc/self/fd` says where an fd
 * leads; where there is none, nothing is checked. One `readlink` per open: fds stay open (LRU).
 * Also the check of every fd the storage opens by path while it opens (`layout.ts`, `links.ts`).
 */
export function checkOpened(fd: number, path: string): void {
  const opened = openedElsewhere(fd, path);
  if (opened !== undefined) {
    throw new StorageError('STORAGE_PATH_ESCAPE', { detail: `${path} led to ${opened} when opened (a folder on the way was swapped for a symlink): not used` });
  }
}

/**
 * The file behind `fd` (device and inode), which is about to be written: refused when it has other names
 * (hard links). The storage made every file it writes a file of one name when it opened
 * (links.ts); one with more now may be a foreign file swapped in under our name. Checked on the
 * fd, not the path, so nothing can swap it between the check and the writes.
 */
function writableFile(fd: number, path: string): { dev: bigint; ino: bigint } {
  const st = fstatSync(fd, { bigint: true });
  if (st.nlink > 1n) {
    throw new StorageError('STORAGE_HARD_LINK', { detail: `${path} has ${st.nlink} links since the torrent opened it: not written in place` });
  }
  return { dev: st.dev, ino: st.ino };
}

/** Closes `f`'s fds now, or (busy) once its last I/O is released. */
function closeFile(f: OpenFile): void {
  f.closing = true;
  if (f.busy > 0) return;
  try {
    closeSync(f.fd);
  } finally {
    try {
      if (typeof f.direct === 'number') closeSync(f.direct);
    } finally {
      for (const fd of f.retired ?? []) closeSync(fd);
    }
  }
}
