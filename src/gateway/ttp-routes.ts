import type { IncomingMessage, ServerResponse } from 'node:http';
import { CHOKE_ROUND_MS, EngineError, type Torrent, type UploadLease } from '../engine/index.js';
import { clip, toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { encodeTorrent, METAINFO_JSON_MEDIA_TYPE, toMetainfoJson, type TorrentExtras } from '../metainfo/index.js';
import { StorageError } from '../storage/index.js';
import {
  encodeHaveDocument,
  encodeProblem,
  HAVE_MEDIA_TYPE,
  haveEtag,
  parseHaveQuery,
  parsePieceRange,
  parseTtpTarget,
  PIECE_CACHE_CONTROL,
  PIECE_MEDIA_TYPE,
  pieceEtag,
  formatContentRange,
  formatUnsatisfiedRange,
  PROBLEM_CONTENT_TYPE,
  TrackerError,
  TTP_PREFIX,
  TtpError,
  type PieceRangeDecision,
  type TtpRoute,
} from '../tracker/index.js';
import { TransportError } from '../transport/index.js';
import { preferredOffer } from './accept.js';
import { silentGatewayLogger, type GatewayLogger } from './logger.js';
import { Callers, type CallerLink, type CallerOptions } from './ttp-callers.js';
import { HaveWatch } from './ttp-have-watch.js';
import { metainfoEtag, preconditionsHold } from './preconditions.js';

/**
 * The TorrentTTP v1 peer resources (docs/torrenttp.md §3–§9) over the torrents of a Client: the
 * request handler shared by the peer server (`ttp-server.ts`) and `torrenttp serve`. Rules:
 * - Paths are matched exactly (`parseTtpTarget`): a lowercase info-hash, a canonical index. A
 *   torrent is looked up by that info-hash only, so no path reaches another torrent's bytes.
 * - Every GET/HEAD answer, errors included, carries the CORS headers of §9; every error is a
 *   problem document with `Cache-Control: no-store`; `HEAD` has the headers and no body.
 * - Piece bytes come only from `Torrent.lease` (verified pieces, the choker, the upload limits,
 *   zero-copy), and the lease is released exactly once, when the response ends or is aborted.
 *   A refusal is `429 TTP_CHOKED` (choked or the upload limit is spent) with `Retry-After`.
 *   `HEAD` reads no bytes and is never choked.
 * - A caller the torrent cannot admit (peer limit) or a server shutting down gets
 *   `503 ENGINE_TOO_MANY_PEERS` with `Retry-After`.
 * - Private torrents (BEP 27) are not served unless `servePrivate` (§16): v1 has no
 *   authentication. They are `TRANSPORT_UNKNOWN_TORRENT`, like torrents not held.
 */
export interface TtpTorrentSource {
  torrent(infoHash: string): Torrent | undefined;
  /** One more peer fits the client's connection limit. */
  admitsPeer(): boolean;
}

export interface TtpRoutesOptions {
  /** Default `/ttp/v1`. */
  readonly prefix?: string;
  /** Serve BEP 27 private torrents too. Default false. */
  readonly servePrivate?: boolean;
  readonly callers?: CallerOptions;
  /** Long-polls held at once, all torrents; past it `wait` is answered at once. Default 1024. */
  readonly maxLongPolls?: number;
  /** The outer fields of served metainfo (trackers, web seeds), per request; default the torrent's own. */
  readonly metainfoExtras?: (t: Torrent, req: IncomingMessage) => TorrentExtras;
  /** Announce and scrape (`{prefix}/announce`, `/scrape`): a tracker's handler; without one they are `TTP_NOT_FOUND`. */
  readonly tracker?: (req: IncomingMessage, res: ServerResponse) => void;
  readonly logger?: GatewayLogger;
  readonly now?: () => number;
}

export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Location, Content-Range, ETag, Retry-After',
} as const;

const CORS_FLAT: readonly string[] = Object.entries(CORS_HEADERS).flat();

const PREFLIGHT_HEADERS = {
  ...{ 'access-control-allow-origin': '*' },
  'access-control-allow-methods': 'GET, HEAD',
  'access-control-allow-headers': 'Range, If-None-Match, If-Range, TorrentTTP-Peer-Id',
  'access-control-max-age': '86400',
} as const;

export const DEFAULT_MAX_LONG_POLLS = 1024;
const BITTORRENT_TYPE = 'application/x-bittorrent';
const PEER_ID = /^[0-9a-fA-F]{40}$/;
/** Retry-After of a 503: a choking round, when slots and peers change. */
const BUSY_RETRY_SEC = Math.ceil(CHOKE_ROUND_MS / 1000);

interface Served {
  readonly callers: Callers;
  readonly watch: HaveWatch;
  json?: Buffer;
  file?: Buffer;
  /** Each piece's ETag, made at its first request. */
  etags?: (string | undefined)[];
}

