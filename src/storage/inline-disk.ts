/**
 * `DiskPool`'s inline mode (`{ inline: true }`): the disk jobs of a process with one storage and
 * little else to do (`torrenttp get`), without disk threads. A piece's SHA-1 runs on the event
 * loop (a 256 KiB piece is ~0.15 ms with SHA-NI), and its writes and reads go through libuv's
 * thread pool (`fs.write`, `fs.read`), which blocks no JS. What it saves against the threads: a
 * V8 isolate to start per thread (~35 ms of CPU each), and per job the structured clone of the
 * request, the transfer of the piece's buffer there and back, and a message event on each side.
 * 20 gets of 256 MiB at once: CPU per get 0.90-0.96× (docs/storage.md, "Inline disk jobs").
 *
 * The rules are the threads': the same file table (`file-table.ts`: `O_NOFOLLOW`, a written file
 * must have one name, the `O_DIRECT` fd must be the same device and inode), `O_DIRECT` through page-aligned
 * bounce buffers (a few, kept: `BOUNCE_BUFFERS`), and the same injected faults (but
 * `crash`, which is a thread's). A recheck (`hashPieces`) hashes on the event loop too, one job
 * at a time with a turn between jobs; a get rechecks only a `.part` it resumes, before any peer.
 */
import { hash } from 'node:crypto';
import { fdatasync, read, write, writev } from 'node:fs';
import { hashPiecesSync, type PiecesJob } from '../metainfo/index.js';
import type { RunOutcome, RunPiece } from './disk-pool.js';
import type { DiskFault, DiskSlice, WriteMode } from './disk-protocol.js';
import { remaining, WriteGatherer, type GatheredWrite } from './gather.js';
import { toStorageError } from './errors.js';
import { alignedRun, BOUNCE_BYTES, DIRECT_MIN, FileTable, newBounceBuffer } from './file-table.js';

/**
 * Bounce buffers (1 MiB each), made on first use and kept: direct writes beyond this many wait
 * for one. libuv's pool runs 4 jobs at once by default, so more would only queue there; and a
 * new WebAssembly memory per write was fresh pages to fault in each time (CPU per get 1.12-1.16×
 * the threads' in a 20-get crowd, against 0.90-0.96× with buffers kept).
 */
const BOUNCE_BUFFERS = 4;

export class InlineDisk {
  private readonly files: FileTable;
  private readonly spareBounce: Uint8Array[] = [];
  private bounceMade = 0;
  private readonly bounceWaiters: ((b: Uint8Array) => void)[] = [];

  constructor(maxOpenFiles: number) {
    this.files = new FileTable(maxOpenFiles);
  }

  async commit(data: Uint8Array, expected: Uint8Array, slices: readonly DiskSlice[], mode: WriteMode): Promise<{ written: boolean; data: Uint8Array }> {
    // One shot (`crypto.hash`): no Hash object per piece (a stream with a native handle, and under
    // `--openssl-legacy-provider` a digest fetch each): 1-6 µs a piece, up to ~10 ms of a lone 256 MiB
    // get's CPU samples (perf).
    const digest = hash('sha1', data, 'buffer');
    if (!digest.equals(expected)) return { written: false, data };
    try {
      await this.commitWritten(data, slices, mode);
    } catch (err) {
      throw toStorageError(err);
    }
    return { written: true, data };
  }

  /**
   * `DiskPool.commitRun` inline: every piece hashed here, the buffered writes of pieces that
   * follow each other in a file gathered into one `fs.writev` (gather.ts): one trip through
   * libuv's pool for them instead of one a piece. A direct write is a piece's own (`commit`'s).
   */
  async commitRun(pieces: readonly RunPiece[], mode: WriteMode): Promise<RunOutcome[]> {
    const written = pieces.map((p) => hash('sha1', p.data, 'buffer').equals(p.expected));
    const failed: (unknown[] | undefined)[] = []; // [the error] of a piece whose write failed (an error may be any value)
    const writes: Promise<void>[] = [];
    if (mode === 'direct') {
      pieces.forEach((p, i) => {
        if (written[i]) writes.push(this.commitWritten(p.data, p.slices, mode).catch((err: unknown) => void (failed[i] ??= [err])));
      });
    } else {
      const gather = new WriteGatherer((w) => writes.push(this.writeGathered(w).catch((err: unknown) => w.pieces.forEach((i) => (failed[i] ??= [err])))));
      pieces.forEach((p, i) => {
        if (!written[i]) return gather.flush();
        let at = 0;
        for (const s of p.slices) {
          gather.add(i, s.path, s.fileOffset, p.data.subarray(at, at + s.length));
          at += s.length;
        }
      });
      gather.flush();
    }
    // Every write settles before the buffers go back (a later write may still use one).
    await Promise.all(writes);
    return pieces.map((p, i) => {
      const f = failed[i];
      return f === undefined ? { written: written[i]!, data: p.data } : { written: false, data: p.data, error: toStorageError(f[0]) };
    });
  }

