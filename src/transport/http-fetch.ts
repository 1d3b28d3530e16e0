/**
 * The HTTP plumbing of the transport layer, shared by web seeds (web-seed.ts) and TorrentTTP HTTP
 * peers (http-peer.ts), whose connections are the transport's own HTTP/1.1 client's
 * (http1-pool.ts): the queue that turns block requests into merged runs (one ranged GET each);
 * `Retry-After`; the failure back-off; what a failed request's error says. Each link keeps only
 * what its protocol says: which URL, which statuses mean what, how a body is checked.
 *
 * Also undici, loaded on first use, and one keep-alive undici `Pool` per origin (`acquireOrigin`):
 * what web seeds used until session 18. No link uses it now; it stays for callers that want an
 * undici dispatcher to one origin (an `HttpTrackerClient` given one, bench/ttp.ts's comparison
 * of the two clients). Two holders of one origin share its few connections.
 *
 * Rules:
 * - A pool is made at the first `acquireOrigin` of its origin and destroyed when the last holder
 *   releases it; a later acquire makes a new one. Release is idempotent per lease.
 * - The pool's connection count is the first holder's (`connections`): the spec asks a client
 *   for at most 4 connections to one peer (docs/torrenttp.md §7), and a web seed's 4 GETs in
 *   flight fit the same number.
 * - Connect timeout 10 s (docs/torrenttp.md §11). Head and body timeouts are per request
 *   (undici `headersTimeout`, `bodyTimeout`: the body one is an idle timeout, time between
 *   bytes), so a long-poll can wait longer for its head than a piece GET.
 * - Redirects are never followed: undici's plain `request` does not, and pieces and have-sets
 *   must not (§16). A 3xx is an answer like any other, for the caller to refuse.
 *
 * Runs (`RunQueue`): requests wait a microtask (the rest of the engine's turn), then the oldest
 * one grows into a run of the adjacent requested blocks of its piece, both ways, up to
 * `maxRunBytes`: one GET. A request already queued or in flight is refused (`add` is false);
 * `cancel` drops a queued one, or the delivery of an in-flight one.
 *
 * Back-off: a `429`/`503` is a choke, never a failure: its `Retry-After` (`retryAfterDelay`,
 * delay-seconds or an HTTP-date; a default when absent or unreadable, capped). Other failures
 * count (`FailureBackoff`): 1 s doubling to a cap, until too many in a row; a success resets.
 *
 * This module loads nothing but undici (on demand): a plain `torrenttp get` imports it.
 */
import type { Dispatcher, Pool } from 'undici';
import type { Geometry } from '../metainfo/index.js';
import type { BlockRequest } from './peer-link.js';
import { interimSkippingConnector, loadUndici, loadUndiciModule } from '../tracker/undici.js';

/** `Retry-After`: the tracker layer's one parser (undici.ts, loadable without the rest of it). */
export { parseRetryAfter, readContentRange, retryAfterDelay, type ContentRange } from '../tracker/undici.js';

export { interimSkippingConnector, loadUndici, loadUndiciCore, nodeGet, setClientTls, TLS_HANDSHAKE_FAILED, type ClientTls, type Undici } from '../tracker/undici.js';

let poolClass: Promise<typeof Pool> | undefined;
/** The connector of every pool: made once, shared as an undici `Agent` shares its own. */
let skippingConnect: ReturnType<typeof interimSkippingConnector> | undefined;
/**
 * undici's `Pool` alone, without the rest of the package (fetch, WebSocket, caches, mocks): what
 * web seeds' pools need. It loads in about a third of the time and CPU of the
 * whole package (~0.1 s of CPU, more under load, in every download with a web seed). The same
 * module instance the package itself uses; if undici ever moves the file, the whole package.
 */
export const loadUndiciPool = (): Promise<typeof Pool> => (poolClass ??= loadUndiciModule('undici/lib/dispatcher/pool.js', () => loadUndici().then((u) => u.Pool)));

export const HTTP_FETCH_DEFAULTS = {
  /** Connections per origin: the spec's 4 per peer (§7). */
  connections: 4,
  /** §11: connect timeout 10 s. */
  connectTimeoutMs: 10_000,
  /** Idle keep-alive connections are closed after this (undici's default is 4 s; peers are polled every 30 s). */
  keepAliveTimeoutMs: 30_000,
} as const;

export interface OriginLease {
  readonly dispatcher: Dispatcher;
  /** Gives the lease back; the pool closes once nobody holds it. */
  release(): void;
}

interface Shared {
  readonly origin: string;
  readonly pool: Pool;
  holders: number;
}

