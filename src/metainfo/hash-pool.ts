import { availableParallelism } from 'node:os';
import { ERROR_CODES } from '../errors/index.js';
import { MetainfoError, type MetainfoErrorCode } from './errors.js';
import type { PiecesJob } from './hash-pieces.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';
import type { Source } from './walk.js';
import { WorkerPool } from './worker-pool.js';

/**
 * SHA-1 on worker threads, one per core by default, so hashing never blocks the event loop and
 * uses every core. Used by `createTorrent`; storage's disk threads run the same piece hashing
 * (`hashPiecesSync`) for rechecks, beside their writes.
 * An idle pool does not keep the process alive; `close()` ends the workers.
 */
export class HashPool {
  readonly threads: number;
  private readonly pool: WorkerPool<HashResponse>;

  constructor(opts: { threads?: number } = {}) {
    this.pool = new WorkerPool<HashResponse>({
      url: new URL('./hash-worker.js', import.meta.url),
      threads: opts.threads ?? availableParallelism(),
      failure: (why, cause) =>
        new MetainfoError('CREATE_IO', { detail: why === 'closed' ? 'hash pool is closed' : 'hash worker failed', ...(cause === undefined ? {} : { cause }) }),
    });
    this.threads = this.pool.threads;
  }

  /** SHA-1 of each piece in `[first, end)`, read from the files: 20 bytes per piece. */
  async hashPieces(job: PiecesJob): Promise<Uint8Array> {
    return hashesOf(await this.submit({ ...job, type: 'pieces' }, []));
  }

  /** SHA-1 of `data`. With `transfer`, `data`'s buffer moves to the worker (no copy) and is unusable here after. */
  async sha1(data: Uint8Array, opts: { transfer?: boolean } = {}): Promise<Uint8Array> {
    return hashesOf(await this.submit({ type: 'buffer', data }, opts.transfer === true ? [data.buffer as ArrayBuffer] : []));
  }

  /**
   * SHA-256 of a whole file on a worker (the gateway's `Repr-Digest`). Fails with `CREATE_CHANGED`
   * when the file is not `length` bytes with mtime `mtimeNs` (nanoseconds) from start to end.
   * `exact`: `path` is a real path, and a file opened elsewhere through a symlink swapped in on
   * the way is not read (`CREATE_PATH_ESCAPE`).
   */
  async sha256File(path: string, length: number, mtimeNs: bigint, opts: { exact?: boolean } = {}): Promise<Uint8Array> {
    return hashesOf(await this.submit({ type: 'sha256-file', path, length, mtimeNs: mtimeNs.toString(), ...(opts.exact === true ? { exact: true } : {}) }, []));
  }

  /** Lists a file or folder to share (`listSourceSync`) on a worker, off the event loop. */
  async listSource(path: string): Promise<Source> {
    const res = await this.submit({ type: 'list', path }, []);
    if (!('source' in res)) throw new MetainfoError('CREATE_IO', { detail: 'hash worker answered a listing with hashes' });
    return res.source;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async submit(req: WithoutId<HashRequest>, transfer: ArrayBuffer[]): Promise<Exclude<HashResponse, { error: unknown }>> {
    const res = await this.pool.submit(req, transfer);
    if ('error' in res) throw workerError(res.error);
    return res;
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

function hashesOf(res: Exclude<HashResponse, { error: unknown }>): Uint8Array {
  if (!('hashes' in res)) throw new MetainfoError('CREATE_IO', { detail: 'hash worker answered hashing with a listing' });
  return res.hashes;
}

/** A worker's error, back as a typed error: our own codes cross as they are, system errors become CREATE_IO. */
function workerError(e: { readonly code: string; readonly message: string; readonly detail?: string; readonly causeCode?: string }): MetainfoError {
  const own = /^(METAINFO|CREATE)_/.test(e.code) && Object.hasOwn(ERROR_CODES, e.code);
  // The cause's errno code, so that the CLI can say `no such file or folder (ENOENT)`.
  const cause = e.causeCode === undefined ? undefined : Object.assign(new Error(e.causeCode), { code: e.causeCode });
  if (own) return new MetainfoError(e.code as MetainfoErrorCode, { ...(e.detail === undefined ? {} : { detail: e.detail }), ...(cause === undefined ? {} : { cause }) });
  return new MetainfoError('CREATE_IO', { detail: e.message });
}
