/**
 * The transport's own HTTP/1.1 client: a small keep-alive pool per origin, on plain `net`
 * sockets (and `tls` for https), answers decoded by http1-response.ts within each read's
 * callback. Made for the links' GETs, which are plain: no request body, no redirects (a 3xx is
 * an answer like any other, for the caller to refuse), no proxies: the TorrentTTP HTTP peer's
 * (http-peer.ts) and web seeds' (web-seed.ts, ranged GETs of files), and the proxy's pass-through
 * GETs and HEADs (gateway/pass-client.ts). undici stays for the rest (the proxy's negotiation,
 * `get`'s through a dispatcher).
 *
 * Rules:
 * - One pool per origin (and `group`: web seeds apart from HTTP peers), shared by every link of the
 *   process on it (`acquireHttp1`), made at the first acquire and destroyed at the last release;
 *   at most `connections` sockets (the first holder's; the spec's 4, docs/torrenttp.md §7).
 * - One request in flight a connection (no pipelining: §2). Requests wait in order for a free
 *   connection; a new one is dialled while there are fewer than `connections`. A request is
 *   written as one latin1 string: `GET path HTTP/1.1`, `host`, the caller's headers.
 * - Held requests (`held`: a have-set long-poll, which the server may keep silent up to 60 s,
 *   torrenttp.md §5.3) take at most `maxHeld` of the connections (1; never the last one): a held
 *   request waits while that many are in flight, and the requests behind it go past it. So
 *   however many torrents of the process long-poll one origin, its other connections stay for the
 *   GETs that carry bytes (browsers and undici put a long-poll on one of a host's few connections
 *   like any request: four torrents' long-polls filled ours and piece GETs queued behind them).
 *   `holdFree` says whether one more would be held back, so a caller can ask without `wait` instead.
 * - Reads: a plain socket reads into the wire sockets' shared buffer (`sharedReadBuffer`, 256 KiB,
 *   one a process: transport.md, "Reused socket reads"); each read is decoded within its callback,
 *   and body bytes go to the caller as views of it, valid only during `onData`: the next read of
 *   any socket overwrites them, so whatever outlives the call is copied. The decoder keeps only the
 *   text of a head line cut by a read's end. A TLS socket reads with node's `data` events (a new
 *   buffer a read). A pool with `ownReads` (the proxy's pass-through: gateway/pass-client.ts)
 *   reads each connection into buffers of its own instead (http1-reads.ts): its body bytes stay
 *   the caller's until it lets go of them, and the connection stops reading while it holds
 *   `maxBusyBuffers` of them (back-pressure: the caller's writes are slow).
 * - Requests are GETs or HEADs, with no body.
 * - Timeouts: connect (10 s), the head (per request, from the request's write), the body (per
 *   request: the longest time between two reads); a request's may be `Infinity` (none). Each is TRANSPORT_HTTP_TIMEOUT. A connection
 *   that fails or is reset: TRANSPORT_HTTP_FAILED; a malformed answer: the decoder's
 *   TRANSPORT_HTTP1_* error. Either way the connection is closed, never reused.
 * - An error thrown by the caller's `onHead`/`onData` fails the request with that error and closes
 *   the connection (the rest of the body is not read).
 * - Keep-alive: a connection whose answer allows it (http1-response.ts) goes back to the pool, and
 *   is closed after `keepAliveTimeoutMs` idle, or sooner when the server's `Keep-Alive: timeout=N`
 *   says so (N − 1 s). Bytes that come while no request is in flight close it; in the read that
 *   ended an answer, they fail that answer too (its `onEnd` waits for the read's end): its length
 *   lied. Bytes that come in a later read after the next request went out are read as its answer
 *   (no HTTP/1.1 client can tell them apart without pipelining's order); so a connection is reused
 *   only after an answer that ended where the read did. A request with `extraBytes: 'drop'` ends
 *   as framed instead, the connection closed under the extra bytes.
 * - An answer whose head comes while part of the request is still unsent (the server did not read
 *   it all) fails the request (TRANSPORT_HTTP1_UNEXPECTED_BYTES) and closes the connection.
 * - A request written to a reused connection that closes before a byte of the answer comes (the
 *   server closed its idle end meanwhile) is written again, once, on another connection.
 * - `abort` drops a waiting request, or closes the connection of one in flight; nothing follows.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { TorrenttpError } from '../errors/index.js';
import { sharedReadBuffer } from './accepted-reads.js';
import { TransportError } from './errors.js';
import { connectHttpsOrigin } from './tls-connect.js';
import { ReadArena } from './http1-reads.js';
import { Http1ResponseDecoder, type Http1Limits, type ResponseHead } from './http1-response.js';

export const HTTP1_POOL_DEFAULTS = {
  connections: 4,
  /** §11: connect timeout 10 s. */
  connectTimeoutMs: 10_000,
  /** Idle keep-alive connections are closed after this (or the server's `Keep-Alive: timeout`, less 1 s). */
  keepAliveTimeoutMs: 30_000,
  /** Connections a held request (a long-poll) may take at once; the rest are for the requests answered at once. */
  maxHeld: 1,
} as const;

