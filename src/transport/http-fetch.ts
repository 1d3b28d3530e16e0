/**
 * The HTTP plumbing of the transport layer, shared by web seeds (web-seed.ts) and TorrentTTP HTTP
 * peers (http-peer.ts), whose connections are the transport's own HTTP/1.1 client's
 * (http1-pool.ts): the queue that turns block requests into merged runs (one ranged GET each);
 * `Retry-After`; the failure back-off. Each link keeps only
 * what its protocol says: which URL, which statuses mean what, how a body is checked.
 *
 * Redirects are never followed: pieces and have-sets must not be (§16); a 3xx is an answer like
 * any other, for the caller to refuse.
 *
 * Also the re-exports of undici's loader (tracker/undici.ts) for the layers above: the proxy's
 * dispatcher (`loadUndici`, `interimSkippingConnector`), a get's `nodeGet`.
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
 * This module loads nothing but undici.ts (which loads undici only on demand): a plain `torrenttp get` imports it.
 */
import type { Dispatcher } from 'undici';
import type { Geometry } from '../metainfo/index.js';
import type { BlockRequest } from './peer-link.js';

/** `Retry-After`: the tracker layer's one parser (undici.ts, loadable without the rest of it). */
export { parseRetryAfter, readContentRange, retryAfterDelay, type ContentRange } from '../tracker/undici.js';

export { interimSkippingConnector, loadUndici, loadUndiciCore, nodeGet, setClientTls, TLS_HANDSHAKE_FAILED, type ClientTls, type Undici } from '../tracker/undici.js';

/** The first value of a response header. */
export function headerOf(res: Pick<Dispatcher.ResponseData, 'headers'>, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
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