type Headers = Record<string, string | number>;

export class TtpRoutes {
  private readonly prefix: string;
  private readonly served = new Map<Torrent, Served>();
  private readonly logger: GatewayLogger;
  private readonly now: () => number;
  private readonly maxLongPolls: number;
  private longPolls = 0;
  private stopping = false;

  constructor(
    private readonly source: TtpTorrentSource,
    private readonly opts: TtpRoutesOptions = {},
  ) {
    this.prefix = opts.prefix ?? TTP_PREFIX;
    this.logger = opts.logger ?? silentGatewayLogger;
    this.now = opts.now ?? Date.now;
    this.maxLongPolls = opts.maxLongPolls ?? DEFAULT_MAX_LONG_POLLS;
  }

  /** The path is under the mount (the request is this handler's). */
  owns(target: string): boolean {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    return path === this.prefix || path.startsWith(`${this.prefix}/`);
  }

  /** Callers of the torrent with this info-hash, for stats and tests. */
  callerCount(infoHash: string): number {
    for (const [t, s] of this.served) if (t.infoHash === infoHash) return s.callers.size;
    return 0;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    let route: TtpRoute | undefined;
    try {
      route = parseTtpTarget(req.url ?? '/', this.prefix);
    } catch (err) {
      this.problem(res, toTorrenttpError(err), head);
      return;
    }
    if (route === undefined) {
      this.problem(res, new TtpError('TTP_NOT_FOUND'), head);
      return;
    }
    if (route.resource === 'announce' || route.resource === 'scrape') {
      if (this.opts.tracker === undefined) this.problem(res, new TtpError('TTP_NOT_FOUND', { detail: `this peer has no tracker (${route.resource})` }), head);
      else this.opts.tracker(req, res);
      return;
    }
    this.serve(req, res, route).catch((err: unknown) => {
      const e = toTorrenttpError(err);
      if (e.status >= 500) this.logger.error({ err: e, url: clip(req.url ?? '') }, 'TorrentTTP request failed');
      if (!res.headersSent) this.problem(res, e, head);
      else res.destroy(); // a body that cannot be finished is aborted, never ended short (§6.2)
    });
  }

  /** Applies caller timeouts and forgets closed torrents; the server calls it every second. */
  sweep(): void {
    const now = this.now();
    for (const [t, s] of this.served) {
      if (t.closed) {
        s.watch.release();
        this.served.delete(t);
      } else s.callers.sweep(now);
    }
  }

  /** From now on every request is 503; held long-polls are answered; callers leave their torrents. */
  shutdown(): void {
    this.stopping = true;
    for (const s of this.served.values()) {
      s.watch.release();
      s.callers.closeAll();
    }
    this.served.clear();
  }

  private async serve(req: IncomingMessage, res: ServerResponse, route: Exclude<TtpRoute, { resource: 'announce' | 'scrape' }>): Promise<void> {
    const head = req.method === 'HEAD';
    if (req.method === 'OPTIONS') {
      this.preflight(req, res);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD, OPTIONS');
      throw new TrackerError('TRACKER_METHOD_NOT_ALLOWED', { detail: clip(String(req.method), 16) });
    }
    if (this.stopping) throw busy('this peer is shutting down');
    const t = this.source.torrent(route.infoHash);
    if (t === undefined || t.closed || (t.metainfo.private && this.opts.servePrivate !== true)) {
      throw new TransportError('TRANSPORT_UNKNOWN_TORRENT', { detail: route.infoHash });
    }
    const s = this.servedOf(t);
    switch (route.resource) {
      case 'torrent': {
        const want = preferredOffer(headerOf(req, 'accept'), [METAINFO_JSON_MEDIA_TYPE, BITTORRENT_TYPE]);
        const sub = want === BITTORRENT_TYPE ? 'metainfo.torrent' : 'metainfo.json';
        this.metainfo(req, res, t, s, want === BITTORRENT_TYPE, { vary: 'Accept', 'content-location': `${this.prefix}/torrents/${t.infoHash}/${sub}` });
        return;
      }
      case 'metainfo.json':
      case 'metainfo.torrent':
        this.metainfo(req, res, t, s, route.resource === 'metainfo.torrent', {});
        return;
      case 'have':
        await this.have(req, res, s, route.query);
        return;
      case 'piece':
        await this.piece(req, res, t, s, route.index);
        return;
    }
  }

  private servedOf(t: Torrent): Served {
    let s = this.served.get(t);
    if (s === undefined) {
      s = { callers: new Callers(t, this.opts.callers), watch: new HaveWatch(t) };
      this.served.set(t, s);
    }
    return s;
  }

