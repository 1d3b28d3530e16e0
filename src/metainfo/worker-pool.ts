import { Worker } from 'node:worker_threads';

/**
 * The worker-thread machinery behind `HashPool` and storage's `DiskPool`: jobs go to the thread
 * with the fewest pending; a thread holds the process open only while it has work; a thread that
 * dies fails its jobs and is replaced. Replies are matched by `id` and handed back as they are:
 * each caller maps its own reply and error types.
 */
export interface WorkerPoolOptions {
  readonly url: URL;
  readonly threads: number;
  readonly workerData?: unknown;
  /** The error a job gets when its thread dies (`crashed`), the pool is closed, or posting fails. */
  readonly failure: (why: 'crashed' | 'closed' | 'post', cause?: unknown) => Error;
  /** Called with a dead thread's `threadId` before it is replaced (to free what it held). */
  readonly onLost?: (threadId: number) => void;
}

interface Slot<Res> {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve(r: Res): void; reject(e: unknown): void }>;
}

export class WorkerPool<Res extends { readonly id: number }> {
  readonly threads: number;
  private readonly slots: Slot<Res>[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.threads = Math.max(1, opts.threads);
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn());
  }

  /** Posts `req` (given an `id`) to the least busy thread; resolves with its reply. */
  submit(req: object, transfer: readonly ArrayBuffer[] = []): Promise<Res> {
    return this.post(this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a)), req, transfer);
  }

  /**
   * Posts `req` to thread `thread` (0 ≤ thread < `threads`): for jobs that hold state there
   * (a cipher session). One thread answers its jobs in the order they were posted.
   */
  submitTo(thread: number, req: object, transfer: readonly ArrayBuffer[] = []): Promise<Res> {
    return this.post(this.slots[thread % this.slots.length]!, req, transfer);
  }

  /** Posts `req` to every thread. */
  broadcast(req: object): Promise<Res[]> {
    return Promise.all(this.slots.map((s) => this.post(s, req, [])));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private post(slot: Slot<Res>, req: object, transfer: readonly ArrayBuffer[]): Promise<Res> {
    if (this.closed) return Promise.reject(this.opts.failure('closed'));
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      try {
        slot.worker.postMessage({ ...req, id }, [...transfer]);
      } catch (err) {
        this.settle(slot, id);
        reject(this.opts.failure('post', err));
      }
    });
  }

  private settle(slot: Slot<Res>, id: number) {
    const p = slot.pending.get(id);
    slot.pending.delete(id);
    if (slot.pending.size === 0) slot.worker.unref();
    return p;
  }

  private spawn(): Slot<Res> {
    const worker = new Worker(this.opts.url, this.opts.workerData === undefined ? {} : { workerData: this.opts.workerData });
    worker.unref();
    const slot: Slot<Res> = { worker, pending: new Map() };
    worker.on('message', (res: Res) => this.settle(slot, res.id)?.resolve(res));
    const threadId = worker.threadId; // -1 once the thread has stopped
    let lost = false;
    const fail = (err: unknown) => {
      for (const id of [...slot.pending.keys()]) this.settle(slot, id)?.reject(this.opts.failure('crashed', err));
      if (!lost && !this.closed) {
        lost = true;
        this.opts.onLost?.(threadId);
      }
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
