/**
 * A TorrentTTP v1 peer (docs/torrenttp.md) as a `PeerLink`: BitTorrent's request/piece over
 * plain HTTP GETs, the peer named by its torrent URL.
 *
 * Rules (the section of the spec each one follows):
 * - Have-set (§5): a first `GET {torrent}/have` gives the full set → `bitfield`, then `unchoke`
 *   (interest is implicit, §7: we are unchoked until the peer says otherwise). Then one long-poll
 *   at a time, `?since=<cursor>&wait=30` with `If-None-Match: "<cursor>"`: `304` → poll again;
 *   a delta → `have` per added piece; a full document → `have` per gained piece, or, when the
 *   peer lost pieces, a `bitfield` (the set replaced: `pollsHaves`). A poll that comes back empty
 *   within 1 s waits 1 s before the next. `link.bitfield` is one object for the link's life.
 * - One long-poll an origin, whatever the number of torrents on it: it is a `held` request of the
 *   origin's pool (http1-pool.ts, `maxHeld` 1), so it never takes a connection the piece GETs of
 *   this or another torrent need. When another link of the process holds the origin's long-poll
 *   (`holdFree` false), this one polls without `wait` (answered at once) every `shortPollGapMs`
 *   (5 s) instead, and asks again for the long-poll at each poll.
 * - Pieces (§6): queued requests wait a microtask, then adjacent blocks of one piece coalesce
 *   into one GET (http-fetch.ts's `RunQueue`, shared with web seeds; no `Range` for a whole
 *   piece, which caches best; `Range: bytes=first-last` otherwise). At most 4 connections to a
 *   peer (§7): the process's shared keep-alive pool for the origin has 4 (http1-pool.ts, our own
 *   HTTP/1.1 client: no undici for pieces or have-sets), at most one of them for the origin's
 *   long-poll and the others for piece GETs (a link has up to 3 in flight), one GET each (no
 *   HTTP/1.1 pipelining, §2). GETs in flight: a window that starts at 1, grows by one per answered GET up to `maxInFlight` (by default 2 GETs of pieces of 1 MiB or more, else 3:
 *   `inFlightBytes`) and falls back to 1 after a failure or a choke. Depth
 *   comes from run length, not from more GETs: the engine is asked for enough blocks
 *   (`desiredQueueDepth`) that every GET is a whole piece. Every head is checked before a byte
 *   is used (§6.4 1.–3., `checkPieceResponse`); then each block goes to the engine as soon as
 *   its last byte came (`PieceBlocks`: a view of the socket's read, or gathered in the GET's
 *   32 KiB scratch when it straddles two reads), delivered at once (`deliverNow`: the read
 *   buffer is reused); a body that runs long closes the link at its first byte too many, one
 *   cut short rejects the blocks that did not come. Bytes are *not* hashed here: the engine
 *   verifies every piece through storage before it keeps any of it (§6.4 4.), like a wire peer's.
 * - Status (§6.5): `404` → the piece leaves the peer's set (`bitfield`), its requests rejected;
 *   `404 TRANSPORT_UNKNOWN_TORRENT` → close. `429`/`503` → `choke { retryAfterMs }` (its
 *   `Retry-After`, 5 s when absent, at most 5 min), the queued requests rejected, no piece GET
 *   until `unchoke` after the delay. Never counted as a failure.
 * - Failures: a `3xx` (never followed, §16), another `4xx`, a bad `Content-Range`, a body that
 *   runs long, a malformed have-set, a malformed HTTP answer (TRANSPORT_HTTP1_*) → close with the typed error (the peer is broken or hostile;
 *   the engine does not dial it again at once). A `5xx`, a reset, a short body or a timeout →
 *   `choke { retryAfterMs, reason }` (a connection that ends within an answer: TRANSPORT_HTTP1_TRUNCATED), back-off 1 s doubling to 5 min, `unchoke` after; after
 *   `maxFailures` (5) in a row the link closes with TRANSPORT_HTTP_PEER_GAVE_UP. A success resets.
 * - Timeouts (§11): connect 10 s (the pool), response head 15 s (plus `wait` for a long-poll),
 *   body idle 30 s. Limits: have-set 1 MiB, problem document 16 KiB, one request ≤ 16 MiB.
 * - We send `TorrentTTP-Peer-Id` (our peer id, 40 hex) on every request when given one (§7), and
 *   `Accept-Encoding: identity` on pieces (§8).
 * - `cancel` drops a queued request, or the delivery of an in-flight one; no event follows.
 */
