import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import type { HashFile } from './hash-protocol.js';

/**
 * SHA-1 of whole pieces read straight from the files, synchronously: the body of a hash
 * worker's `pieces` job, shared by `HashPool` (create) and storage's disk workers (recheck), so
 * the piece-reading code exists once. Call it on a worker thread, never on the event loop.
 */
export interface PiecesJob {
  /** The files overlapping the pieces, ascending by offset; empty files may be left out. */
  readonly files: readonly HashFile[];
  readonly pieceLength: number;
  readonly totalLength: number;
  /** Pieces `[first, end)`. */
  readonly first: number;
  readonly end: number;
}

/**
 * Where an open descriptor leads when that is not `path`, the real path (no symlink on it) that
 * was meant to be opened; undefined when it leads to exactly `path`, or where the kernel cannot
 * say (Linux's `/proc/self/fd`; no /proc). Opening by path follows a folder on the way that was
 * swapped for a symlink (`O_NOFOLLOW` guards the last component only): this is how such a swap is
 * seen, on the descriptor itself, after the open. Used by the hashers here, storage's file table
 * and its open (`checkOpened`), and the web server's static files. One `readlink` of procfs,
 * synchronous: it never waits on a disk, and costs less than a hop to libuv's thread pool.
 */
export function openedElsewhere(fd: number, path: string): string | undefined {
  let opened: string;
  try {
    opened = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  return opened === path ? undefined : opened;
}

/**
 * Opens `path` for reading; with `exact` (a real path: no symlink anywhere on it), the file opened
 * must be the one at exactly that path, else an error coded `CREATE_PATH_ESCAPE` (a folder on the
 * way was swapped for a symlink since the path was resolved: its bytes are not read).
 */
export function openForHashing(path: string, exact: boolean | undefined): number {
  const fd = openSync(path, 'r');
  if (exact === true) {
    const opened = openedElsewhere(fd, path);
    if (opened !== undefined) {
      closeSync(fd);
      throw Object.assign(new Error(`${path} led to ${opened} when opened`), { code: 'CREATE_PATH_ESCAPE', detail: `${path} led elsewhere when opened (a folder on the way swapped for a symlink): not read` });
    }
  }
  return fd;
}

// Positional reads go into one reusable buffer, so memory stays flat whatever the file size.
let scratch = new Uint8Array(0);

/**
 * 20 bytes per piece in `[first, end)`. Throws the `fs` error (with its `code`) when a file
 * cannot be read, `CREATE_PATH_ESCAPE` for an `exact` file that led elsewhere, and an error coded `CREATE_CHANGED` when a file is shorter than listed or,
 * for files given an `mtimeMs`, changed size or mtime while it was read.
 */
export function hashPiecesSync(job: PiecesJob): Uint8Array {
  const { files, pieceLength, totalLength, first, end } = job;
  const startOffset = first * pieceLength;
  const endOffset = Math.min(end * pieceLength, totalLength);
  const need = endOffset - startOffset;
  if (scratch.length < need) scratch = new Uint8Array(need);
  const fds = new Map<number, number>();
  try {
    // Fill the scratch buffer from every file that overlaps [startOffset, endOffset).
    let f = 0;
    while (f < files.length && files[f]!.offset + files[f]!.length <= startOffset) f++;
    let pos = startOffset;
    for (; pos < endOffset && f < files.length; f++) {
      const file = files[f]!;
      if (file.length === 0) continue;
      const from = pos - file.offset;
      const n = Math.min(endOffset, file.offset + file.length) - pos;
      let fd = fds.get(f);
      if (fd === undefined) {
        fd = openForHashing(file.path, file.exact);
        fds.set(f, fd);
      }
      let done = 0;
      while (done < n) {
        const got = readSync(fd, scratch, pos - startOffset + done, n - done, from + done);
        if (got === 0) throw Object.assign(new Error(`${file.path} is shorter than expected`), { code: 'CREATE_CHANGED', detail: `${file.path} got shorter` });
        done += got;
      }
      if (file.mtimeMs !== undefined) {
        const st = fstatSync(fd);
        if (st.size !== file.length || st.mtimeMs !== file.mtimeMs) {
          throw Object.assign(new Error(`${file.path} changed while it was being hashed`), { code: 'CREATE_CHANGED', detail: file.path });
        }
      }
      pos += n;
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  const out = new Uint8Array((end - first) * 20);
  for (let i = first; i < end; i++) {
    const a = (i - first) * pieceLength;
    const b = Math.min(a + pieceLength, need);
    out.set(createHash('sha1').update(scratch.subarray(a, b)).digest(), (i - first) * 20);
  }
  return out;
}