const pools = new Map<string, Shared>();

/** The origin (`scheme://host:port`) of a URL, the key of its pool. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** A lease on the shared pool of `url`'s origin. */
export async function acquireOrigin(url: string, opts: { connections?: number } = {}): Promise<OriginLease> {
  const PoolClass = await loadUndiciPool();
  const origin = originOf(url);
  const key = origin;
  // Its sockets skip interim (1xx) answers (undici.ts).
  const connect = await (skippingConnect ??= interimSkippingConnector({ timeout: HTTP_FETCH_DEFAULTS.connectTimeoutMs }));
  let shared = pools.get(key);
  if (shared === undefined) {
    const pool = new PoolClass(origin, {
      connections: opts.connections ?? HTTP_FETCH_DEFAULTS.connections,
      connect,
      keepAliveTimeout: HTTP_FETCH_DEFAULTS.keepAliveTimeoutMs,
    });
    // A pool whose origin refuses connections emits connectionError: heard, it is the request's failure.
    pool.on('connectionError', () => {});
    shared = { origin, pool, holders: 0 };
    pools.set(key, shared);
  }
  shared.holders++;
  const held = shared;
  let released = false;
  return {
    dispatcher: held.pool,
    release: () => {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      if (pools.get(key) === held) pools.delete(key);
      void held.pool.destroy().catch(() => {});
    },
  };
}

/** Pools open now, for tests (a closed link must not keep its pool). */
export function openOrigins(): string[] {
  return [...pools.values()].map((s) => s.origin);
}

/** The first value of a response header. */
export function headerOf(res: Pick<Dispatcher.ResponseData, 'headers'>, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** undici's timeout errors: connect, head, body (idle). */
export function isTimeoutError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** What a user needs from a connection failure: `connect ECONNREFUSED 127.0.0.1:27999`. */
export function whyFailed(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[]; cause?: unknown };
  if (Array.isArray(e.errors) && e.errors.length > 0 && !e.message) return whyFailed(e.errors[0]);
  if (e.message) return e.message;
  if (e.code !== undefined) return e.code;
  return e.cause === undefined ? String(err) : whyFailed(e.cause);
}

// ── Retry-After and back-off ──────────────────────────────────────────────────────────────

/** Failures in a row and the back-off after each: `baseMs` doubling to `maxMs`; `maxFailures` in a row is giving up. */
export class FailureBackoff {
  /** Failures since the last success. */
  failures = 0;

  constructor(
    private readonly maxFailures: number,
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Counts one: the wait before the next try, or undefined when that was one too many (give up). */
  fail(): number | undefined {
    this.failures++;
    if (this.failures >= this.maxFailures) return undefined;
    return Math.min(this.maxMs, this.baseMs * 2 ** (this.failures - 1));
  }

  reset(): void {
    this.failures = 0;
  }
}

// ── merged runs ───────────────────────────────────────────────────────────────────────────

/** Adjacent requested blocks of one piece, asked for with one GET: bytes `begin` to `begin + length` of the piece. */
export interface BlockRun {
  readonly index: BlockRequest['index'];
  readonly begin: number;
  readonly length: number;
  /** In order of `begin`, adjacent: each `blockLength` long but the last. */
  readonly reqs: readonly BlockRequest[];
}

/** A run in flight: which of its requests are no longer in flight, which were cancelled (positions in `reqs`). */
interface Run extends BlockRun {
  /** `reqs[0..next)` arrived or settled. */
  next: number;
  /** Positions at or past `next` that arrived out of order (made when one does). */
  early: Set<number> | undefined;
  /** Positions cancelled while in flight: not delivered (made at the first cancel). */
  cancelled: Set<number> | undefined;
}

/**
 * Block requests waiting for a GET, keyed by absolute offset in their order of arrival, and the
 * runs in flight (see the module's rules). A run in flight is one object, not an entry per block:
 * its blocks are found by offset (a GET's blocks are adjacent), so a GET adds and removes nothing
 * per block but the queued requests it takes.
 */
export class RunQueue {
  private readonly pending = new Map<number, BlockRequest>();
  /** In flight: a few (one per GET). */
  private readonly runs: Run[] = [];
  private scheduled = false;

  /**
   * `onQueued` runs once per turn in which requests were added (a microtask later), for the
   * owner to `take` runs while it may start GETs.
   */
  constructor(
    private readonly geometry: Pick<Geometry, 'pieceLength' | 'pieceLengthOf'>,
    private readonly blockLength: number,
    private readonly maxRunBytes: number,
    private readonly onQueued: () => void,
  ) {}

  /** Requests waiting for a GET. */
  get queued(): number {
    return this.pending.size;
  }