export interface Http1PoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeld: number;
  /**
   * Plain sockets read into buffers of their own (http1-reads.ts), and body bytes stay valid
   * until the caller lets go of them (`onData`'s `release`); a connection stops reading while
   * `maxBusyBuffers` of its buffers are held. For a caller that writes the bytes on (the proxy).
   */
  readonly ownReads?: { readonly maxBusyBuffers: number };
  /** The decoder's limits (http1-response.ts; default `HTTP1_LIMITS`). */
  readonly limits?: Partial<Http1Limits>;
}

export interface Http1Request {
  /** Default GET. A HEAD's answer has no body, whatever its head says. */
  readonly method?: 'GET' | 'HEAD';
  /** The target: path and query. */
  readonly path: string;
  /** `[name, value, …]`, written as they are (no CR or LF in any). */
  readonly headers: readonly string[];
  /** From the request's write to the end of the final head; `Infinity`: none. */
  readonly headersTimeoutMs: number;
  /** Longest time between two reads of the body (not counting a stop for `ownReads`); `Infinity`: none. */
  readonly bodyTimeoutMs: number;
  /**
   * Bytes after the answer's end in the read that ended it: `fail` (default) fails the answer (its
   * length lied, most likely too short); `drop` ends it as framed and drops them (a proxy passes on
   * the body the head promised). Either way the connection closes.
   */
  readonly extraBytes?: 'fail' | 'drop';
  /** The server may hold the answer (a long-poll): it takes one of the `maxHeld` connections. */
  readonly held?: boolean;
}

/** Where an answer goes. Exactly one of `onEnd` and `onError` ends it, unless it was aborted. */
export interface Http1Exchange {
  /** May throw: the request fails with that error. */
  onHead(head: ResponseHead): void;
  /**
   * A view of the read, valid only during this call; with `ownReads`, valid until `release` is
   * called, which the caller must do once it is done with it (or the connection stops reading).
   * May throw, as `onHead`.
   */
  onData(data: Uint8Array, release?: () => void): void;
  onEnd(): void;
  onError(err: TorrenttpError): void;
}

interface Pending {
  readonly req: Http1Request;
  readonly ex: Http1Exchange;
  readonly text: string;
  retried: boolean;
  done: boolean;
}

export class Http1Pool {
  private readonly conns = new Set<Connection>();
  private readonly waiting: Pending[] = [];
  private destroyed = false;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  private readonly hostHeader: string;

  constructor(
    readonly origin: URL,
    readonly opts: Http1PoolOptions = HTTP1_POOL_DEFAULTS,
  ) {
    this.tls = origin.protocol === 'https:';
    this.host = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
    this.port = origin.port === '' ? (this.tls ? 443 : 80) : Number(origin.port);
    this.hostHeader = origin.host;
  }

