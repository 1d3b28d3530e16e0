/**
 * A small TorrentTTP v1 peer server for the client's tests, written from docs/torrenttp.md with
 * the spec's codecs (src/tracker/ttp-*.ts): one torrent, its metainfo (§4), its have-set with
 * cursors, `If-None-Match`, `wait` and `since` (§5), pieces with `Range` (§6), problem documents
 * (§13). It is not the project's peer server (src/gateway); it is a second, independent reading of
 * the spec, with hands for the tests: stall, refuse (429/503), change the have-set, and a hook
 * to answer any request by hand (the faults).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/index.js';
import { Bitfield, METAINFO_JSON_MEDIA_TYPE, toMetainfoJson, type Metainfo } from '../../src/metainfo/index.js';
import {
  encodeHaveDocument,
  formatContentRange,
  formatUnsatisfiedRange,
  HAVE_MEDIA_TYPE,
  MAX_WAIT_SEC,
  parseHaveQuery,
  parsePieceRange,
  parseTtpTarget,
  PIECE_CACHE_CONTROL,
  pieceEtag,
  PROBLEM_CONTENT_TYPE,
  torrentUrlAt,
  type TtpRoute,
} from '../../src/tracker/index.js';
import { TorrenttpError } from '../../src/errors/index.js';

export interface TtpPeerServerOptions {
  readonly metainfo: Metainfo;
  /** The torrent's bytes, concatenated. */
  readonly data: Uint8Array;
  /** The `.torrent` file, for `Accept: application/x-bittorrent` and `metainfo.torrent`. */
  readonly torrent?: Uint8Array;
  /** Pieces held at start. Default all. */
  readonly have?: Bitfield;
  /**
   * Answers a request by hand: return true when it did. Called before routing, for every request
   * (the faults: a bad Content-Range, a redirect, a body that runs long…).
   */
  readonly hook?: (req: IncomingMessage, res: ServerResponse, route: TtpRoute | undefined) => boolean;
}

export interface LoggedRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: IncomingMessage['headers'];
}

export interface TtpPeerServer {
  /** The torrent URL (§1). */
  readonly url: string;
  readonly origin: string;
  readonly requests: LoggedRequest[];
  readonly have: Bitfield;
  /** Adds a piece to the have-set: long-polls waiting on the old cursor are answered. */
  add(index: number): void;
  /** Piece GETs are held until `resume` (or answered by `refuse`). */
  stall(): void;
  resume(): void;
  /** Piece GETs get this status with `Retry-After` (held ones too) until `resume`. */
  refuse(status?: 429 | 503, retryAfterSec?: number): void;
  close(): Promise<void>;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Location, Content-Range, ETag, Retry-After',
};

