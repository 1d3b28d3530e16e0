/**
 * RC4 off the main thread: a small pool of threads (cipher-worker.ts) shared by every MSE link
 * of the process, each RC4 session living on one of them. A link's reads go to its thread and
 * come back decrypted, and a flush's batches go there to be encrypted, while the main thread goes
 * on with the wire protocol, the engine and storage. One thread answers a session's jobs in the
 * order they were posted, so each direction stays one RC4 stream. A plaintext MSE session never
 * comes here. An idle pool keeps no thread awake (WorkerPool refs a thread only while it has jobs).
 */
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../metainfo/index.js';
import type { Rc4Position } from '../wire/index.js';
import type { CipherResponse } from './cipher-protocol.js';
import { TransportError } from './errors.js';

/** One thread per core beyond the main thread's, at most 2: RC4 runs at some 850 MB/s a core, so two carry a few GB/s of links. */
export const DEFAULT_CIPHER_THREADS = Math.max(1, Math.min(2, availableParallelism() - 1));

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
        new TransportError('TRANSPORT_ENCRYPTION_FAILED', { detail: why === 'closed' ? 'cipher pool is closed' : why === 'post' ? 'cannot hand bytes to a cipher thread' : 'cipher thread failed', ...(cause === undefined ? {} : { cause }) }),
    });
    this.load = new Array<number>(this.pool.threads).fill(0);
  }

  /** RC4 sessions open now (freed by `CipherSession.close`). */
  get sessions(): number {
    return this.openSessions;
  }

  /** A session on the thread with the fewest, both ciphers started where `positions` say. */
  open(positions: { encrypt: Rc4Position; decrypt: Rc4Position }): CipherSession {
    let thread = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[thread]!) thread = i;
    this.load[thread]!++;
    this.openSessions++;
    const session = this.nextSession++;
    // Failures show in the session's first encrypt or decrypt (the thread answers it with an error).
    this.pool.submitTo(thread, { type: 'open', session, ...positions }).catch(() => {});
    return new CipherSession(this.pool, thread, session, () => {
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
    private readonly onClose: () => void,
  ) {}

  /** `data`'s ArrayBuffer moves to the thread (the caller must own all of it); the result is new memory. */
  encrypt(data: Uint8Array): Promise<Uint8Array> {
    return this.run('encrypt', data);
  }

  decrypt(data: Uint8Array): Promise<Uint8Array> {
    return this.run('decrypt', data);
  }

  /** Frees the session on its thread; jobs still there are answered and ignored by the caller. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.pool.submitTo(this.thread, { type: 'close', session: this.session }).catch(() => {});
  }

  private async run(type: 'encrypt' | 'decrypt', data: Uint8Array): Promise<Uint8Array> {
    const res = await this.pool.submitTo(this.thread, { type, session: this.session, data }, [data.buffer as ArrayBuffer]);
    if (res.type !== 'data') throw new TransportError('TRANSPORT_ENCRYPTION_FAILED', { detail: res.type === 'error' ? res.message : `unexpected ${res.type} from a cipher thread` });
    return res.data;
  }
}

let shared: CipherPool | undefined;

/** The process's one cipher pool, started with the first RC4 link. */
export function cipherPool(): CipherPool {
  shared ??= new CipherPool();
  return shared;
}