  /** Sends `req`; its answer goes to `ex`. The function returned aborts it. */
  request(req: Http1Request, ex: Http1Exchange): () => void {
    let text = `${req.method ?? 'GET'} ${req.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    let broken = /\s/.test(req.path);
    for (let i = 0; i + 1 < req.headers.length; i += 2) {
      const name = req.headers[i]!;
      const value = req.headers[i + 1]!;
      // Each field alone: a CRLF inside a value would otherwise pass for a line end of ours.
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) broken = true;
      text += `${name}: ${value}\r\n`;
    }
    text += '\r\n';
    const p: Pending = { req, ex, text, retried: false, done: false };
    if (broken) {
      queueMicrotask(() => this.fail(p, new TransportError('TRANSPORT_HTTP_FAILED', { detail: 'a request target or header with a line break or space' })));
      return () => void (p.done = true);
    }
    if (this.destroyed) {
      queueMicrotask(() => this.fail(p, new TransportError('TRANSPORT_ABORTED', { detail: `${this.origin.origin}: pool closed` })));
      return () => void (p.done = true);
    }
    this.waiting.push(p);
    this.dispatch();
    return () => this.abort(p);
  }

  /** Closes every connection; requests waiting or in flight get nothing more. */
  destroy(): void {
    this.destroyed = true;
    for (const p of this.waiting) p.done = true;
    this.waiting.length = 0;
    for (const c of [...this.conns]) c.close();
  }

  /** Connections open now (tests). */
  get size(): number {
    return this.conns.size;
  }

  /** No connection open and no request waiting: the pool may be dropped. */
  get unused(): boolean {
    return this.conns.size === 0 && this.waiting.length === 0;
  }

  /** Held requests that may be in flight at once: `maxHeld`, and never every connection. */
  private get heldCap(): number {
    return Math.max(0, Math.min(this.opts.maxHeld, this.opts.connections - 1));
  }

  /**
   * Whether a `held` request made now would find the held connections' budget free: fewer held
   * ones waiting or in flight than `maxHeld` (it may still wait for a connection, as any request).
   */
  holdFree(): boolean {
    let n = 0;
    for (const p of this.waiting) if (!p.done && p.req.held === true) n++;
    for (const c of this.conns) if (c.current !== undefined && !c.current.done && c.current.req.held === true) n++;
    return n < this.heldCap;
  }

  private abort(p: Pending): void {
    if (p.done) return;
    p.done = true;
    const i = this.waiting.indexOf(p);
    if (i >= 0) this.waiting.splice(i, 1);
    else for (const c of this.conns) if (c.current === p) c.close();
  }

  /** @internal for Connection */
  fail(p: Pending, err: TorrenttpError): void {
    if (p.done) return;
    p.done = true;
    p.ex.onError(err);
  }

  /** @internal: a request that never got a byte of its answer on a reused connection, written again once. */
  retry(p: Pending): void {
    if (p.done) return;
    p.retried = true;
    this.waiting.unshift(p);
  }

  /** @internal */
  removed(c: Connection): void {
    this.conns.delete(c);
    if (!this.destroyed) queueMicrotask(() => this.dispatch());
  }

  /** Gives waiting requests to idle connections, then to new ones; a held one only while fewer than `heldCap` are. */
  dispatch(): void {
    while (!this.destroyed && this.waiting.length > 0) {
      let idle: Connection | undefined;
      let held = 0;
      for (const c of this.conns) {
        if (c.current?.req.held === true) held++;
        else if (idle === undefined && c.idle) idle = c;
      }
      if (idle === undefined && this.conns.size >= this.opts.connections) return;
      const mayHold = held < this.heldCap;
      // The first that may go: requests behind a held one that must wait go past it.
      const i = mayHold ? 0 : this.waiting.findIndex((w) => w.done || w.req.held !== true);
      if (i < 0) return;
      const p = this.waiting.splice(i, 1)[0]!;
      if (p.done) continue;
      if (idle !== undefined) idle.send(p);
      else this.conns.add(new Connection(this, p));
    }
  }
}

/** One socket of a pool and the answer in flight on it. */
class Connection {
  private readonly socket: Socket;
  private readonly decoder: Http1ResponseDecoder;
  /** The request in flight (written, or waiting for the connection). */
  current: Pending | undefined;
  private connected = false;
  private closed = false;
  /** Requests answered on this connection. */
  private served = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Reads since the body timer was armed. */
  private reads = 0;
  private keepAliveMs: number;
  private error: TorrenttpError | undefined;
  /** The answer ended within this read: the connection is free once the read is handled. */
  private ended = false;
  /** The request whose answer ended within the read being decoded: told once the rest of the read is seen to be empty. */
  private answered: Pending | undefined;
  /** Within a read's decoding. */
  private reading = false;
  /** The pool's `ownReads` buffers (plain sockets). */
  private readonly arena: ReadArena | undefined;
  /** Reading stopped until the arena has room. */
  private stopped = false;

  constructor(
    private readonly pool: Http1Pool,
    first: Pending,
  ) {
    this.current = first;
    this.keepAliveMs = pool.opts.keepAliveTimeoutMs;
    const own = pool.opts.ownReads;
    this.arena = own === undefined || pool.tls ? undefined : new ReadArena(own.maxBusyBuffers, () => this.onRoom());
    this.decoder = new Http1ResponseDecoder(
      {
        onHead: (head) => this.onHead(head),
        onData: (data) => {
          const p = this.current;
          if (p === undefined) return;
          if (this.arena !== undefined) {
            const k = this.arena.keep(data);
            p.ex.onData(k.data, k.release);
          } else if (own !== undefined) p.ex.onData(data, noop); // TLS: node's reads, a new buffer each
          else p.ex.onData(data);
        },
        onEnd: (reusable) => this.onEnd(reusable),
      },
      pool.opts.limits,
    );
    const where = `${pool.origin.origin}`;
    this.arm(pool.opts.connectTimeoutMs, () => this.close(new TransportError('TRANSPORT_HTTP_TIMEOUT', { detail: `${where}: connect timeout (${pool.opts.connectTimeoutMs} ms)` })));
    if (pool.tls) {
      this.socket = connectHttpsOrigin(pool.host, pool.port);
      this.socket.on('data', (chunk: Buffer) => this.read(chunk));
      this.socket.once('secureConnect', () => this.onConnect());
    } else {
      const arena = this.arena;
      this.socket =
        arena === undefined
          ? netConnect({
              host: pool.host,
              port: pool.port,
              onread: {
                // The read is decoded, and its body views given and dropped, within this callback: no view of it outlives it.
                buffer: sharedReadBuffer(),
                callback: (n: number, buf: Uint8Array) => {
                  this.read(buf.subarray(0, n));
                  return true;
                },
              },
            })
          : netConnect({
              host: pool.host,
              port: pool.port,
              onread: {
                // Node asks for the next read's buffer after each read (and once at the start).
                buffer: () => arena.next(this.current === undefined),
                callback: (n: number, buf: Uint8Array) => {
                  arena.read(buf, n);
                  this.read(buf.subarray(0, n));
                  // Busy buffers at their bound: no more reads (the socket paused) until one is let go.
                  this.stopped = !this.closed && this.current !== undefined && arena.full;
                  return !this.stopped;
                },
              },
            });
      this.socket.once('connect', () => this.onConnect());
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => {
      this.error ??= new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${where}: ${err.message}`, cause: err });
    });
    this.socket.on('end', () => this.onEof());
    this.socket.on('close', () => this.close());
  }

  get idle(): boolean {
    // Not within a read: the rest of it would be taken for the next request's answer.
    return this.connected && !this.closed && this.current === undefined && !this.reading;
  }

  /** Writes `p` on this (idle) connection. */
  send(p: Pending): void {
    this.current = p;
    this.write();
  }

  private onConnect(): void {
    this.connected = true;
    clearTimeout(this.timer);
    if (this.current !== undefined) this.write();
    else this.pool.dispatch();
  }

  private write(): void {
    const p = this.current!;
    if (this.served > 0) this.arena?.renew();
    this.decoder.begin({ noBody: p.req.method === 'HEAD' });
    this.arm(p.req.headersTimeoutMs, () => this.close(new TransportError('TRANSPORT_HTTP_TIMEOUT', { detail: `${this.pool.origin.origin}: headers timeout (${p.req.headersTimeoutMs} ms)` })));
    this.socket.write(p.text, 'latin1');
  }

  private read(chunk: Uint8Array): void {
    if (this.closed) return;
    this.reads++;
    this.reading = true;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // Bytes after an answer's end in the read that ended it (UNEXPECTED_BYTES: nothing was
      // asked) say its framing lied, a Content-Length too short most likely: that answer fails
      // too, rather than end with a body cut where the server did not cut it.
      // Closed first: the caller, told, may ask again at once, and must not be given this connection.
      const p = this.answered;
      this.answered = undefined;
      const e = asError(err);
      this.close(e);
      if (p === undefined) return;
      if (p.req.extraBytes === 'drop' && e.code === 'TRANSPORT_HTTP1_UNEXPECTED_BYTES') {
        // Its answer was whole as framed: it ends so, the rest dropped with the connection.
        this.answered = p;
        this.deliver();
      } else this.pool.fail(p, e);
      return;
    } finally {
      this.reading = false;
    }
    this.deliver();
    if (this.closed) return;
    if (this.ended) {
      this.ended = false;
      this.pool.dispatch();
    }
  }

  private onHead(head: ResponseHead): void {
    const p = this.current;
    if (p === undefined) return;
    // The server answered before it could have read the whole request (part of it still waits in
    // our write buffer): not an answer to it, and what it makes of the rest is anyone's guess.
    if (this.socket.writableLength > 0) throw new TransportError('TRANSPORT_HTTP1_UNEXPECTED_BYTES', { detail: `${this.pool.origin.origin}: an answer before the request was written whole (${this.socket.writableLength} bytes of it unsent)` });
    const ka = head.get('keep-alive');
    const m = ka === undefined ? null : /(?:^|[,;\s])timeout=([0-9]{1,6})/i.exec(ka);
    if (m !== null) this.keepAliveMs = Math.min(this.pool.opts.keepAliveTimeoutMs, Math.max(0, Number(m[1]) * 1000 - 1000));
    this.reads = 0;
    const seen = (): void => {
      // Not read because the caller holds the buffers (`ownReads`): its writes are slow, not the server.
      if (this.reads === 0 && !this.stopped) {
        this.close(new TransportError('TRANSPORT_HTTP_TIMEOUT', { detail: `${this.pool.origin.origin}: body timeout (${p.req.bodyTimeoutMs} ms)` }));
        return;
      }
      this.reads = 0;
      this.arm(p.req.bodyTimeoutMs, seen);
    };
    this.arm(p.req.bodyTimeoutMs, seen);
    p.ex.onHead(head);
  }

  private onEnd(reusable: boolean): void {
    this.answered = this.current;
    this.current = undefined;
    this.served++;
    clearTimeout(this.timer);
    // Within a read, the caller is told once the rest of the read is seen (read()); at the connection's end, now.
    if (!this.reading) this.deliver();
    if (!reusable || this.keepAliveMs === 0) {
      this.close();
      return;
    }
    this.ended = true;
    this.arm(this.keepAliveMs, () => this.close());
    this.timer?.unref();
  }

  /** Ends the answered request: `onEnd`, or (thrown by it) the connection closed. */
  private deliver(): void {
    const p = this.answered;
    this.answered = undefined;
    if (p === undefined || p.done) return;
    p.done = true;
    try {
      p.ex.onEnd();
    } catch (err) {
      this.close(asError(err));
    }
  }

  private onEof(): void {
    if (this.closed) return;
    // No byte of the answer came: closed before it (maybe as we wrote to an idle connection), not within it.
    if (!this.decoder.started) {
      this.close();
      return;
    }
    try {
      this.decoder.end();
    } catch (err) {
      this.close(asError(err));
      return;
    }
    this.close();
  }

  /** Closes the connection; the request in flight, if any, fails with `err` (or why the socket ended). */
  close(err?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.arena?.close();
    const p = this.current;
    this.current = undefined;
    this.pool.removed(this);
    if (p === undefined || p.done) return;
    // The server closed a kept-alive connection as we wrote to it: once more, on another.
    if (err === undefined && this.served > 0 && !this.decoder.started && !p.retried) {
      this.pool.retry(p);
      return;
    }
    this.pool.fail(p, err ?? this.error ?? new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${this.pool.origin.origin}: other side closed` }));
  }

  /** The arena let go of a buffer below its bound: read again. */
  private onRoom(): void {
    if (!this.stopped || this.closed) return;
    this.stopped = false;
    this.socket.resume();
  }

  private arm(ms: number, f: () => void): void {
    clearTimeout(this.timer);
    this.timer = Number.isFinite(ms) ? setTimeout(f, ms) : undefined;
  }
}

const noop = (): void => undefined;

function asError(err: unknown): TorrenttpError {
  if (err instanceof TorrenttpError) return err;
  return new TransportError('TRANSPORT_HTTP_FAILED', { detail: String(err), cause: err });
}

interface Shared {
  readonly pool: Http1Pool;
  holders: number;
}
const pools = new Map<string, Shared>();

export interface Http1Lease {
  readonly pool: Http1Pool;
  /** Gives the lease back; the pool closes once nobody holds it. Idempotent. */
  release(): void;
}

/**
 * A lease on the shared pool of `url`'s origin (http: or https:; another scheme, or no URL, is
 * TRANSPORT_HTTP_FAILED). `group` keeps apart pools of one origin that must not wait for each
 * other's connections: web seeds (`'webseed'`) and HTTP peers (none) of one server each have
 * their own few, as each has its own limit.
 */
export function acquireHttp1(url: string, opts: { connections?: number; maxHeld?: number; group?: string } = {}): Http1Lease {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${url}: not a URL`, cause });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${url}: not an http(s) URL` });
  const key = opts.group === undefined ? u.origin : `${opts.group} ${u.origin}`;
  let shared = pools.get(key);
  if (shared === undefined) {
    shared = { pool: new Http1Pool(new URL(u.origin), { ...HTTP1_POOL_DEFAULTS, connections: opts.connections ?? HTTP1_POOL_DEFAULTS.connections, maxHeld: opts.maxHeld ?? HTTP1_POOL_DEFAULTS.maxHeld }), holders: 0 };
    pools.set(key, shared);
  }
  shared.holders++;
  const held = shared;
  let released = false;
  return {
    pool: held.pool,
    release: () => {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      if (pools.get(key) === held) pools.delete(key);
      held.pool.destroy();
    },
  };
}

/** Origins with a pool open now (tests: a closed link must not keep its pool). */
export function openHttp1Origins(): string[] {
  return [...pools.values()].map((s) => s.pool.origin.origin);
}