  /** Queues `req`; false when it is queued or in flight already. */
  add(req: BlockRequest): boolean {
    const k = this.key(req.index, req.begin);
    if (this.pending.has(k) || this.inFlight(req) !== undefined) return false;
    this.pending.set(k, req);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.onQueued();
      });
    }
    return true;
  }

  /** Drops a queued request, or the delivery of an in-flight one. */
  cancel(req: BlockRequest): void {
    if (this.pending.delete(this.key(req.index, req.begin))) return;
    const at = this.inFlight(req);
    if (at !== undefined) (at.run.cancelled ??= new Set()).add(at.i);
  }

  /** The oldest queued request grown into a run, now in flight; undefined when none is queued. */
  take(): BlockRun | undefined {
    const head = this.pending.entries().next();
    if (head.done === true) return undefined;
    const [k0, first] = head.value;
    const { index } = first;
    this.pending.delete(k0);
    const reqs = [first];
    // Grow the run both ways: the engine may ask for a piece's blocks in any order.
    let begin = first.begin;
    let end = first.begin + first.length;
    const pieceEnd = this.geometry.pieceLengthOf(index);
    for (;;) {
      const ka = this.key(index, end);
      const after = end < pieceEnd && reqs[reqs.length - 1]!.length === this.blockLength ? this.pending.get(ka) : undefined;
      if (after !== undefined && end + after.length - begin <= this.maxRunBytes) {
        this.pending.delete(ka);
        reqs.push(after);
        end += after.length;
        continue;
      }
      const kb = this.key(index, begin - this.blockLength);
      const before = begin > 0 ? this.pending.get(kb) : undefined;
      if (before !== undefined && before.length === this.blockLength && end - before.begin <= this.maxRunBytes) {
        this.pending.delete(kb);
        reqs.unshift(before);
        begin = before.begin;
        continue;
      }
      break;
    }
    const run: Run = { index, begin, length: end - begin, reqs, next: 0, early: undefined, cancelled: undefined };
    this.runs.push(run);
    return run;
  }

  /** Request `req` of the run came (its bytes arrived before the GET ended): no longer in flight; false when it was cancelled. */
  arrived(run: BlockRun, req: BlockRequest): boolean {
    const r = run as Run;
    const i = this.position(r, req);
    if (i < 0) return false;
    if (i === r.next) {
      r.next++;
      while (r.early?.delete(r.next) === true) r.next++;
    } else if (i > r.next) (r.early ??= new Set()).add(i);
    return r.cancelled?.has(i) !== true;
  }

  /**
   * The run's GET ended: none of its requests is in flight any more; each not cancelled, from
   * `run.reqs[from]` on (those before it `arrived`), goes to `each`, in order.
   */
  settle(run: BlockRun, each: (req: BlockRequest) => void, from = 0): void {
    const r = run as Run;
    const at = this.runs.indexOf(r);
    if (at >= 0) this.runs.splice(at, 1);
    for (let i = Math.max(from, r.next); i < r.reqs.length; i++) {
      if (r.early?.has(i) === true) continue;
      if (r.cancelled?.has(i) !== true) each(r.reqs[i]!);
    }
    r.next = r.reqs.length;
  }

  /** Takes the queued requests out (all, or those of piece `index`), each to `each`. */
  drain(each: (req: BlockRequest) => void, index?: number): void {
    for (const [k, req] of this.pending) {
      if (index !== undefined && req.index !== index) continue;
      this.pending.delete(k);
      each(req);
    }
  }

  /** Forgets every request, queued or in flight (the link closed). */
  clear(): void {
    this.pending.clear();
    this.runs.length = 0;
  }

  /** The run in flight that `req` is in, and its position there, while it has not arrived; undefined when none. */
  private inFlight(req: BlockRequest): { run: Run; i: number } | undefined {
    for (const run of this.runs) {
      if (run.index !== req.index) continue;
      const i = this.position(run, req);
      if (i >= run.next && run.early?.has(i) !== true) return { run, i };
    }
    return undefined;
  }

  /** Where `req` is in `run.reqs` (the same block: index, offset and length), or -1. */
  private position(run: Run, req: BlockRequest): number {
    if (req.index !== run.index || req.begin < run.begin || req.begin >= run.begin + run.length) return -1;
    const i = Math.floor((req.begin - run.begin) / this.blockLength);
    const r = run.reqs[i];
    return r !== undefined && r.begin === req.begin && r.length === req.length ? i : -1;
  }

  private key(index: number, begin: number): number {
    return index * this.geometry.pieceLength + begin;
  }
}