import { TorrenttpError, toTorrenttpError, type ErrorCode } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, toHex, type Geometry, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import {
  BoundedBody,
  checkPieceResponse,
  checkTorrentUrl,
  classifyStatus,
  decodeHaveDocument,
  DEFAULT_RETRY_AFTER_MS,
  decodeProblem,
  formatHaveQuery,
  formatRange,
  HAVE_MEDIA_TYPE,
  MAX_HAVE_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RETRY_AFTER_MS,
  PieceBlocks,
  ttpUrl,
  type ByteSpan,
  type HaveDocument,
} from '../tracker/client.js';
import { TransportError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { FailureBackoff, headerOf, retryAfterDelay, RunQueue, type BlockRun } from './http-fetch.js';
import { acquireHttp1, type Http1Lease } from './http1-pool.js';
import type { BlockRequest, PeerEventHandler, PeerLink } from './peer-link.js';

export interface HttpPeerOptions {
  readonly onEvent: PeerEventHandler;
  /** Our peer id (20 bytes), sent as `TorrentTTP-Peer-Id` so the peer can credit us (§7). */
  readonly peerId?: Uint8Array;
  /** Most piece GETs at once, beside the have-set poll: 1 to 3 (4 connections to a peer, §7). Default: 2 for runs of 1 MiB or more, else 3 (`inFlightBytes`). */
  readonly maxInFlight?: number;
  /** Largest run of blocks in one GET. Default 16 MiB (MAX_REQUEST_BYTES), and never past a piece: whole pieces. */
  readonly maxRunBytes?: number;
  /** Response head deadline. Default 15 s (§11); a long-poll gets its `wait` on top. */
  readonly headersTimeoutMs?: number;
  /** Longest silence inside a body. Default 30 s (§11). */
  readonly bodyTimeoutMs?: number;
  /** `wait` of the have-set long-poll, seconds. Default 30 (§5.3). */
  readonly pollWaitSec?: number;
  /** Least time between two polls that came back at once. Default 1 s (§5.3). */
  readonly minPollGapMs?: number;
  /** Time between two polls without `wait`, while another link holds the origin's one long-poll. Default 5 s. */
  readonly shortPollGapMs?: number;
  /** Failures in a row before the link gives up. Default 5 (§6.5). */
  readonly maxFailures?: number;
  /** First back-off after a failure; doubles up to `backoffMaxMs`. Defaults 1 s and 5 min (§6.5). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Wait after a 429/503 without a usable `Retry-After`, and the longest one honoured. Defaults 5 s and 5 min (§7). */
  readonly defaultRetryAfterMs?: number;
  readonly maxRetryAfterMs?: number;
}

export const HTTP_PEER_DEFAULTS = {
  /** Connections to one peer (§7: a client SHOULD keep at most 4 over HTTP/1.1): the poll's and `maxInFlight`. */
  connections: 4,
  /** GETs in flight at the start and after a failure or a choke, and at most (one connection each). */
  minInFlight: 1,
  maxInFlight: 3,
  /**
   * Without `maxInFlight` given, the window's top is the fewest GETs (at least 2, at most
   * `maxInFlight`) whose runs add up to this: 2 GETs of 1 MiB pieces, 3 of smaller ones. Each GET
   * fills a piece buffer of its own while it streams, so a third GET of big pieces is a piece
   * more in memory for no speed: one GET streams while the next one's head comes.
   */
  inFlightBytes: 2 * 1024 * 1024,
  maxRunBytes: MAX_REQUEST_BYTES,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 30_000,
  pollWaitSec: 30,
  minPollGapMs: 1000,
  /**
   * A link whose origin's long-poll is another torrent's polls without `wait` this often: its
   * peer's new pieces known within 5 s, at a 304 of a few hundred bytes every 5 s a torrent.
   */
  shortPollGapMs: 5000,
  maxFailures: 5,
  backoffBaseMs: 1000,
  backoffMaxMs: 300_000,
  defaultRetryAfterMs: DEFAULT_RETRY_AFTER_MS,
  maxRetryAfterMs: MAX_RETRY_AFTER_MS,
  /** A problem document is read up to this much (§11). */
  maxProblemBytes: 16 * 1024,
} as const;

/** The request header that names us to the peer (§7). */
export const PEER_ID_HEADER = 'torrenttp-peer-id';

/** How a failed GET ends: drop the peer, back off, or (a choke) wait. */
type Outcome =
  | { readonly kind: 'fatal'; readonly err: TorrenttpError }
  | { readonly kind: 'retry'; readonly err: TorrenttpError }
  | { readonly kind: 'choked'; readonly retryAfterMs: number; readonly err: TorrenttpError }
  | { readonly kind: 'not-held'; readonly err: TorrenttpError };

/** The head and (bounded) body of an answer that is not piece bytes: what `statusOutcome` reads. */
interface Answer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Where a GET's body goes as it arrives, and what it makes of it at the end (either may throw). */
interface Sink<T> {
  push(chunk: Uint8Array): void;
  done(): T;
}

class GetFailed extends Error {
  constructor(readonly outcome: Outcome) {
    super(outcome.err.message);
  }
}

/**
 * A link to the TorrentTTP peer at `torrentUrl` (its torrent URL, §1) for `metainfo`. Never throws:
 * a URL that is not a torrent URL closes the link at once with TTP_BAD_URL.
 */
export function createHttpPeer(torrentUrl: string, metainfo: Metainfo, opts: HttpPeerOptions): PeerLink {
  return new HttpPeer(torrentUrl, metainfo, opts);
}

class HttpPeer implements PeerLink {
  readonly kind = 'http' as const;
  readonly canDownload = true;
  /**
   * False: this link only downloads. The peer downloads from us through our own TorrentTTP
   * server, whose callers are links of their own (`Torrent.lease`), so the choker ranks them
   * there; ranking this link would hold an upload slot that carries nothing.
   */
  readonly canUpload = false;
  readonly prefersRuns = true;
  readonly pollsHaves = true;
  readonly bitfield: Bitfield;
  readonly desiredQueueDepth: number;
  peerChoking = true;

  private readonly events: EventQueue;
  private readonly geometry: Geometry;
  private readonly o: Required<Omit<HttpPeerOptions, 'onEvent' | 'peerId'>>;
  /** `TorrentTTP-Peer-Id` (§7) when we have one, as undici's flat name/value list. */
  private readonly headers: readonly string[];
  /** A piece GET's: ours and `Accept-Encoding: identity` (§8), made once. */
  private readonly pieceHeaders: readonly string[];
  /** The process's shared pool for the peer's origin (http1-pool.ts). */
  private lease: Http1Lease | undefined;
  /** `scheme://host:port` of the peer; a piece GET's path is the rest of its URL. */
  private readonly origin: string = '';
  /** Requests queued and in flight, as merged runs (http-fetch.ts). */
  private readonly queue: RunQueue;
  /** Scratch buffers free again (at most `maxInFlight`): where a GET gathers a block that straddles two socket reads. */
  private readonly freeScratch: Uint8Array[] = [];
  private runs = 0;
  /** GETs allowed in flight now: grows to `maxInFlight` while answers come, back to the start after trouble. */
  private window: number;
  /** Aborts each request in flight (the GETs and the poll) when the link closes: a plain set, no AbortSignal listener per GET. */
  private readonly aborts = new Set<() => void>();
  private readonly backoff: FailureBackoff;
  private cursor: string | undefined;
  private knowsHaves = false;
  private chokeTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly metainfo: Metainfo,
    opts: HttpPeerOptions,
  ) {
    this.events = new EventQueue(opts.onEvent);
    this.geometry = metainfo.geometry;
    this.bitfield = new Bitfield(metainfo.pieceCount);
    const maxRunBytes = Math.min(opts.maxRunBytes ?? HTTP_PEER_DEFAULTS.maxRunBytes, MAX_REQUEST_BYTES);
    const runBytes = Math.min(this.geometry.pieceLength, maxRunBytes);
    const byBytes = Math.max(2, Math.ceil(HTTP_PEER_DEFAULTS.inFlightBytes / runBytes));
    this.o = {
      maxRunBytes,
      // One connection is the poll's: never more GETs than the others (§7).
      maxInFlight: Math.max(1, Math.min(opts.maxInFlight ?? byBytes, HTTP_PEER_DEFAULTS.maxInFlight, HTTP_PEER_DEFAULTS.connections - 1)),
      headersTimeoutMs: opts.headersTimeoutMs ?? HTTP_PEER_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? HTTP_PEER_DEFAULTS.bodyTimeoutMs,
      pollWaitSec: opts.pollWaitSec ?? HTTP_PEER_DEFAULTS.pollWaitSec,
      minPollGapMs: opts.minPollGapMs ?? HTTP_PEER_DEFAULTS.minPollGapMs,
      shortPollGapMs: opts.shortPollGapMs ?? HTTP_PEER_DEFAULTS.shortPollGapMs,
      maxFailures: opts.maxFailures ?? HTTP_PEER_DEFAULTS.maxFailures,
      backoffBaseMs: opts.backoffBaseMs ?? HTTP_PEER_DEFAULTS.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs ?? HTTP_PEER_DEFAULTS.backoffMaxMs,
      defaultRetryAfterMs: opts.defaultRetryAfterMs ?? HTTP_PEER_DEFAULTS.defaultRetryAfterMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? HTTP_PEER_DEFAULTS.maxRetryAfterMs,
    };
    this.headers = opts.peerId === undefined ? [] : [PEER_ID_HEADER, toHex(opts.peerId)];
    this.pieceHeaders = [...this.headers, 'accept-encoding', 'identity'];
    const runBlocks = Math.ceil(runBytes / BLOCK_LENGTH);
    this.desiredQueueDepth = Math.min(1024, Math.max(16, 2 * this.o.maxInFlight * runBlocks));
    this.window = Math.min(this.o.maxInFlight, HTTP_PEER_DEFAULTS.minInFlight);
    this.queue = new RunQueue(this.geometry, BLOCK_LENGTH, this.o.maxRunBytes, () => this.dispatch());
    this.backoff = new FailureBackoff(this.o.maxFailures, this.o.backoffBaseMs, this.o.backoffMaxMs);
    try {
      checkTorrentUrl(id);
    } catch (err) {
      this.close(toTorrenttpError(err));
      return;
    }
    this.origin = new URL(id).origin;
    this.lease = acquireHttp1(id, { connections: HTTP_PEER_DEFAULTS.connections });
    void this.poll();
  }

  request(req: BlockRequest): void {
    if (this.closed) return;
    const valid = this.geometry.isBlockRange(req.index, req.begin, req.length) && this.bitfield.has(req.index);
    if (this.peerChoking || !valid || !this.queue.add(req)) this.events.emit({ type: 'rejected', req });
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
    clearTimeout(this.chokeTimer);
    clearTimeout(this.pollTimer);
    for (const abort of [...this.aborts]) abort();
    this.queue.clear();
    this.lease?.release();
    this.events.emit(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }

  // ── have-set ──────────────────────────────────────────────────────────────────────────────
  private async poll(): Promise<void> {
    if (this.closed || this.lease === undefined) return;
    const started = Date.now();
    const cursor = this.cursor;
    // Held only while the origin's one long-poll is free (another torrent's holds it, else): not a
    // connection the piece GETs need, silent for `wait` s.
    const long = cursor !== undefined && this.o.pollWaitSec > 0;
    const held = long && this.lease.pool.holdFree();
    const waitSec = held ? this.o.pollWaitSec : 0;
    const query = cursor === undefined ? '' : formatHaveQuery({ since: cursor, waitSec });
    const url = ttpUrl(this.id, { resource: 'have', query });
    const headers = [...this.headers, 'accept', HAVE_MEDIA_TYPE];
    if (cursor !== undefined) headers.push('if-none-match', `"${cursor}"`);
    let next = 0;
    try {
      const doc = await this.exchange(url, headers, this.o.headersTimeoutMs + waitSec * 1000, true, held, (status): Sink<HaveDocument | undefined> => {
        if (status === 304) return { push: () => {}, done: () => undefined };
        const body = new BoundedBody(MAX_HAVE_BYTES);
        return {
          push: (chunk) => body.push(new Uint8Array(chunk)), // kept past onData: a copy (the read buffer is reused; a Buffer's slice() would be a view)
          done: () => decodeHaveDocument(body.bytes(), { infoHash: this.metainfo.infoHash, pieceCount: this.metainfo.pieceCount }),
        };
      });
      if (this.closed) return;
      if (doc !== undefined) this.applyHaves(doc);
      else if (!this.knowsHaves) throw new GetFailed({ kind: 'fatal', err: new TransportError('TRANSPORT_HTTP_STATUS', { detail: `${url}: 304 to a request without a validator` }) });
      this.onSuccess();
      // A poll that came back at once (a server that does not hold, a changing set): not a tight loop.
      if (Date.now() - started < this.o.minPollGapMs) next = this.o.minPollGapMs;
      if (long && !held) next = Math.max(next, this.o.shortPollGapMs);
    } catch (err) {
      if (this.closed) return;
      const outcome = this.outcomeOf(err);
      if (outcome.kind === 'fatal') {
        this.close(outcome.err);
        return;
      }
      if (outcome.kind === 'choked') next = outcome.retryAfterMs;
      else if (outcome.kind === 'not-held') {
        this.close(outcome.err); // a have-set the peer does not have: it does not serve this torrent
        return;
      } else {
        next = this.failed(outcome.err);
        if (this.closed) return;
      }
    }
    this.pollTimer = setTimeout(() => void this.poll(), next);
    this.pollTimer.unref();
  }

  private applyHaves(doc: HaveDocument): void {
    this.cursor = doc.cursor;
    const first = !this.knowsHaves;
    this.knowsHaves = true;
    if (doc.type === 'delta') {
      for (const i of doc.added) if (this.bitfield.set(i)) this.events.emit({ type: 'have', index: i as PieceIndex });
    } else {
      let lost = false;
      for (let i = 0; i < this.bitfield.pieceCount && !lost; i++) lost = this.bitfield.has(i) && !doc.bitfield.has(i);
      if (first || lost) {
        for (let i = 0; i < this.bitfield.pieceCount; i++) {
          if (doc.bitfield.has(i)) this.bitfield.set(i);
          else this.bitfield.clear(i);
        }
        this.events.emit({ type: 'bitfield', bitfield: this.bitfield });
      } else {
        for (let i = 0; i < this.bitfield.pieceCount; i++) {
          if (doc.bitfield.has(i) && this.bitfield.set(i)) this.events.emit({ type: 'have', index: i as PieceIndex });
        }
      }
    }
    if (first && this.chokeTimer === undefined) this.unchoke();
  }

  // ── pieces ────────────────────────────────────────────────────────────────────────────────
  private dispatch(): void {
    while (!this.closed && !this.peerChoking && this.runs < this.window) {
      const run = this.queue.take();
      if (run === undefined) break;
      this.runs++;
      void this.fetchRun(run);
    }
  }

  private async fetchRun(run: BlockRun): Promise<void> {
    const span: ByteSpan = run;
    const pieceBytes = this.geometry.pieceLengthOf(run.index);
    const whole = span.begin === 0 && span.length === pieceBytes;
    const url = ttpUrl(this.id, { resource: 'piece', index: run.index });
    const headers = whole ? this.pieceHeaders : [...this.pieceHeaders, 'range', formatRange(span)];
    let scratch: Uint8Array | undefined;
    let body: PieceBlocks | undefined;
    let outcome: Outcome | undefined;
    try {
      await this.exchange(url, headers, this.o.headersTimeoutMs, false, false, (status, header) => {
        const c = checkPieceResponse(whole ? undefined : span, pieceBytes, { status, contentRange: header('content-range'), contentLength: header('content-length') });
        // A 200 to a Range (§6.4 2.): the whole piece, usable; PieceBlocks skips the rest; the engine's hash check decides.
        scratch = this.scratchFor(run);
        const b = (body = new PieceBlocks(c.length, c.begin, run.reqs, scratch));
        let delivered = 0;
        const onBlock = (i: number, data: Uint8Array): void => {
          const req = run.reqs[i]!;
          if (!this.queue.arrived(run, req)) return;
          this.events.emit({ type: 'block', req, data });
          delivered += req.length;
        };
        return {
          push: (chunk) => {
            if (this.closed) return;
            try {
              b.push(chunk, onBlock);
            } finally {
              if (delivered > 0) this.events.emit({ type: 'bytes', downloaded: delivered, uploaded: 0 });
              delivered = 0;
              // Now: the blocks are views of the socket's read (reused by the next one) or of the
              // scratch. The engine copies each while its event is delivered, as from a wire peer's.
              this.events.deliverNow();
            }
          },
          done: () => b.complete(),
        };
      });
    } catch (err) {
      outcome = this.outcomeOf(err);
    }
    this.runs--;
    if (scratch !== undefined && this.freeScratch.length < this.o.maxInFlight) this.freeScratch.push(scratch);
    if (this.closed) return;
    // Those that did not come (all of a failed GET's, or the rest of a body cut short).
    this.queue.settle(run, (req) => this.events.emit({ type: 'rejected', req }), body?.given ?? 0);
    if (outcome === undefined) {
      this.onSuccess();
      if (this.window < this.o.maxInFlight) this.window++;
    } else if (outcome.kind === 'fatal') {
      this.close(outcome.err);
      return;
    } else if (outcome.kind === 'not-held') {
      if (outcome.err.code === 'TRANSPORT_UNKNOWN_TORRENT') {
        this.close(outcome.err);
        return;
      }
      // §6.5: the peer does not hold it (any more): forget the piece; its next have-set says more.
      if (this.bitfield.clear(run.index)) {
        this.queue.drain((req) => this.events.emit({ type: 'rejected', req }), run.index);
        this.events.emit({ type: 'bitfield', bitfield: this.bitfield });
      }
    } else if (outcome.kind === 'choked') {
      this.choke(outcome.retryAfterMs, undefined);
    } else {
      this.choke(this.failed(outcome.err), outcome.err);
      if (this.closed) return;
    }
    this.dispatch();
  }

  /** A scratch for one GET's blocks that straddle two reads (twice its longest block), from those free again. */
  private scratchFor(run: BlockRun): Uint8Array {
    let longest = BLOCK_LENGTH;
    for (const r of run.reqs) longest = Math.max(longest, r.length);
    for (;;) {
      const b = this.freeScratch.pop();
      if (b === undefined) return new Uint8Array(2 * longest);
      if (b.length >= 2 * longest) return b;
    }
  }

  // ── choke and back-off ────────────────────────────────────────────────────────────────────
  /** The peer chokes us (429/503) or we back off (a failure): no piece GET until `unchoke`. */
  private choke(ms: number, reason: TorrenttpError | undefined): void {
    this.window = Math.min(this.o.maxInFlight, HTTP_PEER_DEFAULTS.minInFlight);
    if (this.closed || this.peerChoking) return;
    this.peerChoking = true;
    this.events.emit(reason === undefined ? { type: 'choke', retryAfterMs: ms } : { type: 'choke', retryAfterMs: ms, reason });
    this.queue.drain((req) => this.events.emit({ type: 'rejected', req }));
    clearTimeout(this.chokeTimer);
    this.chokeTimer = setTimeout(() => {
      this.chokeTimer = undefined;
      if (this.knowsHaves) this.unchoke();
    }, ms);
    this.chokeTimer.unref();
  }

  private unchoke(): void {
    if (this.closed || !this.peerChoking) return;
    this.peerChoking = false;
    this.events.emit({ type: 'unchoke' });
  }

  private onSuccess(): void {
    this.backoff.reset();
  }

  /** Counts a failure; the back-off before the next try (or closes the link after too many). */
  private failed(err: TorrenttpError): number {
    const ms = this.backoff.fail();
    if (ms !== undefined) return ms;
    this.close(new TransportError('TRANSPORT_HTTP_PEER_GAVE_UP', { detail: `${this.id}: ${this.backoff.failures} failures; last: ${err.message}`, cause: err }));
    return 0;
  }

  // ── HTTP ──────────────────────────────────────────────────────────────────────────────────
  /**
   * One GET on the peer's pool (http1-pool.ts): `accept` reads the head of a 200/206 (and a 304
   * when `allow304`) and gives the sink its body chunks go into as they arrive (views of the
   * socket's read, no stream, no promise per chunk; it throws for a bad head: the connection is
   * closed). Any other status becomes a `GetFailed` from its head and at most 16 KiB of its body.
   * The request is aborted when the link closes.
   */
  private async exchange<T>(
    url: string,
    headers: readonly string[],
    headersTimeoutMs: number,
    allow304: boolean,
    held: boolean,
    accept: (status: number, header: (name: string) => string | undefined) => Sink<T>,
  ): Promise<T> {
    if (this.closed || this.lease === undefined) throw new TransportError('TRANSPORT_ABORTED', { detail: url });
    const pool = this.lease.pool;
    const got = await new Promise<{ value: T } | Answer>((resolve, reject) => {
      let sink: Sink<T> | undefined;
      let other: { statusCode: number; headers: Record<string, string>; chunks: Uint8Array[]; bytes: number } | undefined;
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.aborts.delete(onClose);
        f();
      };
      const answer = (): void => {
        const o = other!;
        settle(() => resolve({ statusCode: o.statusCode, headers: o.headers, body: o.chunks }));
      };
      const abort = pool.request(
        { path: url.slice(this.origin.length), headers, headersTimeoutMs, bodyTimeoutMs: this.o.bodyTimeoutMs, held },
        {
          onHead: (head) => {
            const cls = classifyStatus(head.status);
            if (cls !== 'body' && !(cls === 'not-modified' && allow304)) {
              const map: Record<string, string> = {};
              for (let i = 0; i + 1 < head.headers.length; i += 2) map[head.headers[i]!] ??= head.headers[i + 1]!;
              other = { statusCode: head.status, headers: map, chunks: [], bytes: 0 };
              return;
            }
            sink = accept(head.status, (name) => head.get(name)); // throws for a bad head: the request fails
          },
          onData: (chunk) => {
            if (settled) return;
            if (sink !== undefined) sink.push(chunk);
            else if (other !== undefined) {
              other.chunks.push(new Uint8Array(chunk)); // kept past onData: a copy (the read buffer is reused)
              other.bytes += chunk.length;
              if (other.bytes > HTTP_PEER_DEFAULTS.maxProblemBytes) {
                answer(); // enough to know it is not a problem document we read
                abort();
              }
            }
          },
          onEnd: () => {
            if (sink !== undefined) {
              const k = sink;
              try {
                const value = k.done();
                settle(() => resolve({ value }));
              } catch (err) {
                settle(() => reject(err));
              }
            } else if (other !== undefined) answer();
          },
          onError: (err) => settle(() => reject(err)),
        },
      );
      const onClose = (): void => {
        abort();
        settle(() => reject(new TransportError('TRANSPORT_ABORTED', { detail: url })));
      };
      this.aborts.add(onClose);
    });
    if ('value' in got) return got.value;
    throw new GetFailed(await this.statusOutcome(got, url));
  }

  private async statusOutcome(res: Answer, url: string): Promise<Outcome> {
    const status = res.statusCode;
    const cls = classifyStatus(status);
    if (cls === 'choked') {
      const ms = retryAfterDelay(headerOf(res, 'retry-after'), this.o.defaultRetryAfterMs, this.o.maxRetryAfterMs);
      return { kind: 'choked', retryAfterMs: ms, err: new TransportError('TRANSPORT_HTTP_UNAVAILABLE', { detail: `${url}: ${status}, retry after ${ms} ms` }) };
    }
    const code = await this.problemCode(res);
    const detail = `${url}: ${status}${code === undefined ? '' : ` ${code}`}`;
    if (cls === 'not-held') {
      return { kind: 'not-held', err: new TransportError(code === 'TRANSPORT_UNKNOWN_TORRENT' ? 'TRANSPORT_UNKNOWN_TORRENT' : 'TRANSPORT_HTTP_STATUS', { detail }) };
    }
    // 5xx: the peer is in trouble, maybe for a while: back off. 3xx and other 4xx: stop (§6.5, §16).
    const err = new TransportError('TRANSPORT_HTTP_STATUS', { detail });
    return status >= 500 ? { kind: 'retry', err } : { kind: 'fatal', err };
  }

  /** The `code` of a problem document, if the answer carries one (at most 16 KiB read). */
  private async problemCode(res: Answer): Promise<ErrorCode | undefined> {
    if (!(headerOf(res, 'content-type') ?? '').toLowerCase().startsWith('application/problem+json')) return undefined;
    try {
      const body = new BoundedBody(HTTP_PEER_DEFAULTS.maxProblemBytes);
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) body.push(chunk);
      return decodeProblem(body.bytes(), { maxBodyBytes: HTTP_PEER_DEFAULTS.maxProblemBytes }).code;
    } catch {
      return undefined;
    }
  }

  private outcomeOf(err: unknown): Outcome {
    if (err instanceof GetFailed) return err.outcome;
    const e = toTorrenttpError(err);
    switch (e.code) {
      case 'TRANSPORT_HTTP_TIMEOUT':
      case 'TRANSPORT_HTTP_FAILED':
      case 'TRANSPORT_ABORTED':
      case 'TTP_BODY_TOO_SHORT': // the server aborted a body it could not finish (§6.2)
      case 'TRANSPORT_HTTP1_TRUNCATED': // the connection ended within an answer (the same, or a reset)
        return { kind: 'retry', err: e };
      default:
        // TTP_BAD_CONTENT_RANGE, TTP_BODY_TOO_LONG, TTP_BAD_HAVE, TTP_UNSUPPORTED_VERSION, a malformed answer (TRANSPORT_HTTP1_*), …: a broken or hostile peer.
        return { kind: 'fatal', err: e };
    }
  }
}
