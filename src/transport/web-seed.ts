/**
 * A BEP 19 web seed (an HTTP server holding the torrent's files) as a `PeerLink`.
 *
 * - It has everything (or the `pieces` it is limited to: requests for others are rejected):
 *   `bitfield` then `unchoke` are queued at creation. `prefersRuns` is true:
 *   the engine should hand it contiguous blocks, which become one ranged GET.
 * - Requests wait in a queue; up to `maxInFlight` GETs run at once. A GET covers a run of
 *   adjacent requested blocks of one piece (http-fetch.ts's `RunQueue`, shared with HTTP peers);
 *   a run that spans files is one GET per file slice.
 * - Every answer is checked. For a range: status 206, `Content-Range: bytes first-last/total`
 *   naming exactly the range asked for (and the file's length, unless `*`), and a body of exactly
 *   that length. `text/html` is an error page unless the file itself is `.htm`/`.html`.
 * - A 200 with the whole file where a smaller range was asked for means the server ignores
 *   `Range` (a plain static server, nginx with `max_ranges 0`). Re-reading a file's head for
 *   every block would cost the square of its size, so instead: when the torrent is at most
 *   `maxWholeFileBytes`, each file is fetched whole once (that first answer is kept), held while
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
 * - GETs go through the process's shared keep-alive pool for the URL's origin (http-fetch.ts).
 * - `cancel` drops a queued request, or the delivery of an in-flight one; no event follows.
 */
