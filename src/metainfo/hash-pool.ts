import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES } from '../errors/index.js';
import { MetainfoError, type MetainfoErrorCode } from './errors.js';
import type { PiecesJob } from './hash-pieces.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';
import type { Source } from './walk.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(r: Uint8Array | Source): void; reject(e: unknown): void }>;
}

/**
 * SHA-1 on worker threads, one per core by default, so hashing never blocks the event loop and
 * uses every core. Used by `createTorrent`; storage's disk threads run the same piece hashing
 * (`hashPiecesSync`) for rechecks, beside their writes.
 * An idle pool does not keep the process alive; `close()` ends the workers.
 */
export class HashPool {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(opts: { threads?: number } = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn());
  }

  /** SHA-1 of each piece in `[first, end)`, read from the files: 20 bytes per piece. */
  hashPieces(job: PiecesJob): Promise<Uint8Array> {
    return this.submit({ ...job, type: 'pieces' }, []) as Promise<Uint8Array>;
  }

  /** SHA-1 of `data`. With `transfer`, `data`'s buffer moves to the worker (no copy) and is unusable here after. */
  sha1(data: Uint8Array, opts: { transfer?: boolean } = {}): Promise<Uint8Array> {
    return this.submit({ type: 'buffer', data }, opts.transfer === true ? [data.buffer as ArrayBuffer] : []) as Promise<Uint8Array>;
  }

  /** Lists a file or folder to share (`listSourceSync`) on a worker, off the event loop. */
  listSource(path: string): Promise<Source> {
    return this.submit({ type: 'list', path }, []) as Promise<Source>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private submit(req: WithoutId<HashRequest>, transfer: ArrayBuffer[]): Promise<Uint8Array | Source> {
    if (this.closed) return Promise.reject(new MetainfoError('CREATE_IO', { detail: 'hash pool is closed' }));
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<Uint8Array | Source>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ ...req, id }, transfer);
    });
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    const settle = (id: number) => {
      const p = slot.pending.get(id);
      slot.pending.delete(id);
      if (slot.pending.size === 0) worker.unref();
      return p;
    };
    worker.on('message', (res: HashResponse) => {
      const p = settle(res.id);
      if (p === undefined) return;
      if ('error' in res) p.reject(workerError(res.error));
      else p.resolve('source' in res ? res.source : res.hashes);
    });
    const fail = (err: unknown) => {
      for (const id of [...slot.pending.keys()]) settle(id)?.reject(new MetainfoError('CREATE_IO', { detail: 'hash worker failed', cause: err }));
      if (!this.closed) {
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots[i] = this.spawn();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`exit code ${code}`));
    });
    return slot;
  }
}

/** A worker's error, back as a typed error: our own codes cross as they are, system errors become CREATE_IO. */
function workerError(e: { readonly code: string; readonly message: string; readonly detail?: string }): MetainfoError {
  const own = /^(METAINFO|CREATE)_/.test(e.code) && Object.hasOwn(ERROR_CODES, e.code);
  if (own) return new MetainfoError(e.code as MetainfoErrorCode, e.detail === undefined ? {} : { detail: e.detail });
  return new MetainfoError('CREATE_IO', { detail: e.message });
}