function problem(res: ServerResponse, status: number, code: ErrorCode, detail?: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ type: `urn:torrenttp:error:${code}`, title: ERROR_CODES[code].message, status, code, ...(detail === undefined ? {} : { detail }) });
  res.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...CORS, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export async function startTtpPeerServer(opts: TtpPeerServerOptions): Promise<TtpPeerServer> {
  const { metainfo, data } = opts;
  const g = metainfo.geometry;
  const have = opts.have ?? Bitfield.full(metainfo.pieceCount);
  const requests: LoggedRequest[] = [];
  // Cursors: a per-process prefix and a change counter (§5.2); the additions of each change kept for deltas.
  const prefix = `t${Math.floor(Math.random() * 1e6).toString(36)}`;
  let version = 0;
  const added: number[][] = [];
  const cursor = (): string => `${prefix}.${version}`;
  let waiters: (() => void)[] = [];
  let mode: { kind: 'serve' } | { kind: 'stall' } | { kind: 'refuse'; status: 429 | 503; retryAfterSec: number } = { kind: 'serve' };
  const held: (() => void)[] = [];

  const sendHave = (res: ServerResponse, since: string | undefined): void => {
    const c = cursor();
    let body: string;
    const from = since !== undefined && since.startsWith(`${prefix}.`) ? Number(since.slice(prefix.length + 1)) : Number.NaN;
    if (Number.isInteger(from) && from >= 0 && from <= version) {
      const gained = [...new Set(added.slice(from).flat())].sort((a, b) => a - b);
      body = encodeHaveDocument({ type: 'delta', infoHash: metainfo.infoHash, pieceCount: metainfo.pieceCount, cursor: c, since: since!, added: gained });
    } else {
      body = encodeHaveDocument({ type: 'full', infoHash: metainfo.infoHash, pieceCount: metainfo.pieceCount, cursor: c, bitfield: have });
    }
    res.writeHead(200, { 'content-type': HAVE_MEDIA_TYPE, 'content-length': Buffer.byteLength(body), etag: `"${c}"`, 'cache-control': 'no-cache', ...CORS });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  const haveRoute = (req: IncomingMessage, res: ServerResponse, query: string | undefined): void => {
    const q = parseHaveQuery(query);
    const inm = req.headers['if-none-match'];
    const named = inm !== undefined ? inm.split(',').map((s) => s.trim()).includes(`"${cursor()}"`) : q.since === cursor();
    if (!named) return sendHave(res, q.since);
    const answer = (): void => {
      if (res.writableEnded) return;
      if (inm !== undefined && inm.split(',').map((s) => s.trim()).includes(`"${cursor()}"`)) {
        res.writeHead(304, { etag: `"${cursor()}"`, 'cache-control': 'no-cache', ...CORS }).end();
      } else sendHave(res, q.since);
    };
    if (q.waitSec === 0) return answer();
    const timer = setTimeout(answer, Math.min(q.waitSec, MAX_WAIT_SEC) * 1000);
    waiters.push(() => {
      clearTimeout(timer);
      answer();
    });
    res.on('close', () => clearTimeout(timer));
  };

  const pieceRoute = (req: IncomingMessage, res: ServerResponse, index: number): void => {
    if (index >= metainfo.pieceCount) return problem(res, 404, 'TTP_NO_SUCH_PIECE', `${index} ≥ ${metainfo.pieceCount}`);
    if (!have.has(index)) return problem(res, 404, 'STORAGE_NOT_VERIFIED', `piece ${index}`);
    const pieceBytes = g.pieceLengthOf(index);
    const etag = pieceEtag(metainfo.pieceHashes.subarray(index * 20, index * 20 + 20));
    const ifRange = req.headers['if-range'];
    const decision = parsePieceRange(req.headers.range, pieceBytes, { ifRange: Array.isArray(ifRange) ? ifRange[0] : ifRange, etag });
    const start = g.pieceOffset(g.pieceIndex(index));
    const headers = { 'content-type': 'application/octet-stream', etag, 'cache-control': PIECE_CACHE_CONTROL, 'accept-ranges': 'bytes', 'x-content-type-options': 'nosniff', ...CORS };
    if (decision.type === 'whole') {
      res.writeHead(200, { ...headers, 'content-length': pieceBytes });
      res.end(req.method === 'HEAD' ? undefined : data.subarray(start, start + pieceBytes));
      return;
    }
    res.writeHead(206, { ...headers, 'content-length': decision.length, 'content-range': formatContentRange(decision, pieceBytes) });
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start + decision.begin, start + decision.begin + decision.length));
  };

  const metainfoRoute = (req: IncomingMessage, res: ServerResponse, form: 'torrent' | 'metainfo.json' | 'metainfo.torrent'): void => {
    const accept = req.headers.accept ?? '';
    // Enough of §4's rule for a test: .torrent only when it is asked for and JSON is not ranked as high.
    const wantsTorrent = form === 'metainfo.torrent' || (form === 'torrent' && /application\/x-bittorrent(?!;q=0)/.test(accept) && !/vnd\.torrenttp\.metainfo\+json(?!;q=0\.)/.test(accept));
    const base = torrentUrlAt('', metainfo.infoHash);
    const negotiated = form === 'torrent' ? { vary: 'Accept', 'content-location': `${base}/${wantsTorrent ? 'metainfo.torrent' : 'metainfo.json'}` } : {};
    if (wantsTorrent) {
      if (opts.torrent === undefined) return problem(res, 404, 'TTP_NOT_FOUND', 'no .torrent here');
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': opts.torrent.length, 'cache-control': 'no-cache', ...negotiated, ...CORS });
      res.end(req.method === 'HEAD' ? undefined : opts.torrent);
      return;
    }
    const body = JSON.stringify(toMetainfoJson(metainfo));
    res.writeHead(200, { 'content-type': METAINFO_JSON_MEDIA_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', ...negotiated, ...CORS });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    let r: TtpRoute | undefined;
    try {
      r = parseTtpTarget(req.url ?? '/');
    } catch (err) {
      if (opts.hook?.(req, res, undefined) === true) return;
      const e = err as TorrenttpError;
      return problem(res, e.status, e.code, e.detail);
    }
    if (opts.hook?.(req, res, r) === true) return;
    if (r === undefined || r.resource === 'announce' || r.resource === 'scrape') return problem(res, 404, 'TTP_NOT_FOUND');
    if (req.method !== 'GET' && req.method !== 'HEAD') return problem(res, 405, 'TRACKER_METHOD_NOT_ALLOWED', undefined, { allow: 'GET, HEAD, OPTIONS' });
    if (r.infoHash !== metainfo.infoHash) return problem(res, 404, 'TRANSPORT_UNKNOWN_TORRENT');
    try {
      if (r.resource === 'have') return haveRoute(req, res, r.query);
      if (r.resource === 'piece') {
        const index = r.index;
        const go = (): void => {
          if (mode.kind === 'refuse') {
            const code = mode.status === 429 ? 'TTP_CHOKED' : 'ENGINE_TOO_MANY_PEERS';
            return problem(res, mode.status, code, undefined, { 'retry-after': String(mode.retryAfterSec) });
          }
          pieceRoute(req, res, index);
        };
        if (mode.kind === 'stall') held.push(go);
        else go();
        return;
      }
      return metainfoRoute(req, res, r.resource);
    } catch (err) {
      const e = err as TorrenttpError;
      if (e.code === 'TTP_RANGE_NOT_SATISFIABLE') return problem(res, 416, e.code, e.detail, { 'content-range': formatUnsatisfiedRange(g.pieceLengthOf(g.pieceIndex((r as { index: number }).index))) });
      return problem(res, e.status ?? 500, e.code ?? 'INTERNAL', e.detail);
    }
  };

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', target: req.url ?? '', headers: req.headers });
    route(req, res);
  });
  server.keepAliveTimeout = 5000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const wake = (): void => {
    const ws = waiters;
    waiters = [];
    ws.forEach((w) => w());
  };
  return {
    url: torrentUrlAt(origin, metainfo.infoHash),
    origin,
    requests,
    have,
    add: (index) => {
      if (!have.set(index)) return;
      added.push([index]);
      version++;
      wake();
    },
    stall: () => {
      mode = { kind: 'stall' };
    },
    resume: () => {
      mode = { kind: 'serve' };
      held.splice(0).forEach((h) => h());
    },
    refuse: (status = 503, retryAfterSec = 60) => {
      mode = { kind: 'refuse', status, retryAfterSec };
      held.splice(0).forEach((h) => h());
    },
    close: async () => {
      wake();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