  private metainfo(req: IncomingMessage, res: ServerResponse, t: Torrent, s: Served, torrentFile: boolean, extra: Readonly<Record<string, string>>): void {
    // serve's tags for the same two forms (gateway.ts serveMetainfo).
    const etag = metainfoEtag(torrentFile ? 'torrent' : 'json', t.infoHash);
    const common = { etag, ...extra, 'cache-control': 'no-cache' };
    if (!preconditionsHold(req, res, { etag }, { ...common, ...CORS_HEADERS })) return;
    let body: Buffer;
    const extras = this.opts.metainfoExtras?.(t, req);
    if (extras !== undefined) body = metainfoBody(t, torrentFile, extras);
    else if (torrentFile) body = s.file ??= metainfoBody(t, true, undefined);
    else body = s.json ??= metainfoBody(t, false, undefined);
    this.send(res, 200, {
      'content-type': torrentFile ? BITTORRENT_TYPE : METAINFO_JSON_MEDIA_TYPE,
      'content-length': body.length,
      ...common,
      'x-content-type-options': 'nosniff',
    }, body, req.method === 'HEAD');
  }

  private async have(req: IncomingMessage, res: ServerResponse, s: Served, query: string | undefined): Promise<void> {
    const head = req.method === 'HEAD';
    const q = parseHaveQuery(query);
    const inm = headerOf(req, 'if-none-match');
    const namesCurrent = (): boolean => (inm !== undefined ? etagMatches(inm, haveEtag(s.watch.cursor)) : q.since !== undefined && s.watch.isCurrent(q.since));
    if (!head && q.waitSec > 0 && namesCurrent() && this.longPolls < this.maxLongPolls) {
      this.longPolls++;
      try {
        await s.watch.wait(
          q.waitSec * 1000,
          (fn, ms) => {
            const timer = setTimeout(fn, ms);
            return () => clearTimeout(timer);
          },
          (fn) => res.once('close', fn),
        );
      } finally {
        this.longPolls--;
      }
      if (res.destroyed) return; // the caller left
    }
    const etag = haveEtag(s.watch.cursor);
    const common = { etag, 'cache-control': 'no-cache' };
    if (inm !== undefined && etagMatches(inm, etag)) {
      this.send(res, 304, common, undefined, true);
      return;
    }
    const body = Buffer.from(encodeHaveDocument(s.watch.document(q.since)));
    this.send(res, 200, { 'content-type': HAVE_MEDIA_TYPE, 'content-length': body.length, ...common }, body, head);
  }

  private async piece(req: IncomingMessage, res: ServerResponse, t: Torrent, s: Served, index: number): Promise<void> {
    const head = req.method === 'HEAD';
    const m = t.metainfo;
    if (index >= m.pieceCount) throw new TtpError('TTP_NO_SUCH_PIECE', { detail: `${index} ≥ ${m.pieceCount}` });
    const pieceBytes = m.geometry.pieceLengthOf(index);
    const etags = (s.etags ??= new Array<string | undefined>(m.pieceCount));
    const etag = (etags[index] ??= pieceEtag(m.pieceHashes.subarray(index * 20, index * 20 + 20)));
    let range: PieceRangeDecision;
    try {
      range = parsePieceRange(headerOf(req, 'range'), pieceBytes, { ifRange: headerOf(req, 'if-range'), etag });
    } catch (err) {
      if (err instanceof TtpError && err.code === 'TTP_RANGE_NOT_SATISFIABLE') res.setHeader('content-range', formatUnsatisfiedRange(pieceBytes));
      throw err;
    }
    if (!t.have.has(index)) throw new StorageError('STORAGE_NOT_VERIFIED', { detail: `piece ${index}` });
    const common: Headers = { etag, 'cache-control': PIECE_CACHE_CONTROL, 'accept-ranges': 'bytes', 'x-content-type-options': 'nosniff' };
    const inm = headerOf(req, 'if-none-match');
    if (inm !== undefined && etagMatches(inm, etag)) {
      this.send(res, 304, common, undefined, true);
      return;
    }
    const span = range.type === 'whole' ? { begin: 0, length: pieceBytes } : range;
    const status = range.type === 'whole' ? 200 : 206;
    if (head) {
      const headers: Headers = {
        'content-type': PIECE_MEDIA_TYPE,
        'content-length': span.length,
        ...(status === 206 ? { 'content-range': formatContentRange(span, pieceBytes) } : {}),
        ...common,
      };
      this.send(res, status, headers, undefined, true);
      return;
    }
    const caller = this.callerOf(req, s);
    const now = this.now();
    s.callers.begin(caller, now);
    let answer;
    try {
      answer = await t.lease(caller, { index: m.geometry.pieceIndex(index), begin: span.begin, length: span.length });
    } finally {
      s.callers.end(caller, this.now());
    }
    if (!answer.ok) {
      const retry = Math.max(1, Math.ceil((answer.retryAfterMs ?? CHOKE_ROUND_MS) / 1000));
      switch (answer.reason) {
        case 'choked':
          res.setHeader('retry-after', String(retry));
          throw new TtpError('TTP_CHOKED', { detail: 'all upload slots are taken' });
        case 'rateLimited':
          res.setHeader('retry-after', String(retry));
          throw new TtpError('TTP_CHOKED', { detail: 'the upload rate limit is spent' });
        case 'notHeld':
          throw new StorageError('STORAGE_NOT_VERIFIED', { detail: `piece ${index}` });
        case 'outOfRange':
          throw new TtpError('TTP_BAD_RANGE', { detail: `bytes ${span.begin}+${span.length} of piece ${index}` });
        case 'closed':
          throw t.closed ? new TransportError('TRANSPORT_UNKNOWN_TORRENT', { detail: t.infoHash }) : busy('this caller was dropped; try again');
      }
    }
    // The head as one flat list, the CORS headers included: no merged objects per request.
    const flat = ['content-type', PIECE_MEDIA_TYPE, 'content-length', String(span.length), 'etag', etag, 'cache-control', PIECE_CACHE_CONTROL, 'accept-ranges', 'bytes', 'x-content-type-options', 'nosniff', ...CORS_FLAT];
    if (status === 206) flat.push('content-range', formatContentRange(span, pieceBytes));
    this.sendLease(res, status, flat, answer);
  }