  /** A piece whose hash matched, written the `mode` way (its slices at once). */
  private async commitWritten(data: Uint8Array, slices: readonly DiskSlice[], mode: WriteMode): Promise<void> {
    let at = 0;
    const writes: Promise<void>[] = [];
    for (const s of slices) {
      writes.push(this.writeSlice(data, at, s, mode));
      at += s.length;
    }
    // Every write settles before the piece's buffer goes back (a later write may still use it).
    const results = await Promise.allSettled(writes);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** One gathered write, all of it (buffered). */
  private async writeGathered(w: GatheredWrite): Promise<void> {
    const file = this.files.hold(w.path, true);
    try {
      let buffers = w.buffers;
      for (let done = 0; done < w.length; ) {
        this.files.inject('write');
        const bufs = buffers;
        done += await new Promise<number>((resolve, reject) => writev(file.fd, bufs, w.fileOffset + done, (err, n) => (err === null ? resolve(n) : reject(err))));
        if (done < w.length) buffers = remaining(w.buffers, done);
      }
    } finally {
      this.files.release(file);
    }
  }

  async read(slices: readonly DiskSlice[], into?: Uint8Array): Promise<Uint8Array> {
    const total = slices.reduce((n, s) => n + s.length, 0);
    if (into !== undefined && into.length !== total) throw new Error(`read into ${into.length} bytes, slices hold ${total}`);
    const out = into ?? new Uint8Array(total);
    try {
      let at = 0;
      for (const s of slices) {
        const file = this.files.hold(s.path, false);
        try {
          for (let done = 0; done < s.length; ) {
            this.files.inject('read');
            const got = await io(read, file.fd, out, at + done, s.length - done, s.fileOffset + done);
            if (got === 0) throw Object.assign(new Error(`${s.path} is shorter than the torrent says`), { code: 'EIO' });
            done += got;
          }
        } finally {
          this.files.release(file);
        }
        at += s.length;
      }
    } catch (err) {
      throw toStorageError(err);
    }
    return out;
  }

  async hashPieces(job: PiecesJob): Promise<Uint8Array> {
    await new Promise((r) => setImmediate(r)); // a turn for the event loop between jobs
    try {
      return hashPiecesSync(job);
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async sync(paths: readonly string[]): Promise<void> {
    try {
      for (const p of paths) {
        const file = this.files.hold(p, false);
        try {
          this.files.inject('sync');
          await new Promise<void>((resolve, reject) => fdatasync(file.fd, (err) => (err === null ? resolve() : reject(err))));
        } finally {
          this.files.release(file);
        }
      }
    } catch (err) {
      throw toStorageError(err);
    }
  }

  forget(paths: readonly string[]): void {
    this.files.forget(paths);
  }

  setFault(fault: DiskFault | null): void {
    this.files.fault = fault;
  }

  close(): void {
    this.files.closeAll();
    this.spareBounce.length = 0;
  }

  /** One slice: its aligned run through the direct fd (bounced), head and tail buffered; all buffered where direct is refused. */
  private async writeSlice(data: Uint8Array, at: number, s: DiskSlice, mode: WriteMode): Promise<void> {
    const file = this.files.hold(s.path, true);
    try {
      const { start, end } = alignedRun(s);
      const direct = mode === 'direct' && end - start >= DIRECT_MIN ? this.files.directFdOf(file, s.path) : null;
      if (direct !== null && (await this.writeDirect(direct, data, at + start - s.fileOffset, end - start, start))) {
        await this.writeAll(file.fd, data, at, start - s.fileOffset, s.fileOffset);
        await this.writeAll(file.fd, data, at + end - s.fileOffset, s.fileOffset + s.length - end, end);
        return;
      }
      if (direct !== null && file.direct === direct) this.files.dropDirect(file);
      await this.writeAll(file.fd, data, at, s.length, s.fileOffset);
    } finally {
      this.files.release(file);
    }
  }

  /** The aligned run through the direct fd; false when the file system refused it (then nothing was written). */
  private async writeDirect(fd: number, data: Uint8Array, at: number, length: number, pos: number): Promise<boolean> {
    const bounce = await this.takeBounce();
    try {
      for (let done = 0; done < length; ) {
        const n = Math.min(BOUNCE_BYTES, length - done);
        bounce.set(data.subarray(at + done, at + done + n));
        try {
          await this.writeAll(fd, bounce, 0, n, pos + done);
        } catch (err) {
          if ((err as { code?: unknown }).code === 'EINVAL' && done === 0) return false;
          throw err;
        }
        done += n;
      }
      return true;
    } finally {
      const next = this.bounceWaiters.shift();
      if (next !== undefined) next(bounce);
      else this.spareBounce.push(bounce);
    }
  }

  private takeBounce(): Uint8Array | Promise<Uint8Array> {
    const spare = this.spareBounce.pop();
    if (spare !== undefined) return spare;
    if (this.bounceMade < BOUNCE_BUFFERS) {
      this.bounceMade++;
      return newBounceBuffer();
    }
    return new Promise((resolve) => this.bounceWaiters.push(resolve));
  }

  private async writeAll(fd: number, data: Uint8Array, at: number, length: number, pos: number): Promise<void> {
    for (let done = 0; done < length; ) {
      this.files.inject('write');
      done += await io(write, fd, data, at + done, length - done, pos + done);
    }
  }
}

type FsIo = (fd: number, buf: Uint8Array, offset: number, length: number, position: number, cb: (err: NodeJS.ErrnoException | null, n: number) => void) => void;

function io(op: FsIo, fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => op(fd, buf, offset, length, position, (err, n) => (err === null ? resolve(n) : reject(err))));
}
