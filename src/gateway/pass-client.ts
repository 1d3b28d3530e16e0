import { Http1Pool, HTTP1_POOL_DEFAULTS, type Http1Exchange, type Http1PoolOptions } from '../transport/index.js';

/**
 * The proxy's own client for the pass-through GETs and HEADs of `http:` origins (proxy-pass.ts,
 * `passPlain`): the transport's HTTP/1.1 pool and decoder (transport/http1-pool.ts), one pool an
 * origin, its connections kept alive between requests, reading into buffers of their own
 * (`ownReads`) whose bytes go to the program's socket as they are. Node's client did it with
 * 64 KiB reads, a new buffer each, its parser copying every body chunk and a stream event each:
 * docs/proxy.md, "Session 21".
 *
 * As node's keep-alive agent did for the proxy: no limit on a request's wait for its head or
 * body (a long-poll or a stream through the proxy may be silent for minutes), and as many
 * connections to one origin as the program has requests at once, up to `connections`.
 */
export const PASS_POOL: Http1PoolOptions = {
  ...HTTP1_POOL_DEFAULTS,
  // Node's agent: no limit. A program's requests to one origin past this wait for a connection.
  connections: 256,
  // Node's agent: the system's (about 2 minutes on Linux). Past it: a 502.
  connectTimeoutMs: 30_000,
  maxHeld: 0,
  // At most 4 busy buffers (1 MiB) and the one being read into, a connection, however slow its program.
  ownReads: { maxBusyBuffers: 4 },
  // Node's parser (the client's before): a head of at most 16 KiB, its lines any length within
  // that, up to 2,000 fields (`maxHeadersCount`). Ours counts interim heads in with the final one.
  limits: { maxLineBytes: 16 * 1024, maxHeadBytes: 16 * 1024, maxHeaders: 2000 },
};

/** Origins past which unused pools are looked for and dropped. */
const SWEEP_AT = 32;

export interface PassRequest {
  readonly method: 'GET' | 'HEAD';
  /** `[name, value, …]`, end-to-end; `host` is the URL's. */
  readonly headers: readonly string[];
}

export class PassClient {
  private readonly pools = new Map<string, Http1Pool>();
  private closed = false;

  constructor(private readonly opts: Http1PoolOptions = PASS_POOL) {}

  /** Sends `req` to `url` (http:); its answer goes to `ex`. The function returned aborts it. */
  request(url: URL, req: PassRequest, ex: Http1Exchange): () => void {
    return this.poolFor(url).request(
      { method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers, headersTimeoutMs: Infinity, bodyTimeoutMs: Infinity, extraBytes: 'drop' },
      ex,
    );
  }

  /** Closes every connection. */
  destroy(): void {
    this.closed = true;
    for (const pool of this.pools.values()) pool.destroy();
    this.pools.clear();
  }

  /** Origins with a pool now (tests). */
  get origins(): number {
    return this.pools.size;
  }

  private poolFor(url: URL): Http1Pool {
    const key = url.origin;
    let pool = this.pools.get(key);
    if (pool !== undefined) return pool;
    // A pool whose connections all closed (idle past keep-alive) holds nothing: dropped, so that a
    // proxy asked for many origins keeps no object per origin it ever saw.
    if (this.pools.size >= SWEEP_AT) for (const [k, p] of this.pools) if (p.unused) this.pools.delete(k);
    pool = new Http1Pool(new URL(key), this.opts);
    if (this.closed) pool.destroy();
    else this.pools.set(key, pool);
    return pool;
  }
}
