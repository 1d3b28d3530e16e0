import { Worker } from 'node:worker_threads';

/**
 * A large plain download's file, written by a thread of its own (file-sink-worker.ts) in large
 * batches, with the `Repr-Digest` SHA-256 computed there over the same bytes: the event loop only
 * receives and copies each chunk once, into a batch on shared memory, while the thread hashes and
 * writes the batch before. Before, the hash ran on the event loop in series with the receiving
 * (0.1 s per 64 MiB) and a write went out per 64 KiB chunk.
 * `write` takes every chunk; when it returns false, wait for `ready()` before the next one.
 * `flush()` (on each progress tick) sends the batch being filled as it is, so a body that stalls
 * has all it sent on disk. `end()` writes what is left and closes the file, also after an interruption (`-C -` continues
 * from the file's size), and resolves with the digest when one was asked for.
 */

/** Bytes per batch: one message and one `write` each. */
const BATCH_BYTES = 2 * 1024 * 1024;
/** Batches in flight: while the thread holds them all, the body waits. */
const BATCHES = 6;

export type SinkRequest =
  | { readonly type: 'open'; readonly path: string; readonly offset: number; readonly sha256: boolean }
  | { readonly type: 'batch'; readonly batch: number; readonly buffer: SharedArrayBuffer; readonly length: number }
  | { readonly type: 'end' };

export type SinkReply =
  | { readonly type: 'done'; readonly batch: number }
  | { readonly type: 'ended'; readonly sha256: Uint8Array | undefined }
  | { readonly type: 'error'; readonly message: string; readonly code?: string };

export class FileSink {
  private readonly worker: Worker;
  private readonly batches: Uint8Array[] = [];
  private readonly free: number[] = [];
  /** The batch being filled, and how far. */
  private current: number | undefined;
  private filled = 0;
  /** Bytes of chunks not copied yet (no free batch): taken first when one comes back. */
  private readonly pending: Uint8Array[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private ended: ((digest: Uint8Array | undefined) => void) | undefined;

  constructor(path: string, offset: number, sha256: boolean) {
    for (let i = 0; i < BATCHES; i++) {
      this.batches.push(new Uint8Array(new SharedArrayBuffer(BATCH_BYTES)));
      this.free.push(i);
    }
    this.worker = new Worker(new URL('./file-sink-worker.js', import.meta.url));
    this.worker.on('message', (m: SinkReply) => this.onReply(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the file writer thread stopped')));
    this.post({ type: 'open', path, offset, sha256 });
  }

  /** The first error of the file (or of its thread), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Copies `chunk` (the caller may reuse it at once); false: wait for `ready()` before writing again. */
  write(chunk: Uint8Array): boolean {
    if (this.pending.length > 0) {
      this.pending.push(chunk.slice()); // rare: only between a false return and ready()
      return false;
    }
    const rest = this.copy(chunk);
    if (rest === undefined) return true;
    this.pending.push(rest.slice());
    return false;
  }

  /** Resolves when `write` may be called again; rejects with the sink's error. */
  ready(): Promise<void> {
    return this.until(() => this.pending.length === 0);
  }

  /** Hands the batch being filled to the thread now, full or not: a stalled body's bytes reach the file. */
  flush(): void {
    if (this.current !== undefined && this.filled > 0) this.send();
  }

  /** Writes what is left, closes the file and stops the thread; the digest when one was asked for. */
  async end(): Promise<Uint8Array | undefined> {
    try {
      await this.ready();
      this.flush();
      const digest = new Promise<Uint8Array | undefined>((resolve) => (this.ended = resolve));
      this.post({ type: 'end' });
      await Promise.race([digest, this.until(() => false)]);
      return await digest;
    } finally {
      this.worker.removeAllListeners('exit');
      await this.worker.terminate();
    }
  }

  /** Copies as much of `chunk` as the free batches take; the rest, if any. */
  private copy(chunk: Uint8Array): Uint8Array | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.current === undefined) {
        this.current = this.free.pop();
        this.filled = 0;
        if (this.current === undefined) return chunk.subarray(at);
      }
      const n = Math.min(chunk.length - at, BATCH_BYTES - this.filled);
      this.batches[this.current]!.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BATCH_BYTES) this.send();
    }
    return undefined;
  }

  private send(): void {
    const batch = this.current!;
    this.current = undefined;
    this.post({ type: 'batch', batch, buffer: this.batches[batch]!.buffer as SharedArrayBuffer, length: this.filled });
  }

  private post(m: SinkRequest): void {
    if (this.failure === undefined) this.worker.postMessage(m);
  }

  private onReply(m: SinkReply): void {
    switch (m.type) {
      case 'done':
        this.free.push(m.batch);
        while (this.pending.length > 0) {
          const rest = this.copy(this.pending[0]!);
          if (rest !== undefined) {
            this.pending[0] = rest;
            break;
          }
          this.pending.shift();
        }
        break;
      case 'ended':
        this.ended?.(m.sha256);
        break;
      case 'error':
        this.fail(Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code }));
        break;
    }
    this.wake?.();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  /** Resolves once `cond` holds (checked after every reply); rejects with the sink's error. */
  private async until(cond: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (cond()) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