  /** The caller behind a request (503 when the torrent or the client takes no more peers). */
  private callerOf(req: IncomingMessage, s: Served): CallerLink {
    const raw = req.socket.remoteAddress ?? '?';
    const ip = raw.startsWith('::ffff:') ? raw.slice(7) : raw;
    const claimed = headerOf(req, 'torrenttp-peer-id');
    const peerId = claimed !== undefined && PEER_ID.test(claimed) ? claimed.toLowerCase() : undefined;
    const link = s.callers.callerFor(ip, peerId, this.now(), this.source.admitsPeer());
    if (link === undefined) throw busy('no more peers for this torrent');
    return link;
  }

  /** Writes the lent bytes without a copy and releases them exactly once: written, or the response aborted. */
  private sendLease(res: ServerResponse, status: number, headers: string[], lease: UploadLease): void {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      lease.release();
    };
    if (res.destroyed) {
      release();
      return;
    }
    res.once('close', release);
    res.writeHead(status, headers);
    res.end(lease.data);
  }

  private preflight(req: IncomingMessage, res: ServerResponse): void {
    const headers: Headers = headerOf(req, 'access-control-request-method') === undefined ? { allow: 'GET, HEAD, OPTIONS', ...CORS_HEADERS } : { ...PREFLIGHT_HEADERS };
    res.writeHead(204, headers);
    res.end();
  }

  private send(res: ServerResponse, status: number, headers: Headers, body: Uint8Array | undefined, head: boolean): void {
    res.writeHead(status, { ...headers, ...CORS_HEADERS });
    res.end(head || body === undefined ? undefined : body);
  }

  private problem(res: ServerResponse, e: TorrenttpError, head: boolean): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = Buffer.from(encodeProblem(e));
    res.statusCode = e.status;
    res.setHeader('content-type', PROBLEM_CONTENT_TYPE);
    res.setHeader('content-length', body.length);
    res.setHeader('cache-control', 'no-store');
    if (e.status === 503 && !res.hasHeader('retry-after')) res.setHeader('retry-after', String(BUSY_RETRY_SEC));
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    res.end(head ? undefined : body);
  }
}

function busy(detail: string): TorrenttpError {
  return new EngineError('ENGINE_TOO_MANY_PEERS', { detail });
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `If-None-Match` (RFC 9110 §13.1.2): `*`, or a list of entity tags compared weakly. */
function etagMatches(header: string, etag: string): boolean {
  if (header.length > 4096) return false;
  if (header.trim() === '*') return true;
  const strip = (t: string): string => (t.startsWith('W/') ? t.slice(2) : t);
  return header.split(',').some((t) => strip(t.trim()) === strip(etag));
}

function metainfoBody(t: Torrent, torrentFile: boolean, extras: TorrentExtras | undefined): Buffer {
  const m = t.metainfo;
  const x: TorrentExtras = extras ?? {
    announceList: m.announceList,
    urlList: m.urlList,
    ...(m.comment === undefined ? {} : { comment: m.comment }),
    ...(m.createdBy === undefined ? {} : { createdBy: m.createdBy }),
    ...(m.creationDate === undefined ? {} : { creationDate: m.creationDate }),
  };
  if (torrentFile) return Buffer.from(encodeTorrent(m.infoBytes, x));
  const json = toMetainfoJson(extras === undefined ? m : { ...m, announceList: x.announceList ?? [], urlList: x.urlList ?? [] });
  return Buffer.from(JSON.stringify(json));
}
