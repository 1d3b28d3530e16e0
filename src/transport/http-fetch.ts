/**
 * The one HTTP client of the transport layer: undici, loaded on first use, and one keep-alive
 * `Pool` per origin, shared by every web seed and TorrentTTP HTTP peer of the process that talks
 * to that origin. Two torrents seeded by one server, or a web seed and an HTTP peer on the same
 * host, reuse the same few connections instead of opening a set each.
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
 */
import type { Dispatcher, Pool } from 'undici';
import { loadUndici } from '../tracker/undici.js';

export { loadUndici, loadUndiciCore, type Undici } from '../tracker/undici.js';

let poolClass: Promise<typeof Pool> | undefined;
/**
 * undici's `Pool` alone, without the rest of the package (fetch, WebSocket, caches, mocks): what
 * web seeds' and HTTP peers' pools need. It loads in about a third of the time and CPU of the
 * whole package (~0.1 s of CPU, more under load, in every download with an HTTP peer). The same
 * module instance the package itself uses; if undici ever moves the file, the whole package.
 */
export const loadUndiciPool = (): Promise<typeof Pool> =>
  (poolClass ??= import(UNDICI_POOL_PATH).then(
    (m: { default?: unknown }) => (typeof m.default === 'function' ? (m.default as typeof Pool) : loadUndici().then((u) => u.Pool)),
    () => loadUndici().then((u) => u.Pool),
  ));
/** A variable, so TypeScript does not look for types of this inner path (they are `Pool`'s). */
const UNDICI_POOL_PATH: string = 'undici/lib/dispatcher/pool.js';

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
  let shared = pools.get(origin);
  if (shared === undefined) {
    const pool = new PoolClass(origin, {
      connections: opts.connections ?? HTTP_FETCH_DEFAULTS.connections,
      connect: { timeout: HTTP_FETCH_DEFAULTS.connectTimeoutMs },
      keepAliveTimeout: HTTP_FETCH_DEFAULTS.keepAliveTimeoutMs,
    });
    // A pool whose origin refuses connections emits connectionError: heard, it is the request's failure.
    pool.on('connectionError', () => {});
    shared = { pool, holders: 0 };
    pools.set(origin, shared);
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
      if (pools.get(origin) === held) pools.delete(origin);
      void held.pool.destroy().catch(() => {});
    },
  };
}

/** Pools open now, for tests (a closed link must not keep its pool). */
export function openOrigins(): string[] {
  return [...pools.keys()];
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
