/**
 * A BEP 19 web seed (an HTTP server holding the torrent's files) as a `PeerLink`.
 *
 * - It has everything (or the `pieces` it is limited to: requests for others are rejected):
 *   `bitfield` then `unchoke` are queued at creation. `prefersRuns` is true:
 *   the engine should hand it contiguous blocks, which become one ranged GET.
 * - Requests wait in a queue; up to `maxInFlight` runs are fetched at once. A run is adjacent
 *   requested blocks of one piece (http-fetch.ts's `RunQueue`, shared with HTTP peers), one
 *   ranged GET, or one per file slice when it spans files (those GETs at once; the first that
 *   fails stops the others).
 * - GETs go through the process's shared keep-alive pool for the URL's origin: the transport's
 *   own HTTP/1.1 client (http1-pool.ts, group 'webseed': apart from HTTP peers' pools), no undici.
 *   Redirects are not followed (a 3xx is a failure, as before), so one origin, one pool.
 * - Bodies stream: each block goes to the engine as soon as its last byte came, a view of the
 *   socket's reused read buffer (ttp-piece.ts's `PieceBlocks`; gathered in the GET's scratch when
 *   it straddles two reads, or in a buffer of its own when a file's end cuts it), delivered at
 *   once (`deliverNow`): the engine copies it, as from an HTTP peer's. A failed run rejects only
 *   the blocks that did not come.
 * - Every answer is checked. For a range: status 206, `Content-Range: bytes first-last/total`
 *   naming exactly the range asked for (and the file's length, unless `*`), and a body of exactly
 *   that length (by `Content-Length`, chunked, or to the connection's end; a byte too many fails
 *   the GET at once). `text/html` is an error page unless the file itself is `.htm`/`.html`.
 * - A 200 with the whole file where a smaller range was asked for means the server ignores
 *   `Range` (a plain static server, nginx with `max_ranges 0`). Re-reading a file's head for
 *   every block would cost the square of its size, so instead: when the torrent is at most
 *   `maxWholeFileBytes`, each file is fetched whole once (that first answer is kept; GETs of it in
 *   flight when its head came stop at theirs and wait for its body: one copy a file), held while
 *   its blocks are asked for, and dropped once they all were; a larger torrent closes the link at
 *   once with TRANSPORT_WEBSEED_NO_RANGE, a reason the client shows (not five back-offs and a
 *   silent stop).
 * - A 429 or 503 is a choke, not a failure (the server is busy, not broken): `choke { retryAfterMs }`
 *   for its `Retry-After` (http-fetch.ts's `retryAfterDelay`: 5 s when absent or unreadable, at
 *   most 5 min, as docs/torrenttp.md §7 asks of HTTP peers), the queued requests rejected,
 *   `unchoke` after. It never counts towards giving up: a busy mirror is waited for, however
 *   often it says so.
 * - Any other failed GET rejects its requests. The link then backs off the same way, 1 s doubling
 *   to 60 s (http-fetch.ts's `FailureBackoff`). Failures while backing off count once. After
 *   `maxFailures` failures in a row, the link closes with TRANSPORT_WEBSEED_GAVE_UP (its `cause`
 *   is the last failure). A success resets the count.
 * - `cancel` drops a queued request, or the delivery of an in-flight one; no event follows.
 */
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, type FileSlice, type Geometry, type Metainfo } from '../metainfo/index.js';
import { DEFAULT_RETRY_AFTER_MS, MAX_REQUEST_BYTES, MAX_RETRY_AFTER_MS, PieceBlocks, type ByteSpan } from '../tracker/client.js';
import { TransportError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { FailureBackoff, readContentRange, retryAfterDelay, RunQueue, type BlockRun } from './http-fetch.js';
import { acquireHttp1, type Http1Lease } from './http1-pool.js';
import type { ResponseHead } from './http1-response.js';
import type { BlockRequest, PeerEventHandler, PeerLink } from './peer-link.js';
import { webSeedFileUrl } from './web-seed-url.js';

export interface WebSeedOptions {
  readonly onEvent: PeerEventHandler;
  /** Parallel GETs. Default 4 (libtorrent opens one connection per web seed; a few ranges in flight hide the round trip). */
  readonly maxInFlight?: number;
  /** Whole-GET deadline, headers and body. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Failures in a row before the link gives up. Default 5. */
  readonly maxFailures?: number;
  /** First back-off; doubles per failure up to `backoffMaxMs`. Defaults 1 s and 60 s. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Largest run of blocks in one GET. Default 4 MiB (and never past a piece). */
  readonly maxRunBytes?: number;
  /** Largest torrent fetched file by file when the server ignores `Range`. Default 64 MiB. */
  readonly maxWholeFileBytes?: number;
  /** Wait after a 429/503 without a usable `Retry-After`, and the longest one honoured. Defaults 5 s and 5 min (docs/torrenttp.md §7). */
  readonly defaultRetryAfterMs?: number;
  readonly maxRetryAfterMs?: number;
  /**
   * The pieces this link offers (its bitfield); default all. A web seed limited to a few pieces
   * costs its server at most those bytes (and re-requests after a failed hash check): the
   * proxy's first piece of a cold fetch.
   */
  readonly pieces?: Bitfield;
}

export const WEB_SEED_DEFAULTS = {
  maxInFlight: 4,
  requestTimeoutMs: 30_000,
  maxFailures: 5,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  maxRunBytes: 4 * 1024 * 1024,
  maxWholeFileBytes: 64 * 1024 * 1024,
  defaultRetryAfterMs: DEFAULT_RETRY_AFTER_MS,
  maxRetryAfterMs: MAX_RETRY_AFTER_MS,
} as const;

/** `Retry-After` from a 429/503, carried with the error it came with. */
const retryAfterOf = new WeakMap<TorrenttpError, number>();
/** A GET stopped at its head, a 200 with a file whose whole copy another GET already brings: that copy. */
const sharedWholeOf = new WeakMap<TorrenttpError, WholeFile>();

/** A whole file's copy (a server that ignores Range), shared by every GET of it, with the bytes of it handed out so far (to drop it). */
interface WholeFile {
  readonly body: Promise<Uint8Array>;
  handedOut: number;
}

export function createWebSeed(url: string, metainfo: Metainfo, opts: WebSeedOptions): PeerLink {
  return new WebSeed(url, metainfo, opts);
}

class WebSeed implements PeerLink {
  readonly kind = 'webseed' as const;
  readonly canDownload = true;
  readonly canUpload = false;
  readonly prefersRuns = true;
  readonly pollsHaves = false;
  readonly bitfield: Bitfield;
  readonly desiredQueueDepth: number;
  peerChoking = true;

  private readonly events: EventQueue;
  private readonly geometry: Geometry;
  private readonly o: Required<Omit<WebSeedOptions, 'onEvent' | 'pieces'>>;
  /** The origin's shared pool (http1-pool.ts), taken at the first GET. */
  private lease: Http1Lease | undefined;
  /** Requests queued and in flight, as merged runs. */
  private readonly queue: RunQueue;
  private runs = 0;
  /** Aborts each GET in flight (the link's close). */
  private readonly aborts = new Set<() => void>();
  /** Scratch buffers of GETs that ended, for the next ones. */
  private readonly freeScratch: Uint8Array[] = [];
  private readonly backoff: FailureBackoff;
  private backoffTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * Set once the server answered a range with the whole file: whole files by index, fetched once
   * and shared by every GET of that file, with the bytes of it handed out so far (to drop it).
   */
  private wholeFiles: Map<number, WholeFile> | undefined;

  constructor(
    readonly id: string,
    private readonly metainfo: Metainfo,
    opts: WebSeedOptions,
  ) {
    this.events = new EventQueue(opts.onEvent);
    this.geometry = metainfo.geometry;
    this.o = {
      maxInFlight: opts.maxInFlight ?? WEB_SEED_DEFAULTS.maxInFlight,
      requestTimeoutMs: opts.requestTimeoutMs ?? WEB_SEED_DEFAULTS.requestTimeoutMs,
      maxFailures: opts.maxFailures ?? WEB_SEED_DEFAULTS.maxFailures,
      backoffBaseMs: opts.backoffBaseMs ?? WEB_SEED_DEFAULTS.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs ?? WEB_SEED_DEFAULTS.backoffMaxMs,
      maxRunBytes: Math.min(opts.maxRunBytes ?? WEB_SEED_DEFAULTS.maxRunBytes, MAX_REQUEST_BYTES),
      maxWholeFileBytes: opts.maxWholeFileBytes ?? WEB_SEED_DEFAULTS.maxWholeFileBytes,
      defaultRetryAfterMs: opts.defaultRetryAfterMs ?? WEB_SEED_DEFAULTS.defaultRetryAfterMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? WEB_SEED_DEFAULTS.maxRetryAfterMs,
    };
    this.queue = new RunQueue(this.geometry, BLOCK_LENGTH, this.o.maxRunBytes, () => this.dispatch());
    this.backoff = new FailureBackoff(this.o.maxFailures, this.o.backoffBaseMs, this.o.backoffMaxMs);
    // Enough blocks for every GET in flight to be a full run, plus as many queued behind them.
    const runBlocks = Math.ceil(Math.min(this.geometry.pieceLength, this.o.maxRunBytes) / BLOCK_LENGTH);
    this.desiredQueueDepth = Math.min(1024, Math.max(16, 2 * this.o.maxInFlight * runBlocks));
    this.bitfield = opts.pieces ?? Bitfield.full(metainfo.pieceCount);
    this.events.emit({ type: 'bitfield', bitfield: this.bitfield });
    this.peerChoking = false;
    this.events.emit({ type: 'unchoke' });
  }

  request(req: BlockRequest): void {
    if (this.closed) return;
    // Queued, it waits for the rest of this turn's requests, so adjacent blocks coalesce into one GET.
    if (this.peerChoking || !this.valid(req) || !this.bitfield.has(req.index) || !this.queue.add(req)) this.events.emit({ type: 'rejected', req });
  }

  cancel(req: BlockRequest): void {
    if (!this.closed) this.queue.cancel(req);
  }

  setChoking(): void {}
  setInterested(): void {}
  announceHave(): void {}
  sendBlock(_req: BlockRequest, _data: Uint8Array, done?: (written: boolean) => void): void {
    done?.(false);
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.backoffTimer);
    for (const stop of [...this.aborts]) stop();
    this.queue.clear();
    this.wholeFiles?.clear();
    this.lease?.release();
    this.events.emit(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }

  private valid(req: BlockRequest): boolean {
    return this.geometry.isBlockRange(req.index, req.begin, req.length);
  }

  private dispatch(): void {
    while (!this.closed && !this.peerChoking && this.runs < this.o.maxInFlight) {
      const run = this.queue.take();
      if (run === undefined) break;
      this.runs++;
      void this.fetchRun(run);
    }
  }

  private async fetchRun(run: BlockRun): Promise<void> {
    const { reqs } = run;
    const start = this.geometry.pieceOffset(run.index) + run.begin;
    const scratch = this.scratchFor(reqs);
    /** The run's blocks cut by a file's end: gathered from two GETs (by position in `reqs`). */
    const gathering = new Map<number, { buf: Uint8Array; got: number }>();
    let delivered = 0;
    let over = false;
    const give = (req: BlockRequest, data: Uint8Array): void => {
      if (over || this.closed || !this.queue.arrived(run, req)) return;
      this.events.emit({ type: 'block', req, data });
      delivered += req.length;
    };
    let failure: TorrenttpError | undefined;
    /** Aborts the run's GETs still going (the first failure ends the run). */
    const stops: (() => void)[] = [];
    try {
      const parts: Promise<void>[] = [];
      let at = run.begin; // in the piece
      let k0 = 0;
      for (const slice of this.geometry.slices(start, run.length)) {
        const sliceEnd = at + slice.length;
        // The parts of the run's blocks inside this file slice, in order.
        const spans: ByteSpan[] = [];
        const owners: number[] = [];
        while (k0 < reqs.length && reqs[k0]!.begin + reqs[k0]!.length <= at) k0++;
        let longest = 0;
        for (let k = k0; k < reqs.length && reqs[k]!.begin < sliceEnd; k++) {
          const r = reqs[k]!;
          const b = Math.max(r.begin, at);
          spans.push({ begin: b, length: Math.min(r.begin + r.length, sliceEnd) - b });
          owners.push(k);
          longest = Math.max(longest, spans[spans.length - 1]!.length);
        }
        // GETs of one run run at once: one scratch each (the run's own for the first).
        const blocks = new PieceBlocks(slice.length, at, spans, parts.length === 0 ? scratch : new Uint8Array(2 * longest));
        const onSpan = (i: number, bytes: Uint8Array): void => {
          const k = owners[i]!;
          const req = reqs[k]!;
          if (bytes.length === req.length) return give(req, bytes);
          let g = gathering.get(k);
          if (g === undefined) gathering.set(k, (g = { buf: new Uint8Array(req.length), got: 0 }));
          g.buf.set(bytes, spans[i]!.begin - req.begin);
          g.got += bytes.length;
          if (g.got === req.length) {
            gathering.delete(k);
            give(req, g.buf);
          }
        };
        const sink = (chunk: Uint8Array): void => {
          if (over || this.closed) return;
          try {
            blocks.push(chunk, onSpan);
          } finally {
            if (delivered > 0) this.events.emit({ type: 'bytes', downloaded: delivered, uploaded: 0 });
            delivered = 0;
            // Now: the blocks are views of the socket's read, reused by the next one (or of the
            // scratch). The engine copies each while its event is delivered, as from an HTTP peer's.
            this.events.deliverNow();
          }
        };
        parts.push(this.fetchSlice(slice, sink, stops));
        at = sliceEnd;
      }
      await Promise.all(
        parts.map((p) =>
          p.catch((err: unknown) => {
            if (failure !== undefined) return; // the abort of a GET the first failure stopped
            failure = toTorrenttpError(err);
            over = true;
            for (const stop of stops) stop();
          }),
        ),
      );
    } catch (err) {
      failure ??= toTorrenttpError(err);
    }
    over = true;
    this.runs--;
    if (this.freeScratch.length < this.o.maxInFlight) this.freeScratch.push(scratch);
    if (this.closed) return;
    // Those that did not come: all of a failed run's blocks not delivered yet.
    this.queue.settle(run, (req) => this.events.emit({ type: 'rejected', req }));
    if (failure === undefined) this.backoff.reset();
    else this.onFailure(failure);
    this.dispatch();
  }

  /** A scratch for one GET's blocks that straddle two reads (twice its longest block), from those free again. */
  private scratchFor(reqs: readonly BlockRequest[]): Uint8Array {
    let longest = BLOCK_LENGTH;
    for (const r of reqs) longest = Math.max(longest, r.length);
    for (;;) {
      const b = this.freeScratch.pop();
      if (b === undefined) return new Uint8Array(2 * longest);
      if (b.length >= 2 * longest) return b;
    }
  }

  private onFailure(err: TorrenttpError): void {
    if (err.code === 'TRANSPORT_WEBSEED_NO_RANGE') {
      this.close(err); // retrying cannot help: the server will not change its mind
      return;
    }
    if (this.peerChoking) return; // already backing off: one failure per round
    // 429/503: the server chokes us. Not a failure: it never counts towards giving up.
    let retryAfterMs = retryAfterOf.get(err);
    if (retryAfterMs === undefined) {
      retryAfterMs = this.backoff.fail();
      if (retryAfterMs === undefined) {
        this.close(new TransportError('TRANSPORT_WEBSEED_GAVE_UP', { detail: `${this.backoff.failures} failures; last: ${err.message}`, cause: err }));
        return;
      }
    }
    this.peerChoking = true;
    this.events.emit({ type: 'choke', retryAfterMs, reason: err });
    this.queue.drain((req) => this.events.emit({ type: 'rejected', req }));
    this.backoffTimer = setTimeout(() => {
      if (this.closed) return;
      this.peerChoking = false;
      this.events.emit({ type: 'unchoke' });
    }, retryAfterMs);
    this.backoffTimer.unref();
  }

  /**
   * The bytes of one file slice, to `sink` as they come: a ranged GET streamed, or cut from a
   * whole file's copy (a server that ignores Range). Or a TransportError.
   */
  private async fetchSlice(slice: FileSlice, sink: (chunk: Uint8Array) => void, stops: (() => void)[]): Promise<void> {
    const at = slice.fileOffset;
    const files = this.wholeFiles;
    if (files !== undefined) {
      let whole = files.get(slice.fileIndex);
      if (whole === undefined) {
        // Shared by every run that needs the file: no run's failure stops it (only the link's close).
        const entry = { body: this.get(slice.fileIndex).then((b) => b!), handedOut: 0 };
        entry.body.catch(() => {
          if (files.get(slice.fileIndex) === entry) files.delete(slice.fileIndex); // the next GET tries again
        });
        files.set(slice.fileIndex, entry);
        whole = entry;
      }
      sink((await whole.body).subarray(at, at + slice.length));
      this.handedOut(slice.fileIndex, whole, slice.length);
      return;
    }
    let body: Uint8Array | undefined;
    let whole: WholeFile | undefined;
    try {
      body = await this.get(slice.fileIndex, { at, length: slice.length, sink, stops });
    } catch (err) {
      // Its head was a 200 with a file another GET brings whole: that copy, not a second one.
      whole = err instanceof TorrenttpError ? sharedWholeOf.get(err) : undefined;
      if (whole === undefined) throw err;
      body = await whole.body;
    }
    if (body === undefined) return;
    // Range ignored: this answer (registered at its head, `get`) is the file's copy for its other blocks.
    sink(body.subarray(at, at + slice.length));
    whole ??= this.wholeFiles?.get(slice.fileIndex);
    if (whole !== undefined) this.handedOut(slice.fileIndex, whole, slice.length);
  }

  /** Drops a whole file's copy once as many bytes as it holds were handed out (a re-request fetches it again). */
  private handedOut(fileIndex: number, whole: { handedOut: number }, n: number): void {
    whole.handedOut += n;
    if (whole.handedOut >= this.metainfo.files[fileIndex]!.length && this.wholeFiles?.get(fileIndex) === whole) this.wholeFiles.delete(fileIndex);
  }

  /**
   * A GET of file `fileIndex` on the origin's pool (http1-pool.ts): of `range.length` bytes from
   * `range.at`, streamed to `range.sink` as views of the socket's reads; or, without `range`, of
   * the whole file. Resolves to the whole file's bytes when that is what came (asked for, or a
   * range the server ignored: then nothing went to the sink), else to undefined. A range ignored
   * on a torrent over `maxWholeFileBytes` is TRANSPORT_WEBSEED_NO_RANGE, at the answer's head.
   */
  private get(fileIndex: number, range?: { at: number; length: number; sink: (chunk: Uint8Array) => void; stops: (() => void)[] }): Promise<Uint8Array | undefined> {
    const file = this.metainfo.files[fileIndex]!;
    const url = webSeedFileUrl(this.id, this.metainfo, fileIndex);
    const first = range?.at ?? 0;
    const last = range === undefined ? file.length - 1 : range.at + range.length - 1;
    const where = range === undefined ? url : `${url} bytes=${first}-${last}`;
    if (this.closed) return Promise.reject(new TransportError('TRANSPORT_ABORTED', { detail: where }));
    let lease: Http1Lease;
    let target: string;
    try {
      lease = this.lease ??= acquireHttp1(url, { connections: this.o.maxInFlight, group: 'webseed' });
      const u = new URL(url);
      target = u.pathname + u.search;
    } catch (err) {
      return Promise.reject(err instanceof TorrenttpError ? err : new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${where}: ${String(err)}`, cause: err }));
    }
    const headers = ['accept-encoding', 'identity'];
    if (range !== undefined) headers.push('range', `bytes=${first}-${last}`);
    const name = file.path.at(-1) ?? '';
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      let settled = false;
      /** An error of ours (a bad head, a body too long), thrown into the pool: it comes back as it is. */
      let ours: unknown;
      let whole: Uint8Array | undefined;
      let expected = -1;
      let n = 0;
      /** This GET's body as the file's shared copy, when it is the first 200 of a range ignored. */
      let registered: WholeFile | undefined;
      const bodyOf = deferred<Uint8Array>();
      const done = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.aborts.delete(stop);
        if (registered !== undefined) {
          if (n === expected && whole !== undefined) bodyOf.resolve(whole);
          else {
            bodyOf.reject(new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${where}: the whole file did not come` }));
            if (this.wholeFiles?.get(fileIndex) === registered) this.wholeFiles.delete(fileIndex); // the next GET tries again
          }
        }
        f();
      };
      const abort = lease.pool.request(
        { path: target, headers, headersTimeoutMs: this.o.requestTimeoutMs, bodyTimeoutMs: this.o.requestTimeoutMs },
        {
          onHead: (head) => {
            try {
              const ignoredRange = this.checkHead(head, file.length, name, first, last, where);
              if (ignoredRange && this.geometry.totalLength > this.o.maxWholeFileBytes) {
                throw new TransportError('TRANSPORT_WEBSEED_NO_RANGE', {
                  detail: `${where}: 200 with the whole file; a torrent over ${formatMiB(this.o.maxWholeFileBytes)} needs a server that honours Range`,
                });
              }
              if (ignoredRange) {
                // One copy a file: GETs of it in flight when the first 200 came stop at their heads and wait for its body.
                const shared = this.wholeFiles?.get(fileIndex);
                if (shared !== undefined) {
                  const err = new TransportError('TRANSPORT_ABORTED', { detail: `${where}: the whole file comes by another GET` });
                  sharedWholeOf.set(err, shared);
                  throw err;
                }
                (this.wholeFiles ??= new Map()).set(fileIndex, (registered = wholeFile(bodyOf)));
              }
              // The whole file (asked for, or a range ignored): kept, a copy. A range: streamed.
              if (range === undefined || ignoredRange) whole = new Uint8Array(file.length);
              expected = whole?.length ?? last - first + 1;
            } catch (err) {
              throw (ours = err);
            }
          },
          onData: (chunk) => {
            if (n + chunk.length > expected) throw (ours = new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: more than ${expected} bytes` }));
            if (whole !== undefined) whole.set(chunk, n);
            else range!.sink(chunk);
            n += chunk.length;
          },
          onEnd: () => {
            if (n !== expected) done(() => reject(new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: ${n} of ${expected} bytes` })));
            else done(() => resolve(whole));
          },
          // The pool's errors (TRANSPORT_HTTP_FAILED, _TIMEOUT, TRANSPORT_HTTP1_*) name the origin only: with the file and range.
          onError: (err) => done(() => reject(err === ours || !(err instanceof TransportError) ? err : new TransportError(err.code, { detail: `${where}: ${err.detail ?? err.message}`, cause: err }))),
        },
      );
      const stop = (): void => {
        abort();
        done(() => reject(new TransportError('TRANSPORT_ABORTED', { detail: where })));
      };
      const timer = setTimeout(() => {
        abort();
        done(() => reject(new TransportError('TRANSPORT_HTTP_TIMEOUT', { detail: `${where} after ${this.o.requestTimeoutMs} ms` })));
      }, this.o.requestTimeoutMs);
      this.aborts.add(stop);
      range?.stops.push(stop);
    });
  }

  /** Checks an answer's head; true when it is a 200 with the whole file where a smaller range was asked for. */
  private checkHead(head: ResponseHead, fileLength: number, fileName: string, first: number, last: number, where: string): boolean {
    const status = head.status;
    if (status === 429 || status === 503) {
      const err = new TransportError('TRANSPORT_HTTP_UNAVAILABLE', { detail: `${where}: ${status}` });
      retryAfterOf.set(err, retryAfterDelay(head.get('retry-after'), this.o.defaultRetryAfterMs, this.o.maxRetryAfterMs));
      throw err;
    }
    const ignoredRange = status === 200 && (first !== 0 || last !== fileLength - 1);
    if (status === 200) {
      // the whole file, asked for or not (Range ignored): its length is checked below
    } else if (status === 206) {
      const cr = readContentRange(head.get('content-range'));
      if (cr === undefined || 'unsatisfied' in cr || cr.first !== first || cr.last !== last || (cr.complete !== undefined && cr.complete !== fileLength)) {
        throw new TransportError('TRANSPORT_HTTP_BAD_RANGE', { detail: `${where}: Content-Range ${JSON.stringify(head.get('content-range') ?? null)}` });
      }
    } else {
      throw new TransportError('TRANSPORT_HTTP_STATUS', { detail: `${where}: ${status}` });
    }
    const type = head.get('content-type')?.toLowerCase() ?? '';
    if (type.startsWith('text/html') && !/\.html?$/i.test(fileName)) {
      throw new TransportError('TRANSPORT_HTTP_ERROR_PAGE', { detail: `${where}: ${type}` });
    }
    const declared = head.get('content-length');
    if (declared !== undefined && Number(declared) !== (ignoredRange ? fileLength : last - first + 1)) {
      throw new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: Content-Length ${declared}` });
    }
    return ignoredRange;
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A whole file's copy, to come as `body` settles; a failure is handled by whoever waits for it (maybe nobody). */
function wholeFile(body: Deferred<Uint8Array>): WholeFile {
  body.promise.catch(() => {});
  return { body: body.promise, handedOut: 0 };
}

function formatMiB(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}