import type { Dispatcher } from 'undici';
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, type FileSlice, type Geometry, type Metainfo } from '../metainfo/index.js';
import { DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS } from '../tracker/client.js';
import { TransportError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { acquireOrigin, FailureBackoff, headerOf as header, loadUndici, readContentRange, retryAfterDelay, RunQueue, type BlockRun, type OriginLease } from './http-fetch.js';
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
  /** An undici dispatcher to use; by default the process's shared pool for the URL's origin (http-fetch.ts). */
  readonly dispatcher?: Dispatcher;
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
  private readonly o: Required<Omit<WebSeedOptions, 'onEvent' | 'dispatcher' | 'pieces'>>;
  /** Taken at the first GET: undici is loaded only by processes that use a web seed. */
  private readonly dispatcher: Dispatcher | undefined;
  private lease: Promise<OriginLease> | undefined;
  /** Requests queued and in flight, as merged runs. */
  private readonly queue: RunQueue;
  private runs = 0;
  private readonly controllers = new Set<AbortController>();
  private readonly backoff: FailureBackoff;
  private backoffTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * Set once the server answered a range with the whole file: whole files by index, fetched once
   * and shared by every GET of that file, with the bytes of it handed out so far (to drop it).
   */
  private wholeFiles: Map<number, { body: Promise<Uint8Array>; handedOut: number }> | undefined;

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
      maxRunBytes: opts.maxRunBytes ?? WEB_SEED_DEFAULTS.maxRunBytes,
      maxWholeFileBytes: opts.maxWholeFileBytes ?? WEB_SEED_DEFAULTS.maxWholeFileBytes,
      defaultRetryAfterMs: opts.defaultRetryAfterMs ?? WEB_SEED_DEFAULTS.defaultRetryAfterMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? WEB_SEED_DEFAULTS.maxRetryAfterMs,
    };
    this.dispatcher = opts.dispatcher;
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
  sendBlock(_req: BlockRequest, _data: Uint8Array, done?: () => void): void {
    done?.();
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.backoffTimer);
    for (const ac of this.controllers) ac.abort();
    this.queue.clear();
    this.wholeFiles?.clear();
    void this.lease?.then((l) => l.release(), () => {});
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
    const { length } = run;
    const start = this.geometry.pieceOffset(run.index) + run.begin;
    const buf = new Uint8Array(length);
    let failure: TorrenttpError | undefined;
    try {
      let at = 0;
      const parts: Promise<void>[] = [];
      for (const slice of this.geometry.slices(start, length)) {
        parts.push(this.fetchSlice(slice, buf.subarray(at, at + slice.length)));
        at += slice.length;
      }
      await Promise.all(parts);
    } catch (err) {
      failure = toTorrenttpError(err);
    }
    this.runs--;
    if (this.closed) return;
    let delivered = 0;
    this.queue.settle(run, (req) => {
      if (failure !== undefined) {
        this.events.emit({ type: 'rejected', req });
      } else {
        const off = req.begin - run.begin;
        this.events.emit({ type: 'block', req, data: buf.subarray(off, off + req.length) });
        delivered += req.length;
      }
    });
    if (failure === undefined) {
      this.backoff.reset();
      if (delivered > 0) this.events.emit({ type: 'bytes', downloaded: delivered, uploaded: 0 });
    } else {
      this.onFailure(failure);
    }
    this.dispatch();
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

  /** The bytes of one file slice into `out`: a ranged GET, or a whole file's copy (a server that ignores Range). Or a TransportError. */
  private async fetchSlice(slice: FileSlice, out: Uint8Array): Promise<void> {
    const at = slice.fileOffset;
    const files = this.wholeFiles;
    if (files !== undefined) {
      let whole = files.get(slice.fileIndex);
      if (whole === undefined) {
        const entry = { body: this.get(slice.fileIndex).then((b) => b!), handedOut: 0 };
        entry.body.catch(() => {
          if (files.get(slice.fileIndex) === entry) files.delete(slice.fileIndex); // the next GET tries again
        });
        files.set(slice.fileIndex, entry);
        whole = entry;
      }
      out.set((await whole.body).subarray(at, at + out.length));
      this.handedOut(slice.fileIndex, whole, out.length);
      return;
    }
    const body = await this.get(slice.fileIndex, { at, out });
    if (body === undefined) return;
    // Range ignored: keep this answer as the file's copy for its other blocks.
    out.set(body.subarray(at, at + out.length));
    this.wholeFiles ??= new Map();
    let whole = this.wholeFiles.get(slice.fileIndex);
    if (whole === undefined) {
      whole = { body: Promise.resolve(body), handedOut: 0 };
      this.wholeFiles.set(slice.fileIndex, whole);
    }
    this.handedOut(slice.fileIndex, whole, out.length);
  }

  /** Drops a whole file's copy once as many bytes as it holds were handed out (a re-request fetches it again). */
  private handedOut(fileIndex: number, whole: { handedOut: number }, n: number): void {
    whole.handedOut += n;
    if (whole.handedOut >= this.metainfo.files[fileIndex]!.length && this.wholeFiles?.get(fileIndex) === whole) this.wholeFiles.delete(fileIndex);
  }

  /**
   * A GET of file `fileIndex`: of `range.out.length` bytes from `range.at` into `range.out`, or,
   * without `range`, of the whole file. Resolves to the whole file's bytes when that is what came
   * (asked for, or a range the server ignored), else to undefined. A range ignored on a torrent
   * over `maxWholeFileBytes` is TRANSPORT_WEBSEED_NO_RANGE.
   */
  private async get(fileIndex: number, range?: { at: number; out: Uint8Array }): Promise<Uint8Array | undefined> {
    const file = this.metainfo.files[fileIndex]!;
    const url = webSeedFileUrl(this.id, this.metainfo, fileIndex);
    const first = range?.at ?? 0;
    const last = range === undefined ? file.length - 1 : range.at + range.out.length - 1;
    const where = range === undefined ? url : `${url} bytes=${first}-${last}`;
    const ac = new AbortController();
    this.controllers.add(ac);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.o.requestTimeoutMs);
    let res: Dispatcher.ResponseData | undefined;
    try {
      try {
        const undici = await loadUndici();
        if (this.closed) throw new TransportError('TRANSPORT_ABORTED', { detail: where });
        const dispatcher = this.dispatcher ?? (await (this.lease ??= acquireOrigin(url, { connections: this.o.maxInFlight }))).dispatcher;
        if (this.closed) throw new TransportError('TRANSPORT_ABORTED', { detail: where });
        const headers = range === undefined ? {} : { range: `bytes=${first}-${last}` };
        res = await undici.request(url, { method: 'GET', headers, signal: ac.signal, dispatcher });
      } catch (err) {
        throw this.networkError(err, timedOut, where);
      }
      // Destroying an unread body emits an AbortError; unheard, it would be uncaught and take the
      // process down, when only this answer was bad.
      res.body.on('error', () => {});
      const ignoredRange = this.checkHead(res, file.length, file.path.at(-1) ?? '', first, last, where);
      if (ignoredRange && this.geometry.totalLength > this.o.maxWholeFileBytes) {
        throw new TransportError('TRANSPORT_WEBSEED_NO_RANGE', {
          detail: `${where}: 200 with the whole file; a torrent over ${formatMiB(this.o.maxWholeFileBytes)} needs a server that honours Range`,
        });
      }
      const into = range !== undefined && !ignoredRange ? range.out : new Uint8Array(file.length);
      let n = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          if (n + chunk.length > into.length) throw new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: more than ${into.length} bytes` });
          into.set(chunk, n);
          n += chunk.length;
        }
      } catch (err) {
        if (err instanceof TorrenttpError) throw err;
        throw this.networkError(err, timedOut, where);
      }
      if (n !== into.length) throw new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: ${n} of ${into.length} bytes` });
      return into === range?.out ? undefined : into;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
      if (res !== undefined && !res.body.destroyed && res.body.readableEnded !== true) res.body.destroy();
    }
  }

  private networkError(err: unknown, timedOut: boolean, where: string): TransportError {
    if (timedOut) return new TransportError('TRANSPORT_HTTP_TIMEOUT', { detail: `${where} after ${this.o.requestTimeoutMs} ms`, cause: err });
    return new TransportError('TRANSPORT_HTTP_FAILED', { detail: `${where}: ${err instanceof Error ? err.message : String(err)}`, cause: err });
  }

  /** Checks an answer's head; true when it is a 200 with the whole file where a smaller range was asked for. */
  private checkHead(res: Dispatcher.ResponseData, fileLength: number, fileName: string, first: number, last: number, where: string): boolean {
    const status = res.statusCode;
    if (status === 429 || status === 503) {
      const err = new TransportError('TRANSPORT_HTTP_UNAVAILABLE', { detail: `${where}: ${status}` });
      retryAfterOf.set(err, retryAfterDelay(header(res, 'retry-after'), this.o.defaultRetryAfterMs, this.o.maxRetryAfterMs));
      throw err;
    }
    const ignoredRange = status === 200 && (first !== 0 || last !== fileLength - 1);
    if (status === 200) {
      // the whole file, asked for or not (Range ignored): its length is checked below
    } else if (status === 206) {
      const cr = readContentRange(header(res, 'content-range'));
      if (cr === undefined || 'unsatisfied' in cr || cr.first !== first || cr.last !== last || (cr.complete !== undefined && cr.complete !== fileLength)) {
        throw new TransportError('TRANSPORT_HTTP_BAD_RANGE', { detail: `${where}: Content-Range ${JSON.stringify(header(res, 'content-range') ?? null)}` });
      }
    } else {
      throw new TransportError('TRANSPORT_HTTP_STATUS', { detail: `${where}: ${status}` });
    }
    const type = header(res, 'content-type')?.toLowerCase() ?? '';
    if (type.startsWith('text/html') && !/\.html?$/i.test(fileName)) {
      throw new TransportError('TRANSPORT_HTTP_ERROR_PAGE', { detail: `${where}: ${type}` });
    }
    const declared = header(res, 'content-length');
    if (declared !== undefined && Number(declared) !== (ignoredRange ? fileLength : last - first + 1)) {
      throw new TransportError('TRANSPORT_HTTP_BAD_LENGTH', { detail: `${where}: Content-Length ${declared}` });
    }
    return ignoredRange;
  }
}

function formatMiB(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}


